package wire

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// fkPacket builds an IPv6 packet: header with tc, flow label and next
// header nh, then body (extension headers and upper layer).
func fkPacket(tc uint8, fl uint32, nh uint8, body ...[]byte) []byte {
	var p []byte
	for _, b := range body {
		p = append(p, b...)
	}
	h := make([]byte, IPv6HeaderLen)
	binary.BigEndian.PutUint32(h, 6<<28|uint32(tc)<<20|fl)
	binary.BigEndian.PutUint16(h[4:], uint16(len(p)))
	h[6], h[7] = nh, 64
	s, d := netip.MustParseAddr("2001:db8:a::1").As16(), netip.MustParseAddr("2001:db8:c::5").As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, p...)
}

// ext is a generic extension header of 8*(units+1) octets.
func ext(next uint8, units int) []byte {
	b := make([]byte, 8*(units+1))
	b[0], b[1] = next, byte(units)
	return b
}

func frag(next uint8, offset uint16) []byte {
	b := make([]byte, 8)
	b[0] = next
	binary.BigEndian.PutUint16(b[2:], offset<<3|1)
	return b
}

func ports(sp, dp uint16) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b, sp)
	binary.BigEndian.PutUint16(b[2:], dp)
	return b
}

func TestParseFlowKey(t *testing.T) {
	ah := make([]byte, 16) // Payload Len 2: (2+2)*4 = 16 octets
	ah[0], ah[1] = IPProtoUDP, 2
	esp := []byte{0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1}
	for _, tc := range []struct {
		name      string
		pkt       []byte
		nh        uint8
		sp, dp    uint16
		hasPorts  bool
		spi       uint32
		hasSPI    bool
		tc        uint8
		flowLabel uint32
	}{
		{"UDP", fkPacket(0xb8, 0x12345, IPProtoUDP, ports(5000, 53)), 17, 5000, 53, true, 0, false, 0xb8, 0x12345},
		{"TCP", fkPacket(0, 0, 6, ports(40000, 443), make([]byte, 12)), 6, 40000, 443, true, 0, false, 0, 0},
		{"SCTP", fkPacket(0, 0, 132, ports(1, 2)), 132, 1, 2, true, 0, false, 0, 0},
		{"UDP-Lite", fkPacket(0, 0, 136, ports(3, 4)), 136, 3, 4, true, 0, false, 0, 0},
		{"DCCP", fkPacket(0, 0, 33, ports(5, 6)), 33, 5, 6, true, 0, false, 0, 0},
		{"ICMPv6 has no ports", fkPacket(0, 0, 58, []byte{128, 0, 0, 0, 0, 1, 0, 1}), 58, 0, 0, false, 0, false, 0, 0},
		{"ESP SPI", fkPacket(0, 0, 50, esp), 50, 0, 0, false, 0xdeadbeef, true, 0, 0},
		{"hop-by-hop, routing, dest opts", fkPacket(0, 7, IPProtoHopByHop, ext(IPProtoRouting, 0), ext(IPProtoDstOpts, 2), ext(IPProtoUDP, 1), ports(9, 10)), 17, 9, 10, true, 0, false, 0, 7},
		{"AH then UDP", fkPacket(0, 0, 51, ah, ports(11, 12)), 17, 11, 12, true, 0, false, 0, 0},
		{"first fragment has ports", fkPacket(0, 0, IPProtoFragment, frag(IPProtoUDP, 0), ports(13, 14)), 17, 13, 14, true, 0, false, 0, 0},
		{"later fragment has none", fkPacket(0, 0, IPProtoFragment, frag(IPProtoUDP, 185), ports(13, 14)), 17, 0, 0, false, 0, false, 0, 0},
		{"no next header", fkPacket(0, 0, 59), 59, 0, 0, false, 0, false, 0, 0},
		{"mobility header", fkPacket(0, 0, IPProtoMH, ext(59, 1)), 135, 0, 0, false, 0, false, 0, 0},
		{"link padding past Payload Length", append(fkPacket(0, 0, 17, ports(15, 16)), 0, 0, 0, 0), 17, 15, 16, true, 0, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseFlowKey(tc.pkt)
			if err != nil {
				t.Fatal(err)
			}
			want := FlowKey{Src: netip.MustParseAddr("2001:db8:a::1"), Dst: netip.MustParseAddr("2001:db8:c::5"),
				NextHeader: tc.nh, SrcPort: tc.sp, DstPort: tc.dp, HasPorts: tc.hasPorts, SPI: tc.spi, HasSPI: tc.hasSPI,
				TrafficClass: tc.tc, FlowLabel: tc.flowLabel}
			if k != want {
				t.Errorf("got %+v\nwant %+v", k, want)
			}
		})
	}
}

