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
// classifier index on the destination port: the port space is cut into
// segments at every rule's range ends, and each segment lists the entries
// whose range covers it. A lookup binary-searches the packet's port and
// tests those entries and the generic ones (no port, or a range covering
// more than maxSegments segments, kept out to bound the index's size).
type homeTable struct {
	entries map[Match]*Entry
	next    time.Time
	order   []*Entry
	// segStart[i] is the first port of segment i; segs[i] its entries.
	segStart []uint16
	segs     [][]int32
	generic  []int32
}

// maxSegments bounds how many segments one entry is listed in.
const maxSegments = 64

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
	var bucket []int32
	if k.HasPorts && len(h.segStart) > 0 {
		// The last segment starting at or before the port.
		i, found := slices.BinarySearch(h.segStart, k.DstPort)
		if !found {
			i--
		}
		if i >= 0 {
			bucket = h.segs[i]
		}
	}
	// Merge the two ascending index lists; the first hit wins.
	i, j := 0, 0
	for i < len(bucket) || j < len(h.generic) {
		var x int32
		if j >= len(h.generic) || (i < len(bucket) && bucket[i] < h.generic[j]) {
			x = bucket[i]
			i++
		} else {
			x = h.generic[j]
			j++
		}
		if e := h.order[x]; e.Selector.Matches(k) && e.Live() {
			return e
		}
	}
	return nil
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
	// Segment boundaries: every range start, and every port after a
	// range end.
	var cuts []uint16
	for _, e := range es {
		if p := e.Selector.DstPort; p.Set {
			cuts = append(cuts, p.Lo)
			if p.Hi != 0xffff {
				cuts = append(cuts, p.Hi+1)
			}
		}
	}
	slices.Sort(cuts)
	h.segStart = slices.Compact(cuts)
	h.segs = make([][]int32, len(h.segStart))
	for i, e := range es {
		p := e.Selector.DstPort
		if !p.Set {
			h.generic = append(h.generic, int32(i))
			continue
		}
		lo, _ := slices.BinarySearch(h.segStart, p.Lo)
		hi := len(h.segStart)
		if p.Hi != 0xffff {
			hi, _ = slices.BinarySearch(h.segStart, p.Hi+1)
		}
		if hi-lo > maxSegments {
			h.generic = append(h.generic, int32(i))
			continue
		}
		for s := lo; s < hi; s++ {
			h.segs[s] = append(h.segs[s], int32(i))
		}
	}
}
