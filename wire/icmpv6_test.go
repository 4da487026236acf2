package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// RFC 6275 section 9.2: the checks answered with Parameter Problem, and the
// field each points at; other errors are not.
func TestParameterProblemPointer(t *testing.T) {
	src, dst := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	for _, c := range []struct {
		name string
		mh   []byte
		ptr  int
		ok   bool
	}{
		{"Header Len too small for a BU", []byte{59, 0, 5, 0, 0, 0, 0, 1}, 1, true},
		{"Payload Proto 58", []byte{58, 1, 5, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, 0, true},
		{"unknown MH type", []byte{59, 0, 200, 0, 0, 0, 0, 0}, 0, false},
	} {
		SetChecksum(c.mh, src, dst)
		var v BindingUpdateView
		err := Parser{}.DecodeBindingUpdate(&v, c.mh, src, dst)
		if c.mh[2] != 5 {
			_, err = Parser{}.Parse(c.mh, src, dst)
		}
		ptr, ok := ParameterProblemPointer(err)
		if ok != c.ok || ptr != c.ptr {
			t.Errorf("%s: pointer %d %v, want %d %v (err %v)", c.name, ptr, ok, c.ptr, c.ok, err)
		}
	}
}

func TestAppendParameterProblem(t *testing.T) {
	coa, ha, hoa := netip.MustParseAddr("2001:db8:a::10"), netip.MustParseAddr("2001:db8:c::2"), netip.MustParseAddr("2001:db8:1::10")
	mh := []byte{59, 0, 5, 0, 0xab, 0xcd, 0, 1}
	inv, at, err := AppendInvokingMHPacket(nil, coa, ha, hoa, 64, mh)
	if err != nil {
		t.Fatal(err)
	}
	if at != IPv6HeaderLen+HomeAddressDestOptsLen || !bytes.Equal(inv[at:], mh) || inv[6] != IPProtoDstOpts {
		t.Fatalf("invoking packet: MH at %d, % x", at, inv)
	}
	if p, err := ParseIPv6(inv); err != nil || p.HomeAddress != hoa {
		t.Fatalf("invoking packet does not parse: %v %+v", err, p)
	}
	big := append(inv, make([]byte, 2000)...)
	pkt, err := AppendParameterProblem(nil, ha, coa, 64, ICMPv6ErroneousHeaderField, uint32(at+1), big)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkt) != MinIPv6MTU {
		t.Fatalf("error message of %d octets, want it cut to %d (RFC 4443 section 2.4 (c))", len(pkt), MinIPv6MTU)
	}
	icmp := pkt[IPv6HeaderLen:]
	if pkt[6] != IPProtoICMPv6 || int(binary.BigEndian.Uint16(pkt[4:])) != len(icmp) ||
		icmp[0] != 4 || icmp[1] != 0 || binary.BigEndian.Uint32(icmp[4:]) != uint32(at+1) || !bytes.Equal(icmp[8:8+len(inv)], inv) {
		t.Fatalf("bad Parameter Problem: % x", pkt[:IPv6HeaderLen+8])
	}
	s := addrSum(addrSum(0, ha), coa) + uint64(len(icmp)) + IPProtoICMPv6
	if fold(sum16(s, icmp)) != 0xffff {
		t.Fatal("ICMPv6 checksum does not verify")
	}
}
