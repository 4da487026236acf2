package ha

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"monami/internal/binding"
	"monami/internal/dataplane"
	"monami/internal/transport"
	"monami/wire"
)

// handle processes one received Mobility Header message alone.
func (h *HomeAgent) handle(ctx context.Context, r received) {
	if p := h.process(ctx, r); p != nil && p.ack {
		h.answer(ctx, p)
	}
}

// decided is a Binding Update the cache has decided, whose data plane
// changes are applied (or queued, in a batch), with what its answer needs.
type decided struct {
	r    received
	req  binding.BindingUpdateRequest
	d    binding.Decision
	sa   *securityAssociation
	nai  []byte
	prev []binding.Binding // the home address's bindings before
	// prevEncap is the encapsulation of each of prev; prevFlows the flow
	// bindings before (undo restores both).
	prevEncap []dataplane.Encapsulation
	prevFlows []binding.FlowBinding
	encap     dataplane.Encapsulation
	// flows is the answer for each flow (RFC 6089); when flowsRepeated
	// it is the flow table's remembered answer, shared, and undo takes
	// back the refresh alone (the flows refreshed at flowsBefore before).
	flows         []binding.FlowResult
	flowsRepeated bool
	flowsBefore   time.Time
	ack           bool // send an acknowledgement
}

// process decodes, authenticates and decides one message and applies its
// data plane changes; it returns the decision of a Binding Update the
// cache took (nil for anything else).
func (h *HomeAgent) process(ctx context.Context, r received) *decided {
	sig := &r.sig
	if len(sig.MH) < wire.HeaderLen {
		h.cnt.inc(&h.cnt.malformed)
		return nil
	}
	if t := wire.MHType(sig.MH[2]); t != wire.MHBindingUpdate {
		h.cnt.inc(&h.cnt.notBindingUpdate)
		h.log.Debug("ignoring mobility message", "type", t, "from", sig.Src)
		src, dst := sig.ChecksumAddrs()
		_, err := (wire.Parser{ChecksumVerified: true}).Parse(sig.MH, src, dst)
		if errors.Is(err, wire.ErrUnknownMHType) {
			h.sendBindingError(ctx, &r, wire.BEUnrecognizedMHType)
		}
		h.sendParameterProblem(ctx, &r, err)
		return nil
	}
	h.cnt.inc(&h.cnt.bindingUpdates)
	req, bs, err := h.decodeBindingUpdate(sig)
	if err != nil {
		h.cnt.inc(&h.cnt.malformed)
		h.warn(r.at, "malformed binding update", "from", sig.Src, "via", sig.Via, "err", err)
		h.sendParameterProblem(ctx, &r, err)
		return nil
	}
	auth, sa, why := h.sec.authenticate(h.bu.Bytes(), bs, sig.Src, req.HoA)
	req.Auth = auth
	if auth.Result == binding.AuthFailed || auth.Result == binding.AuthUnknownIdentity {
		h.cnt.inc(&h.cnt.authFailures)
		h.warn(r.at, "binding update failed authentication", "hoa", req.HoA, "coa", sig.Src, "reason", why)
	}

	d := &h.dec
	h.pendingEncap = encapFor(sig, h.bu.Flags)
	h.pendingUDP = udpPathOf(sig, req)
	prev := h.cache.AppendLookup(nil, req.HoA)
	h.cache.ProcessBindingUpdateTo(r.at, req, d)
	if d.Discard {
		h.cnt.inc(&h.cnt.discarded)
		h.warn(r.at, "binding update discarded", "hoa", req.HoA, "coa", sig.Src, "seq", req.Sequence, "reason", d.Reason, "auth", why)
		return nil
	}
	p := &decided{r: r, req: *req, d: *d, sa: sa, nai: bs.nai, prev: prev, encap: h.pendingEncap,
		prevEncap: h.encapsOf(prev)}
	p.req.BIDs = slices.Clone(req.BIDs)
	p.d.BIDs, p.d.Changes = slices.Clone(d.BIDs), nil
	// Decide (bindings, their encapsulation, flows), install the
	// forwarding derived from them, persist, then acknowledge: an
	// acknowledged binding forwards and survives a restart. In a batch the
	// last two happen for the whole batch (handleQueued).
	h.follow(d.Changes)
	if p.d.Status.Accepted() {
		h.reconcileEncap(&p.req)
	}
	h.decideFlows(r.at, p, d)
	if !h.batching {
		if err := h.commit(); err != nil {
			h.dpError("installing forwarding", err, "hoa", req.HoA)
			h.undo(p, err, &h.cnt.dataplaneRefusals, "the data plane could not install it")
			h.commitLogged("restoring the previous bindings after a failure")
		} else if p.d.Status.Accepted() {
			if err := h.persistAll([]*decided{p}); err != nil {
				h.cnt.inc(&h.cnt.storeErrors)
				h.log.Error("storing bindings", "hoa", req.HoA, "err", err)
				h.undo(p, err, &h.cnt.storeRefusals, "the store could not keep it")
				h.commitLogged("restoring the previous bindings after a failure")
			}
		}
	}
	if p.d.Status.Accepted() {
		h.switchFollow(&r, &p.req)
	}
	if !p.d.Status.Accepted() {
		h.warn(r.at, "binding update rejected", "hoa", req.HoA, "coa", sig.Src, "seq", req.Sequence,
			"status", p.d.Status, "reason", d.Reason)
	}
	// Unauthenticated senders get answers at a bounded rate.
	p.ack = p.d.SendAck && (sa != nil || h.sec.insecure || h.answers.allow(r.at))
	return p
}

