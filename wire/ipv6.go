package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// IPv6 packets carrying a Mobility Header, with the Home Address option
// (RFC 6275 section 6.3) and the type 2 routing header (RFC 6275 section
// 6.4). Extension header order follows RFC 6275 section 6.3 and RFC 8200
// section 4.1: IPv6, type 2 routing header, Destination Options (Home
// Address), Mobility Header.

const (
	// IPv6HeaderLen is the fixed IPv6 header length (RFC 8200 section 3).
	IPv6HeaderLen = 40
	// HomeAddressDestOptsLen is a Destination Options header holding only
	// a Home Address option: 2 octets header, PadN(4), HAO(18) = 24.
	HomeAddressDestOptsLen = 24
	// RoutingHeader2Len is the type 2 routing header length (Hdr Ext Len 2).
	RoutingHeader2Len = 24
	hoaOptLen         = 16
)

// IPv6Header is the fixed IPv6 header (RFC 8200 section 3) minus the
// lengths and Next Header, which the builder fills.
type IPv6Header struct {
	TrafficClass uint8
	FlowLabel    uint32 // 20 bits
	HopLimit     uint8
	Src, Dst     netip.Addr
}

func (h IPv6Header) append(b []byte, payloadLen int, next uint8) ([]byte, error) {
	if !h.Src.Is6() || !h.Dst.Is6() {
		return b, eerr("IPv6 header", "source and destination must be IPv6 addresses")
	}
	if h.FlowLabel > 0xfffff {
		return b, eerr("IPv6 header", "flow label does not fit in 20 bits")
	}
	if payloadLen > 0xffff {
		return b, eerr("IPv6 header", "payload longer than 65535 octets")
	}
	v := uint32(6)<<28 | uint32(h.TrafficClass)<<20 | h.FlowLabel
	b = binary.BigEndian.AppendUint32(b, v)
	b = binary.BigEndian.AppendUint16(b, uint16(payloadLen))
	b = append(b, next, h.HopLimit)
	s, d := h.Src.As16(), h.Dst.As16()
	b = append(b, s[:]...)
	return append(b, d[:]...), nil
}

// MHPacket describes an IPv6 packet that carries a Mobility Header.
type MHPacket struct {
	IPv6 IPv6Header
	// HomeAddress, when valid, adds a Destination Options header with a
	// Home Address option (as a mobile node sends a Binding Update).
	HomeAddress netip.Addr
	// RoutingHomeAddress, when valid, adds a type 2 routing header (as a
	// home agent sends a Binding Acknowledgement to a care-of address).
	RoutingHomeAddress netip.Addr
}

// ChecksumAddrs returns the pseudo-header addresses: the home address as
// source when a Home Address option is present (RFC 6275 section 6.1.1),
// and the final destination, the type 2 routing header's address, when
// one is present (RFC 8200 section 8.1).
func (p MHPacket) ChecksumAddrs() (src, dst netip.Addr) {
	src, dst = p.IPv6.Src, p.IPv6.Dst
	if p.HomeAddress.IsValid() {
		src = p.HomeAddress
	}
	if p.RoutingHomeAddress.IsValid() {
		dst = p.RoutingHomeAddress
	}
	return src, dst
}

// Append appends the whole packet carrying message m.
func (p MHPacket) Append(b []byte, m Message) ([]byte, error) {
	start := len(b)
	b, at, err := p.appendHeaders(b)
	if err != nil {
		return b[:start], err
	}
	if b, err = appendUnsummed(b, m); err != nil {
		return b[:start], err
	}
	return p.finish(b, start, at)
}

// AppendRaw appends the packet around an encoded Mobility Header mh (for
// example from Authenticator.AppendMessage), rewriting its checksum.
func (p MHPacket) AppendRaw(b []byte, mh []byte) ([]byte, error) {
	if _, err := ParseHeader(mh); err != nil {
		return b, err
	}
	start := len(b)
	b, at, err := p.appendHeaders(b)
	if err != nil {
		return b[:start], err
	}
	b = append(b, mh...)
	return p.finish(b, start, at)
}

