package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"monami/wire"
)

// IP protocol numbers the walker follows (IANA "Assigned Internet Protocol
// Numbers").
const (
	protoIPv4     = 4
	protoUDP      = 17
	protoIPv6     = 41
	protoFragment = 44
	protoAH       = 51
	protoNone     = 59
)

// maxTunnelDepth bounds IP-in-IP nesting so a crafted packet cannot make
// the walker recurse for long.
const maxTunnelDepth = 4

// Transport says how a Mobility Header travelled.
type Transport string

// Transports.
const (
	// TransportIPv6: next header 135 in an IPv6 packet (RFC 6275).
	TransportIPv6 Transport = "IPv6"
	// TransportUDPEncap: an IPv6 packet inside UDP port 4191 (RFC 5555
	// section 4.1), over IPv4 or IPv6.
	TransportUDPEncap Transport = "UDP 4191 (RFC 5555)"
	// TransportPMIPv6UDP: the Mobility Header directly inside UDP port
	// 5436 (RFC 5844 section 3, PMIPv6 over an IPv4 transport network).
	TransportPMIPv6UDP Transport = "UDP 5436 (RFC 5844)"
	// TransportMHOnly: a bare Mobility Header given to
	// DecodeMobilityHeader, without any IP header.
	TransportMHOnly Transport = "Mobility Header only"
)

// Checksum is the outcome of the Mobility Header checksum check.
type Checksum string

// Checksum outcomes.
const (
	ChecksumOK  Checksum = "ok"
	ChecksumBad Checksum = "bad"
	// ChecksumNotVerified: the Mobility Header was not in an IPv6 packet
	// (UDP 5436 over IPv4), so there is no IPv6 pseudo-header to check
	// against.
	ChecksumNotVerified Checksum = "not verified"
)

// Record is one Mobility Header found in a frame, or the error that
// stopped the walk through a frame.
type Record struct {
	Frame     int       // 1-based frame number
	Time      time.Time // capture time
	Interface int       // pcapng interface ID
	LinkType  LinkType

	Transport Transport
	// Tunnel lists the outer headers crossed before the packet carrying
	// the Mobility Header, outermost first, e.g. "IPv4 192.0.2.1 > 198.51.100.1".
	Tunnel []string
	// UDP ports when Transport is a UDP one.
	SrcPort, DstPort uint16
	// Src and Dst are the addresses of the IP header carrying the
	// Mobility Header (for UDP 4191, the inner IPv6 header).
	Src, Dst netip.Addr
	// HomeAddress is from a Home Address destination option (RFC 6275
	// section 6.3); RoutingHomeAddress from a type 2 routing header
	// (section 6.4). Zero when absent.
	HomeAddress        netip.Addr
	RoutingHomeAddress netip.Addr
	// ChecksumSrc and ChecksumDst are the pseudo-header addresses the
	// checksum was computed with.
	ChecksumSrc, ChecksumDst netip.Addr

	// Offset of the Mobility Header in the frame.
	Offset int
	// MH holds the Mobility Header octets (Header Len bounded).
	MH       []byte
	Header   wire.Header
	Checksum Checksum
	// Message is the decoded message; nil for an MH Type without a
	// decoder (Unknown is then true), when the fixed message data could
	// not be decoded, or when Err is set. Its Options are those that
	// decoded; Inspection.Options lists them all.
	Message wire.Message
	Unknown bool
	// Inspection is the lenient walk of the Mobility Header (wire.Inspect):
	// every option and sub-option in wire order, decoded or as raw octets,
	// with their problems.
	Inspection wire.InspectedMessage
	// Problems of the header and the message data (checksum, Payload
	// Proto, Header Len, ...); offsets count from the start of the
	// Mobility Header. AllProblems adds the options' problems.
	Problems []wire.Problem

	// Err is set when the frame could not be decoded; Offset then tells
	// where in the frame (see FrameError).
	Err error
}

// AllProblems returns the record's problems and those of its options and
// sub-options, offsets counting from the start of the Mobility Header.
func (r Record) AllProblems() []wire.Problem {
	ps := append([]wire.Problem(nil), r.Problems...)
	for _, o := range r.Inspection.Options {
		ps = append(ps, o.Problems...)
		for _, s := range o.SubOptions {
			ps = append(ps, s.Problems...)
		}
	}
	return ps
}

