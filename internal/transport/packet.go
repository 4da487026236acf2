package transport

// Building and parsing of the IPv6 packet that carries a Mobility Header.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"monami/wire"
)

// IPv6 next header values (IANA "Assigned Internet Protocol Numbers").
const (
	protoHopByHop = wire.IPProtoHopByHop
	protoRouting  = wire.IPProtoRouting
	protoFragment = wire.IPProtoFragment
	protoNone     = wire.IPProtoNone
	protoDstOpts  = wire.IPProtoDstOpts
)

const (
	ipv6HeaderLen = wire.IPv6HeaderLen
	// routingType2 is the type 2 routing header, RFC 6275 section 6.4.
	routingType2 = wire.RoutingTypeMIPv6
)

// errors of the packet parser; wrapped in *PacketError.
var (
	errTruncated = errors.New("truncated")
	errNotMH     = errors.New("upper-layer header is not a Mobility Header")
	errBadExt    = errors.New("malformed extension header")
	errFragment  = errors.New("fragmented packet")
	errBadMH     = errors.New("malformed Mobility Header")
)

// PacketError describes a packet that could not be parsed.
type PacketError struct {
	Offset int
	What   string
	Err    error
}

func (e *PacketError) Error() string {
	return fmt.Sprintf("transport: packet offset %d: %s: %v", e.Offset, e.What, e.Err)
}

func (e *PacketError) Unwrap() error { return e.Err }

func perr(off int, what string, err error) error {
	return &PacketError{Offset: off, What: what, Err: err}
}

// packet is what parsePacket finds in an IPv6 packet.
type packet struct {
	Src, Dst    netip.Addr
	Ext         Ext
	HomeAddress netip.Addr
	HopLimit    uint8
	// DstOpts: a destination options header was present (with or without
	// HAO); the nftables rule drops such MH packets, so they must be
	// delivered from the capture path.
	DstOpts bool
	// nExt counts the extension headers before the MH.
	nExt int
	MH   []byte // aliases the input
}

// checkMH checks the framing of a Mobility Header: RFC 6275 section 6.1.1,
// Header Len counts 8-octet units excluding the first 8 octets and must
// cover the message exactly.
func checkMH(mh []byte) error {
	if err := checkReceivedMH(mh); err != nil {
		return err
	}
	if n := (int(mh[1]) + 1) * 8; n != len(mh) {
		return fmt.Errorf("%w: Header Len says %d octets, have %d", errBadMH, n, len(mh))
	}
	return nil
}

// checkReceivedMH is checkMH for a received Mobility Header, which may be
// followed by octets its Header Len does not count: RFC 8200 section 4.7
// says to ignore octets after a header whose Next Header is 59, and RFC 6275
// section 9.2 wants a Header Len too small for the message answered (ICMPv6
// Parameter Problem), not dropped here unseen.
func checkReceivedMH(mh []byte) error {
	if len(mh) < 8 {
		return fmt.Errorf("%w: %d octets, need at least 8", errBadMH, len(mh))
	}
	if n := (int(mh[1]) + 1) * 8; n > len(mh) {
		return fmt.Errorf("%w: Header Len says %d octets, have %d", errBadMH, n, len(mh))
	}
	return nil
}

// verifyMH reports whether mh carries the right checksum for the
// pseudo-header addresses (RFC 6275 section 6.1.1).
func verifyMH(src, dst netip.Addr, mh []byte) bool {
	return wire.VerifyChecksum(mh, src, dst)
}

// appendPacket appends the IPv6 packet for s (header, HAO destination
// options header or RH2, MH with the checksum filled in) to b, using the
// wire package's builder.
func appendPacket(b []byte, s *Signal) ([]byte, error) {
	if err := s.validate(); err != nil {
		return b, err
	}
	hop := s.HopLimit
	if hop == 0 {
		hop = DefaultHopLimit
	}
	p := wire.MHPacket{IPv6: wire.IPv6Header{HopLimit: hop, Src: s.Src, Dst: s.Dst}}
	switch s.Ext {
	case ExtHAO:
		p.HomeAddress = s.HomeAddress
	case ExtRH2:
		p.RoutingHomeAddress = s.HomeAddress
	}
	b, err := p.AppendRaw(b, s.MH)
	if err != nil {
		return b, fmt.Errorf("%w: %w", ErrInvalidSignal, err)
	}
	return b, nil
}

