package ha

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"monami/internal/binding"
	"monami/internal/forwarding"
	"monami/wire"
)

// Flow bindings (RFC 6089) on the home agent's receive path: the Flow
// Identification and Flow Summary options of a Binding Update are decoded
// here, decided by the pure binding.FlowTable after the binding cache has
// decided on the same update, and answered per flow in the Binding
// Acknowledgement.

// flowConfig is the flow table policy from ha.yaml.
func flowConfig(h *HomeAgent) binding.FlowConfig {
	fc := h.cfg.FlowBindings
	return binding.FlowConfig{
		Disabled:        fc.Disabled(),
		MaxFlowsPerNode: fc.MaxPerHomeAddress,
		CheckSelector: func(ts wire.TrafficSelector) error {
			_, err := forwarding.FromTrafficSelector(ts)
			return err
		},
		Prohibited: h.flowProhibited,
	}
}

// flowProhibited is operator policy: a flow whose selector may match
// traffic an operator rule governs is the operator's, not the mobile
// node's (RFC 6089 section 4.1, status 128).
func (h *HomeAgent) flowProhibited(_ netip.Addr, o *binding.FlowOption) bool {
	if len(h.operatorFlows) == 0 || o.Selector == nil {
		return false
	}
	m, err := forwarding.FromTrafficSelector(o.Selector)
	if err != nil {
		return false
	}
	for _, r := range h.operatorFlows {
		if r.Overlaps(m) {
			return true
		}
	}
	return false
}

// decodeFlowIdentification adds one Flow Identification option (RFC 6089
// section 4.1) to h.flowReq. An option that cannot be used is kept with
// the reason, so that its flow is answered 130 rather than dropped
// silently; without a readable FID there is nothing to answer.
func (h *HomeAgent) decodeFlowIdentification(data []byte) {
	o, err := wire.DecodeFlowIdentification(data)
	if err != nil {
		if len(data) < 4 || binary.BigEndian.Uint16(data) == 0 {
			return
		}
		// FID-PRI 0 is reserved and cannot be sent back: the answer then
		// names priority 1.
		h.flowReq.Options = append(h.flowReq.Options, binding.FlowOption{FID: binary.BigEndian.Uint16(data),
			Priority: max(binary.BigEndian.Uint16(data[2:]), 1), Malformed: err.Error()})
		return
	}
	fo := binding.FlowOption{FID: o.FID, Priority: o.Priority}
	var refs, sels int
	for _, s := range o.SubOptions {
		switch s := s.(type) {
		case wire.BindingReferenceSubOption:
			fo.BIDs, refs = s.BIDs, refs+1
		case wire.TrafficSelectorSubOption:
			fo.Selector, sels = s.Selector, sels+1
		}
	}
	// RFC 6089 section 4.1.1: at most one of each; which of two would
	// count is not said, so neither does.
	if refs > 1 || sels > 1 {
		fo.Malformed = "more than one BID Reference or Traffic Selector sub-option"
	}
	h.flowReq.Options = append(h.flowReq.Options, fo)
}

// decodeFlowSummary adds the FIDs of a Flow Summary option (RFC 6089
// section 4.2). Its FIDs cannot be answered one by one when it does not
// decode: the Binding Update is malformed.
func (h *HomeAgent) decodeFlowSummary(data []byte, at int) error {
	s, err := wire.DecodeFlowSummary(data)
	if err != nil {
		return fmt.Errorf("option at %d: %w", at, err)
	}
	h.flowReq.Summary = append(h.flowReq.Summary, s.FIDs...)
	return nil
}

