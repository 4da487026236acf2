package binding

import (
	"net/netip"
	"slices"
	"strconv"
	"time"

	"monami/wire"
)

// FlowDecision is the outcome of FlowTable.Process.
type FlowDecision struct {
	// Results are the Flow Identification options of the Binding
	// Acknowledgement: one per option of the update, in its order, then
	// one per Flow Summary FID that names no flow (status 132).
	Results []FlowResult
	Changes []FlowChange
}

// Process applies the flow part of an accepted Binding Update of hoa. has
// reports whether hoa has a binding with a BID after the cache decided on
// the same update (so a flow may reference a BID registered with it).
//
// RFC 6089 section 5 (with the option semantics of section 4):
//   - add: a FID not in the list, with a Traffic Selector and a BID
//     Reference sub-option;
//   - modify: a FID in the list, with either or both sub-options, or a new
//     FID-PRI; what is not sent is kept;
//   - refresh: a FID in the list named in a Flow Summary option, or in a
//     Flow Identification option with nothing new;
//   - remove: by omission. A Binding Update that carries flow options
//     lists every flow the mobile node keeps; the others are removed. An
//     update with no flow option at all is a plain binding refresh and
//     leaves the flows as they are, so that a node registering one BID at
//     a time does not lose them; the last flows go with the bindings.
func (t *FlowTable) Process(now time.Time, hoa netip.Addr, req *FlowRequest, has func(bid uint16) bool) FlowDecision {
	var d FlowDecision
	if req.Empty() {
		return d
	}
	has = t.recordingHas(has)
	t.refreshed = t.refreshed[:0]
	defer t.remember(hoa, req, &d)
	d.Changes = t.removeOmitted(hoa, req, d.Changes)
	if t.seen == nil {
		t.seen = map[uint16]bool{}
	}
	clear(t.seen)
	seen := t.seen
	for i := range req.Options {
		o := &req.Options[i]
		r := FlowResult{FID: o.FID, Priority: o.Priority}
		if seen[o.FID] && o.Malformed == "" {
			o.Malformed = "FID given twice in one binding update"
		}
		seen[o.FID] = true
		var ch *FlowChange
		r.Status, r.Reason, ch = t.decide(now, hoa, o, has)
		if ch != nil {
			d.Changes = append(d.Changes, *ch)
		}
		d.Results = append(d.Results, r)
	}
	for _, fid := range req.Summary {
		if seen[fid] {
			continue // a Flow Identification option said more about it
		}
		seen[fid] = true
		if f := t.find(hoa, fid); f != nil {
			f.Refreshed = now
			t.refreshed = append(t.refreshed, f)
			continue
		}
		// FID-PRI is unknown; 0 is reserved, so the answer names the
		// lowest priority.
		d.Results = append(d.Results, FlowResult{FID: fid, Priority: 0xffff, Status: wire.FIDStatusFIDNotFound,
			Reason: "flow summary names an unknown FID"})
	}
	return d
}

// removeOmitted removes the flows of hoa that the update names in neither
// a Flow Identification nor a Flow Summary option (RFC 6089 section 5,
// removal by omission). It runs first, so that a flow taking over the
// FID-PRI of a removed one is not refused.
func (t *FlowTable) removeOmitted(hoa netip.Addr, req *FlowRequest, out []FlowChange) []FlowChange {
	named := func(f *FlowBinding) bool {
		return slices.Contains(req.Summary, f.FID) || slices.ContainsFunc(req.Options,
			func(o FlowOption) bool { return o.FID == f.FID })
	}
	fs := t.nodes[hoa]
	if !slices.ContainsFunc(fs, func(f *FlowBinding) bool { return !named(f) }) {
		return out // the common refresh: every flow named
	}
	for _, f := range slices.Clone(fs) {
		if named(f) {
			continue
		}
		t.remove(hoa, f.FID)
		out = append(out, FlowChange{Kind: FlowRemoved, Cause: FlowCauseOmitted, Flow: *f})
	}
	return out
}

// decide answers one Flow Identification option and applies it.
func (t *FlowTable) decide(now time.Time, hoa netip.Addr, o *FlowOption, has func(uint16) bool) (wire.FIDStatus, string, *FlowChange) {
	if o.Malformed != "" {
		return wire.FIDStatusMalformed, o.Malformed, nil
	}
	if t.cfg.Disabled {
		return wire.FIDStatusAdministrativelyDenied, "flow bindings are disabled", nil
	}
	old := t.find(hoa, o.FID)
	if old == nil && o.Selector == nil && o.BIDs == nil {
		return wire.FIDStatusFIDNotFound, "refresh of an unknown FID", nil
	}
	if old == nil && o.Selector == nil {
		return wire.FIDStatusFIDNotFound, "modify of an unknown FID", nil
	}
	if old == nil && o.BIDs == nil {
		return wire.FIDStatusMalformed, "a new flow needs a BID Reference sub-option", nil
	}
	if old == nil || !sameSelector(o.Selector, old.Selector) {
		if s, why := t.checkSelector(o.Selector); s != wire.FIDStatusSuccess {
			return s, why, nil
		}
	}
	for _, b := range o.BIDs {
		if !has(b) {
			return wire.FIDStatusBIDNotFound, "BID " + strconv.Itoa(int(b)) + " has no binding", nil
		}
	}
	if f := t.priorityHolder(hoa, o.Priority); f != nil && f.FID != o.FID {
		return wire.FIDStatusRejected, "FID-PRI " + strconv.Itoa(int(o.Priority)) + " is held by FID " + strconv.Itoa(int(f.FID)), nil
	}
	if old == nil && len(t.nodes[hoa]) >= t.cfg.MaxFlowsPerNode {
		return wire.FIDStatusRejected, "too many flows for this home address", nil
	}
	if t.cfg.Prohibited != nil && t.cfg.Prohibited(hoa, o) {
		return wire.FIDStatusAdministrativelyDenied, "operator flow policy", nil
	}
	if old == nil {
		f := &FlowBinding{HoA: hoa, FID: o.FID, Priority: o.Priority, BIDs: slices.Clone(o.BIDs),
			Selector: o.Selector, Registered: now, Refreshed: now}
		f.Active = activeBIDs(f.BIDs, has)
		t.insert(f)
		return wire.FIDStatusSuccess, "added", &FlowChange{Kind: FlowAdded, Cause: FlowCauseSignalled, Flow: copyFlow(f)}
	}
	return t.modify(now, old, o, has)
}

