package binding

import (
	"net/netip"
	"time"
)

// Binding is one Binding Cache entry as the home agent sees it: a home
// address bound to one care-of address under a Binding ID (RFC 6275
// section 9.1, RFC 5648, keyed by Binding ID).
type Binding struct {
	HoA        netip.Addr
	CoA        netip.Addr
	BID        uint16 // 0 for a binding registered without a BID option
	Priority   uint8  // lower value = preferred (RFC 6089 section 6.1, BID-PRI)
	Flags      BindingFlags
	Registered time.Time
	Expires    time.Time
}

// BindingFlags are the per-binding flags the data plane may care about.
type BindingFlags uint8

const (
	FlagLinkLocal    BindingFlags = 1 << iota // L: defend the link-local address too (RFC 6275 10.3.1)
	FlagKeyMgmt                               // K: key management mobility capability (RFC 6275 10.3.1)
	FlagMobileRouter                          // R: mobile router (RFC 3963)
	FlagAtHome                                // CoA == HoA with the H flag of RFC 5648: deliver on the home link
	FlagNoBID                                 // registered without a Binding Identifier option (plain RFC 6275)
)

// HomePrefix is one prefix of the home agent's Prefix List (RFC 6275
// section 10.3.1). ValidUntil zero means no expiry.
type HomePrefix struct {
	Prefix     netip.Prefix
	ValidUntil time.Time
}

// Config is the home agent policy for home registrations. The zero value
// plus HomePrefixes is a usable RFC-conformant home agent.
type Config struct {
	HomePrefixes []HomePrefix

	// MaxLifetime caps the granted lifetime (RFC 6275 section 10.3.1).
	// Zero means DefaultMaxLifetime.
	MaxLifetime time.Duration
	// RefreshAdviceFraction, if in (0,1), makes the home agent send a
	// Binding Refresh Advice (RFC 6275 sections 6.2.4 and 10.3.1) of this
	// fraction of the granted lifetime.
	RefreshAdviceFraction float64

	HomeRegistrationDisabled        bool // answer 131
	MCoADisabled                    bool // answer 166 to BUs with BID options
	BulkRegistrationDisabled        bool // answer 168 to BUs with several BID options
	SimultaneousHomeForeignDisabled bool // answer 169 to the H flag of a BID option
	MobileRouterPermitted           bool // else R flag gets 140 (RFC 3963)
	KeyManagement                   bool // echo K (RFC 6275 10.3.1)

	// DefaultPriority is used when neither BIDPriority nor the BID option
	// gives one. Zero means DefaultBindingPriority.
	DefaultPriority uint8
	// BIDPriority overrides the priority of a Binding ID of one home
	// address (operator policy), BIDPriority[hoa][bid].
	BIDPriority map[netip.Addr]map[uint16]uint8

	MaxBindings        int // whole cache; 0 = unlimited. Beyond: 130.
	MaxBindingsPerNode int // per home address; 0 = DefaultMaxBindingsPerNode.

	// ReplayWindow is the accepted clock difference for RFC 4285 section 6
	// timestamps. Zero means DefaultReplayWindow.
	ReplayWindow time.Duration

	// AnswerCircularReference sends a BA with status 129 for a Binding
	// Update whose care-of address would create a circular reference. RFC
	// 6275 section 9.5.1 says to silently discard it, which is the default.
	AnswerCircularReference bool
	// ForbidHoAAsCoA rejects (129) any care-of address inside a home
	// prefix, so no home address served here is ever used as a care-of
	// address, cycle or not. The default follows the multihoming analysis
	// (draft-ietf-monami6-mipv6-analysis-03 section 6.3.1: a mobile node
	// must be able to register any address it owns with any of its home
	// addresses): only a circular reference is refused.
	ForbidHoAAsCoA bool
}

const (
	DefaultMaxLifetime        = 3600 * time.Second
	DefaultBindingPriority    = 64 // middle of the 7-bit BID-PRI range
	DefaultMaxBindingsPerNode = 16
	DefaultReplayWindow       = 7 * time.Second
)

