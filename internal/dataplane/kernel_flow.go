package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"monami/internal/forwarding"
)

// Flow routes in the kernel backend (docs/dataplane.md, "Flow routes").
//
// The routes of one (Dst, Src) are a parent, which keeps one kernel route
// into the shared BPF program. A parent with flow routes names a next hop
// of its own (flowGatewayBase + its id) on that route; a postrouting chain
// looks that next hop up in a verdict map and jumps to the parent's chain,
// whose rules try the routes in routeBefore order (RFC 6088 section 3
// fields) and set the packet's mark to its tunnel's index. The BPF program
// reads the mark and takes that tunnel from the byMark map. A parent's
// plain route (zero Flow, one tunnel) keeps its place in the byDst, byDstPfx
// or bySrc map and is the chain's "accept": what no earlier flow route
// took leaves by it; without one the chain ends with a drop, and the map
// value is a drop marker (no outer destination).
type flowState struct {
	parents map[Selector]*flowParent
	tunnels map[tunnelKey]*flowTunnel
	free    []uint32 // tunnel indexes to reuse
	nextIdx uint32
	nextID  uint32 // parent, route and dedup ids
	dedups  map[forwarding.Match]*kernelDedup
	base    bool // the postrouting chain and the replica route exist
	dedupOn bool // the dedup chains exist
	// deferring, while a batch's routes of one parent are applied
	// (applyParentBatch), stages their changes for one sync instead of
	// one nftables transaction each.
	deferring bool
	gone      []*flowRoute // routes the deferred sync removes
	goneMore  []*flowRoute // all but one of them, for syncParent
	release   []*flowRoute // routes whose indexes go after it
}

type flowParent struct {
	id     uint32
	gw     netip.Addr
	routes map[forwarding.Match]*flowRoute // the routes that are not plain
	rt     rtRoute                         // installed kernel route
	shares []uint32                        // ids of the routes with a share chain
	groups []*flowGroup                    // the chain's group maps
	gen    uint32                          // names new group maps apart from old
}

type flowRoute struct {
	r         Route
	id        uint32
	idx       []uint32 // tunnel index per path
	installed bool     // its counters exist
	// base is what group maps that were replaced counted for it
	// (packets, octets): a rebuilt map starts from zero.
	base [2]uint64
}

type flowTunnel struct {
	t    Tunnel
	idx  uint32
	refs int
}

type kernelDedup struct {
	d  Dedup
	id uint32
}

func newFlowState() *flowState {
	return &flowState{parents: map[Selector]*flowParent{}, tunnels: map[tunnelKey]*flowTunnel{},
		dedups: map[forwarding.Match]*kernelDedup{}}
}

// isFlowOp reports whether o needs the flow path: a route that is not
// plain, any route of a parent that has such routes, a dedup.
func (k *kernelDP) isFlowOp(o Op) bool {
	switch o.Kind {
	case OpAddRoute:
		return !o.Route.Plain() || k.flow.parents[o.Route.parent()] != nil
	case OpDelRoute:
		return !o.Selector.Flow.IsZero() || k.flow.parents[o.Selector.parent()] != nil
	case OpAddDedup, OpDelDedup:
		return true
	}
	return false
}

// applyFlowOp applies one flow op. Called with k.mu held.
func (k *kernelDP) applyFlowOp(o Op, strict bool) error {
	if k.encap == nil {
		return fmt.Errorf("%v: flow routes and dedup need the BPF encapsulation: %w", o, ErrUnsupported)
	}
	switch o.Kind {
	case OpAddRoute:
		return k.addFlowRoute(o.Route)
	case OpDelRoute:
		return k.delFlowRoute(o.Selector, strict)
	case OpAddDedup:
		return k.putDedup(o.Dedup, true)
	case OpDelDedup:
		return k.putDedup(o.Dedup, false)
	}
	return nil
}