// appendHeaders writes the IPv6 and extension headers with a zero
// payload length; at is where the Mobility Header will start.
func (p MHPacket) appendHeaders(b []byte) (_ []byte, at int, err error) {
	first := uint8(IPProtoMH)
	if p.HomeAddress.IsValid() {
		first = IPProtoDstOpts
	}
	if p.RoutingHomeAddress.IsValid() {
		first = IPProtoRouting
	}
	if b, err = p.IPv6.append(b, 0, first); err != nil {
		return b, 0, err
	}
	if p.RoutingHomeAddress.IsValid() {
		next := uint8(IPProtoMH)
		if p.HomeAddress.IsValid() {
			next = IPProtoDstOpts
		}
		if b, err = AppendRoutingHeader2(b, next, p.RoutingHomeAddress); err != nil {
			return b, 0, err
		}
	}
	if p.HomeAddress.IsValid() {
		if b, err = AppendHomeAddressDestOpts(b, IPProtoMH, p.HomeAddress); err != nil {
			return b, 0, err
		}
	}
	return b, len(b), nil
}

func (p MHPacket) finish(b []byte, start, at int) ([]byte, error) {
	n := len(b) - start - IPv6HeaderLen
	if n > 0xffff {
		return b[:start], eerr("IPv6 packet", "payload longer than 65535 octets")
	}
	binary.BigEndian.PutUint16(b[start+4:], uint16(n))
	src, dst := p.ChecksumAddrs()
	mh := b[at:]
	mh = mh[:(int(mh[1])+1)*8]
	SetChecksum(mh, src, dst)
	return b, nil
}

// AppendHomeAddressDestOpts appends a Destination Options header holding
// a Home Address option (option type 0xC9, length 16, alignment 8n+6,
// RFC 6275 section 6.3): Next Header, Hdr Ext Len 2, PadN with 2 zero
// octets, then the option, 24 octets in all.
func AppendHomeAddressDestOpts(b []byte, next uint8, hoa netip.Addr) ([]byte, error) {
	if !hoa.Is6() {
		return b, eerr("Home Address option", "home address must be IPv6")
	}
	a := hoa.As16()
	b = append(b, next, 2, 1, 2, 0, 0, OptTypeHomeAddress, hoaOptLen)
	return append(b, a[:]...), nil
}

// AppendRoutingHeader2 appends a type 2 routing header (RFC 6275 section
// 6.4): Next Header, Hdr Ext Len 2, Routing Type 2, Segments Left 1,
// Reserved, Home Address.
func AppendRoutingHeader2(b []byte, next uint8, hoa netip.Addr) ([]byte, error) {
	if !hoa.Is6() {
		return b, eerr("type 2 routing header", "home address must be IPv6")
	}
	a := hoa.As16()
	b = append(b, next, 2, RoutingTypeMIPv6, 1, 0, 0, 0, 0)
	return append(b, a[:]...), nil
}

// DestOpts is a decoded Destination Options header.
type DestOpts struct {
	NextHeader  uint8
	Len         int        // octets, (Hdr Ext Len + 1) * 8
	HomeAddress netip.Addr // zero when no Home Address option
}

