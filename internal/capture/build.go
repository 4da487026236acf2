package capture

import (
	"encoding/binary"
	"net/netip"
)

// Frame builders for the sample capture generator and the tests. They
// build well-formed headers with correct lengths and checksums.

// EthernetFrame prepends an Ethernet II header (RFC 894) to payload.
func EthernetFrame(dst, src [6]byte, etherType uint16, payload []byte) []byte {
	b := make([]byte, 0, 14+len(payload))
	b = append(b, dst[:]...)
	b = append(b, src[:]...)
	b = binary.BigEndian.AppendUint16(b, etherType)
	return append(b, payload...)
}

// EtherType values for EthernetFrame.
const (
	EtherTypeIPv4 = etherTypeIPv4
	EtherTypeIPv6 = etherTypeIPv6
)

// IPv4Packet builds an IPv4 header (RFC 791, no options, DF set, TTL 64)
// around payload of protocol proto, with a correct header checksum.
func IPv4Packet(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(b[6:], 0x4000) // DF
	b[8] = 64
	b[9] = proto
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	binary.BigEndian.PutUint16(b[10:], ^fold(onesSum(0, b)))
	return append(b, payload...)
}

// IPv6Packet builds a fixed IPv6 header (RFC 8200, hop limit 64) around
// payload with next header next.
func IPv6Packet(src, dst netip.Addr, next uint8, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6] = next
	b[7] = 64
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, payload...)
}

// UDPDatagram builds a UDP header (RFC 768) around payload with the
// checksum computed over the pseudo-header of src and dst (IPv4 or IPv6).
func UDPDatagram(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	n := 8 + len(payload)
	b := make([]byte, 8, n)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(n))
	b = append(b, payload...)
	var s uint32
	s = onesSum(s, src.AsSlice())
	s = onesSum(s, dst.AsSlice())
	s += uint32(protoUDP) + uint32(n)
	c := ^fold(onesSum(s, b))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[6:], c)
	return b
}

func onesSum(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// ICMPv6Packet builds an IPv6 packet carrying an ICMPv6 message (RFC
// 4443) with its checksum computed over the pseudo-header.
func ICMPv6Packet(src, dst netip.Addr, typ, code uint8, body []byte) []byte {
	m := append([]byte{typ, code, 0, 0}, body...)
	var s uint32
	s = onesSum(s, src.AsSlice())
	s = onesSum(s, dst.AsSlice())
	s += uint32(len(m)) + 58
	binary.BigEndian.PutUint16(m[2:], ^fold(onesSum(s, m)))
	return IPv6Packet(src, dst, 58, m)
}
