package binding

import (
	"bytes"
	"net/netip"
	"slices"
	"time"
)

// A mobile node refreshes its registration with the same Flow
// Identification options every time: RFC 6089 section 5 has an update that
// carries flow options list every flow the node keeps, and a refresh that
// names a flow with the same content is answered as the first time. Decoding
// and deciding them again costs more than the bindings' refresh, so the
// table remembers, per home address, the wire bytes of the last update's
// flow options and its answers when that update changed no flow. An update
// with the same bytes, against the same flows and the same BIDs, would be
// decided the same way (Process is a function of those and of the table's
// policy, which does not change), so Repeat answers it from memory and only
// moves the flows' Refreshed time, as Process would.

// flowMemo is what Process remembers of an update that changed no flow.
type flowMemo struct {
	raw     []byte         // the flow options' wire bytes, as FlowRequest.Raw
	results []FlowResult   // the answers; shared with callers, never changed
	refresh []*FlowBinding // the flows the update refreshed
	asked   []bidAnswer    // every BID the decision asked about, with the answer
}

type bidAnswer struct {
	bid uint16
	has bool
}

// Same reports whether raw are the flow options' bytes of the last update
// of hoa that Process remembered: a caller may then leave them undecoded
// and try Repeat, decoding them only if Repeat declines.
func (t *FlowTable) Same(hoa netip.Addr, raw []byte) bool {
	m := t.memo[hoa]
	return m != nil && len(raw) > 0 && bytes.Equal(m.raw, raw)
}

// Repeat answers an accepted Binding Update of hoa whose flow options are
// byte for byte those Process remembered, when the flows of hoa and the
// answers of has for the BIDs that decision asked about are as they were:
// the flows it refreshed are refreshed at now and the answers are the
// remembered ones (shared: the caller must not change them). before is when
// they were refreshed last (for Unrefresh). ok is false when it cannot
// answer; the caller then decodes the options and calls Process.
func (t *FlowTable) Repeat(now time.Time, hoa netip.Addr, raw []byte, has func(uint16) bool) (results []FlowResult, before time.Time, ok bool) {
	m := t.memo[hoa]
	if m == nil || len(raw) == 0 || !bytes.Equal(m.raw, raw) {
		return nil, time.Time{}, false
	}
	for _, a := range m.asked {
		if has(a.bid) != a.has {
			return nil, time.Time{}, false
		}
	}
	for i, f := range m.refresh {
		if i == 0 {
			before = f.Refreshed
		}
		f.Refreshed = now
	}
	return m.results, before, true
}

// Unrefresh takes back the refresh of a Repeat at `at` that the caller
// could not acknowledge (its data plane or store refused the update): the
// flows of hoa refreshed then are refreshed at before again, as Restore
// would leave them after Process.
func (t *FlowTable) Unrefresh(hoa netip.Addr, at, before time.Time) {
	for _, f := range t.nodes[hoa] {
		if f.Refreshed.Equal(at) {
			f.Refreshed = before
		}
	}
}

// remember keeps the decision of an update of hoa that changed no flow, or
// forgets what was kept when it did change one or has no raw bytes.
func (t *FlowTable) remember(hoa netip.Addr, req *FlowRequest, d *FlowDecision) {
	if len(req.Raw) == 0 || len(d.Changes) > 0 {
		t.forget(hoa)
		return
	}
	m := t.memo[hoa]
	if m == nil {
		m = &flowMemo{}
		t.memo[hoa] = m
	}
	m.raw = append(m.raw[:0], req.Raw...)
	m.results = slices.Clone(d.Results) // a fresh copy: earlier answers may still be shared
	m.refresh = append(m.refresh[:0], t.refreshed...)
	m.asked = append(m.asked[:0], t.asked...)
}

// forget drops what Process remembered of hoa: its flows changed.
func (t *FlowTable) forget(hoa netip.Addr) {
	delete(t.memo, hoa)
}

// recordingHas wraps has so that Process notes every BID it asks about.
func (t *FlowTable) recordingHas(has func(uint16) bool) func(uint16) bool {
	t.asked = t.asked[:0]
	return func(bid uint16) bool {
		v := has(bid)
		if !slices.Contains(t.asked, bidAnswer{bid, v}) {
			t.asked = append(t.asked, bidAnswer{bid, v})
		}
		return v
	}
}