// holdIndex returns t's tunnel index, creating its byMark entry.
func (k *kernelDP) holdIndex(t Tunnel) (uint32, error) {
	tk := tunnelKey{t.Local, t.Remote}
	if ft := k.flow.tunnels[tk]; ft != nil {
		ft.refs++
		return ft.idx, nil
	}
	var idx uint32
	if n := len(k.flow.free); n > 0 {
		idx, k.flow.free = k.flow.free[n-1], k.flow.free[:n-1]
	} else {
		if k.flow.nextIdx >= flowIndexMask {
			return 0, fmt.Errorf("tunnel %v: all %d flow tunnel indexes in use", t, flowIndexMask)
		}
		k.flow.nextIdx++
		idx = k.flow.nextIdx
	}
	if l, err := k.links.byAddr(t.Local); err == nil {
		k.holdGSO(l, t.Local)
	}
	if err := k.encap.putIndex(idx, t); err != nil {
		k.flow.free = append(k.flow.free, idx)
		return 0, err
	}
	k.flow.tunnels[tk] = &flowTunnel{t: t, idx: idx, refs: 1}
	return idx, nil
}

func (k *kernelDP) releaseIndexes(fr *flowRoute) {
	if k.flow.deferring {
		k.flow.release = append(k.flow.release, fr)
		return
	}
	for _, p := range fr.r.PathList() {
		tk := tunnelKey{p.Tunnel.Local, p.Tunnel.Remote}
		ft := k.flow.tunnels[tk]
		if ft == nil {
			continue
		}
		if ft.refs--; ft.refs > 0 {
			continue
		}
		k.encap.removeIndex(ft.idx, &k.bpfGone)
		delete(k.flow.tunnels, tk)
		k.flow.free = append(k.flow.free, ft.idx)
	}
}

func (k *kernelDP) checkFlowRoute(r Route) error {
	if _, _, err := k.encap.routeKey(r.parent()); err != nil {
		return err
	}
	for i, p := range r.PathList() {
		if p.Tunnel.Encap != EncapIPv6 {
			return fmt.Errorf("route %v: path %d: %s encapsulation: %w", r.Selector, i, p.Tunnel.Encap, ErrUnsupported)
		}
		if _, err := k.tunnelMTU(r.Selector, p.Tunnel); err != nil {
			return fmt.Errorf("route %v: path %d: %w", r.Selector, i, err)
		}
	}
	if r.Mode != ModeDrop && len(r.PathList()) == 0 {
		return fmt.Errorf("route %v: mode %v with no path", r.Selector, r.Mode)
	}
	return nil
}

// addFlowRoute installs r into its parent (creating the parent, or making
// a parent of a plain route's (Dst, Src)).
func (k *kernelDP) addFlowRoute(r Route) error {
	r.Paths = slices.Clone(r.Paths)
	if err := k.checkFlowRoute(r); err != nil {
		return err
	}
	ps := r.parent()
	p := k.flow.parents[ps]
	isNew := p == nil
	if isNew {
		k.flow.nextID++
		p = &flowParent{id: k.flow.nextID, routes: map[forwarding.Match]*flowRoute{}}
		b := flowGatewayBase.As16()
		b[12], b[13], b[14], b[15] = byte(p.id>>24), byte(p.id>>16), byte(p.id>>8), byte(p.id)
		p.gw = netip.AddrFrom16(b)
	}
	prevPlain, hadPlain := k.routes[ps]
	prev := p.routes[r.Flow]
	if r.Plain() {
		// A plain route of a parent with flow routes: its map entry.
		r.Tunnel = r.PathList()[0].Tunnel
		kr := kernelRoute{r: r, rt: p.rt}
		k.routes[ps] = kr
		delete(p.routes, r.Flow)
		if err := k.syncParent(ps, p, prev); err != nil {
			restorePlain(k, ps, prevPlain, hadPlain)
			if prev != nil {
				p.routes[r.Flow] = prev
			}
			return err
		}
		if prev != nil {
			k.releaseIndexes(prev)
		}
		return nil
	}
	k.flow.nextID++
	fr := &flowRoute{r: r, id: k.flow.nextID}
	for _, path := range r.PathList() {
		if r.Mode == ModeDrop {
			break
		}
		i, err := k.holdIndex(path.Tunnel)
		if err != nil {
			k.releaseIndexes(fr)
			return err
		}
		fr.idx = append(fr.idx, i)
	}
	if isNew {
		k.flow.parents[ps] = p
	}
	p.routes[r.Flow] = fr
	if r.Flow.IsZero() && hadPlain {
		delete(k.routes, ps) // replaced by this route
	}
	if err := k.syncParent(ps, p, prev); err != nil {
		if prev != nil {
			p.routes[r.Flow] = prev
		} else {
			delete(p.routes, r.Flow)
		}
		restorePlain(k, ps, prevPlain, hadPlain)
		k.releaseIndexes(fr)
		if isNew {
			delete(k.flow.parents, ps)
		}
		return err
	}
	if prev != nil {
		k.releaseIndexes(prev)
	}
	return nil
}

