package forwarding

import (
	"net/netip"
	"slices"
	"time"
)

// Table is a computed desired forwarding. It is immutable once built, so
// a data path may read it while the next one is computed, and tables
// derived with With share the home addresses that did not change.
type Table struct {
	homes map[netip.Addr]*homeTable
	n     int
	// next is the earliest time after the computation at which an input
	// binding expires, zero if none; nextStale says Update removed the
	// home address that held it.
	next      time.Time
	nextStale bool
}

// homeTable holds one home address's entries in precedence order, with a
// classifier index on the destination port (PortIndex).
type homeTable struct {
	entries map[Match]*Entry
	next    time.Time
	order   []*Entry
	ports   PortIndex
}

// Len is the number of entries.
func (t *Table) Len() int { return t.n }

// Get returns the entry of a key.
func (t *Table) Get(k Key) (*Entry, bool) {
	if h := t.homes[k.HoA]; h != nil {
		e, ok := h.entries[k.Selector]
		return e, ok
	}
	return nil, false
}

// Entries returns a home address's entries in precedence order; the
// slice must not be changed.
func (t *Table) Entries(hoa netip.Addr) []*Entry {
	if h := t.homes[hoa]; h != nil {
		return h.order
	}
	return nil
}

// HomeAddresses returns the home addresses with entries, sorted.
func (t *Table) HomeAddresses() []netip.Addr {
	out := make([]netip.Addr, 0, len(t.homes))
	for a := range t.homes {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// NextChange is when the table would next change with no new input (a
// binding expiring), zero if never: a reconcile loop recomputes then.
func (t *Table) NextChange() time.Time {
	if t.nextStale {
		// Not cached back: a Table may be read concurrently.
		var n time.Time
		for _, h := range t.homes {
			n = earliest(n, h.next)
		}
		return n
	}
	return t.next
}

// Lookup returns the live entry of highest precedence that matches a
// packet of home address hoa, or nil.
func (t *Table) Lookup(hoa netip.Addr, k *FlowKey) *Entry {
	h := t.homes[hoa]
	if h == nil {
		return nil
	}
	i := h.ports.First(k, func(i int) bool {
		e := h.order[i]
		return e.Selector.Matches(k) && e.Live()
	})
	if i < 0 {
		return nil
	}
	return h.order[i]
}

// Route looks a packet up and picks its paths: Lookup then Pick. An empty
// result means drop (by policy, or for want of a usable path).
func (t *Table) Route(hoa netip.Addr, k *FlowKey, dst []PathID) []PathID {
	e := t.Lookup(hoa, k)
	if e == nil {
		return dst
	}
	return AppendPick(dst, e, k)
}

func (h *homeTable) index() {
	es := make([]*Entry, 0, len(h.entries))
	for _, e := range h.entries {
		es = append(es, e)
	}
	slices.SortFunc(es, compareEntries)
	h.order = es
	h.ports = NewPortIndex(len(es), func(i int) Range[uint16] { return es[i].Selector.DstPort })
}
