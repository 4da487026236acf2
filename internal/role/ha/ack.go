package ha

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"monami/internal/binding"
	"monami/internal/transport"
	"monami/wire"
)

// sendAck answers a Binding Update (RFC 6275 section 10.3.1): to the
// care-of address the update came from, with the home address in a type 2
// routing header, over the transport it came on. A BU that passed RFC 4285
// authentication gets an authenticated answer (RFC 4285 section 5.1).
func (h *HomeAgent) sendAck(ctx context.Context, r *received, req *binding.BindingUpdateRequest,
	d *binding.Decision, flows []binding.FlowResult, sa *securityAssociation, nai []byte) error {
	out, mh, err := h.ackSignal(h.out[:0], r, req, d, flows, sa, nai)
	h.out = mh
	if err != nil {
		return err
	}
	h.ackq.wait(ctx) // after the batch in flight
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return r.tp.Send(sctx, out)
}

// ackSignal builds the acknowledgement of sendAck, its Mobility Header
// appended to buf (returned grown; out.MH is its tail).
func (h *HomeAgent) ackSignal(buf []byte, r *received, req *binding.BindingUpdateRequest,
	d *binding.Decision, flows []binding.FlowResult, sa *securityAssociation, nai []byte) (transport.Signal, []byte, error) {
	sig := &r.sig
	// The options go in a slice reused from one answer to the next (the
	// encoder keeps none of them): a refresh's answer carries a dozen.
	ba := wire.BindingAcknowledgement{Status: d.Status, Sequence: d.Sequence, Lifetime: d.Lifetime, Options: h.baOpts[:0]}
	if d.KeyMgmt {
		ba.Flags |= wire.BAFlagK
	}
	if d.MobileRouter {
		ba.Flags |= wire.BAFlagR
	}
	// The options point into scratch the loop keeps (h.baBIDs, h.baOne):
	// boxing a value in the Option interface would allocate each time.
	h.baBIDs = slices.Grow(h.baBIDs[:0], len(d.BIDs))[:len(d.BIDs)]
	for i, b := range d.BIDs {
		// RFC 5648: the Binding Identifier options of the BU are copied into
		// the BA, each with the status of its BID.
		h.baBIDs[i] = wire.BindingIdentifier{BindingID: b.BID, Status: b.Status,
			SimultaneousHomeAndForeign: b.SimultaneousHomeForeign, CareOfAddress: b.CoA, Priority: requestedPriority(req, b.BID)}
		ba.Options = append(ba.Options, &h.baBIDs[i])
	}
	// RFC 6089 section 4.1: each flow of the update answered with its status.
	ba.Options = appendFlowOptions(ba.Options, flows)
	if d.RefreshInterval > 0 {
		ba.Options = append(ba.Options, wire.BindingRefreshAdvice{RefreshInterval: d.RefreshInterval})
	}
	if nai != nil && sa != nil {
		// Local policy, as RFC 5213 does for proxy registrations: name the
		// mobile node the answer is for.
		h.baOne.mnid = wire.MobileNodeIdentifier{Subtype: wire.MNIDNAI, Identifier: nai}
		ba.Options = append(ba.Options, &h.baOne.mnid)
	}
	if nat, ok := natDetection(sig, req, d, h.natRefresh()); ok {
		ba.Options = append(ba.Options, nat)
	}
	if d.HasTimestamp {
		h.baOne.ts = wire.MobilityMessageReplayProtection{Timestamp: d.Timestamp}
		ba.Options = append(ba.Options, &h.baOne.ts)
	}

	// From the address the BU was sent to (the mobile node matches the
	// answer to its home agent by it), over the socket it came on (a NAT
	// keeps its mapping), to the care-of address. An update from an IPv4
	// care-of address came with the home address as inner source: the
	// answer goes to the home address inside UDP, to the IPv4 address and
	// port the update came from (RFC 5555 section 4.2.2), via sig.Peer.
	coa := sig.Src
	out := transport.Signal{Via: sig.Via, Src: sig.Dst, Dst: coa, Ext: transport.ExtRH2, HomeAddress: req.HoA,
		IfIndex: sig.IfIndex, Peer: sig.Peer, Local: sig.Local}
	if !req.HoA.IsValid() || req.HoA == coa {
		// No home address to route to (or at home): plain BA to the source.
		out.Ext, out.HomeAddress = transport.ExtNone, netip0
	}
	start := len(buf)
	var err error
	if sa != nil {
		buf, err = sa.auth.AppendMessage(buf, ba, sa.spi, coa, req.HoA, netip0, netip0)
	} else {
		buf, err = wire.AppendMessage(buf, ba, netip0, netip0)
	}
	clear(ba.Options) // the next answer's; keep no option's data alive meanwhile
	clear(h.baBIDs)
	h.baOne = baScratch{}
	h.baOpts = ba.Options[:0]
	if err != nil {
		return out, buf[:start], err
	}
	out.MH = buf[start:]
	return out, buf, nil
}

var netip0 netip.Addr

// NATKeepaliveInterval is the Refresh Time the home agent puts in the NAT
// Detection option: RFC 5555's default NATKATIMEOUT, 110 seconds.
const NATKeepaliveInterval = 110

// natDetection: RFC 5555 section 4.2.2, when the IPv4 care-of address in
// the Binding Update differs from the IPv4 source address it arrived from,
// a NAT is on the path: the acknowledgement carries the NAT Detection
// option, F set (UDP encapsulation required), with the keepalive interval.
func natDetection(sig *transport.Signal, req *binding.BindingUpdateRequest, d *binding.Decision, refresh uint32) (wire.NATDetection, bool) {
	if !req.IPv4CoA.IsValid() || !d.Status.Accepted() || sig.Peer.Addr().Unmap() == req.IPv4CoA {
		return wire.NATDetection{}, false
	}
	return wire.NATDetection{UDPEncapsulationRequired: true, RefreshTime: refresh}, true
}

// natRefresh is ha.yaml's signalling.nat_keepalive in seconds.
func (h *HomeAgent) natRefresh() uint32 {
	if h.cfg == nil {
		return NATKeepaliveInterval
	}
	return h.cfg.NATRefreshTime()
}

// requestedPriority is the BID-PRI the mobile node sent for bid.
func requestedPriority(req *binding.BindingUpdateRequest, bid uint16) uint8 {
	for _, o := range req.BIDs {
		if o.BID == bid {
			return o.Priority
		}
	}
	return 0
}

// baScratch holds the single options of the answer being encoded.
type baScratch struct {
	mnid wire.MobileNodeIdentifier
	ts   wire.MobilityMessageReplayProtection
}