func restorePlain(k *kernelDP, ps Selector, kr kernelRoute, had bool) {
	if had {
		k.routes[ps] = kr
	} else {
		delete(k.routes, ps)
	}
}

// delFlowRoute removes the route s of a parent with flow routes.
func (k *kernelDP) delFlowRoute(s Selector, strict bool) error {
	ps := s.parent()
	p := k.flow.parents[ps]
	var gone *flowRoute
	prevPlain, hadPlain := k.routes[ps]
	switch {
	case p != nil && p.routes[s.Flow] != nil:
		gone = p.routes[s.Flow]
		delete(p.routes, s.Flow)
	case p != nil && s.Flow.IsZero() && hadPlain:
		delete(k.routes, ps)
	default:
		if strict {
			return fmt.Errorf("route %v: %w", s, ErrNotFound)
		}
		return nil
	}
	if err := k.syncParent(ps, p, gone); err != nil {
		if gone != nil {
			p.routes[s.Flow] = gone
		}
		restorePlain(k, ps, prevPlain, hadPlain)
		return err
	}
	if gone != nil {
		k.releaseIndexes(gone)
	}
	return nil
}

// tunnelMTU is the inner MTU of t (see routeMTU).
func (k *kernelDP) tunnelMTU(s Selector, t Tunnel) (int, error) {
	_, mtu, err := k.routeMTU(Route{Selector: s, Tunnel: t})
	return mtu, err
}

// parentRoute is the kernel route a parent with flow routes needs: the
// next hop that names it, the smallest inner MTU of its paths.
func (k *kernelDP) parentRoute(ps Selector, p *flowParent) (rtRoute, error) {
	mtu := 0
	consider := func(t Tunnel) error {
		m, err := k.tunnelMTU(ps, t)
		if err == nil && (mtu == 0 || m < mtu) {
			mtu = m
		}
		return err
	}
	if pr, ok := k.routes[ps]; ok {
		if err := consider(pr.r.Tunnel); err != nil {
			return rtRoute{}, err
		}
	}
	for _, fr := range p.routes {
		for _, path := range fr.r.PathList() {
			if err := consider(path.Tunnel); err != nil {
				return rtRoute{}, err
			}
		}
	}
	if mtu == 0 {
		// Drop routes only: any MTU will do.
		mtu = MinMTU
	}
	return rtRoute{table: k.routeTable(), dst: ps.Dst, src: ps.Src, oif: k.detour.Attrs().Index,
		gw: p.gw, mtu: mtu + lwtHeadroom, encap: k.encap.encap}, nil
}

