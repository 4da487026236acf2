package transport

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"monami/wire"
)

var (
	tCoA = netip.MustParseAddr("2001:db8:c0a::2")
	tHA  = netip.MustParseAddr("2001:db8:c0a::1")
	tHoA = netip.MustParseAddr("2001:db8:40e::100")
)

func testSignals(t testing.TB) []Signal {
	sigs := []Signal{
		{Src: tCoA, Dst: tHA, Ext: ExtHAO, HomeAddress: tHoA},
		{Src: tHA, Dst: tCoA, Ext: ExtRH2, HomeAddress: tHoA, HopLimit: 255},
		{Src: tHoA, Dst: tHA},
	}
	for i := range sigs {
		src, dst := sigs[i].ChecksumAddrs()
		mh, err := wire.Marshal(wire.BindingUpdate{Sequence: uint16(i), Flags: wire.BUFlagA, Lifetime: 5}, src, dst)
		if err != nil {
			t.Fatal(err)
		}
		sigs[i].MH = mh
	}
	return sigs
}

func captureVM(t testing.TB) *bpf.VM {
	vm, err := bpf.NewVM(captureFilter())
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

func TestPacketRoundTrip(t *testing.T) {
	vm := captureVM(t)
	for _, s := range testSignals(t) {
		zeroed := append([]byte(nil), s.MH...)
		zeroed[4], zeroed[5] = 0, 0 // appendPacket fills the checksum
		in := s
		in.MH = zeroed
		pkt, err := appendPacket(nil, &in)
		if err != nil {
			t.Fatal(err)
		}
		p, err := parsePacket(pkt)
		if err != nil {
			t.Fatalf("%v: %v", s.Ext, err)
		}
		hop := s.HopLimit
		if hop == 0 {
			hop = DefaultHopLimit
		}
		if p.Src != s.Src || p.Dst != s.Dst || p.Ext != s.Ext || p.HomeAddress != s.HomeAddress ||
			p.HopLimit != hop || string(p.MH) != string(s.MH) {
			t.Fatalf("%v: parsed %+v, want %+v", s.Ext, p, s)
		}
		csrc, cdst := s.ChecksumAddrs()
		if !verifyMH(csrc, cdst, p.MH) {
			t.Fatalf("%v: checksum does not verify", s.Ext)
		}
		// The checksum must be over the home address, not the header
		// address, when they differ (RFC 6275 section 6.1.1).
		if s.Ext != ExtNone && verifyMH(s.Src, s.Dst, p.MH) {
			t.Fatalf("%v: checksum verifies with the wrong pseudo-header", s.Ext)
		}
		n, err := vm.Run(pkt)
		if err != nil {
			t.Fatal(err)
		}
		if want := s.Ext != ExtNone; (n > 0) != want {
			t.Fatalf("%v: filter returned %d", s.Ext, n)
		}
		// The RFC 6275 layouts, octet by octet.
		switch s.Ext {
		case ExtHAO:
			want := []byte{ProtoMH, 2, 1, 2, 0, 0, 0xC9, 16}
			if pkt[6] != protoDstOpts || string(pkt[40:48]) != string(want) || string(pkt[48:64]) != string(tHoA.AsSlice()) {
				t.Fatalf("HAO header % x", pkt[:64])
			}
		case ExtRH2:
			want := []byte{ProtoMH, 2, 2, 1, 0, 0, 0, 0}
			if pkt[6] != protoRouting || string(pkt[40:48]) != string(want) || string(pkt[48:64]) != string(tHoA.AsSlice()) {
				t.Fatalf("RH2 header % x", pkt[:64])
			}
		}
	}
}

func TestAppendPacketRejects(t *testing.T) {
	good := testSignals(t)[0]
	for name, mod := range map[string]func(*Signal){
		"ipv4 src":      func(s *Signal) { s.Src = netip.MustParseAddr("192.0.2.1") },
		"mapped dst":    func(s *Signal) { s.Dst = netip.MustParseAddr("::ffff:192.0.2.1") },
		"no hoa":        func(s *Signal) { s.HomeAddress = netip.Addr{} },
		"bad ext":       func(s *Signal) { s.Ext = 9 },
		"short mh":      func(s *Signal) { s.MH = s.MH[:6] },
		"header len":    func(s *Signal) { s.MH = append(append([]byte(nil), s.MH...), make([]byte, 8)...) },
		"mh not padded": func(s *Signal) { s.MH = s.MH[:len(s.MH)-1] },
	} {
		s := good
		mod(&s)
		if _, err := appendPacket(nil, &s); !errors.Is(err, ErrInvalidSignal) {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

// ext builds an extension header of the given next header and total length
// (multiple of 8) with body bytes after the first two.
func ext(next byte, n int, body ...byte) []byte {
	h := make([]byte, n)
	h[0], h[1] = next, byte(n/8-1)
	copy(h[2:], body)
	return h
}

// rawPacket builds an IPv6 packet: header with first next header, then the
// given extension headers and the MH.
func rawPacket(first byte, parts ...[]byte) []byte {
	var pl []byte
	for _, p := range parts {
		pl = append(pl, p...)
	}
	h := make([]byte, 40, 40+len(pl))
	h[0], h[6], h[7] = 0x60, first, 64
	h[4], h[5] = byte(len(pl)>>8), byte(len(pl))
	copy(h[8:], tCoA.AsSlice())
	copy(h[24:], tHA.AsSlice())
	return append(h, pl...)
}

func TestParsePacketAndFilterAgree(t *testing.T) {
	mh := testSignals(t)[2].MH
	hao := append([]byte{1, 2, 0, 0, 0xC9, 16}, tHoA.AsSlice()...)
	rh2 := append([]byte{2, 1, 0, 0, 0, 0}, tHoA.AsSlice()...)
	cases := []struct {
		name    string
		pkt     []byte
		err     bool
		capture bool // filter accepts and parser delivers from the capture
		ext     Ext
	}{
		{"plain", rawPacket(ProtoMH, mh), false, false, ExtNone},
		{"hao", rawPacket(protoDstOpts, ext(ProtoMH, 24, hao...), mh), false, true, ExtHAO},
		{"rh2", rawPacket(protoRouting, ext(ProtoMH, 24, rh2...), mh), false, true, ExtRH2},
		{"dstopts without hao", rawPacket(protoDstOpts, ext(ProtoMH, 8, 1, 4), mh), false, true, ExtNone},
		{"hbh+rh2+hao", rawPacket(protoHopByHop, ext(protoRouting, 8, 1, 4), ext(protoDstOpts, 24, rh2...),
			ext(ProtoMH, 24, hao...), mh), true, false, ExtNone}, // two home addresses
		{"hbh+hao", rawPacket(protoHopByHop, ext(protoDstOpts, 8, 1, 4), ext(ProtoMH, 24, hao...), mh), false, true, ExtHAO},
		{"rh0 sl0 + mh", rawPacket(protoRouting, ext(ProtoMH, 8, 0, 0), mh), false, false, ExtNone},
		{"rh0 sl1", rawPacket(protoRouting, ext(ProtoMH, 8, 0, 1), mh), true, false, ExtNone},
		{"rh2 sl0", rawPacket(protoRouting, ext(ProtoMH, 24, 2, 0), mh), true, false, ExtNone},
		{"hao bad length", rawPacket(protoDstOpts, ext(ProtoMH, 24, 0xC9, 15), mh), true, false, ExtNone},
		{"two hao", rawPacket(protoDstOpts, ext(ProtoMH, 48, append(append([]byte{}, hao...), append([]byte{1, 4, 0, 0, 0, 0}, hao[4:]...)...)...), mh), true, false, ExtNone},
		{"hbh not first", rawPacket(protoDstOpts, ext(protoHopByHop, 8, 1, 4), ext(ProtoMH, 8, 1, 4), mh), true, false, ExtNone},
		{"fragment", rawPacket(protoFragment, ext(ProtoMH, 8), mh), true, false, ExtNone},
		{"udp", rawPacket(17, make([]byte, 8)), true, false, ExtNone},
		{"truncated mh", rawPacket(protoDstOpts, ext(ProtoMH, 24, hao...), mh[:6]), true, false, ExtNone},
		{"option overrun", rawPacket(protoDstOpts, ext(ProtoMH, 8, 1, 9), mh), true, false, ExtNone},
	}
	vm := captureVM(t)
	for _, c := range cases {
		p, err := parsePacket(c.pkt)
		if (err != nil) != c.err {
			t.Errorf("%s: err %v", c.name, err)
			continue
		}
		if err == nil {
			if p.Ext != c.ext {
				t.Errorf("%s: ext %v, want %v", c.name, p.Ext, c.ext)
			}
			if got := p.DstOpts || p.Ext == ExtRH2; got != c.capture {
				t.Errorf("%s: capture-delivered %v, want %v", c.name, got, c.capture)
			}
			n, _ := vm.Run(c.pkt)
			if (n > 0) != c.capture {
				t.Errorf("%s: filter %d, want accept=%v", c.name, n, c.capture)
			}
		}
	}
	if _, err := parsePacket(rawPacket(ProtoMH, mh)[:39]); err == nil {
		t.Error("short header accepted")
	}
	var pe *PacketError
	if _, err := parsePacket(rawPacket(17, make([]byte, 8))); !errors.As(err, &pe) || !errors.Is(err, errNotMH) {
		t.Errorf("udp: %v", err)
	}
}

func TestDecodeUDP(t *testing.T) {
	for _, s := range testSignals(t) {
		pkt, err := appendPacket(nil, &s)
		if err != nil {
			t.Fatal(err)
		}
		sig, data, err := decodeUDP(pkt)
		if err != nil || data != nil || sig.Src != s.Src || sig.Ext != s.Ext || sig.HomeAddress != s.HomeAddress {
			t.Fatalf("%v: %+v %v %v", s.Ext, sig, data, err)
		}
	}
	ipv4 := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2}
	if _, data, err := decodeUDP(ipv4); err != nil || len(data) != 20 {
		t.Fatalf("ipv4 data: %v %v", data, err)
	}
	udp6 := rawPacket(17, make([]byte, 8))
	if _, data, err := decodeUDP(udp6); err != nil || len(data) != len(udp6) {
		t.Fatalf("ipv6 data: %v %v", data, err)
	}
	for _, bad := range [][]byte{nil, {0x70}, rawPacket(ProtoMH, make([]byte, 7)), append(rawPacket(17, make([]byte, 8)), 0)} {
		if _, _, err := decodeUDP(bad); err == nil {
			t.Errorf("% x accepted", bad)
		}
	}
}

func TestSignalLogValue(t *testing.T) {
	s := testSignals(t)[0]
	s.Via, s.IfIndex = ViaMH, 3
	v := s.LogValue().String()
	for _, want := range []string{"via=mh", "src=" + tCoA.String(), "hao=" + tHoA.String(), "mh_type=5", "if=3"} {
		if !strings.Contains(v, want) {
			t.Errorf("LogValue %q lacks %q", v, want)
		}
	}
}