func TestParseFlowKeyMalformed(t *testing.T) {
	udp := fkPacket(0, 0, IPProtoUDP, ports(1, 2))
	v4 := append([]byte(nil), udp...)
	v4[0] = 0x45
	long := append([]byte(nil), udp...)
	binary.BigEndian.PutUint16(long[4:], 100)
	for _, tc := range []struct {
		name, what string
		pkt        []byte
		err        error
	}{
		{"empty", "IPv6 header", nil, ErrTruncated},
		{"short header", "IPv6 header", udp[:39], ErrTruncated},
		{"IPv4", "version", v4, ErrBadValue},
		{"payload length beyond packet", "Payload Length", long, ErrTruncated},
		{"UDP without ports", "UDP ports", fkPacket(0, 0, IPProtoUDP, []byte{1, 2}), ErrTruncated},
		{"TCP without ports", "TCP ports", fkPacket(0, 0, 6), ErrTruncated},
		{"ESP without SPI", "ESP SPI", fkPacket(0, 0, 50, []byte{1}), ErrTruncated},
		{"routing header cut", "Routing header", fkPacket(0, 0, IPProtoRouting, ext(17, 2)[:16]), ErrTruncated},
		{"dest opts header cut", "Destination Options header", fkPacket(0, 0, IPProtoDstOpts, []byte{17, 0, 0}), ErrTruncated},
		{"hop-by-hop not first", "Hop-by-Hop Options header not first", fkPacket(0, 0, IPProtoDstOpts, ext(IPProtoHopByHop, 0), ext(17, 0)), ErrBadValue},
		{"fragment header cut", "Fragment header", fkPacket(0, 0, IPProtoFragment, []byte{17, 0, 0, 0}), ErrTruncated},
		{"AH cut", "Authentication header", fkPacket(0, 0, 51, []byte{17, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFlowKey(tc.pkt)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.what) {
				t.Errorf("error %q, want %v naming %q", err, tc.err, tc.what)
			}
		})
	}
}

func FuzzParseFlowKey(f *testing.F) {
	f.Add(fkPacket(0xb8, 0x12345, IPProtoUDP, ports(5000, 53)))
	f.Add(fkPacket(0, 7, IPProtoHopByHop, ext(IPProtoRouting, 0), ext(IPProtoDstOpts, 2), ext(IPProtoFragment, 1), frag(6, 0), ports(9, 10)))
	f.Add(fkPacket(0, 0, 51, []byte{50, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{1, 2, 3, 4}))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseFlowKey(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(b) {
				t.Fatalf("error %v is not a ParseError within the packet", err)
			}
			return
		}
		if k.FlowLabel > 0xfffff || !k.Src.Is6() || !k.Dst.Is6() {
			t.Fatalf("key %+v", k)
		}
		if k.HasPorts && k.HasSPI {
			t.Fatalf("ports and SPI: %+v", k)
		}
	})
}

func BenchmarkParseFlowKey(b *testing.B) {
	pkt := fkPacket(0, 0x12345, IPProtoUDP, ports(5000, 53), make([]byte, 1200))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFlowKey(pkt); err != nil {
			b.Fatal(err)
		}
	}
}