// answer sends the acknowledgement of a decided Binding Update.
func (h *HomeAgent) answer(ctx context.Context, p *decided) {
	if err := h.sendAck(ctx, &p.r, &p.req, &p.d, p.flows, p.sa, p.nai); err != nil {
		h.cnt.inc(&h.cnt.sendErrors)
		h.log.Error("sending binding acknowledgement", "to", p.r.sig.Src, "hoa", p.req.HoA, "err", err)
		return
	}
	h.cnt.inc(&h.cnt.acksSent)
	h.cnt.status(p.d.Status)
}

// decodeBindingUpdate walks the message once, without allocating for the
// common case, into h.view (reused).
func (h *HomeAgent) decodeBindingUpdate(sig *transport.Signal) (*binding.BindingUpdateRequest, *bindingUpdateSecurity, error) {
	// RFC 6275 section 9.5.1: the home address is in the Home Address
	// option, or the source address when there is none (a mobile node
	// returning home, or RFC 5555 signalling from an IPv4 care-of address).
	hoa := sig.Src
	if sig.Ext == transport.ExtHAO {
		hoa = sig.HomeAddress
	}
	// The transport verified the checksum (its Recv contract).
	src, dst := sig.ChecksumAddrs()
	if err := (wire.Parser{ChecksumVerified: true}).DecodeBindingUpdate(&h.bu, sig.MH, src, dst); err != nil {
		return nil, nil, err
	}
	req := &h.view
	*req = binding.BindingUpdateRequest{BIDs: req.BIDs[:0]}
	h.flowReq = binding.FlowRequest{Options: h.flowReq.Options[:0], Summary: h.flowReq.Summary[:0], Raw: h.flowReq.Raw[:0]}
	req.Source, req.HoA = sig.Src, hoa
	req.Sequence, req.Lifetime = h.bu.Sequence, h.bu.Lifetime
	f := h.bu.Flags
	req.Ack, req.Home, req.LinkLocal = f.Has(wire.BUFlagA), f.Has(wire.BUFlagH), f.Has(wire.BUFlagL)
	req.KeyMgmt, req.MobileRouter = f.Has(wire.BUFlagK), f.Has(wire.BUFlagR)

	var bs bindingUpdateSecurity
	var bid wire.BindingIdentifier
	// it.Type and it.Data rather than it.Option, and bid.Decode in place:
	// structs returned by value cost a store-forwarding stall per option.
	it := h.bu.Options()
	for it.Next() {
		if bs.hasAuth {
			// RFC 4285 section 5: the authentication option must be last.
			bs.authErr = errors.New("authentication option is not the last option")
		}
		switch it.Type() {
		case wire.OptBindingIdentifier:
			if err := bid.Decode(it.Data()); err != nil {
				// RFC 5648 section 6.2: answered with MCOA MALFORMED, not
				// dropped; the BID, when there is one, names it in logs.
				o := binding.BIDOption{Malformed: true}
				if d := it.Data(); len(d) >= 2 {
					o.BID = uint16(d[0])<<8 | uint16(d[1])
				}
				req.BIDs = append(req.BIDs, o)
				continue
			}
			req.BIDs = append(req.BIDs, binding.BIDOption{BID: bid.BindingID, Priority: bid.Priority,
				CoA: bid.CareOfAddress, SimultaneousHomeForeign: bid.SimultaneousHomeAndForeign})
		case wire.OptAlternateCareOfAddress:
			a, err := wire.DecodeAlternateCareOfAddress(it.Data())
			if err != nil {
				return nil, nil, fmt.Errorf("option at %d: %w", it.Offset(), err)
			}
			req.AlternateCoA = a.CareOfAddress
		case wire.OptIPv4CareOfAddress:
			a, err := wire.DecodeIPv4CareOfAddress(it.Data())
			if err != nil {
				return nil, nil, fmt.Errorf("option at %d: %w", it.Offset(), err)
			}
			// RFC 5555 section 4.2: the option binds the home address to an
			// IPv4 care-of address; only a BU that came over IPv4 (UDP,
			// section 4.1) is from an IPv4 network the home agent can reach.
			if sig.Via == transport.ViaUDP && sig.Peer.Addr().Unmap().Is4() {
				req.IPv4CoA = a.Address
			}
		case wire.OptMobileNodeIdentifier:
			m, err := wire.DecodeMobileNodeIdentifier(it.Data())
			if err != nil {
				return nil, nil, fmt.Errorf("option at %d: %w", it.Offset(), err)
			}
			if m.Subtype == wire.MNIDNAI {
				bs.nai = m.Identifier
			}
		case wire.OptMobilityMessageReplay:
			r, err := wire.DecodeMobilityMessageReplayProtection(it.Data())
			if err != nil {
				return nil, nil, fmt.Errorf("option at %d: %w", it.Offset(), err)
			}
			req.Timestamp, req.HasTimestamp = r.Timestamp, true
		case wire.OptFlowIdentification:
			// Decoded below, unless the flow table can answer the same
			// bytes from memory (flows.go).
			h.flowReq.Raw = appendRawOption(h.flowReq.Raw, it.Type(), it.Data())
		case wire.OptFlowSummary:
			h.flowReq.Raw = appendRawOption(h.flowReq.Raw, it.Type(), it.Data())
			if err := h.decodeFlowSummary(it.Data(), it.Offset()); err != nil {
				return nil, nil, err
			}
		case wire.OptMobilityMessageAuthentication:
			bs.authOpt, bs.hasAuth = it.Option(), true
		}
	}
	if err := it.Err(); err != nil {
		return nil, nil, err
	}
	h.flowsUndecoded = h.flows.Same(hoa, h.flowReq.Raw)
	if !h.flowsUndecoded {
		h.decodeFlowIdentifications()
	}
	return req, &bs, nil
}