// syncParent makes the kernel match what k.routes and p say about the
// parent ps: its chain (rebuilt whole in one transaction), its map entry
// and its route. gone is a route that left (its counters go). A parent
// left without flow routes goes back to being a plain route, or away.
func (k *kernelDP) syncParent(ps Selector, p *flowParent, gone *flowRoute) error {
	if k.flow.deferring {
		if gone != nil {
			k.flow.gone = append(k.flow.gone, gone)
		}
		return nil
	}
	plain, hasPlain := k.routes[ps]
	if len(p.routes) == 0 {
		return k.dissolveParent(ps, p, plain, hasPlain, gone)
	}
	want, err := k.parentRoute(ps, p)
	if err != nil {
		return err
	}
	created := !p.rt.equal(want) && p.rt.table == 0
	carried, err := k.groupCounts(p)
	if err != nil {
		return err
	}
	c := k.nft.conn
	if !k.flow.base {
		k.nft.addFlowBase()
	}
	ch := c.AddChain(k.nft.chain(parentChainName(p.id)))
	c.FlushChain(ch)
	if created {
		if err := c.SetAddElements(k.nft.sets[mapFlowParents], []nftables.SetElement{{Key: p.gw.AsSlice(),
			VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: ch.Name}}}); err != nil {
			return err
		}
	}
	// Every route's counters, also of routes the order makes unreachable
	// (after a catch-all): their deletion expects them.
	for _, fr := range p.routes {
		if !fr.installed {
			k.addCounters(fr)
		}
	}
	var shares []uint32
	rules := [][]expr.Any{markedAccept()}
	ordered := k.orderedRoutes(ps, p)
	catchAll := false
	p.gen++
	var groups []*flowGroup
	for i := 0; i < len(ordered); i++ {
		fr := ordered[i]
		if sh := shapeOf(fr); fr != nil && sh != 0 && i+1 < len(ordered) && ordered[i+1] != nil && shapeOf(ordered[i+1]) == sh {
			g := &flowGroup{name: fmt.Sprintf("fg%d_%d_%d", p.id, p.gen, len(groups)), shape: sh}
			for ; i < len(ordered) && ordered[i] != nil && shapeOf(ordered[i]) == sh; i++ {
				g.routes = append(g.routes, ordered[i])
			}
			i--
			rule, err := k.addGroup(g)
			if err != nil {
				k.nft.reopen() // drops the staged messages
				return err
			}
			rules = append(rules, rule)
			groups = append(groups, g)
			continue
		}
		if fr == nil { // the plain route: what is left leaves by it
			rules = append(rules, []expr.Any{verdict(expr.VerdictAccept)})
			catchAll = true
			break
		}
		if fr.r.Mode == ModeShare && len(fr.idx) > 1 {
			sc := c.AddChain(k.nft.chain(shareChainName(fr.id)))
			c.FlushChain(sc)
			for _, e := range shareRules(fr) {
				c.AddRule(&nftables.Rule{Table: k.nft.table, Chain: sc, Exprs: e})
			}
			shares = append(shares, fr.id)
		}
		rules = append(rules, concat(matchExprs(fr.r.Flow), routeAction(fr)))
		if fr.r.Flow.IsZero() {
			catchAll = true
			break
		}
	}
	if !catchAll {
		rules = append(rules, []expr.Any{verdict(expr.VerdictDrop)})
	}
	for _, e := range rules {
		c.AddRule(&nftables.Rule{Table: k.nft.table, Chain: ch, Exprs: e})
	}
	// Old group maps and the share chains of routes that went or changed
	// mode, after the rules that used them.
	for _, g := range p.groups {
		c.DelSet(&nftables.Set{Table: k.nft.table, Name: g.name})
	}
	for _, id := range p.shares {
		if !slices.Contains(shares, id) {
			sc := k.nft.chain(shareChainName(id))
			c.FlushChain(sc)
			c.DelChain(sc)
		}
	}
	// The counters of routes that left, once no rule (a share chain's
	// either) refers to them: a referenced object is EBUSY.
	k.delGoneCounters(gone)
	if err := k.nft.flush(); err != nil {
		return fmt.Errorf("route %v: nftables: flow chain: %w", ps, err)
	}
	k.flow.base = true
	p.shares, p.groups = shares, groups
	for _, fr := range p.routes {
		c := carried[fr.id]
		fr.base[0] += c[0]
		fr.base[1] += c[1]
	}
	for _, fr := range p.routes {
		fr.installed = true
	}
	if err := k.ensureReplica(); err != nil {
		return err
	}
	// The map entry, then the route: a new parent's route appears when
	// its chain is in place.
	if hasPlain {
		err = k.encap.put(ps, plain.r.Tunnel, true, &k.bpfGone)
	} else {
		err = k.encap.put(ps, Tunnel{}, true, &k.bpfGone)
	}
	if err != nil {
		return err
	}
	if !p.rt.equal(want) {
		if err := k.rt.replace(want); err != nil {
			return fmt.Errorf("route %v: %w", ps, err)
		}
		p.rt = want
	}
	if hasPlain {
		plain.rt = want
		k.routes[ps] = plain
	}
	return nil
}

