package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

// Laid out by hand from RFC 8200 section 3 and RFC 6275 sections 6.3, 6.4.
func TestMHPacketBUWithHomeAddressOption(t *testing.T) {
	p := MHPacket{IPv6: IPv6Header{HopLimit: 64, Src: tCoA, Dst: tDst}, HomeAddress: tHoA}
	bu := BindingUpdate{Sequence: 1, Flags: BUFlagA | BUFlagH, Lifetime: 10}
	got, err := p.Append(nil, bu)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `
		60000000 | 0028 | 3c | 40 | 20010db8000100000000000000000100 | 20010db8000200000000000000000001
		87 02 | 01 02 0000 | c9 10 20010db8000200000000000000000100
		3b 01 05 00 0000 | 0001 | c000 | 000a | 01 02 0000`)
	// payload 40 = 24 (Destination Options) + 16 (MH); MH checksum with the
	// home address as pseudo-header source (RFC 6275 section 6.1.1).
	sum := binary.BigEndian.Uint16(got[64+4:])
	if ref := refChecksum(got[64:], tHoA, tDst); sum != ref {
		t.Fatalf("checksum %#x, reference %#x", sum, ref)
	}
	got[68], got[69] = 0, 0
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
}

func TestMHPacketBAWithRoutingHeader2(t *testing.T) {
	p := MHPacket{IPv6: IPv6Header{TrafficClass: 0xb8, FlowLabel: 0x12345, HopLimit: 255, Src: tDst, Dst: tCoA}, RoutingHomeAddress: tHoA}
	ba := BindingAcknowledgement{Sequence: 1, Lifetime: 10}
	got, err := p.Append(nil, ba)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `
		6b812345 | 0028 | 2b | ff | 20010db8000200000000000000000001 | 20010db8000100000000000000000100
		87 02 02 01 | 00000000 | 20010db8000200000000000000000100
		3b 01 06 00 0000 | 00 00 | 0001 | 000a | 01 02 0000`)
	// final destination, the routing header's home address, is the
	// pseudo-header destination (RFC 8200 section 8.1).
	sum := binary.BigEndian.Uint16(got[64+4:])
	if ref := refChecksum(got[64:], tDst, tHoA); sum != ref {
		t.Fatalf("checksum %#x, reference %#x", sum, ref)
	}
	got[68], got[69] = 0, 0
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
}

func TestParsePacketRoundTrip(t *testing.T) {
	cases := []MHPacket{
		{IPv6: IPv6Header{HopLimit: 64, Src: tCoA, Dst: tDst}},
		{IPv6: IPv6Header{HopLimit: 64, Src: tCoA, Dst: tDst}, HomeAddress: tHoA},
		{IPv6: IPv6Header{HopLimit: 64, Src: tDst, Dst: tCoA}, RoutingHomeAddress: tHoA},
		{IPv6: IPv6Header{HopLimit: 64, Src: tDst, Dst: tCoA}, RoutingHomeAddress: tHoA, HomeAddress: tHoA},
	}
	bu := BindingUpdate{Sequence: 3, Flags: BUFlagA, Lifetime: 5, Options: []Option{
		BindingIdentifier{BindingID: 1, CareOfAddress: tCoA}, NAI("mn@example.net"),
	}}
	for i, p := range cases {
		b, err := p.Append(nil, bu)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, 0, 0, 0) // link-layer padding past Payload Length
		pkt, m, err := Parser{}.ParsePacket(b)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if pkt.HomeAddress != p.HomeAddress || (pkt.Routing != nil) != p.RoutingHomeAddress.IsValid() {
			t.Fatalf("case %d: got %+v", i, pkt)
		}
		if pkt.IPv6 != p.IPv6 {
			t.Fatalf("case %d: header %+v want %+v", i, pkt.IPv6, p.IPv6)
		}
		if got := m.(BindingUpdate); got.Sequence != 3 || len(got.Options) != 2 {
			t.Fatalf("case %d: %#v", i, got)
		}
	}
}

func TestAppendRawRewritesChecksum(t *testing.T) {
	a := NewAuthenticator(testKey)
	mh, err := a.AppendMessage(nil, BindingUpdate{Sequence: 1, Flags: BUFlagA | BUFlagH}, 0x100, tCoA, tHoA, netip.Addr{}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	p := MHPacket{IPv6: IPv6Header{HopLimit: 64, Src: tCoA, Dst: tDst}, HomeAddress: tHoA}
	b, err := p.AppendRaw(nil, mh)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := (Parser{}).ParsePacket(b); err != nil {
		t.Fatal(err)
	}
}

func TestParseIPv6Malformed(t *testing.T) {
	good, _ := MHPacket{IPv6: IPv6Header{HopLimit: 64, Src: tCoA, Dst: tDst}, HomeAddress: tHoA, RoutingHomeAddress: tHoA}.Append(nil, BindingRefreshRequest{})
	tests := []struct {
		name string
		mut  func([]byte) []byte
		want error
		off  int
	}{
		{"short", func(b []byte) []byte { return b[:39] }, ErrTruncated, 0},
		{"version 4", func(b []byte) []byte { b[0] = 0x45; return b }, ErrBadValue, 0},
		{"payload length beyond buffer", func(b []byte) []byte { return b[:len(b)-1] }, ErrTruncated, 4},
		{"RH2 Hdr Ext Len 4", func(b []byte) []byte { b[41] = 4; return b }, ErrBadLength, 41},
		{"RH2 Segments Left 2", func(b []byte) []byte { b[43] = 2; return b }, ErrBadValue, 43},
		{"HAO length 12", func(b []byte) []byte { b[64+7] = 12; return b }, ErrBadLength, 71},
		{"DstOpts Hdr Ext Len past end", func(b []byte) []byte { b[65] = 20; return b }, ErrTruncated, 65},
		{"DstOpts option overrun", func(b []byte) []byte { b[64+3] = 30; return b }, ErrOptionOverrun, 67},
		{"MH Header Len past end", func(b []byte) []byte { b[88+1] = 9; return b }, ErrTruncated, 89},
		{"bad MH checksum", func(b []byte) []byte { b[88+4] ^= 1; return b }, ErrBadChecksum, 92},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mut(append([]byte(nil), good...))
			_, _, err := Parser{}.ParsePacket(b)
			var pe *ParseError
			if !errors.Is(err, tc.want) || !errors.As(err, &pe) || pe.Offset != tc.off {
				t.Fatalf("got %v, want %v at %d", err, tc.want, tc.off)
			}
		})
	}
}

func TestParseIPv6SkipsOtherRoutingType(t *testing.T) {
	// A type 4 (segment routing) header with Hdr Ext Len 2 ahead of the MH.
	mh := mustMarshalNoSum(t, BindingRefreshRequest{})
	b := unhex(t, `60000000 0020 2b 40 20010db8000100000000000000000100 20010db8000200000000000000000001
		87 02 04 00 00000000 00000000000000000000000000000000`)
	b = append(b, mh...)
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)-40))
	pkt, err := ParseIPv6(b)
	if err != nil || pkt.NextHeader != IPProtoMH || pkt.PayloadOffset != 64 || pkt.Routing != nil {
		t.Fatalf("got %+v, %v", pkt, err)
	}
}