// node is the per mobile node (per home address) state: the last accepted
// sequence number and timestamp, and the head of its bindings list.
type node struct {
	hoa     [16]byte
	lastTS  uint64
	first   int32 // index of first entry, -1 if none
	primary int32 // entry the data plane was last told is primary, -1 if none
	lastSeq uint16
	count   uint8
	flags   uint8
}

const (
	nodeHasTS uint8 = 1 << iota
	nodeLive
	nodePrimaryGone // the primary entry was removed or moved since the last settle
)

// entry is one binding. Fixed size, no pointers: a million of them are one
// flat slice the garbage collector does not scan.
type entry struct {
	coa        [16]byte
	expiry     int64 // ns since cache epoch
	registered int64
	node       int32
	next       int32 // next entry of the same node, -1 at the end
	heapIdx    int32
	bid        uint16
	prio       uint8
	flags      BindingFlags
}

// BindingCache is the home agent's Binding Cache keyed by (home address,
// Binding ID). Not safe for concurrent use: one event loop owns it.
type BindingCache struct {
	cfg   Config
	epoch time.Time

	index     map[[16]byte]int32 // home address -> node
	nodes     []node
	freeNodes []int32
	entries   []entry
	freeEnts  []int32
	heap      []int32 // entry indices, min-heap on expiry
	live      int

	visit []int32 // scratch for the circular-reference walk
	ops   []op    // scratch for ProcessBindingUpdate

	// refuseNew: the home agent drains (RFC 5142): a Binding Update that
	// would register a home address not registered here is refused.
	refuseNew bool
}

// RefuseNewRegistrations makes a Binding Update that would give a home
// address its first binding here fail with status 129 (administratively
// prohibited): the home agent is draining and has told its mobile nodes to
// register elsewhere (RFC 5142 section 5). Refreshes and deregistrations
// of registered home addresses still pass.
func (c *BindingCache) RefuseNewRegistrations(on bool) { c.refuseNew = on }

// NewBindingCache returns an empty cache; epoch is any instant before the
// first call (times are stored as offsets from it).
func NewBindingCache(cfg Config, epoch time.Time) *BindingCache {
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	if cfg.DefaultPriority == 0 {
		cfg.DefaultPriority = DefaultBindingPriority
	}
	if cfg.MaxBindingsPerNode <= 0 {
		cfg.MaxBindingsPerNode = DefaultMaxBindingsPerNode
	}
	if cfg.ReplayWindow <= 0 {
		cfg.ReplayWindow = DefaultReplayWindow
	}
	return &BindingCache{cfg: cfg, epoch: epoch, index: make(map[[16]byte]int32)}
}

// Len is the number of bindings.
func (c *BindingCache) Len() int { return c.live }

// NodeCount is the number of home addresses with at least one binding.
func (c *BindingCache) NodeCount() int { return len(c.index) }

func (c *BindingCache) off(t time.Time) int64  { return int64(t.Sub(c.epoch)) }
func (c *BindingCache) abs(ns int64) time.Time { return c.epoch.Add(time.Duration(ns)) }

func (c *BindingCache) view(i int32) Binding {
	e := &c.entries[i]
	n := &c.nodes[e.node]
	return Binding{
		HoA:        netip.AddrFrom16(n.hoa),
		CoA:        coaOf(e.coa),
		BID:        e.bid,
		Priority:   e.prio,
		Flags:      e.flags,
		Registered: c.abs(e.registered),
		Expires:    c.abs(e.expiry),
	}
}

// AppendLookup appends the bindings of a home address to dst, in no
// particular order, without allocating when dst has room.
func (c *BindingCache) AppendLookup(dst []Binding, hoa netip.Addr) []Binding {
	ni, ok := c.index[hoa.As16()]
	if !ok {
		return dst
	}
	for i := c.nodes[ni].first; i >= 0; i = c.entries[i].next {
		dst = append(dst, c.view(i))
	}
	return dst
}

