// Package linkmon turns the kernel's link and address notifications into
// care-of address events for a mobile node: an address becomes usable when
// its interface is up and running and the address is global and past
// Duplicate Address Detection; it stops being usable when any of that ends.
//
// Tracker is the pure part (no I/O, tested deterministically); Monitor feeds
// it from rtnetlink.
package linkmon

import (
	"fmt"
	"net/netip"
	"sort"
)

// Address flags from linux/if_addr.h that decide usability.
const (
	flagTentative  = 0x40 // IFA_F_TENTATIVE: DAD still running (RFC 4862 section 5.4)
	flagDeprecated = 0x20 // IFA_F_DEPRECATED: preferred lifetime over
	flagDADFailed  = 0x08 // IFA_F_DADFAILED
)

// EventKind says whether a care-of address appeared or went away.
type EventKind int

const (
	// CareOfAddressUp: the address can be registered as a care-of address.
	CareOfAddressUp EventKind = iota + 1
	// CareOfAddressDown: the address can no longer be used.
	CareOfAddressDown
)

func (k EventKind) String() string {
	switch k {
	case CareOfAddressUp:
		return "up"
	case CareOfAddressDown:
		return "down"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a change in the usable care-of addresses of a watched interface.
type Event struct {
	Kind      EventKind
	Interface string
	IfIndex   int
	Address   netip.Addr
	// Reason says why, for the logs: "link down", "address removed",
	// "address added", "link up", "dad complete", "deprecated"...
	Reason string
}

func (e Event) String() string {
	return fmt.Sprintf("%s %s on %s (%s)", e.Address, e.Kind, e.Interface, e.Reason)
}

type addrState struct {
	flags int
	scope int
}

type ifState struct {
	name    string
	up      bool // administratively up and carrier (IFF_UP and IFF_RUNNING)
	addrs   map[netip.Addr]addrState
	watched bool
	// ipv4: its IPv4 addresses count too (an IPv4 care-of address, RFC
	// 5555).
	ipv4 bool
}

// Tracker keeps what the kernel reported and derives usable addresses.
type Tracker struct {
	watch map[string]bool
	ipv4  map[string]bool
	ifs   map[int]*ifState
}

// AllowIPv4 makes the IPv4 addresses of the named interfaces usable as well
// (RFC 5555 IPv4 care-of addresses); call it before the first Link.
func (t *Tracker) AllowIPv4(names ...string) {
	if t.ipv4 == nil {
		t.ipv4 = map[string]bool{}
	}
	for _, n := range names {
		t.ipv4[n] = true
	}
}

// NewTracker watches the named interfaces; nil watches all.
func NewTracker(names []string) *Tracker {
	t := &Tracker{ifs: map[int]*ifState{}}
	if names != nil {
		t.watch = map[string]bool{}
		for _, n := range names {
			t.watch[n] = true
		}
	}
	return t
}

func (t *Tracker) iface(index int) *ifState {
	s := t.ifs[index]
	if s == nil {
		s = &ifState{addrs: map[netip.Addr]addrState{}}
		t.ifs[index] = s
	}
	return s
}

// usable reports whether an address on an interface can be a care-of
// address: global unicast scope, past DAD and not deprecated; an IPv4 one
// (private ones included: behind a NAT) only where allowed.
func (s *ifState) usable(a netip.Addr, st addrState) bool {
	if a.Is4() {
		return s.watched && s.up && s.ipv4 && a.IsGlobalUnicast() && st.scope == 0
	}
	return s.watched && s.up && a.Is6() && !a.Is4In6() && a.IsGlobalUnicast() &&
		st.scope == 0 && st.flags&(flagTentative|flagDADFailed|flagDeprecated) == 0
}

func (s *ifState) usableSet() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for a, st := range s.addrs {
		if s.usable(a, st) {
			out[a] = true
		}
	}
	return out
}

// diff emits events for the difference between two usable sets, sorted by
// address so the order is deterministic.
func diff(index int, name string, before, after map[netip.Addr]bool, upReason, downReason string) []Event {
	var ev []Event
	for a := range before {
		if !after[a] {
			ev = append(ev, Event{CareOfAddressDown, name, index, a, downReason})
		}
	}
	for a := range after {
		if !before[a] {
			ev = append(ev, Event{CareOfAddressUp, name, index, a, upReason})
		}
	}
	sort.Slice(ev, func(i, j int) bool {
		if ev[i].Kind != ev[j].Kind {
			return ev[i].Kind > ev[j].Kind // downs first: a replaced address is released before its successor appears
		}
		return ev[i].Address.Less(ev[j].Address)
	})
	return ev
}

// Link records an interface's state. up means IFF_UP and IFF_RUNNING.
func (t *Tracker) Link(index int, name string, up bool) []Event {
	s := t.iface(index)
	before := s.usableSet()
	s.name, s.up = name, up
	s.watched = t.watch == nil || t.watch[name]
	s.ipv4 = t.ipv4[name]
	reason := "link down"
	if up {
		reason = "link up"
	}
	return diff(index, s.name, before, s.usableSet(), reason, reason)
}

// LinkGone records that an interface was deleted.
func (t *Tracker) LinkGone(index int) []Event {
	s := t.ifs[index]
	if s == nil {
		return nil
	}
	delete(t.ifs, index)
	return diff(index, s.name, s.usableSet(), nil, "", "link removed")
}

// Addr records an address added or changed (added true) or removed.
func (t *Tracker) Addr(index int, a netip.Addr, flags, scope int, added bool) []Event {
	s := t.iface(index)
	before := s.usableSet()
	old, had := s.addrs[a]
	if added {
		s.addrs[a] = addrState{flags: flags, scope: scope}
	} else {
		delete(s.addrs, a)
	}
	up, down := "address added", "address removed"
	if had && added {
		up, down = "address updated", "address updated"
		if old.flags&flagTentative != 0 && flags&flagTentative == 0 {
			up = "dad complete"
		}
		if flags&flagDeprecated != 0 {
			down = "deprecated"
		}
	}
	return diff(index, s.name, before, s.usableSet(), up, down)
}

// Usable lists the usable care-of addresses per interface name.
func (t *Tracker) Usable() map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for _, s := range t.ifs {
		for a := range s.usableSet() {
			out[s.name] = append(out[s.name], a)
		}
	}
	for _, v := range out {
		sort.Slice(v, func(i, j int) bool { return v[i].Less(v[j]) })
	}
	return out
}
