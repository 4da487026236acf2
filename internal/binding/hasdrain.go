package binding

import (
	"net/netip"
	"slices"
	"time"
)

// Drain is the home agent's side of a drain (RFC 5142 section 5): the home
// addresses it told to register elsewhere with a Home Agent Switch message,
// when to tell each again, and which registrations it no longer takes. It
// is pure state: the role sends what Due returns.
//
// A home address is acknowledged, and told no more, when its mobile node
// deregisters (a Binding Update of lifetime 0, which is how the mobile
// node answers the switch) or its bindings go. Until then the message is
// retransmitted with the Binding Update's back-off (RFC 6275 section 12:
// INITIAL_BINDACK_TIMEOUT doubling up to MAX_BINDACK_TIMEOUT), then every
// MAX_BINDACK_TIMEOUT while the binding lasts. Refreshes of an existing
// binding are still accepted, so a mobile node that cannot switch keeps
// its traffic; a new registration for a drained home address is refused.
type Drain struct {
	// Alternates are the home agents named in every switch, preferred
	// first; empty asks mobile nodes to discover one (RFC 5142 section 4).
	Alternates []netip.Addr
	Since      time.Time
	pending    map[netip.Addr]*drainEntry
}

type drainEntry struct {
	sent    int
	next    time.Time
	timeout time.Duration
}

// DrainEntry is one home address being told to switch, for the control API.
type DrainEntry struct {
	HoA  netip.Addr `json:"home_address"`
	Sent int        `json:"sent"` // Home Agent Switch messages sent so far
	Next time.Time  `json:"next"` // when the next one is due
}

// NewDrain starts a drain of hoas (the home addresses with bindings now):
// each is due at once.
func NewDrain(now time.Time, alternates []netip.Addr, hoas []netip.Addr) *Drain {
	d := &Drain{Alternates: slices.Clone(alternates), Since: now,
		pending: map[netip.Addr]*drainEntry{}}
	for _, h := range hoas {
		d.Add(now, h)
	}
	return d
}

// Add puts a home address in the drain (one that registered after it
// began, through a refresh the home agent accepted); a known one is left
// as it is.
func (d *Drain) Add(now time.Time, hoa netip.Addr) {
	if d.pending[hoa] == nil {
		d.pending[hoa] = &drainEntry{next: now, timeout: InitialBindackTimeout}
	}
}

// Due returns the home addresses whose Home Agent Switch is to be sent now
// and schedules each one's next transmission.
func (d *Drain) Due(now time.Time) []netip.Addr {
	var out []netip.Addr
	for hoa, e := range d.pending {
		if now.Before(e.next) {
			continue
		}
		out = append(out, hoa)
		if e.sent > 0 {
			e.timeout = min(2*e.timeout, MaxBindackTimeout)
		}
		e.sent++
		e.next = now.Add(e.timeout)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// Deadline is when Due has something next.
func (d *Drain) Deadline() (time.Time, bool) {
	var t time.Time
	for _, e := range d.pending {
		if t.IsZero() || e.next.Before(t) {
			t = e.next
		}
	}
	return t, !t.IsZero()
}

// Acknowledged: the mobile node of hoa deregistered, or its bindings went
// away; it is not told again.
func (d *Drain) Acknowledged(hoa netip.Addr) bool {
	_, ok := d.pending[hoa]
	delete(d.pending, hoa)
	return ok
}

// Refuses reports whether a Binding Update is refused during the drain:
// one that would create a home address's first binding here (registered:
// it has bindings now). Deregistrations and refreshes pass.
func (d *Drain) Refuses(registered bool, lifetime uint16) bool {
	return lifetime > 0 && !registered
}

// Pending lists the home addresses not yet acknowledged.
func (d *Drain) Pending() []DrainEntry {
	out := make([]DrainEntry, 0, len(d.pending))
	for h, e := range d.pending {
		out = append(out, DrainEntry{HoA: h, Sent: e.sent, Next: e.next})
	}
	slices.SortFunc(out, func(a, b DrainEntry) int { return a.HoA.Compare(b.HoA) })
	return out
}

// ChooseHomeAgent is the mobile node's choice on a Home Agent Switch (RFC
// 5142 section 6): the first listed address that is a usable unicast
// address and not the home agent it is leaving (nor one already tried and
// failed). ok is false when none is left; with an empty list RFC 5142 asks
// for Dynamic Home Agent Address Discovery (RFC 6275 section 10.5), which
// monami does not do.
func ChooseHomeAgent(listed []netip.Addr, current netip.Addr, tried []netip.Addr) (netip.Addr, bool) {
	for _, a := range listed {
		if a == current || !a.Is6() || a.Is4In6() || !a.IsGlobalUnicast() || slices.Contains(tried, a) {
			continue
		}
		return a, true
	}
	return netip.Addr{}, false
}