// ParseDestOpts decodes the Destination Options header at the start of b,
// walking its options (RFC 8200 section 4.2) and picking out the Home
// Address option. A second Home Address option, or one whose length is
// not 16, is an error (RFC 6275 section 6.3).
func ParseDestOpts(b []byte) (DestOpts, error) {
	if len(b) < 2 {
		return DestOpts{}, perr(0, "Destination Options header", ErrTruncated)
	}
	d := DestOpts{NextHeader: b[0], Len: (int(b[1]) + 1) * 8}
	if d.Len > len(b) {
		return DestOpts{}, perr(1, "Destination Options header (Hdr Ext Len "+itoa(int(b[1]))+")", ErrTruncated)
	}
	for off := 2; off < d.Len; {
		t := b[off]
		if t == 0 { // Pad1
			off++
			continue
		}
		if off+2 > d.Len {
			return DestOpts{}, perr(off, "destination option", ErrTruncated)
		}
		n := int(b[off+1])
		if off+2+n > d.Len {
			return DestOpts{}, perr(off+1, "destination option (length "+itoa(n)+")", ErrOptionOverrun)
		}
		if t == OptTypeHomeAddress {
			if n != hoaOptLen {
				return DestOpts{}, perr(off+1, fmt.Sprintf("Home Address option (length %d, want 16)", n), ErrBadLength)
			}
			if d.HomeAddress.IsValid() {
				return DestOpts{}, perr(off, "second Home Address option", ErrBadValue)
			}
			d.HomeAddress = addr16(b[off+2:])
		}
		off += 2 + n
	}
	return d, nil
}

// RoutingHeader2 is a decoded type 2 routing header.
type RoutingHeader2 struct {
	NextHeader   uint8
	SegmentsLeft uint8
	HomeAddress  netip.Addr
}

// ParseRoutingHeader2 decodes a type 2 routing header at the start of b:
// Hdr Ext Len must be 2, Routing Type 2 and Segments Left 0 or 1 (RFC
// 6275 section 6.4).
func ParseRoutingHeader2(b []byte) (RoutingHeader2, error) {
	if len(b) < 4 {
		return RoutingHeader2{}, perr(0, "routing header", ErrTruncated)
	}
	if b[2] != RoutingTypeMIPv6 {
		return RoutingHeader2{}, perr(2, "routing header (type "+itoa(int(b[2]))+", want 2)", ErrBadValue)
	}
	if b[1] != 2 {
		return RoutingHeader2{}, perr(1, "type 2 routing header (Hdr Ext Len "+itoa(int(b[1]))+", want 2)", ErrBadLength)
	}
	if len(b) < RoutingHeader2Len {
		return RoutingHeader2{}, perr(0, "type 2 routing header", ErrTruncated)
	}
	if b[3] > 1 {
		return RoutingHeader2{}, perr(3, "type 2 routing header (Segments Left "+itoa(int(b[3]))+")", ErrBadValue)
	}
	return RoutingHeader2{NextHeader: b[0], SegmentsLeft: b[3], HomeAddress: addr16(b[8:])}, nil
}

// IPv6Packet is an IPv6 packet walked up to its upper-layer header.
type IPv6Packet struct {
	IPv6 IPv6Header
	// HomeAddress is from a Home Address option, if any.
	HomeAddress netip.Addr
	// Routing is set when a type 2 routing header was present.
	Routing *RoutingHeader2
	// NextHeader is the protocol of Payload: IPProtoMH for a Mobility
	// Header, or the first header this walker does not enter (upper
	// layer, Fragment, AH, ESP, IPv6-in-IPv6).
	NextHeader uint8
	// PayloadOffset is where Payload starts in the parsed buffer.
	PayloadOffset int
	// Payload aliases the parsed buffer, bounded by Payload Length.
	Payload []byte
}

// ChecksumAddrs returns the pseudo-header addresses for the upper-layer
// checksum: the home address as source when a Home Address option was
// present (RFC 6275 section 6.1.1), the routing header's address as
// destination while Segments Left is non-zero (RFC 8200 section 8.1).
func (p *IPv6Packet) ChecksumAddrs() (src, dst netip.Addr) {
	src, dst = p.IPv6.Src, p.IPv6.Dst
	if p.HomeAddress.IsValid() {
		src = p.HomeAddress
	}
	if p.Routing != nil && p.Routing.SegmentsLeft > 0 {
		dst = p.Routing.HomeAddress
	}
	return src, dst
}

