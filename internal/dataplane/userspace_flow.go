package dataplane

import (
	"hash/maphash"
	"net"
	"slices"
	"sync/atomic"

	"monami/internal/forwarding"
	"monami/wire"
)

// userPath is one tunnel of a userspace route, with what the send loop
// needs to put a packet into it and what it carried.
type userPath struct {
	tun    Tunnel
	mtu    int
	sock   *tunnelSock
	addr   net.Addr
	id     uint64 // rendezvous identity: a hash of the tunnel
	weight uint32

	hop       atomic.Pointer[nextHop] // packet-socket next hop, nil: raw socket
	hopReason atomic.Pointer[string]  // why hop is nil (tests, debugging)

	// packets and octets count what the send loop handed to the
	// path's socket (inner octets).
	packets, octets atomic.Uint64
}

// userRoute is one installed Route. It is not changed once published,
// except for slot.
type userRoute struct {
	r     Route
	paths []*userPath
	mtu   int // smallest path MTU, tunDeviceMTU for a drop route
	// slot counts the flows ModeShare placed (send loop only).
	slot uint64
}

func (r *userRoute) sel() Selector { return r.r.Selector }

// userParent is what one kernel route into the TUN device catches: the
// routes of one (Dst, Src) in routeBefore order. A parent is rebuilt, not
// changed, when one of its routes changes, except for its cache.
type userParent struct {
	sel    Selector // Dst and Src only
	routes []*userRoute
	mtu    int // of the kernel route (parentMTU)
	// classify says a packet's flow key is needed: flow routes, or a
	// route sharing flows over paths. Without it routes[0] takes all
	// and nothing is parsed.
	classify bool
	idx      *forwarding.PortIndex // past linearRoutes
	// cache remembers the classification of recent flows; send loop
	// only, allocated on first use when there are many routes.
	cache []flowCacheEntry
}

// linearRoutes is how many routes a parent tries one by one before it
// uses its port index and flow cache.
const linearRoutes = 8

// flowCacheSize is the flow cache's slots per parent (direct-mapped).
const flowCacheSize = 1024

type flowCacheEntry struct {
	key   wire.FlowKey
	route int32 // index into routes, -1: no route matches
	path  int32 // ModeShare's pick
	valid bool
}

// newParent builds the parent of sel from its routes, which the caller
// keeps in routeBefore order (insertRoute).
func newParent(sel Selector, rs []*userRoute) *userParent {
	p := &userParent{sel: sel, routes: rs, mtu: parentMTU(rs)}
	p.classify = len(rs) > 1 || !rs[0].r.Flow.IsZero() || rs[0].r.Mode == ModeShare
	if len(rs) > linearRoutes {
		x := forwarding.NewPortIndex(len(rs), func(i int) forwarding.Range[uint16] { return rs[i].r.Flow.DstPort })
		p.idx = &x
	}
	return p
}

// insertRoute inserts r into rs, which is in routeBefore order: a
// binary search, since comparing builds the flows' keys.
func insertRoute(rs []*userRoute, r *userRoute) []*userRoute {
	i, _ := slices.BinarySearchFunc(rs, r, compareRoutes)
	return slices.Insert(rs, i, r)
}

func compareRoutes(a, b *userRoute) int {
	switch {
	case routeBefore(&a.r, &b.r):
		return -1
	case routeBefore(&b.r, &a.r):
		return 1
	}
	return 0
}

// parentMTU is the smallest MTU of the parent's routes: the kernel route
// carries one MTU for all of them.
func parentMTU(routes []*userRoute) int {
	m := 0
	for _, r := range routes {
		if m == 0 || r.mtu < m {
			m = r.mtu
		}
	}
	return m
}

// pick returns the route for a packet and, for ModeShare, its path; nil
// when no route matches. ok is false for a packet the flow parser
// rejects.
func (p *userParent) pick(pkt []byte, shares *shareFlows) (r *userRoute, path int, ok bool) {
	if !p.classify {
		return p.routes[0], 0, true
	}
	k, err := wire.ParseFlowKey(pkt)
	if err != nil {
		return nil, 0, false
	}
	if len(p.routes) <= linearRoutes {
		for _, r := range p.routes {
			if r.r.Flow.Matches(&k) {
				return r, sharePath(r, &k, 0, shares), true
			}
		}
		return nil, 0, true
	}
	h := forwarding.FlowHash(&k)
	if p.cache == nil {
		p.cache = make([]flowCacheEntry, flowCacheSize)
	}
	e := &p.cache[h&(flowCacheSize-1)]
	if !e.valid || e.key != k {
		i := p.idx.First(&k, func(i int) bool { return p.routes[i].r.Flow.Matches(&k) })
		*e = flowCacheEntry{key: k, route: int32(i), valid: true}
		if i >= 0 {
			e.path = int32(sharePath(p.routes[i], &k, h, shares))
		}
	}
	if e.route < 0 {
		return nil, 0, true
	}
	return p.routes[e.route], int(e.path), true
}

// sharePath is the path a flow takes on a ModeShare route (shareFlows),
// 0 for other modes. flow is forwarding.FlowHash(k), 0 when not yet
// computed.
func sharePath(r *userRoute, k *wire.FlowKey, flow uint64, shares *shareFlows) int {
	if r.r.Mode != ModeShare || len(r.paths) < 2 {
		return 0
	}
	return shares.path(r, k, flow)
}

var pathSeed = maphash.MakeSeed()

// pathID names a tunnel for shareFlows and rendezvous hashing: the same
// tunnel keeps its flows when other paths come and go.
func pathID(t Tunnel) uint64 {
	l, r := t.Local.As16(), t.Remote.As16()
	var b [33]byte
	copy(b[:], l[:])
	copy(b[16:], r[:])
	b[32] = byte(t.Encap)
	return maphash.Bytes(pathSeed, b[:])
}
