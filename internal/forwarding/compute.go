package forwarding

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// home is one home address's bindings, as paths in preference order.
type home struct {
	hoa   netip.Addr
	paths []Path
	byID  map[PathID]int
}

// Compute derives the desired forwarding at time now. It never fails:
// a rule or flow binding naming a binding that does not exist gets an
// unusable path for it, and entries of home addresses without bindings
// are left out (there is nowhere to send their traffic).
func Compute(now time.Time, in Input) *Table {
	t := &Table{entries: map[Key]*Entry{}, homes: map[netip.Addr]*homeTable{}}
	homes := groupBindings(now, in, t)
	add := func(e *Entry) {
		e.Selector = e.Selector.Canonical()
		k := e.Key()
		if old, ok := t.entries[k]; !ok || before(e, old) {
			t.entries[k] = e
		}
	}
	for _, h := range homes {
		add(h.entry(FromDefault, in.Default))
	}
	for i := range in.Rules {
		r := &in.Rules[i]
		for _, h := range homes {
			if r.HoA.IsValid() && r.HoA != h.hoa {
				continue
			}
			e := h.entry(FromRule, &r.Action)
			e.Selector, e.Priority, e.Rule = r.Selector, r.Priority, r.Name
			add(e)
		}
	}
	for i := range in.FlowBindings {
		fb := &in.FlowBindings[i]
		h := homes[fb.HoA]
		if h == nil {
			continue
		}
		e := h.entry(FromFlowBinding, fb.action())
		e.Selector, e.Priority, e.FID = fb.Selector, fb.Priority, fb.FID
		add(e)
	}
	per := map[netip.Addr][]*Entry{}
	for _, e := range t.entries {
		per[e.HoA] = append(per[e.HoA], e)
	}
	for a, es := range per {
		t.homes[a] = newHomeTable(es)
	}
	return t
}

func (fb *FlowBinding) action() *Action {
	a := &Action{Mode: fb.Mode, Paths: make([]PathRef, len(fb.BIDs))}
	for i, b := range fb.BIDs {
		a.Paths[i] = PathRef{ID: b}
	}
	if a.Mode == Single && len(fb.BIDs) > 1 {
		a.Mode = Replicate
	}
	return a
}

// groupBindings builds each home address's paths and records the next
// expiry in t.
func groupBindings(now time.Time, in Input, t *Table) map[netip.Addr]*home {
	homes := map[netip.Addr]*home{}
	bs := make([]*Binding, len(in.Bindings))
	for i := range in.Bindings {
		bs[i] = &in.Bindings[i]
	}
	slices.SortStableFunc(bs, preferBinding)
	for _, b := range bs {
		h := homes[b.HoA]
		if h == nil {
			h = &home{hoa: b.HoA, byID: map[PathID]int{}}
			homes[b.HoA] = h
		}
		if _, dup := h.byID[b.ID]; dup {
			continue // one binding per BID (RFC 5648); the preferred one wins
		}
		usable := b.Usable && (b.Expires.IsZero() || now.Before(b.Expires)) && (in.MaxLoss <= 0 || b.Loss <= in.MaxLoss)
		if b.Expires.After(now) && (t.next.IsZero() || b.Expires.Before(t.next)) {
			t.next = b.Expires
		}
		h.byID[b.ID] = len(h.paths)
		h.paths = append(h.paths, Path{ID: b.ID, CoA: b.CoA, Encap: b.Encap, Port: b.Port, Weight: max(b.Weight, 1), Usable: usable})
	}
	return homes
}

// preferBinding orders bindings: home address, then BID-PRI (lower
// first, RFC 6089 section 6.1), then lower loss, lower RTT, lower BID.
func preferBinding(a, b *Binding) int {
	return cmp.Or(a.HoA.Compare(b.HoA), cmp.Compare(a.Priority, b.Priority),
		cmp.Compare(a.Loss, b.Loss), cmp.Compare(a.RTT, b.RTT), cmp.Compare(a.ID, b.ID))
}

// entry makes an entry of this home address for an action (nil: Single
// over every path).
func (h *home) entry(o Origin, a *Action) *Entry {
	e := &Entry{HoA: h.hoa, Origin: o, Mode: Single}
	if a == nil {
		e.Paths = slices.Clone(h.paths)
		return e
	}
	e.Mode, e.Return = a.Mode, a.Return
	if a.Mode == Drop {
		return e
	}
	if len(a.Paths) == 0 {
		e.Paths = slices.Clone(h.paths)
		return e
	}
	e.Paths = make([]Path, 0, len(a.Paths))
	for _, r := range a.Paths {
		p := Path{ID: r.ID, Weight: 1}
		if i, ok := h.byID[r.ID]; ok {
			p = h.paths[i]
		}
		if r.Weight != 0 {
			p.Weight = r.Weight
		}
		e.Paths = append(e.Paths, p)
	}
	return e
}
