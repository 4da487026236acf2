package dataplane

import (
	"encoding/binary"
	"net/netip"
)

// ipv6Header returns source, destination and next header of an IPv6
// packet, and false when pkt is not a whole IPv6 packet (RFC 8200
// section 3: version 6, payload length covers the rest).
func ipv6Header(pkt []byte) (src, dst netip.Addr, next uint8, ok bool) {
	if len(pkt) < ipv6HeaderLen || pkt[0]>>4 != 6 {
		return src, dst, 0, false
	}
	if ipv6HeaderLen+int(binary.BigEndian.Uint16(pkt[4:6])) > len(pkt) {
		return src, dst, 0, false
	}
	src = netip.AddrFrom16([16]byte(pkt[offSrc : offSrc+16]))
	dst = netip.AddrFrom16([16]byte(pkt[offDst : offDst+16]))
	return src, dst, pkt[offNextHeader], true
}

// nativeBE16 is what a host-order 16-bit load of the big-endian bytes of v
// gives (htons: for BPF loads and sockaddr_ll's protocol).
func nativeBE16(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// nativeBE32 is what a host-order 32-bit load of the big-endian bytes of
// v gives.
func nativeBE32(v uint32) uint32 {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return binary.NativeEndian.Uint32(b[:])
}
