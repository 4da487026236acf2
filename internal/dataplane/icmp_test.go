package dataplane

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestPacketTooBig(t *testing.T) {
	router := netip.MustParseAddr("2001:db8:1::1")
	src, dst := netip.MustParseAddr("2001:db8:5::2"), netip.MustParseAddr("2001:db8:b::1")
	big := buildUDP6(src, dst, 1000, 2000, bytes.Repeat([]byte{7}, 1452))
	ptb := packetTooBig(router, 1460, big)
	if ptb == nil {
		t.Fatal("no Packet Too Big")
	}
	if len(ptb) != MinMTU {
		t.Errorf("length %d, want %d (as much of the packet as fits in the minimum MTU)", len(ptb), MinMTU)
	}
	s, d, next, ok := ipv6Header(ptb)
	if !ok || s != router || d != src || next != protoICMPv6 {
		t.Fatalf("header: %v %v %v %v", s, d, next, ok)
	}
	icmp := ptb[ipv6HeaderLen:]
	if icmp[0] != icmpPacketTooBig || icmp[1] != 0 || binary.BigEndian.Uint32(icmp[4:]) != 1460 {
		t.Errorf("type %d code %d mtu %d", icmp[0], icmp[1], binary.BigEndian.Uint32(icmp[4:]))
	}
	if !bytes.Equal(icmp[8:], big[:len(icmp)-8]) {
		t.Error("body is not the start of the invoking packet")
	}
	if got := icmpv6Checksum(s.As16(), d.As16(), icmp); got != binary.BigEndian.Uint16(icmp[2:]) {
		t.Errorf("checksum %#04x, recomputed %#04x", binary.BigEndian.Uint16(icmp[2:]), got)
	}

	// RFC 4443 section 2.4 (e): never in response to an ICMPv6 error.
	errPkt := append([]byte(nil), ptb...)
	copy(errPkt[offSrc:], src.AsSlice())
	if packetTooBig(router, 1460, errPkt) != nil {
		t.Error("Packet Too Big sent in response to an ICMPv6 error")
	}
	if packetTooBig(router, 1460, big[:30]) != nil {
		t.Error("Packet Too Big for a truncated packet")
	}
}

func TestErrorLimiter(t *testing.T) {
	l := newErrorLimiter(10, 2)
	now := time.Unix(0, 0)
	if !l.allow(now) || !l.allow(now) || l.allow(now) {
		t.Fatal("burst of 2 not enforced")
	}
	if !l.allow(now.Add(100 * time.Millisecond)) {
		t.Fatal("no token after 1/rate")
	}
}

func FuzzPacketTooBig(f *testing.F) {
	f.Add(buildUDP6(netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 1, 2, make([]byte, 1400)), 1280)
	f.Add([]byte{0x60, 0, 0, 0, 0, 8, 58, 64}, 1500)
	f.Fuzz(func(t *testing.T, pkt []byte, mtu int) {
		out := packetTooBig(netip.MustParseAddr("2001:db8::ff"), mtu, pkt)
		if out == nil {
			return
		}
		if len(out) > MinMTU {
			t.Fatalf("Packet Too Big of %d bytes exceeds the minimum MTU", len(out))
		}
		s, d, _, ok := ipv6Header(out)
		if !ok {
			t.Fatal("output is not a valid IPv6 packet")
		}
		icmp := out[ipv6HeaderLen:]
		if icmpv6Checksum(s.As16(), d.As16(), icmp) != binary.BigEndian.Uint16(icmp[2:]) {
			t.Fatal("bad checksum")
		}
	})
}

func FuzzIPv6Header(f *testing.F) {
	f.Add(buildUDP6(netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 1, 2, []byte("x")))
	f.Add([]byte{0x60})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		_, _, _, ok := ipv6Header(pkt)
		if ok && (len(pkt) < ipv6HeaderLen || pkt[0]>>4 != 6) {
			t.Fatal("accepted a non-IPv6 packet")
		}
	})
}

func TestUDPGSOControlMessages(t *testing.T) {
	c := segmentCmsg(1452)
	h := (*unix.Cmsghdr)(unsafePointer(&c[0]))
	if h.Level != unix.IPPROTO_UDP || h.Type != unix.UDP_SEGMENT || binary.NativeEndian.Uint16(c[unix.CmsgLen(0):]) != 1452 {
		t.Fatalf("UDP_SEGMENT message %x", c)
	}
	if groSize(c) != 0 {
		t.Error("UDP_SEGMENT taken for UDP_GRO")
	}
	// What the kernel returns with UDP_GRO on: an int segment size,
	// possibly after other control messages.
	gro := make([]byte, unix.CmsgSpace(4))
	g := (*unix.Cmsghdr)(unsafePointer(&gro[0]))
	g.Level, g.Type = unix.IPPROTO_UDP, unix.UDP_GRO
	g.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(gro[unix.CmsgLen(0):], 1440)
	if got := groSize(append(append([]byte(nil), c...), gro...)); got != 1440 {
		t.Errorf("groSize = %d, want 1440", got)
	}
	if groSize([]byte{1, 2, 3}) != 0 || groSize(nil) != 0 || groSize(make([]byte, 64)) != 0 {
		t.Error("garbage parsed")
	}
}