// Has reports whether a home address has a binding.
func (c *BindingCache) Has(hoa netip.Addr) bool {
	ni, ok := c.index[hoa.As16()]
	return ok && c.nodes[ni].count > 0
}

// Lookup returns the bindings of a home address, ordered best first.
func (c *BindingCache) Lookup(hoa netip.Addr) []Binding {
	ni, ok := c.index[hoa.As16()]
	if !ok {
		return nil
	}
	var out []Binding
	for i := c.nodes[ni].first; i >= 0; i = c.entries[i].next {
		out = append(out, c.view(i))
	}
	sortBest(out)
	return out
}

// Best returns the binding the home agent forwards to by default: the
// lowest BID-PRI value (RFC 6089 section 6.1: a lower number is a higher
// priority), ties broken by the lowest BID, so the choice is deterministic.
// A binding at home (FlagAtHome) is not a tunnel destination; it is chosen
// only if no other binding exists.
func (c *BindingCache) Best(hoa netip.Addr) (Binding, bool) {
	ni, ok := c.index[hoa.As16()]
	if !ok {
		return Binding{}, false
	}
	b := c.best(ni)
	if b < 0 {
		return Binding{}, false
	}
	return c.view(b), true
}

func (c *BindingCache) best(ni int32) int32 {
	best := int32(-1)
	for i := c.nodes[ni].first; i >= 0; i = c.entries[i].next {
		if best < 0 || better(&c.entries[i], &c.entries[best]) {
			best = i
		}
	}
	return best
}

func better(a, b *entry) bool {
	ah, bh := a.flags&FlagAtHome != 0, b.flags&FlagAtHome != 0
	if ah != bh {
		return bh
	}
	if a.prio != b.prio {
		return a.prio < b.prio
	}
	return a.bid < b.bid
}

func sortBest(bs []Binding) {
	less := func(a, b Binding) bool {
		ah, bh := a.Flags&FlagAtHome != 0, b.Flags&FlagAtHome != 0
		if ah != bh {
			return bh
		}
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		return a.BID < b.BID
	}
	for i := 1; i < len(bs); i++ {
		for j := i; j > 0 && less(bs[j], bs[j-1]); j-- {
			bs[j], bs[j-1] = bs[j-1], bs[j]
		}
	}
}

// All calls f for every binding (unordered) until f returns false.
func (c *BindingCache) All(f func(Binding) bool) {
	for i := range c.entries {
		if c.entries[i].node >= 0 && c.entries[i].heapIdx >= 0 {
			if !f(c.view(int32(i))) {
				return
			}
		}
	}
}

// LastSequence returns the last accepted sequence number for a home address.
func (c *BindingCache) LastSequence(hoa netip.Addr) (uint16, bool) {
	ni, ok := c.index[hoa.As16()]
	if !ok {
		return 0, false
	}
	return c.nodes[ni].lastSeq, true
}

func (c *BindingCache) findEntry(ni int32, bid uint16) int32 {
	for i := c.nodes[ni].first; i >= 0; i = c.entries[i].next {
		if c.entries[i].bid == bid {
			return i
		}
	}
	return -1
}

func (c *BindingCache) newNode(hoa [16]byte) int32 {
	var ni int32
	if n := len(c.freeNodes); n > 0 {
		ni = c.freeNodes[n-1]
		c.freeNodes = c.freeNodes[:n-1]
	} else {
		c.nodes = append(c.nodes, node{})
		ni = int32(len(c.nodes) - 1)
	}
	c.nodes[ni] = node{hoa: hoa, first: -1, primary: -1, flags: nodeLive}
	c.index[hoa] = ni
	return ni
}

func (c *BindingCache) dropNode(ni int32) {
	delete(c.index, c.nodes[ni].hoa)
	c.nodes[ni] = node{first: -1, primary: -1}
	c.freeNodes = append(c.freeNodes, ni)
}