func (t *FlowTable) checkSelector(ts wire.TrafficSelector) (wire.FIDStatus, string) {
	switch ts.(type) {
	case nil:
		return wire.FIDStatusSuccess, ""
	case wire.IPv4TrafficSelector, wire.IPv6TrafficSelector:
	default:
		// RFC 6089 section 4.1.1.4: formats other than RFC 6088's.
		return wire.FIDStatusTSFormatNotSupported, "traffic selector format " + ts.TSFormat().String()
	}
	if t.cfg.CheckSelector != nil {
		if err := t.cfg.CheckSelector(ts); err != nil {
			return wire.FIDStatusMalformed, err.Error()
		}
	}
	return wire.FIDStatusSuccess, ""
}

// modify applies what an option changes of an existing flow; with nothing
// new it is a refresh and no change reaches the data plane.
func (t *FlowTable) modify(now time.Time, f *FlowBinding, o *FlowOption, has func(uint16) bool) (wire.FIDStatus, string, *FlowChange) {
	f.Refreshed = now
	t.refreshed = append(t.refreshed, f)
	changed := f.Priority != o.Priority
	f.Priority = o.Priority
	if o.BIDs != nil && !slices.Equal(o.BIDs, f.BIDs) {
		f.BIDs, changed = slices.Clone(o.BIDs), true
		f.Active = activeBIDs(f.BIDs, has)
	}
	if o.Selector != nil && !sameSelector(o.Selector, f.Selector) {
		f.Selector, changed = o.Selector, true
	}
	if !changed {
		return wire.FIDStatusSuccess, "refreshed", nil
	}
	t.forget(f.HoA)
	return wire.FIDStatusSuccess, "modified", &FlowChange{Kind: FlowModified, Cause: FlowCauseSignalled, Flow: copyFlow(f)}
}

func (t *FlowTable) priorityHolder(hoa netip.Addr, prio uint16) *FlowBinding {
	for _, f := range t.nodes[hoa] {
		if f.Priority == prio {
			return f
		}
	}
	return nil
}

// sameSelector compares two selectors. The binary formats are comparable
// structs; anything else is never stored (it is answered 133).
func sameSelector(a, b wire.TrafficSelector) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case wire.IPv6TrafficSelector:
		y, ok := b.(wire.IPv6TrafficSelector)
		return ok && x == y
	case wire.IPv4TrafficSelector:
		y, ok := b.(wire.IPv4TrafficSelector)
		return ok && x == y
	}
	return false
}

func activeBIDs(bids []uint16, has func(uint16) bool) []uint16 {
	var out []uint16
	for _, b := range bids {
		if has(b) {
			out = append(out, b)
		}
	}
	return out
}

// BindingsChanged follows a change of the bindings of hoa (a registration,
// a deregistration, an expiry). RFC 6089 section 5: a flow binding
// references bindings by BID and is not removed when one of them goes; its
// traffic goes to the BIDs that remain, and when none remains it follows
// the regular bindings of the home address until the mobile node
// modifies or removes it. The flows go with the last binding: the list
// lives with the bindings of the home address. has says which BIDs have a
// binding now; anyBinding whether any does.
func (t *FlowTable) BindingsChanged(hoa netip.Addr, has func(uint16) bool, anyBinding bool) []FlowChange {
	var out []FlowChange
	if !anyBinding {
		t.forget(hoa) // also when it has no flow: the memo goes with the bindings
	}
	for _, f := range slices.Clone(t.nodes[hoa]) {
		if !anyBinding {
			t.remove(hoa, f.FID)
			out = append(out, FlowChange{Kind: FlowRemoved, Cause: FlowCauseNoBinding, Flow: *f})
			continue
		}
		if a := activeBIDs(f.BIDs, has); !slices.Equal(a, f.Active) {
			f.Active = a
			t.forget(hoa)
			out = append(out, FlowChange{Kind: FlowPathsChanged, Cause: FlowCauseBindings, Flow: copyFlow(f)})
		}
	}
	return out
}
