package wire

import (
	"encoding/binary"
	"net/netip"
)

// ChecksumOffset is where the Checksum field sits in the Mobility Header.
const ChecksumOffset = 4

// sum16 adds b as big-endian 16-bit words to s (one's complement partial sum,
// carries folded at the end). Eight octets per step keep it fast.
func sum16(s uint64, b []byte) uint64 {
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		s += v >> 32
		s += v & 0xffffffff
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	return s
}

func fold(s uint64) uint16 {
	for s>>16 != 0 {
		s = (s & 0xffff) + (s >> 16)
	}
	return uint16(s)
}

func addrSum(s uint64, a netip.Addr) uint64 {
	b := a.As16()
	s += uint64(binary.BigEndian.Uint32(b[0:]))
	s += uint64(binary.BigEndian.Uint32(b[4:]))
	s += uint64(binary.BigEndian.Uint32(b[8:]))
	s += uint64(binary.BigEndian.Uint32(b[12:]))
	return s
}

// pseudoSum is the IPv6 pseudo-header sum (RFC 8200 section 8.1) for
// Next Header 135, as RFC 6275 section 6.1.1 requires.
func pseudoSum(src, dst netip.Addr, length int) uint64 {
	return pseudoSumProto(src, dst, length, IPProtoMH)
}

func pseudoSumProto(src, dst netip.Addr, length int, proto uint8) uint64 {
	s := addrSum(0, src)
	s = addrSum(s, dst)
	s += uint64(uint32(length))
	s += uint64(proto)
	return s
}

// UpperLayerChecksum is the checksum of an upper-layer message (UDP, TCP,
// ICMPv6: RFC 8200 section 8.1) from src to dst with next header proto,
// taking the two octets at csumOff as zero. A UDP sender puts 0xffff for
// a result of 0 (RFC 8200 section 8.1).
func UpperLayerChecksum(msg []byte, src, dst netip.Addr, proto uint8, csumOff int) uint16 {
	s := pseudoSumProto(src, dst, len(msg), proto)
	if csumOff >= 0 && len(msg) >= csumOff+2 {
		s = sum16(s, msg[:csumOff])
		s = sum16(s, msg[csumOff+2:])
	} else {
		s = sum16(s, msg)
	}
	return ^fold(s)
}

// Checksum computes the Mobility Header checksum of mh (RFC 6275 section
// 6.1.1) with the Checksum field taken as zero. src must be the home
// address when the packet carries a Home Address option (RFC 6275 section
// 6.1.1: the pseudo-header uses the home address as source).
func Checksum(mh []byte, src, dst netip.Addr) uint16 {
	s := pseudoSum(src, dst, len(mh))
	if len(mh) >= ChecksumOffset+2 {
		s = sum16(s, mh[:ChecksumOffset])
		s = sum16(s, mh[ChecksumOffset+2:])
	} else {
		s = sum16(s, mh)
	}
	return ^fold(s)
}

// VerifyChecksum reports whether the checksum stored in mh is right.
func VerifyChecksum(mh []byte, src, dst netip.Addr) bool {
	if len(mh) < ChecksumOffset+2 {
		return false
	}
	s := pseudoSum(src, dst, len(mh))
	s = sum16(s, mh)
	return fold(s) == 0xffff
}

// SetChecksum computes and stores the checksum of mh.
func SetChecksum(mh []byte, src, dst netip.Addr) {
	if len(mh) < ChecksumOffset+2 {
		return
	}
	binary.BigEndian.PutUint16(mh[ChecksumOffset:], Checksum(mh, src, dst))
}
