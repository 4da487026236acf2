package forwarding

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"time"
)

// home is one home address's bindings, as paths in preference order.
type home struct {
	hoa   netip.Addr
	paths []Path
	byID  map[PathID]int
	next  time.Time
}

// Compute derives the desired forwarding at time now. It never fails:
// a rule or flow binding naming a binding that does not exist gets an
// unusable path for it, and entries of home addresses without bindings
// are left out (there is nowhere to send their traffic).
func Compute(now time.Time, in Input) *Table {
	t := &Table{homes: map[netip.Addr]*homeTable{}}
	fbs := map[netip.Addr][]*FlowBinding{}
	for i := range in.FlowBindings {
		fb := &in.FlowBindings[i]
		fbs[fb.HoA] = append(fbs[fb.HoA], fb)
	}
	for _, h := range groupBindings(now, in) {
		ht := h.table(in, fbs[h.hoa])
		t.homes[h.hoa] = ht
		t.n += len(ht.entries)
		t.next = earliest(t.next, ht.next)
	}
	return t
}

// With returns a table equal to t except for home address hoa, which is
// recomputed from in (whose bindings and flow bindings of other home
// addresses are ignored). The other home addresses are shared, not
// copied, so Diff(t, t.With(...)) reads hoa's entries only. It copies the
// map of home addresses; a single owner that need not keep t uses Update.
func (t *Table) With(now time.Time, hoa netip.Addr, in Input) *Table {
	nt := &Table{homes: maps.Clone(t.homes), n: t.n, next: t.next, nextStale: t.nextStale}
	nt.Update(now, hoa, in)
	return nt
}

// Update recomputes home address hoa in place from in (ignoring other
// home addresses' bindings and flow bindings) and returns the changes, in
// the order Diff gives them: O(that home's entries), whatever the size of
// the table. The table must not be read concurrently meanwhile; a home
// agent's event loop calls it once per Binding Update and hands the
// changes to the data plane.
func (t *Table) Update(now time.Time, hoa netip.Addr, in Input) []Change {
	old := t.homes[hoa]
	var mine []*FlowBinding
	for i := range in.FlowBindings {
		if in.FlowBindings[i].HoA == hoa {
			mine = append(mine, &in.FlowBindings[i])
		}
	}
	in.Bindings = slices.DeleteFunc(slices.Clone(in.Bindings), func(b Binding) bool { return b.HoA != hoa })
	var nh *homeTable
	if h := groupBindings(now, in)[hoa]; h != nil {
		nh = h.table(in, mine)
	}
	if old != nil {
		t.n -= len(old.entries)
		delete(t.homes, hoa)
		if old.next.Equal(t.next) {
			t.nextStale = true
		}
	}
	if nh != nil {
		t.homes[hoa] = nh
		t.n += len(nh.entries)
		if !t.nextStale {
			t.next = earliest(t.next, nh.next)
		}
	}
	out := diffHome(nil, old, nh)
	sortChanges(out)
	return out
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// table builds the entries of one home address.
func (h *home) table(in Input, fbs []*FlowBinding) *homeTable {
	ht := &homeTable{entries: make(map[Match]*Entry, 1+len(fbs)), next: h.next}
	add := func(e *Entry) {
		e.Selector = e.Selector.Canonical()
		if old, ok := ht.entries[e.Selector]; !ok || before(e, old) {
			ht.entries[e.Selector] = e
		}
	}
	add(h.entry(FromDefault, in.Default))
	for i := range in.Rules {
		r := &in.Rules[i]
		if r.HoA.IsValid() && r.HoA != h.hoa {
			continue
		}
		e := h.entry(FromRule, &r.Action)
		e.Selector, e.Priority, e.Rule = r.Selector, r.Priority, r.Name
		add(e)
	}
	for _, fb := range fbs {
		e := h.entry(FromFlowBinding, fb.action())
		e.Selector, e.Priority, e.FID = fb.Selector, fb.Priority, fb.FID
		add(e)
	}
	ht.index()
	return ht
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

// groupBindings builds each home address's paths, with its next expiry.
func groupBindings(now time.Time, in Input) map[netip.Addr]*home {
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
		if b.Expires.After(now) {
			h.next = earliest(h.next, b.Expires)
		}
		h.byID[b.ID] = len(h.paths)
		h.paths = append(h.paths, Path{ID: b.ID, CoA: b.CoA, Encap: b.Encap, Port: b.Port, Weight: max(b.Weight, 1), Usable: usable,
			Degraded: b.Degraded})
	}
	return homes
}

// preferBinding orders bindings: home address, healthy before degraded,
// then BID-PRI (lower first, RFC 6089 section 6.1), then lower loss, lower
// RTT, lower BID.
func preferBinding(a, b *Binding) int {
	return cmp.Or(a.HoA.Compare(b.HoA), cmpDegraded(a.Degraded, b.Degraded), cmp.Compare(a.Priority, b.Priority),
		cmp.Compare(a.Loss, b.Loss), cmp.Compare(a.RTT, b.RTT), cmp.Compare(a.ID, b.ID))
}

func cmpDegraded(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// entry makes an entry of this home address for an action (nil: Single
// over every path), with degraded paths demoted.
func (h *home) entry(o Origin, a *Action) *Entry {
	e := h.entryPaths(o, a)
	demote(e)
	return e
}

// demote puts an entry's degraded paths after its healthy ones (Single:
// the failover order) or, when a healthy path is usable, out of a share:
// the flows hashed to a lossy path move to the others, and come back when
// it is good again (the hash alone decides, as for a failed path).
// Replicate keeps them: a lossy copy still fills the other's gaps.
func demote(e *Entry) {
	healthy := false
	for i := range e.Paths {
		healthy = healthy || e.Paths[i].Usable && !e.Paths[i].Degraded
	}
	if !healthy {
		return
	}
	switch e.Mode {
	case Single:
		slices.SortStableFunc(e.Paths, func(a, b Path) int { return cmpDegraded(a.Degraded, b.Degraded) })
	case Share:
		for i := range e.Paths {
			if e.Paths[i].Degraded {
				e.Paths[i].Usable = false
			}
		}
	}
}

func (h *home) entryPaths(o Origin, a *Action) *Entry {
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