// Worst is the highest severity among the record's problems, 0 for none.
func (r Record) Worst() wire.Severity {
	var w wire.Severity
	for _, p := range r.AllProblems() {
		w = max(w, p.Severity)
	}
	return w
}

// FrameError is a decoding failure located in the frame.
type FrameError struct {
	Offset int    // octets from the start of the frame
	What   string // what was being decoded
	Err    error  // the cause; often a *wire.ParseError
}

func (e *FrameError) Error() string {
	// A wire.ParseError's own offset is relative to the structure it
	// decoded; Offset already translates it to the frame, so show only
	// what failed and why.
	var pe *wire.ParseError
	if errors.As(e.Err, &pe) {
		return fmt.Sprintf("offset %d: %s: %s: %v", e.Offset, e.What, pe.What, pe.Err)
	}
	return fmt.Sprintf("offset %d: %s: %v", e.Offset, e.What, e.Err)
}

func (e *FrameError) Unwrap() error { return e.Err }

// Walk finds every Mobility Header message in a captured frame. A frame
// without one gives no records; a frame that cannot be decoded gives one
// record with Err set (and any messages found before the failure).
func Walk(p Packet) []Record {
	w := walker{pkt: p}
	netw, payload, err := StripLink(p.LinkType, p.Data)
	if err != nil {
		var le *LinkError
		off := 0
		if errors.As(err, &le) {
			off = le.Offset
		}
		w.fail(off, "link layer", err)
		return w.out
	}
	base := len(p.Data) - len(payload)
	switch netw {
	case NetworkIPv4:
		w.ipv4(payload, base, 0)
	case NetworkIPv6:
		w.ipv6(payload, base, 0, TransportIPv6)
	}
	return w.out
}

type walker struct {
	pkt    Packet
	tunnel []string
	out    []Record
}

func (w *walker) record() Record {
	return Record{
		Frame:     w.pkt.Number,
		Time:      w.pkt.Time,
		Interface: w.pkt.Interface,
		LinkType:  w.pkt.LinkType,
		Tunnel:    append([]string(nil), w.tunnel...),
	}
}

func (w *walker) fail(off int, what string, err error) {
	// A *wire.ParseError's offset is relative to the buffer it decoded,
	// which starts at off in the frame.
	var pe *wire.ParseError
	if errors.As(err, &pe) {
		off += pe.Offset
	}
	r := w.record()
	r.Offset = off
	r.Err = &FrameError{Offset: off, What: what, Err: err}
	w.out = append(w.out, r)
}

