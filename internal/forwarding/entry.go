package forwarding

import (
	"net/netip"
	"slices"
)

// Path is one binding as an entry uses it.
type Path struct {
	ID     PathID
	CoA    netip.Addr // invalid when the entry names a BID with no binding
	Encap  Encap
	Port   uint16
	Weight uint32
	Usable bool
	// Degraded: a lossy path (Binding.Degraded), demoted.
	Degraded bool
}

// Origin says where an entry comes from; it is also the first key of
// precedence (lower first).
type Origin uint8

const (
	FromRule        Origin = iota // local or operator policy
	FromFlowBinding               // RFC 6089 flow binding
	FromDefault                   // the home address's catch-all
)

var originNames = [...]string{"rule", "flow-binding", "default"}

func (o Origin) String() string {
	if int(o) < len(originNames) {
		return originNames[o]
	}
	return "origin?"
}

// Key identifies an entry: one per (home address, selector).
type Key struct {
	HoA      netip.Addr
	Selector Match
}

// Entry is the desired forwarding of one (home address, flow selector).
type Entry struct {
	HoA      netip.Addr
	Selector Match
	Origin   Origin
	Priority uint16
	FID      uint16 // for FromFlowBinding
	Rule     string // for FromRule
	Mode     Mode
	Return   ReturnPolicy
	// Paths in preference order, usable or not: Single uses the first
	// usable one.
	Paths []Path
}

// Key returns the entry's key.
func (e *Entry) Key() Key { return Key{HoA: e.HoA, Selector: e.Selector} }

// Live reports whether the entry takes traffic: it drops, or has a usable
// path. Traffic matching an entry that is not live falls through to the
// next matching entry (at worst the default), so a flow whose bindings
// are all gone follows the home address's default instead of vanishing.
func (e *Entry) Live() bool {
	if e.Mode == Drop {
		return true
	}
	for i := range e.Paths {
		if e.Paths[i].Usable {
			return true
		}
	}
	return false
}

// Equal reports whether two entries ask the data plane for the same thing.
func (e *Entry) Equal(o *Entry) bool {
	return e.HoA == o.HoA && e.Selector == o.Selector && e.Origin == o.Origin &&
		e.Priority == o.Priority && e.FID == o.FID && e.Rule == o.Rule &&
		e.Mode == o.Mode && e.Return == o.Return && slices.Equal(e.Paths, o.Paths)
}

// before reports whether a takes precedence over b (same home address):
// origin, then priority (lower wins, RFC 6089 section 4.1), then the more
// specific selector, then the canonical key.
func before(a, b *Entry) bool {
	if a.Origin != b.Origin {
		return a.Origin < b.Origin
	}
	if a.Priority != b.Priority {
		return a.Priority < b.Priority
	}
	if sa, sb := a.Selector.Specificity(), b.Selector.Specificity(); sa != sb {
		return sa > sb
	}
	return a.Selector.Key() < b.Selector.Key()
}

func compareEntries(a, b *Entry) int {
	switch {
	case before(a, b):
		return -1
	case before(b, a):
		return 1
	}
	return 0
}