// groupCounts is what p's group maps counted, by route id: carried into
// the routes' base when the maps are replaced.
func (k *kernelDP) groupCounts(p *flowParent) (map[uint32][2]uint64, error) {
	counts := map[uint32][2]uint64{}
	for _, g := range p.groups {
		if err := k.groupCounters(g, counts); err != nil {
			return nil, err
		}
	}
	return counts, nil
}

// dissolveParent turns a parent without flow routes back into its plain
// route (or nothing): the route first, then its chain and map element.
func (k *kernelDP) dissolveParent(ps Selector, p *flowParent, plain kernelRoute, hasPlain bool, gone *flowRoute) error {
	if hasPlain {
		_, mtu, err := k.routeMTU(plain.r)
		if err != nil {
			return err
		}
		rt := rtRoute{table: k.routeTable(), dst: ps.Dst, src: ps.Src, oif: k.detour.Attrs().Index,
			gw: detourGateway, mtu: mtu + lwtHeadroom, encap: k.encap.encap}
		if err := k.encap.put(ps, plain.r.Tunnel, true, &k.bpfGone); err != nil {
			return err
		}
		if err := k.rt.replace(rt); err != nil {
			return fmt.Errorf("route %v: %w", ps, err)
		}
		plain.rt = rt
		k.routes[ps] = plain
	} else {
		if err := k.rt.delete(p.rt); err != nil {
			return fmt.Errorf("route %v: %w", ps, err)
		}
		if err := k.encap.remove(ps, &k.bpfGone); err != nil {
			return err
		}
	}
	p.rt = rtRoute{}
	delete(k.flow.parents, ps)
	c := k.nft.conn
	ch := k.nft.chain(parentChainName(p.id))
	c.FlushChain(ch)
	if err := c.SetDeleteElements(k.nft.sets[mapFlowParents], []nftables.SetElement{{Key: p.gw.AsSlice()}}); err != nil {
		return err
	}
	c.DelChain(ch)
	for _, g := range p.groups {
		c.DelSet(&nftables.Set{Table: k.nft.table, Name: g.name})
	}
	for _, id := range p.shares {
		sc := k.nft.chain(shareChainName(id))
		c.FlushChain(sc)
		c.DelChain(sc)
	}
	k.delGoneCounters(gone)
	last := len(k.flow.parents) == 0
	if last {
		c.FlushChain(k.nft.chain(nftChainFlow))
		c.DelChain(k.nft.chain(nftChainFlow))
	}
	if err := k.nft.flush(); err != nil {
		return fmt.Errorf("route %v: nftables: remove flow chain: %w", ps, err)
	}
	if last {
		k.flow.base = false
		return k.ensureReplica()
	}
	return nil
}

// ensureReplica installs the replica address's route while flow routes
// exist and removes it with the last.
func (k *kernelDP) ensureReplica() error {
	rt := rtRoute{table: k.routeTable(), dst: netip.PrefixFrom(replicaAddr, 128), oif: k.detour.Attrs().Index,
		gw: detourGateway, mtu: 65535, encap: k.encap.encap}
	if k.flow.base {
		// Locked at the largest MTU: a copy was sized for its parent's
		// route already and must not be fragmented here.
		if err := k.rt.replace(rt); err != nil {
			return fmt.Errorf("replica route: %w", err)
		}
		return nil
	}
	return k.rt.delete(rt)
}

