package forwarding

import (
	"net/netip"
	"strconv"
	"time"
)

// PathID names a path of a home address: the Binding ID of its binding
// (RFC 5648 section 6.1; 0 for a binding registered without one).
type PathID uint16

// Mode is how an entry uses its paths.
type Mode uint8

const (
	// Single sends every packet on the first usable path, in order.
	Single Mode = iota
	// Share places each flow on one usable path, chosen by weight.
	Share
	// Replicate sends every packet on every usable path (bicasting).
	Replicate
	// Drop discards the traffic.
	Drop
)

var modeNames = [...]string{"single", "share", "replicate", "drop"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// MarshalText makes JSON output show the name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// ReturnPolicy says what happens to shared flows when a failed path comes
// back.
type ReturnPolicy uint8

const (
	// Return moves the flows that left a failed path back to it when it
	// is usable again (what rendezvous hashing does by itself).
	Return ReturnPolicy = iota
	// Stay leaves flows where they went; only new flows use the returned
	// path. An Affinity table remembers the placement.
	Stay
)

func (r ReturnPolicy) String() string {
	if r == Stay {
		return "stay"
	}
	return "return"
}

// Encap is how packets reach a care-of address.
type Encap uint8

const (
	// EncapIPv6 is IPv6-in-IPv6 tunnelling (RFC 6275 section 10.4.1,
	// RFC 2473).
	EncapIPv6 Encap = iota
	// EncapUDP is UDP encapsulation on port 4191 (RFC 5555).
	EncapUDP
)

func (e Encap) String() string {
	if e == EncapUDP {
		return "udp"
	}
	return "ipv6"
}

// Binding is one binding of a home address as forwarding needs it.
type Binding struct {
	HoA netip.Addr
	ID  PathID
	CoA netip.Addr
	// Encap and Port (the NAT-mapped UDP port, for EncapUDP) say how to
	// reach CoA.
	Encap Encap
	Port  uint16
	// Priority is BID-PRI: lower is preferred (RFC 6089 section 6.1).
	Priority uint8
	// Weight is the share weight; 0 counts as 1.
	Weight uint32
	// Usable is false while the path is known to be down.
	Usable bool
	// Expires, when not zero, is when the binding's lifetime ends; from
	// then on the path is not usable.
	Expires time.Time
	// Loss (0..1) and RTT, when measured, order paths of equal priority:
	// the healthier first.
	Loss float64
	RTT  time.Duration
	// Degraded: the path loses more than its end's max_loss (judged with
	// hysteresis by internal/paths). A degraded path ranks after every
	// healthy one whatever its priority, and is left out of sharing while
	// a healthy path is usable; it still carries traffic when no healthy
	// path can, and it is still a copy of a bicast flow.
	Degraded bool
}

// PathRef names a path in an Action, with its share weight (0: the
// binding's own weight).
type PathRef struct {
	ID     PathID
	Weight uint32
}

// Action is what an entry does with matching traffic.
type Action struct {
	Mode Mode
	// Paths in preference order; empty means every binding of the home
	// address, in binding preference order.
	Paths  []PathRef
	Return ReturnPolicy
}

// FlowBinding is a flow binding of a home address (RFC 6089 section 3):
// FID, FID-PRI, the BIDs it references and its traffic selector.
type FlowBinding struct {
	HoA      netip.Addr
	FID      uint16
	Priority uint16 // FID-PRI; lower wins (RFC 6089 section 4.1)
	BIDs     []PathID
	Selector Match
	// Mode, when not Single, overrides the mode the references imply: one
	// BID is Single, several are Replicate (RFC 6089 section 4.1.1.3: the
	// flow goes to every referenced binding).
	Mode Mode
}

// Rule is a local or operator policy rule. Rules take precedence over
// flow bindings: at a home agent the operator's word is final, and at a
// mobile node the flow bindings are derived from the rules anyway.
type Rule struct {
	// HoA limits the rule to one home address; invalid means all.
	HoA      netip.Addr
	Name     string
	Priority uint16 // lower wins; rule order in a policy file
	Selector Match
	Action   Action
}

// Input is everything the forwarding of a set of home addresses derives
// from.
type Input struct {
	Bindings     []Binding
	FlowBindings []FlowBinding
	Rules        []Rule
	// Default is the action of each home address's catch-all entry; nil
	// is Single over every binding in preference order (plain failover).
	Default *Action
	// MaxLoss, when above 0, makes a path whose measured loss exceeds it
	// not usable.
	MaxLoss float64
}