func (c *BindingCache) addEntry(ni int32, e entry) int32 {
	var i int32
	if n := len(c.freeEnts); n > 0 {
		i = c.freeEnts[n-1]
		c.freeEnts = c.freeEnts[:n-1]
	} else {
		c.entries = append(c.entries, entry{})
		i = int32(len(c.entries) - 1)
	}
	e.node = ni
	e.next = c.nodes[ni].first
	c.entries[i] = e
	c.nodes[ni].first = i
	c.nodes[ni].count++
	c.live++
	c.heapPush(i)
	return i
}

func (c *BindingCache) removeEntry(i int32) {
	e := &c.entries[i]
	ni := e.node
	n := &c.nodes[ni]
	if n.first == i {
		n.first = e.next
	} else {
		for p := n.first; p >= 0; p = c.entries[p].next {
			if c.entries[p].next == i {
				c.entries[p].next = e.next
				break
			}
		}
	}
	n.count--
	if n.primary == i {
		n.primary = -1
		n.flags |= nodePrimaryGone
	}
	c.heapRemove(i)
	c.entries[i] = entry{node: -1, next: -1, heapIdx: -1}
	c.freeEnts = append(c.freeEnts, i)
	c.live--
}

func (c *BindingCache) inHomePrefix(a [16]byte) bool {
	addr := netip.AddrFrom16(a)
	for _, p := range c.cfg.HomePrefixes {
		if p.Prefix.Contains(addr) {
			return true
		}
	}
	return false
}

func addrOf(a [16]byte, ok bool) netip.Addr {
	if !ok {
		return netip.Addr{}
	}
	return netip.AddrFrom16(a)
}

// Remove deletes every binding of a home address without a Binding Update
// (operator action, shutdown, revocation) and returns the data-plane
// changes.
func (c *BindingCache) Remove(hoa netip.Addr) []Change {
	ni, ok := c.index[hoa.As16()]
	if !ok {
		return nil
	}
	var out []Change
	for i := c.nodes[ni].first; i >= 0; {
		next := c.entries[i].next
		out = append(out, Change{Kind: BindingRemoved, Cause: CauseDeregistration, Binding: c.view(i)})
		c.removeEntry(i)
		i = next
	}
	return c.settle(ni, CauseDeregistration, out)
}

// DefendHomeAddress reports whether the home agent should answer Neighbor
// Discovery for hoa on the home link (proxy ND, RFC 6275 section 10.4.1):
// while the home address has a binding, unless one binding says the mobile
// node is itself on the home link (RFC 5648 H flag, status MCOA RETURNHOME
// WO/NDP), in which case the mobile node defends it.
func (c *BindingCache) DefendHomeAddress(hoa netip.Addr) bool {
	ni, ok := c.index[hoa.As16()]
	if !ok {
		return false
	}
	for i := c.nodes[ni].first; i >= 0; i = c.entries[i].next {
		if c.entries[i].flags&FlagAtHome != 0 {
			return false
		}
	}
	return true
}

// Restore puts back the bindings a home address had before a decision
// (prev, as Lookup returned them), when the data plane could not follow
// the decision: nothing that cannot forward stays acknowledged. It returns
// the changes that take the data plane back. The last accepted sequence
// number stays, so a replay of the failed update is still refused.
func (c *BindingCache) Restore(hoa netip.Addr, prev []Binding) []Change {
	h := hoa.As16()
	ni, ok := c.index[h]
	if !ok {
		if len(prev) == 0 {
			return nil
		}
		ni = c.newNode(h)
	}
	var out []Change
	for i := c.nodes[ni].first; i >= 0; {
		next := c.entries[i].next
		out = append(out, Change{Kind: BindingRemoved, Cause: CauseDeregistration, Binding: c.view(i)})
		c.removeEntry(i)
		i = next
	}
	for _, b := range prev {
		i := c.addEntry(ni, entry{coa: b.CoA.As16(), bid: b.BID, prio: b.Priority, flags: b.Flags,
			registered: c.off(b.Registered), expiry: c.off(b.Expires)})
		out = append(out, Change{Kind: BindingAdded, Cause: CauseRegistration, Binding: c.view(i)})
	}
	return c.settle(ni, CauseRegistration, out)
}