// orderedRoutes is the parent's routes in routeBefore order; nil stands
// for the plain route.
func (k *kernelDP) orderedRoutes(ps Selector, p *flowParent) []*flowRoute {
	type item struct {
		r  *Route
		fr *flowRoute
	}
	var items []item
	for _, fr := range p.routes {
		items = append(items, item{&fr.r, fr})
	}
	if pr, ok := k.routes[ps]; ok {
		items = append(items, item{&pr.r, nil})
	}
	slices.SortFunc(items, func(a, b item) int {
		switch {
		case routeBefore(a.r, b.r):
			return -1
		case routeBefore(b.r, a.r):
			return 1
		}
		return 0
	})
	out := make([]*flowRoute, len(items))
	for i, it := range items {
		out[i] = it.fr
	}
	return out
}

func (fr *flowRoute) counters() int {
	if fr.r.Mode == ModeShare {
		return max(len(fr.idx), 1)
	}
	return 1
}

// addCounters stages the route's named counters (adding an existing one
// keeps its count).
func (k *kernelDP) addCounters(fr *flowRoute) {
	for j := range fr.counters() {
		k.nft.conn.AddObj(&nftables.CounterObj{Table: k.nft.table, Name: counterName(fr.id, j)})
	}
}

// delGoneCounters stages the deletion of the counters of gone and of a
// batch's other removed routes.
func (k *kernelDP) delGoneCounters(gone *flowRoute) {
	if gone != nil {
		k.delCounters(gone)
	}
	for _, g := range k.flow.goneMore {
		k.delCounters(g)
	}
	k.flow.goneMore = nil
}

func (k *kernelDP) delCounters(fr *flowRoute) {
	for j := range fr.counters() {
		k.nft.conn.DeleteObject(&nftables.CounterObj{Table: k.nft.table, Name: counterName(fr.id, j)})
	}
}

// putDedup adds (or replaces) or removes a Dedup and rebuilds the dedup
// chains, hooked at input and forward: decapsulated packets (End.DT6)
// pass one of them, not prerouting.
func (k *kernelDP) putDedup(d Dedup, add bool) error {
	prev := k.flow.dedups[d.Match]
	if !add && prev == nil {
		return nil
	}
	if add {
		k.flow.nextID++
		k.flow.dedups[d.Match] = &kernelDedup{d: d, id: k.flow.nextID}
	} else {
		delete(k.flow.dedups, d.Match)
	}
	if err := k.syncDedup(prev); err != nil {
		if prev != nil {
			k.flow.dedups[d.Match] = prev
		} else {
			delete(k.flow.dedups, d.Match)
		}
		return fmt.Errorf("%v: %w", Op{Kind: OpAddDedup, Dedup: d}, err)
	}
	return nil
}

func (k *kernelDP) syncDedup(gone *kernelDedup) error {
	c, s := k.nft.conn, k.nft
	on := len(k.flow.dedups) > 0
	accept := nftables.ChainPolicyAccept
	var chains []*nftables.Chain
	for _, h := range []struct {
		name string
		hook *nftables.ChainHook
	}{{nftChainDedupIn, nftables.ChainHookInput}, {nftChainDedupFw, nftables.ChainHookForward}} {
		if on {
			chains = append(chains, c.AddChain(&nftables.Chain{Name: h.name, Table: s.table, Type: nftables.ChainTypeFilter,
				Hooknum: h.hook, Priority: nftables.ChainPriorityRaw, Policy: &accept}))
		} else if k.flow.dedupOn {
			c.FlushChain(s.chain(h.name))
			c.DelChain(s.chain(h.name))
		}
	}
	for _, ch := range chains {
		c.FlushChain(ch)
	}
	if gone != nil {
		c.DeleteObject(&nftables.CounterObj{Table: s.table, Name: dedupCounterName(gone.id)})
	}
	ms := make([]forwarding.Match, 0, len(k.flow.dedups))
	for m := range k.flow.dedups {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b forwarding.Match) int { return cmpString(a.Key(), b.Key()) })
	for _, m := range ms {
		d := k.flow.dedups[m]
		c.AddObj(&nftables.CounterObj{Table: s.table, Name: dedupCounterName(d.id)})
		for _, ch := range chains {
			for _, e := range dedupRules(d) {
				c.AddRule(&nftables.Rule{Table: s.table, Chain: ch, Exprs: e})
			}
		}
	}
	if err := s.flush(); err != nil {
		return fmt.Errorf("nftables: dedup chains: %w", err)
	}
	k.flow.dedupOn = on
	return nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// RouteCounters implements FlowCounterReader: plain routes from their BPF