// parsePacket parses an IPv6 packet whose upper-layer header must be a
// Mobility Header. It accepts hop-by-hop and destination options headers,
// at most one HAO, and at most one routing header (type 2, or any type with
// Segments Left 0 which RFC 8200 section 4.4 says to ignore).
func parsePacket(b []byte) (packet, error) {
	var p packet
	if len(b) < ipv6HeaderLen {
		return p, perr(0, "IPv6 header", errTruncated)
	}
	if b[0]>>4 != 6 {
		return p, perr(0, "IPv6 header", fmt.Errorf("version %d", b[0]>>4))
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if plen == 0 {
		return p, perr(4, "IPv6 header", errors.New("payload length 0 (jumbogram) not supported"))
	}
	if ipv6HeaderLen+plen > len(b) {
		return p, perr(4, "IPv6 header", fmt.Errorf("%w: payload length %d, have %d", errTruncated, plen, len(b)-ipv6HeaderLen))
	}
	b = b[:ipv6HeaderLen+plen] // drop link-layer padding
	p.HopLimit = b[7]
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	next := b[6]
	off := ipv6HeaderLen
	sawRouting := false
	for i := 0; ; i++ {
		switch next {
		case ProtoMH:
			p.MH = b[off:]
			if err := checkReceivedMH(p.MH); err != nil {
				return p, perr(off, "Mobility Header", err)
			}
			return p, nil
		case protoHopByHop, protoDstOpts, protoRouting:
		case protoFragment:
			return p, perr(off, "fragment header", errFragment)
		default:
			return p, perr(off, fmt.Sprintf("next header %d", next), errNotMH)
		}
		if next == protoHopByHop && i != 0 {
			return p, perr(off, "hop-by-hop options", fmt.Errorf("%w: not first (RFC 8200 section 4.1)", errBadExt))
		}
		if len(b)-off < 8 {
			return p, perr(off, "extension header", errTruncated)
		}
		hl := (int(b[off+1]) + 1) * 8
		if len(b)-off < hl {
			return p, perr(off, "extension header", fmt.Errorf("%w: length %d, have %d", errTruncated, hl, len(b)-off))
		}
		h := b[off : off+hl]
		switch next {
		case protoDstOpts:
			p.DstOpts = true
			if err := p.parseOptions(h, off, true); err != nil {
				return p, err
			}
		case protoHopByHop:
			if err := p.parseOptions(h, off, false); err != nil {
				return p, err
			}
		case protoRouting:
			if sawRouting {
				return p, perr(off, "routing header", fmt.Errorf("%w: more than one", errBadExt))
			}
			sawRouting = true
			if err := p.parseRouting(h, off); err != nil {
				return p, err
			}
		}
		next = h[0]
		off += hl
		p.nExt++
	}
}

func (p *packet) parseRouting(h []byte, off int) error {
	typ, left := h[2], h[3]
	if typ != routingType2 {
		if left != 0 {
			return perr(off, "routing header", fmt.Errorf("%w: type %d with %d segments left", errBadExt, typ, left))
		}
		return nil // RFC 8200 section 4.4: ignore
	}
	r, err := wire.ParseRoutingHeader2(h)
	if err != nil {
		return perr(off, "type 2 routing header", fmt.Errorf("%w: %w", errBadExt, err))
	}
	// RFC 6275 section 6.4: Segments Left 1 (a Signal's Dst is the CoA).
	if r.SegmentsLeft != 1 {
		return perr(off, "type 2 routing header", fmt.Errorf("%w: Segments Left %d", errBadExt, r.SegmentsLeft))
	}
	if p.Ext != ExtNone {
		return perr(off, "type 2 routing header", fmt.Errorf("%w: packet also has a HAO", errBadExt))
	}
	p.Ext = ExtRH2
	p.HomeAddress = r.HomeAddress
	return nil
}

// parseOptions decodes a destination options (or, hao false, hop-by-hop)
// header with the wire package: RFC 6275 section 6.3 allows the HAO in a
// destination options header only, once.
func (p *packet) parseOptions(h []byte, off int, hao bool) error {
	d, err := wire.ParseDestOpts(h)
	if err != nil {
		return perr(off, "options header", fmt.Errorf("%w: %w", errBadExt, err))
	}
	if !d.HomeAddress.IsValid() {
		return nil
	}
	if !hao {
		return perr(off, "hop-by-hop options", fmt.Errorf("%w: Home Address option", errBadExt))
	}
	if p.Ext != ExtNone {
		return perr(off, "Home Address option", fmt.Errorf("%w: second home address", errBadExt))
	}
	p.Ext = ExtHAO
	p.HomeAddress = d.HomeAddress
	return nil
}