// encapFor chooses how the data of a binding travels. RFC 5555 section 4.1:
// UDP encapsulation when the mobile node forces it (F flag) or reaches the
// home agent over IPv4 (NAT), plain IPv6-in-IPv6 (RFC 2473) otherwise, also
// for signalling that merely came over UDP.
func encapFor(sig *transport.Signal, f wire.BUFlags) dataplane.Encapsulation {
	if sig.Via == transport.ViaUDP && (f.Has(wire.BUFlagF) || sig.Peer.Addr().Unmap().Is4()) {
		return dataplane.EncapUDP
	}
	return dataplane.EncapIPv6
}

// warn logs at a bounded rate: these lines are driven by remote packets.
func (h *HomeAgent) warn(now time.Time, msg string, kv ...any) {
	if h.warnings.allow(now) {
		h.log.Warn(msg, kv...)
	}
}

// sendBindingError answers a message the home agent cannot process (RFC
// 6275 section 9.3.3), at a bounded rate.
func (h *HomeAgent) sendBindingError(ctx context.Context, r *received, status wire.BindingErrorStatus) {
	if !h.answers.allow(r.at) {
		return
	}
	sig := &r.sig
	be := wire.BindingError{Status: status}
	if sig.Ext == transport.ExtHAO {
		be.HomeAddress = sig.HomeAddress
	}
	mh, err := wire.AppendMessage(nil, be, netip0, netip0)
	if err != nil {
		return
	}
	// RFC 6275 section 9.3.3: sent to the source address, without a routing header.
	out := transport.Signal{Via: sig.Via, Src: sig.Dst, Dst: sig.Src, MH: mh, IfIndex: sig.IfIndex, Peer: sig.Peer, Local: sig.Local}
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := r.tp.Send(sctx, out); err != nil {
		h.cnt.inc(&h.cnt.sendErrors)
	}
}