// map entries, flow routes from their nftables counters (inner octets:
// postrouting sees the inner packet).
func (k *kernelDP) RouteCounters() ([]RouteCounter, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, ErrClosed
	}
	objs, err := k.nft.conn.GetObjects(k.nft.table)
	if err != nil {
		return nil, fmt.Errorf("nftables: read counters: %w", err)
	}
	named := map[string]*nftables.CounterObj{}
	for _, o := range objs {
		if co, ok := o.(*nftables.CounterObj); ok {
			named[co.Name] = co
		}
	}
	dups := map[forwarding.Match]uint64{}
	for m, d := range k.flow.dedups {
		if co := named[dedupCounterName(d.id)]; co != nil {
			dups[m] = co.Packets
		}
	}
	grouped := map[uint32][2]uint64{}
	for _, p := range k.flow.parents {
		for _, g := range p.groups {
			if err := k.groupCounters(g, grouped); err != nil {
				return nil, err
			}
		}
	}
	var out []RouteCounter
	for s, kr := range k.routes {
		pc := PathCounter{Tunnel: kr.r.Tunnel}
		if k.encap != nil {
			if v, err := k.encap.value(s); err == nil {
				var b bpfCounters
				b.add(v)
				pc.Packets, pc.Octets = b.packets, b.bytes
			}
		}
		out = append(out, RouteCounter{Selector: s, Paths: []PathCounter{pc}, Duplicates: dups[s.Flow]})
	}
	for _, p := range k.flow.parents {
		for _, fr := range p.routes {
			rc := RouteCounter{Selector: fr.r.Selector, Duplicates: dups[fr.r.Flow]}
			for j, path := range fr.r.PathList() {
				pc := PathCounter{Tunnel: path.Tunnel}
				n := 0
				if fr.r.Mode == ModeShare {
					n = j
				}
				if co := named[counterName(fr.id, n)]; co != nil {
					pc.Packets, pc.Octets = co.Packets, co.Bytes
				}
				if n == 0 {
					g := grouped[fr.id]
					pc.Packets += fr.base[0] + g[0]
					pc.Octets += fr.base[1] + g[1]
				}
				rc.Paths = append(rc.Paths, pc)
			}
			if fr.r.Mode == ModeDrop {
				g := grouped[fr.id]
				pc := PathCounter{Packets: fr.base[0] + g[0], Octets: fr.base[1] + g[1]}
				if co := named[counterName(fr.id, 0)]; co != nil {
					pc.Packets, pc.Octets = pc.Packets+co.Packets, pc.Octets+co.Bytes
				}
				rc.Paths = []PathCounter{pc}
			}
			out = append(out, rc)
		}
	}
	return out, nil
}

// dedupDrops is what the Dedup with match m dropped (tests).
func (k *kernelDP) dedupDrops(m forwarding.Match) (uint64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	d := k.flow.dedups[m]
	if d == nil {
		return 0, ErrNotFound
	}
	o, err := k.nft.conn.GetObject(&nftables.CounterObj{Table: k.nft.table, Name: dedupCounterName(d.id)})
	if err != nil {
		return 0, err
	}
	co, ok := o.(*nftables.CounterObj)
	if !ok {
		return 0, errors.New("not a counter")
	}
	return co.Packets, nil
}