// MobilityHeader returns the Mobility Header bytes (bounded by Header
// Len) when the packet carries one.
func (p *IPv6Packet) MobilityHeader() ([]byte, error) {
	if p.NextHeader != IPProtoMH {
		return nil, perr(p.PayloadOffset, "IPv6 packet (no Mobility Header, next header "+itoa(int(p.NextHeader))+")", ErrBadValue)
	}
	h, err := ParseHeader(p.Payload)
	if err != nil {
		if pe, ok := err.(*ParseError); ok {
			pe.Offset += p.PayloadOffset
		}
		return nil, err
	}
	return p.Payload[:h.Len()], nil
}

// ParseIPv6 walks the IPv6 header and the Hop-by-Hop, Routing and
// Destination Options headers at the start of b. Octets beyond Payload
// Length (link padding) are ignored.
func ParseIPv6(b []byte) (IPv6Packet, error) {
	var p IPv6Packet
	if len(b) < IPv6HeaderLen {
		return p, perr(0, "IPv6 header", ErrTruncated)
	}
	v := binary.BigEndian.Uint32(b)
	if v>>28 != 6 {
		return p, perr(0, "IPv6 header (version "+itoa(int(v>>28))+")", ErrBadValue)
	}
	plen := int(binary.BigEndian.Uint16(b[4:]))
	if IPv6HeaderLen+plen > len(b) {
		return p, perr(4, "IPv6 header (Payload Length "+itoa(plen)+")", ErrTruncated)
	}
	p.IPv6 = IPv6Header{
		TrafficClass: uint8(v >> 20),
		FlowLabel:    v & 0xfffff,
		HopLimit:     b[7],
		Src:          addr16(b[8:]),
		Dst:          addr16(b[24:]),
	}
	b = b[:IPv6HeaderLen+plen]
	next, off := b[6], IPv6HeaderLen
	for {
		switch next {
		case IPProtoHopByHop, IPProtoDstOpts:
			if next == IPProtoHopByHop && off != IPv6HeaderLen {
				return p, perr(off, "Hop-by-Hop Options header not first", ErrBadValue)
			}
			d, err := ParseDestOpts(b[off:])
			if err != nil {
				return p, shift(err, off)
			}
			if d.HomeAddress.IsValid() {
				if next == IPProtoHopByHop || p.HomeAddress.IsValid() {
					return p, perr(off, "Home Address option outside one Destination Options header", ErrBadValue)
				}
				p.HomeAddress = d.HomeAddress
			}
			next, off = d.NextHeader, off+d.Len
		case IPProtoRouting:
			if len(b)-off >= 3 && b[off+2] != RoutingTypeMIPv6 {
				// Another routing type: skip it by its length.
				if len(b)-off < 2 || (int(b[off+1])+1)*8 > len(b)-off {
					return p, perr(off, "routing header", ErrTruncated)
				}
				next, off = b[off], off+(int(b[off+1])+1)*8
				continue
			}
			r, err := ParseRoutingHeader2(b[off:])
			if err != nil {
				return p, shift(err, off)
			}
			if p.Routing != nil {
				return p, perr(off, "second type 2 routing header", ErrBadValue)
			}
			p.Routing = &r
			next, off = r.NextHeader, off+RoutingHeader2Len
		default:
			p.NextHeader, p.PayloadOffset, p.Payload = next, off, b[off:]
			return p, nil
		}
	}
}

func shift(err error, off int) error {
	if pe, ok := err.(*ParseError); ok {
		pe.Offset += off
	}
	return err
}

// ParsePacket walks an IPv6 packet and decodes its Mobility Header,
// verifying the checksum with the right pseudo-header addresses.
func (p Parser) ParsePacket(b []byte) (IPv6Packet, Message, error) {
	pkt, err := ParseIPv6(b)
	if err != nil {
		return pkt, nil, err
	}
	mh, err := pkt.MobilityHeader()
	if err != nil {
		return pkt, nil, err
	}
	src, dst := pkt.ChecksumAddrs()
	m, err := p.Parse(mh, src, dst)
	if err != nil {
		return pkt, nil, shift(err, pkt.PayloadOffset)
	}
	return pkt, m, nil
}
