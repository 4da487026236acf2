package dataplane

import (
	"fmt"
	"time"

	"monami/internal/forwarding"
)

// Mode says how a route uses its paths (the modes of a forwarding.Entry).
type Mode uint8

const (
	// ModeSingle sends everything on the first path: the role orders the
	// paths for failover and reinstalls the route when one fails.
	ModeSingle Mode = iota
	// ModeShare puts each flow on one path, chosen by weight from a hash
	// of the flow (addresses, next header, ports or SPI, flow label), so a
	// flow is never split across links (goals draft section 3.4).
	ModeShare
	// ModeReplicate sends every packet on every path: bicasting (goals
	// draft section 3.5; RFC 6089 section 4.1.1.3 for a flow binding
	// naming several BIDs). The receiver drops the second copy (Dedup).
	ModeReplicate
	// ModeDrop discards what the selector catches.
	ModeDrop
)

var modeNames = [...]string{"single", "share", "replicate", "drop"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", m)
}

// MaxPaths bounds the paths of one route: a mobile node has a handful of
// interfaces, and the kernel backend marks each path in a few bits.
const MaxPaths = 8

// Path is one tunnel of a route's path set.
type Path struct {
	Tunnel Tunnel
	// Weight is the path's share of new flows in ModeShare; 0 counts as 1.
	Weight uint32
}

func (p Path) weight() uint32 {
	if p.Weight == 0 {
		return 1
	}
	return p.Weight
}

// Dedup asks the receiving tunnel endpoint to drop the second copy of an
// inner packet that a bicasting peer sent on two paths. A copy is known by
// its inner addresses, payload length, next header and first 16 octets
// after the IPv6 header; one arriving within Window of the first is
// dropped, so an application never sees both. Only packets the Match
// catches are looked at: an application that sends the same datagram
// twice on purpose keeps both everywhere else.
type Dedup struct {
	// Match selects inner packets after decapsulation (at a home agent:
	// from the home address; at a mobile node: to it).
	Match forwarding.Match
	// Window is how long the first copy is remembered, at least the
	// difference of the paths' one-way delays; 0 is DefaultDedupWindow.
	Window time.Duration
}

// DefaultDedupWindow covers, besides the delay difference of a WLAN and
// a cellular path, the copies an access router holds while it resolves a
// neighbour that went away: up to MAX_MULTICAST_SOLICIT x RETRANS_TIMER =
// 3 s (RFC 4861 sections 7.2.2 and 10). When the link returns within
// that time, the router delivers them late; the bicast scenario saw
// copies 0.5-2 s late after a 1.5 s outage. With MaxDedupEntries, 3 s
// covers bicast flows of up to about 21,000 packets per second in all.
const DefaultDedupWindow = 3 * time.Second

// MaxDedupEntries bounds the copies a data plane remembers; beyond it the
// oldest are forgotten first (a late duplicate may then pass).
const MaxDedupEntries = 65536

func (d Dedup) window() time.Duration {
	if d.Window <= 0 {
		return DefaultDedupWindow
	}
	return d.Window
}

func (d Dedup) validate() error {
	if err := d.Match.Validate(); err != nil {
		return fmt.Errorf("dedup %v: %w", d.Match, err)
	}
	if d.Window < 0 || d.Window > time.Minute {
		return fmt.Errorf("dedup %v: window %v outside 0..1m", d.Match, d.Window)
	}
	return nil
}

// RouteCounter is what one route carried: per path, packets and inner
// octets sent since the route was installed.
type RouteCounter struct {
	Selector Selector
	Paths    []PathCounter
	// Duplicates counts the packets a Dedup with the same Match dropped
	// (inbound), when the backend can tell them apart per route.
	Duplicates uint64
}

// PathCounter counts one path of a route.
type PathCounter struct {
	Tunnel          Tunnel
	Packets, Octets uint64
}

// FlowCounterReader is a data plane that counts per route and path; both
// backends are.
type FlowCounterReader interface {
	RouteCounters() ([]RouteCounter, error)
}

// routeBefore orders the routes of one (Dst, Src) as a packet tries them
// (see Route): lower Order, then the more specific Flow, then the key.
// Both backends classify in this order.
func routeBefore(a, b *Route) bool {
	if a.Order != b.Order {
		return a.Order < b.Order
	}
	if sa, sb := a.Flow.Specificity(), b.Flow.Specificity(); sa != sb {
		return sa > sb
	}
	return a.Flow.Key() < b.Flow.Key()
}

// ShareFlowIdle is how long a ModeShare route remembers an idle flow's
// path; the flow's next packet after that is a new flow. A flow idle that
// long has nothing in flight that a move could reorder.
const ShareFlowIdle = 10 * time.Minute

// MaxShareFlows bounds the flows a data plane remembers for ModeShare;
// beyond it, new flows are placed by a hash of their addresses and ports.
const MaxShareFlows = 65536