// sendParameterProblem answers a Mobility Header whose Payload Proto is not
// 59 or whose Header Len is too small for its type with ICMPv6 Parameter
// Problem code 0 pointing at that field (RFC 6275 section 9.2, SHOULD), at
// the bounded rate of answers to unauthenticated senders (RFC 4443 section
// 2.4 (f)). Transports that cannot carry ICMPv6 (UDP) answer nothing.
func (h *HomeAgent) sendParameterProblem(ctx context.Context, r *received, err error) {
	off, ok := wire.ParameterProblemPointer(err)
	if !ok {
		return
	}
	pp, ok := r.tp.(transport.ParameterProblemSender)
	if !ok || !h.answers.allow(r.at) {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := pp.SendParameterProblem(sctx, r.sig, off); err != nil {
		h.cnt.inc(&h.cnt.sendErrors)
		h.warn(r.at, "sending ICMPv6 parameter problem", "to", r.sig.Src, "err", err)
		return
	}
	h.cnt.inc(&h.cnt.parameterProblems)
}

// reconcileEncap follows a change of encapsulation alone (a mobile node now
// signalling over UDP with the F flag, or back): the binding cache sees no
// change for the bindings the update refreshed, but the data plane must.
func (h *HomeAgent) reconcileEncap(req *binding.BindingUpdateRequest) {
	if req.Lifetime == 0 {
		return
	}
	h.fwdBS = h.cache.AppendLookup(h.fwdBS[:0], req.HoA)
	for _, b := range h.fwdBS {
		key := bindingKey{b.HoA, b.BID}
		if !refreshes(req, b.BID) {
			continue
		}
		if h.noteUDPPath(&b) {
			h.touch(b.HoA) // the NAT mapping moved
		}
		if h.encap[key] == h.pendingEncap {
			continue
		}
		h.encap[key] = h.pendingEncap
		h.touch(b.HoA)
		h.log.Info("binding encapsulation changed", "hoa", b.HoA, "bid", b.BID, "coa", b.CoA, "encap", h.pendingEncap)
	}
}

// encapsOf is the encapsulation of each binding of bs.
func (h *HomeAgent) encapsOf(bs []binding.Binding) []dataplane.Encapsulation {
	if len(bs) == 0 {
		return nil
	}
	out := make([]dataplane.Encapsulation, len(bs))
	for i, b := range bs {
		out[i] = h.encap[bindingKey{b.HoA, b.BID}]
	}
	return out
}

// refreshes reports whether the Binding Update registers bid (a BU without
// BID options registers the plain binding, BID 0).
func refreshes(req *binding.BindingUpdateRequest, bid uint16) bool {
	if len(req.BIDs) == 0 {
		return bid == 0
	}
	for _, o := range req.BIDs {
		if o.BID == bid {
			return true
		}
	}
	return false
}

// undo takes back a decision the data plane or the store could not
// follow: the cache gets the home address's previous bindings again, with
// their encapsulations and flow bindings, to be installed at the next
// commit, and the answer is 130 (insufficient resources, RFC 6275 section
// 6.1.8) for the update and each of its Binding Identifiers (RFC 5648
// section 6.2), so that no binding is acknowledged that cannot forward or
// would not survive a restart. Its flows are answered 129, as those of an
// update the cache did not accept (RFC 6089 section 4.1).
func (h *HomeAgent) undo(p *decided, err error, refused *uint64, why string) {
	hoa := p.req.HoA
	h.follow(h.cache.Restore(hoa, p.prev))
	for i, b := range p.prev {
		h.encap[bindingKey{b.HoA, b.BID}] = p.prevEncap[i]
	}
	if p.flowsRepeated {
		h.flows.Unrefresh(hoa, p.r.at, p.flowsBefore)
	} else {
		h.flows.Restore(hoa, p.prevFlows)
	}
	h.touch(hoa)
	if !p.d.Status.Accepted() {
		return // a rejection that changed something (none today) keeps its status
	}
	h.cnt.inc(refused)
	p.d.Status, p.d.Lifetime, p.d.RefreshInterval = wire.StatusInsufficientResources, 0, 0
	for i := range p.d.BIDs {
		p.d.BIDs[i].Status = wire.StatusInsufficientResources
	}
	p.flows = slices.Clone(p.flows) // a repeated answer is the flow table's
	for i := range p.flows {
		p.flows[i].Status, p.flows[i].Reason = wire.FIDStatusRejected, "binding update not accepted"
	}
	h.warn(p.r.at, "binding update refused: "+why, "hoa", hoa, "seq", p.req.Sequence, "err", err)
}