// decideFlows runs after the binding cache and the data plane have settled
// a Binding Update: flows follow the bindings the update changed, then the
// update's own flow options are decided. A rejected update changes no
// flow. The answers go to p.flows, with what undo needs.
//
// A refresh that changed no binding and carries the very flow options of
// the last update that changed no flow is answered from the flow table's
// memory (binding.FlowTable.Repeat), undecoded: the common refresh of RFC
// 6089 section 5, which must be answered as the first time.
func (h *HomeAgent) decideFlows(now time.Time, p *decided, d *binding.Decision) {
	req := &p.req
	h.flowBS = h.cache.AppendLookup(h.flowBS[:0], req.HoA)
	bs := h.flowBS
	has := func(bid uint16) bool {
		for _, b := range bs {
			if b.BID == bid {
				return true
			}
		}
		return false
	}
	if h.flowsUndecoded && len(d.Changes) == 0 && d.Status.Accepted() {
		if rs, before, ok := h.flows.Repeat(now, req.HoA, h.flowReq.Raw, has); ok {
			p.flows, p.flowsRepeated, p.flowsBefore = rs, true, before
			h.warnFlows(now, req.HoA, rs)
			return
		}
	}
	if h.flowsUndecoded {
		h.decodeFlowIdentifications()
	}
	p.prevFlows = h.flows.Lookup(req.HoA)
	h.flowResults = h.flowResults[:0]
	var changes []binding.FlowChange
	if len(d.Changes) > 0 {
		changes = h.flows.BindingsChanged(req.HoA, has, len(bs) > 0)
	}
	if !d.Status.Accepted() {
		h.flowResults = h.flows.Reject(&h.flowReq)
	} else {
		fd := h.flows.Process(now, req.HoA, &h.flowReq, has)
		h.flowResults, changes = fd.Results, append(changes, fd.Changes...)
	}
	p.flows = slices.Clone(h.flowResults)
	h.warnFlows(now, req.HoA, h.flowResults)
	h.flowChanged(changes)
}

func (h *HomeAgent) warnFlows(now time.Time, hoa netip.Addr, rs []binding.FlowResult) {
	for _, r := range rs {
		if !r.Status.Accepted() {
			h.warn(now, "flow binding refused", "hoa", hoa, "fid", r.FID, "status", r.Status, "reason", r.Reason)
		}
	}
}

// appendRawOption appends one option as it was on the wire (type, length,
// data) to the flow options' bytes a FlowRequest keeps in Raw.
func appendRawOption(raw []byte, t wire.OptionType, data []byte) []byte {
	return append(append(raw, byte(t), byte(len(data))), data...)
}

// decodeFlowIdentifications decodes the Flow Identification options kept
// in h.flowReq.Raw, in order (the Flow Summary options are decoded as
// they are met: a malformed one makes the whole update malformed).
func (h *HomeAgent) decodeFlowIdentifications() {
	h.flowsUndecoded = false
	raw := h.flowReq.Raw
	for len(raw) >= 2 && len(raw) >= 2+int(raw[1]) {
		t, data := wire.OptionType(raw[0]), raw[2:2+int(raw[1])]
		raw = raw[2+len(data):]
		if t == wire.OptFlowIdentification {
			h.decodeFlowIdentification(data)
		}
	}
}

// bindingsGone follows bindings that went without a Binding Update (expiry).
func (h *HomeAgent) bindingsGone(changes []binding.Change) {
	var out []binding.FlowChange
	done := map[netip.Addr]bool{}
	for _, c := range changes {
		hoa := c.Binding.HoA
		if done[hoa] {
			continue
		}
		done[hoa] = true
		bs := h.cache.Lookup(hoa)
		out = append(out, h.flows.BindingsChanged(hoa, func(bid uint16) bool {
			for _, b := range bs {
				if b.BID == bid {
					return true
				}
			}
			return false
		}, len(bs) > 0)...)
	}
	h.flowChanged(out)
}

// flowChanged logs each flow change and marks their home addresses for the
// next commit.
func (h *HomeAgent) flowChanged(changes []binding.FlowChange) {
	for _, c := range changes {
		f := &c.Flow
		h.log.Info("flow binding "+c.Kind.String(), "hoa", f.HoA, "fid", f.FID, "fid_pri", f.Priority,
			"bids", f.BIDs, "active", f.Active, "cause", c.Cause)
	}
	if len(changes) > 0 {
		h.applyFlows(changes)
	}
}

// appendFlowOptions appends the Flow Identification options of the Binding
// Acknowledgement: one per flow, with its status (RFC 6089 section 4.1).
func appendFlowOptions(out []wire.Option, rs []binding.FlowResult) []wire.Option {
	for _, r := range rs {
		out = append(out, wire.FlowIdentification{FID: r.FID, Priority: r.Priority, Status: r.Status})
	}
	return out
}