// ipv4 walks an IPv4 packet at frame offset base.
func (w *walker) ipv4(b []byte, base, depth int) {
	if len(b) < 20 {
		w.fail(base, "IPv4 header", fmt.Errorf("%d octets, need 20: %w", len(b), wire.ErrTruncated))
		return
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if b[0]>>4 != 4 || ihl < 20 || total < ihl {
		w.fail(base, "IPv4 header", fmt.Errorf("version %d, IHL %d, total length %d: %w", b[0]>>4, ihl, total, wire.ErrBadValue))
		return
	}
	if total > len(b) {
		w.fail(base+2, "IPv4 header", fmt.Errorf("total length %d but %d octets captured: %w", total, len(b), wire.ErrTruncated))
		return
	}
	b = b[:total]
	proto := b[9]
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	switch frag := binary.BigEndian.Uint16(b[6:]); {
	case frag&0x1fff != 0:
		return // not the first fragment
	case frag&0x2000 != 0: // first fragment, more follow
		if proto == protoUDP || proto == protoIPv6 || proto == protoIPv4 {
			w.fail(base+6, "IPv4 header", errors.New("fragmented packet (reassembly is not supported)"))
		}
		return
	}
	hop := fmt.Sprintf("IPv4 %s > %s", src, dst)
	payload, poff := b[ihl:], base+ihl
	switch proto {
	case protoUDP:
		w.udp(payload, poff, hop, depth)
	case protoIPv6:
		w.inTunnel(hop, poff, depth, func() { w.ipv6(payload, poff, depth+1, TransportIPv6) })
	case protoIPv4:
		w.inTunnel(hop, poff, depth, func() { w.ipv4(payload, poff, depth+1) })
	}
}

func (w *walker) inTunnel(hop string, off, depth int, f func()) {
	if depth >= maxTunnelDepth {
		w.fail(off, "tunnel", fmt.Errorf("more than %d nested IP headers", maxTunnelDepth))
		return
	}
	w.tunnel = append(w.tunnel, hop)
	f()
	w.tunnel = w.tunnel[:len(w.tunnel)-1]
}

// udp looks at UDP ports 4191 and 5436.
func (w *walker) udp(b []byte, base int, hop string, depth int) {
	if len(b) < 8 {
		w.fail(base, "UDP header", fmt.Errorf("%d octets, need 8: %w", len(b), wire.ErrTruncated))
		return
	}
	sport := binary.BigEndian.Uint16(b[0:])
	dport := binary.BigEndian.Uint16(b[2:])
	var transport Transport
	switch {
	case sport == wire.UDPEncapsulationPort || dport == wire.UDPEncapsulationPort:
		transport = TransportUDPEncap
	case sport == wire.PMIPv6ControlPort || dport == wire.PMIPv6ControlPort:
		transport = TransportPMIPv6UDP
	default:
		return
	}
	ulen := int(binary.BigEndian.Uint16(b[4:]))
	if ulen < 8 || ulen > len(b) {
		w.fail(base+4, "UDP header", fmt.Errorf("length %d, %d octets captured: %w", ulen, len(b), wire.ErrBadLength))
		return
	}
	payload := b[8:ulen]
	w.inTunnel(hop+fmt.Sprintf(" UDP %d > %d", sport, dport), base+8, depth, func() {
		switch transport {
		case TransportUDPEncap:
			enc, err := wire.ParseUDPEncapsulated(payload)
			if err != nil {
				w.fail(base+8, "UDP-encapsulated packet (RFC 5555)", err)
				return
			}
			n := len(w.out)
			if enc.Version == 6 {
				w.ipv6(enc.Packet, base+8, depth+1, TransportUDPEncap)
			} else {
				w.ipv4(enc.Packet, base+8, depth+1)
			}
			for i := n; i < len(w.out); i++ {
				if w.out[i].SrcPort == 0 && w.out[i].DstPort == 0 {
					w.out[i].SrcPort, w.out[i].DstPort = sport, dport
				}
			}
		case TransportPMIPv6UDP:
			r := w.record()
			r.Transport = TransportPMIPv6UDP
			r.SrcPort, r.DstPort = sport, dport
			w.mh(r, payload, base+8, netip.Addr{}, netip.Addr{})
		}
	})
}

// ipv6 walks an IPv6 packet at frame offset base.
func (w *walker) ipv6(b []byte, base, depth int, transport Transport) {
	pkt, err := wire.ParseIPv6(b)
	if err != nil {
		w.fail(base, "IPv6 packet", err)
		return
	}
	next, off, payload := pkt.NextHeader, pkt.PayloadOffset, pkt.Payload
	// Walk AH and further Destination Options headers, and atomic
	// fragments, which wire.ParseIPv6 leaves to its caller.
	for {
		switch next {
		case protoAH:
			if len(payload) < 8 || (int(payload[1])+2)*4 > len(payload) {
				w.fail(base+off, "Authentication Header", wire.ErrTruncated)
				return
			}
			n := (int(payload[1]) + 2) * 4
			next, off, payload = payload[0], off+n, payload[n:]
			continue
		case wire.IPProtoDstOpts:
			d, err := wire.ParseDestOpts(payload)
			if err != nil {
				w.fail(base+off, "Destination Options header", err)
				return
			}
			if d.HomeAddress.IsValid() && !pkt.HomeAddress.IsValid() {
				pkt.HomeAddress = d.HomeAddress
			}
			next, off, payload = d.NextHeader, off+d.Len, payload[d.Len:]
			continue
		case protoFragment:
			if len(payload) < 8 {
				w.fail(base+off, "Fragment header", wire.ErrTruncated)
				return
			}
			fo := binary.BigEndian.Uint16(payload[2:])
			switch {
			case fo&0xfff8 != 0:
				return // not the first fragment: no headers to look at
			case fo&1 != 0: // first fragment, more follow
				if payload[0] == wire.IPProtoMH || payload[0] == protoUDP {
					w.fail(base+off, "Fragment header", errors.New("fragmented packet (reassembly is not supported)"))
				}
				return
			}
			// An atomic fragment (offset 0, M clear): go on.
			next, off, payload = payload[0], off+8, payload[8:]
			continue
		}
		break
	}
	hop := fmt.Sprintf("IPv6 %s > %s", pkt.IPv6.Src, pkt.IPv6.Dst)
	switch next {
	case wire.IPProtoMH:
		r := w.record()
		r.Transport = transport
		r.Src, r.Dst = pkt.IPv6.Src, pkt.IPv6.Dst
		r.HomeAddress = pkt.HomeAddress
		if pkt.Routing != nil {
			r.RoutingHomeAddress = pkt.Routing.HomeAddress
		}
		src, dst := pkt.ChecksumAddrs()
		w.mh(r, payload, base+off, src, dst)
	case protoUDP:
		w.udp(payload, base+off, hop, depth)
	case protoIPv6:
		w.inTunnel(hop, base+off, depth, func() { w.ipv6(payload, base+off, depth+1, TransportIPv6) })
	case protoIPv4:
		w.inTunnel(hop, base+off, depth, func() { w.ipv4(payload, base+off, depth+1) })
	}
}

// mh decodes the Mobility Header at frame offset off. src and dst are the
// checksum pseudo-header addresses; both zero means no check (UDP 5436).
// A message the strict decoder refuses is still shown: wire.Inspect
// decodes what it can and the record carries the problems it found.
func (w *walker) mh(r Record, b []byte, off int, src, dst netip.Addr) {
	r.Offset = off
	if len(b) < wire.MinMHLen {
		_, err := wire.ParseHeader(b)
		w.fail(off, "Mobility Header", err)
		return
	}
	ins := wire.Inspect(b)
	h := ins.Header
	r.Header, r.Inspection = h, ins
	r.MH = b[:ins.Len]
	r.ChecksumSrc, r.ChecksumDst = src, dst
	complete := ins.Len == h.Len()
	r.Checksum = ChecksumNotVerified
	if src.IsValid() && complete {
		r.Checksum = ChecksumOK
		if !wire.VerifyChecksum(r.MH, src, dst) {
			r.Checksum = ChecksumBad
			r.Problems = append(r.Problems, wire.Problem{Severity: wire.SeverityError, Offset: wire.ChecksumOffset,
				Text: fmt.Sprintf("checksum 0x%04x is wrong, 0x%04x expected (RFC 6275 section 6.1.1); receivers discard the message",
					h.Checksum, wire.Checksum(r.MH, src, dst)), Err: wire.ErrBadChecksum})
		}
	}
	r.Problems = append(r.Problems, ins.Problems...)
	r.Unknown = !ins.Known
	r.Message = ins.Message
	if complete && ins.Known {
		// The strict decoder has the last word on the fields when it
		// accepts the message (it is what the daemons use).
		m, err := wire.Parser{ChecksumVerified: true, LaxAlignment: true}.Parse(r.MH, src, dst)
		if err == nil {
			r.Message = m
		} else if ins.Worst() < wire.SeverityError {
			r.Problems = append(r.Problems, strictProblem(err))
		}
	}
	w.out = append(w.out, r)
}

// strictProblem reports an error of the strict decoder that Inspect did
// not flag (FuzzInspect checks there is none; this keeps decode honest
// should the two drift apart).
func strictProblem(err error) wire.Problem {
	p := wire.Problem{Severity: wire.SeverityError, Text: err.Error(), Err: err}
	var pe *wire.ParseError
	if errors.As(err, &pe) {
		p.Offset, p.Text, p.Err = pe.Offset, pe.What+": "+pe.Err.Error(), pe.Err
	}
	return p
}

// DecodeMobilityHeader decodes a bare Mobility Header (no IP header), as
// given on a command line. When src and dst are valid the checksum is
// verified against them; otherwise it is reported as not verified.
func DecodeMobilityHeader(b []byte, src, dst netip.Addr) Record {
	w := walker{pkt: Packet{Number: 1}}
	r := w.record()
	r.Transport = TransportMHOnly
	if !src.IsValid() || !dst.IsValid() {
		src, dst = netip.Addr{}, netip.Addr{}
	}
	w.mh(r, b, 0, src, dst)
	return w.out[0]
}
