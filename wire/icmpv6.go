package wire

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// ICMPv6 Parameter Problem (RFC 4443 section 3.4), the answer RFC 6275
// section 9.2 asks for when a Mobility Header fails its first checks:
//
//	"The Payload Proto field MUST be IPPROTO_NONE (59 decimal). Otherwise,
//	the node MUST discard the message and SHOULD send ICMP Parameter
//	Problem, Code 0, directly to the Source Address of the packet [...]
//	The Pointer field in the ICMP message SHOULD point at the Payload Proto
//	field."
//
//	"The Header Len field in the Mobility Header MUST NOT be less than the
//	length specified for this particular type of message in Section 6.1.
//	Otherwise, the node MUST discard the message and SHOULD send ICMP
//	Parameter Problem, Code 0, directly to the Source Address of the packet
//	[...] The Pointer field in the ICMP message SHOULD point at the Header
//	Len field."

const (
	// IPProtoICMPv6 is the Next Header value of ICMPv6 (RFC 4443).
	IPProtoICMPv6 = 58
	// ICMPv6ParameterProblem is the ICMPv6 type (RFC 4443 section 3.4).
	ICMPv6ParameterProblem = 4
	// ICMPv6ErroneousHeaderField is Parameter Problem code 0.
	ICMPv6ErroneousHeaderField = 0
	// MinIPv6MTU bounds an ICMPv6 error message (RFC 4443 section 2.4 (c)).
	MinIPv6MTU           = 1280
	icmpv6ErrorHeaderLen = 8
)

// ParameterProblemPointer reports whether err, from decoding a Mobility
// Header, is one RFC 6275 section 9.2 answers with ICMPv6 Parameter Problem
// code 0, and the offset in the Mobility Header of the field to point at.
func ParameterProblemPointer(err error) (int, bool) {
	var pe *ParseError
	if !errors.As(err, &pe) {
		return 0, false
	}
	if errors.Is(err, ErrHeaderLenTooSmall) || errors.Is(err, ErrBadPayloadProto) {
		return pe.Offset, true
	}
	return 0, false
}

// AppendInvokingMHPacket appends an IPv6 packet carrying mh as received
// (untouched, checksum included): the IPv6 header from src to dst, a
// Destination Options header with a Home Address option when hoa is valid,
// then mh. It is the packet an ICMPv6 error quotes when the receiver kept
// only the Mobility Header and the addresses; at is where mh starts.
func AppendInvokingMHPacket(b []byte, src, dst, hoa netip.Addr, hopLimit uint8, mh []byte) (_ []byte, at int, err error) {
	start := len(b)
	next := uint8(IPProtoMH)
	if hoa.IsValid() {
		next = IPProtoDstOpts
	}
	if b, err = (IPv6Header{HopLimit: hopLimit, Src: src, Dst: dst}).append(b, 0, next); err != nil {
		return b[:start], 0, err
	}
	if hoa.IsValid() {
		if b, err = AppendHomeAddressDestOpts(b, IPProtoMH, hoa); err != nil {
			return b[:start], 0, err
		}
	}
	at = len(b) - start
	b = append(b, mh...)
	n := len(b) - start - IPv6HeaderLen
	if n > 0xffff {
		return b[:start], 0, eerr("IPv6 packet", "payload longer than 65535 octets")
	}
	binary.BigEndian.PutUint16(b[start+4:], uint16(n))
	return b, at, nil
}

// AppendParameterProblem appends a whole IPv6 packet from src to dst
// carrying an ICMPv6 Parameter Problem with the given code and pointer (an
// offset into invoking, RFC 4443 section 3.4), quoting as much of the
// invoking packet as fits in the minimum MTU (RFC 4443 section 2.4 (c)),
// checksum computed (RFC 4443 section 2.3).
func AppendParameterProblem(b []byte, src, dst netip.Addr, hopLimit, code uint8, pointer uint32, invoking []byte) ([]byte, error) {
	if q := MinIPv6MTU - IPv6HeaderLen - icmpv6ErrorHeaderLen; len(invoking) > q {
		invoking = invoking[:q]
	}
	start := len(b)
	n := icmpv6ErrorHeaderLen + len(invoking)
	b, err := (IPv6Header{HopLimit: hopLimit, Src: src, Dst: dst}).append(b, n, IPProtoICMPv6)
	if err != nil {
		return b[:start], err
	}
	at := len(b)
	b = append(b, ICMPv6ParameterProblem, code, 0, 0)
	b = binary.BigEndian.AppendUint32(b, pointer)
	b = append(b, invoking...)
	s := addrSum(0, src)
	s = addrSum(s, dst)
	s += uint64(uint32(n)) + IPProtoICMPv6
	binary.BigEndian.PutUint16(b[at+2:], ^fold(sum16(s, b[at:])))
	return b, nil
}