func TestNthAddr(t *testing.T) {
	p := netip.MustParsePrefix("fd6d:6f6e:616d:dec0::/64")
	a, err := nthAddr(p, 1)
	if err != nil || a != netip.MustParseAddr("fd6d:6f6e:616d:dec0::1") {
		t.Fatalf("%v %v", a, err)
	}
	a, _ = nthAddr(p, 0x1ff)
	if a != netip.MustParseAddr("fd6d:6f6e:616d:dec0::1ff") {
		t.Fatalf("%v", a)
	}
	if _, err := nthAddr(netip.MustParsePrefix("fd00::/120"), 256); err == nil {
		t.Fatal("no error for an exhausted prefix")
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{
		{},                                // no table
		{Table: 254},                      // main
		{Table: 252},                      // kernel backend would use 253
		{Table: 100, RulePriority: 40000}, // after main
		{Table: 100, Backend: "ebpf"},     // unknown backend
		{Table: 100, TunName: "much-too-long-name"},
		{Table: 100, NFTable: "bad name"},
	} {
		if err := c.setDefaults(); err == nil {
			t.Errorf("%+v: accepted", c)
		}
	}
	c := Config{Table: 100}
	if err := c.setDefaults(); err != nil || c.RulePriority != 1000 || c.TunName != "monami0" || c.NFTable != "monami" {
		t.Fatalf("defaults: %+v %v", c, err)
	}
}

func TestRouteValidation(t *testing.T) {
	good := Tunnel{Local: netip.MustParseAddr("2001:db8::1"), Remote: netip.MustParseAddr("2001:db8::2")}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for _, tu := range []Tunnel{
		{Local: netip.MustParseAddr("10.0.0.1"), Remote: good.Remote},
		{Local: good.Local, Remote: netip.MustParseAddr("ff02::1")},
		{Local: good.Local, Remote: good.Remote, MTU: 1000},
		{Local: good.Local, Remote: good.Remote, Encap: 9},
	} {
		if tu.validate() == nil {
			t.Errorf("%v accepted", tu)
		}
	}
	if (Selector{Dst: netip.MustParsePrefix("10.0.0.0/8")}).validate() == nil {
		t.Error("IPv4 selector accepted")
	}
	if (Endpoint{Local: good.Local, Peer: good.Remote, InnerSrc: []netip.Prefix{{}}}).validate() == nil {
		t.Error("invalid inner prefix accepted")
	}
}

// RFC 5555 section 4.3: IPv6 in UDP in IPv4 is a tunnel too, to a NAT's
// port; IPv4 with IPv6-in-IPv6, mixed families or a port without UDP are
// not.
func TestIPv4TunnelValidation(t *testing.T) {
	v4a, v4b := netip.MustParseAddr("10.0.0.10"), netip.MustParseAddr("192.0.2.2")
	v6 := netip.MustParseAddr("2001:db8::1")
	for _, tu := range []Tunnel{
		{Local: v4a, Remote: v4b, Encap: EncapUDP},
		{Local: v4b, Remote: netip.MustParseAddr("192.0.2.1"), RemotePort: 33438, Encap: EncapUDP},
	} {
		if err := tu.validate(); err != nil {
			t.Errorf("%v: %v", tu, err)
		}
	}
	for _, tu := range []Tunnel{
		{Local: v4a, Remote: v4b, Encap: EncapIPv6},
		{Local: v4a, Remote: v6, Encap: EncapUDP},
		{Local: v4a, Remote: netip.MustParseAddr("255.255.255.255"), Encap: EncapUDP},
		{Local: v6, Remote: v6, RemotePort: 5000},
	} {
		if tu.validate() == nil {
			t.Errorf("%v accepted", tu)
		}
	}
	if (Endpoint{Local: v4b, Peer: v4a, Encap: EncapUDP}).validate() != nil {
		t.Error("IPv4 UDP endpoint refused")
	}
	if (Endpoint{Local: v4b, Peer: v4a, Encap: EncapIPv6}).validate() == nil {
		t.Error("IPv4 IPv6-in-IPv6 endpoint accepted")
	}
	if got := (Tunnel{Local: v4a, Remote: v4b, Encap: EncapUDP}).overhead(); got != 28 {
		t.Errorf("IPv4 UDP overhead %d, want 28", got)
	}
}
