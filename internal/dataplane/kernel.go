package dataplane

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// kernelDP is the kernel backend: routes whose BPF program adds the outer
// header (seg6 encap.red routes without BPF) out, nftables ingress check
// plus seg6local End.DT6 in.
type kernelDP struct {
	cfg Config
	ns  netns.NsHandle
	log *slog.Logger
	h   *netlink.Handle
	nft *nftState

	mu        sync.Mutex
	closed    bool
	routes    map[Selector]kernelRoute
	endpoints map[endpointKey]Endpoint
	links     *linkCache
	rt        *routeSock
	decap     map[netip.Addr]netip.Addr // local endpoint -> internal decap address
	nextDecap uint64
	rules     []*netlink.Rule
	// The detour: without BPF, tunnel routes in cfg.Table point at one
	// end of a veth pair; what comes out of the other end is looked up in
	// cfg.Table+1, which holds the seg6 routes. With BPF the routes (in
	// the local table) only name the veth as their device. See newKernel.
	detour     netlink.Link
	detourPeer netlink.Link
	// With BPF: the veth pair that segments what a program cannot
	// encapsulate (setupSegmenter).
	segmenter     netlink.Link
	segmenterPeer netlink.Link
	// encap, when BPF is available, adds the outer header in the
	// program of every tunnel route (see lwtEncap).
	encap *lwtEncap
	// gso restores the segment size of TCP GSO packets that encap
	// shortened (kernel_gso.go); nil without it.
	gso *gsoRestore
	// Flow routes and dedup (kernel_flow.go).
	flow *flowState
	// Counters of routes whose BPF map entries were deleted or replaced.
	bpfGone bpfCounters

	// Outer source: normally source address selection on the route's
	// device (tunsrc ::). When that would pick the wrong address, the
	// namespace-wide tunsrc is set, which then binds every tunnel.
	forcedSrc  netip.Addr
	prevTunsrc netip.Addr

	// adopting: started on a predecessor's state (Config.Adopt) and not
	// settled yet; staleDecap are the predecessor's decapsulation
	// addresses, kept forwarding until Settle (kernel_adopt.go).
	adopting   bool
	staleDecap map[netip.Addr]bool

	// pmtu learns the tunnels' outer path MTUs from Packet Too Big
	// (pmtu.go); nil when its socket could not be opened.
	pmtu *tunnelPMTU
	// counters reads the per-endpoint counters on a connection of its
	// own (endpoint_counters.go).
	counters counterReader
}

type kernelRoute struct {
	r     Route
	rt    rtRoute // routeTable(): MTU-checked; BPF encapsulation or into the detour
	encRt rtRoute // cfg.Table+1: seg6 encap.red; without BPF only
}

// delete removes kr's kernel routes.
func (kr kernelRoute) delete(s *routeSock) error {
	err := s.delete(kr.rt)
	if kr.encRt.table != 0 {
		err = errors.Join(err, s.delete(kr.encRt))
	}
	return err
}

type tunnelKey struct{ local, remote netip.Addr }

// detourGateway is the link-local address of the detour's far end.
var detourGateway = netip.MustParseAddr("fe80::2")

func newKernel(cfg Config, ns netns.NsHandle) (*kernelDP, error) {
	k := &kernelDP{cfg: cfg, ns: ns, log: cfg.Logger.With("dataplane", "kernel"),
		routes: map[Selector]kernelRoute{}, flow: newFlowState(), endpoints: map[endpointKey]Endpoint{}, decap: map[netip.Addr]netip.Addr{},
		adopting: cfg.Adopt, staleDecap: map[netip.Addr]bool{}}
	var err error
	if k.h, err = newHandle(ns); err != nil {
		return nil, fmt.Errorf("kernel dataplane: netlink: %w", err)
	}
	k.links = newLinkCache(k.h)
	if k.rt, err = openRouteSock(ns); err != nil {
		return nil, fmt.Errorf("kernel dataplane: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			k.Close()
		}
	}()
	if !cfg.NoBPF {
		if k.encap, err = newLWTEncap(); err != nil {
			k.log.Warn("BPF encapsulation unavailable; forwarded packets cross the detour veth", "err", err)
		} else if k.gso, err = newGSORestore(); err != nil {
			k.log.Warn("tunnelled TCP GSO packets keep the shortened segments of bpf_lwt_push_encap", "err", err)
		}
	}
	// One lasting socket: a change is one small transaction on it.
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if ns > 0 {
		opts = append(opts, nftables.WithNetNSFd(int(ns)))
	}
	// With BPF the programs count what leaves; without, a postrouting
	// counter does.
	// Adopting, the table is replaced in the first transaction, not now.
	if k.nft, err = newNFT(opts, cfg.NFTable, cfg.InternalPrefix, k.encap == nil, cfg.Adopt); err != nil {
		return nil, fmt.Errorf("kernel dataplane: %w", err)
	}
	if err := k.setupDetour(); err != nil {
		return nil, fmt.Errorf("kernel dataplane: %w", err)
	}
	var rules []*netlink.Rule
	if k.encap == nil {
		// Locally originated packets ("iif lo") go straight to the seg6
		// routes: for them the kernel applies the route MTU itself.
		// Forwarded and decapsulated packets take the detour (cfg.Table).
		encRule := routeRule(cfg.Table+1, cfg.RulePriority-1)
		encRule.IifName = k.detourPeer.Attrs().Name
		localRule := routeRule(cfg.Table+1, cfg.RulePriority-1)
		localRule.IifName = "lo"
		rules = []*netlink.Rule{encRule, localRule, routeRule(cfg.Table, cfg.RulePriority)}
	}
	var keep []*netlink.Rule
	if cfg.Adopt {
		keep = rules
	}
	if err := k.removeStaleRules(keep); err != nil {
		return nil, fmt.Errorf("kernel dataplane: %w", err)
	}
	if err := k.removeStaleDecap(); err != nil {
		return nil, fmt.Errorf("kernel dataplane: %w", err)
	}
	if k.encap != nil {
		// No policy rule: see routeTable.
		if err := k.setupSegmenter(); err != nil {
			return nil, fmt.Errorf("kernel dataplane: %w", err)
		}
		if err := k.encap.setSegmenter(k.segmenter, k.segmenterPeer); err != nil {
			return nil, fmt.Errorf("kernel dataplane: %w", err)
		}
	}
	for _, rule := range rules {
		if err := k.h.RuleAdd(rule); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("kernel dataplane: rule pref %d lookup %d: %w", rule.Priority, rule.Table, err)
		}
		k.rules = append(k.rules, rule)
	}
	if k.pmtu, err = startTunnelPMTU(ns, k.log, k.retunePMTU); err != nil {
		k.log.Warn("tunnel path MTUs are not learned: the care-of paths must carry the links' MTU", "err", err)
	}
	ok = true
	if cfg.Adopt {
		k.log.Info("data plane adopting what a predecessor left until Settle", "stale_decapsulation_routes", len(k.staleDecap))
	}
	if k.encap != nil {
		k.log.Info("data plane up", "table", "local", "nftables", cfg.NFTable, "bpf_encapsulation", true)
	} else {
		k.log.Info("data plane up", "table", cfg.Table, "rule_priority", cfg.RulePriority, "nftables", cfg.NFTable, "bpf_encapsulation", false)
	}
	return k, nil
}

func (k *kernelDP) Backend() Backend { return BackendKernel }

// routeTable is where the tunnel and decapsulation routes go. With BPF it
// is the local table, and the backend installs no policy rule. Every
// lookup walks the rule list, and with a rule and a table of its own a
// tunnelled packet paid for that rule twice and for a missed lookup in the
// table twice (the outer packet after encapsulation, the inner one after
// decapsulation). In the local table, which the kernel consults first as
// the rule did, both are gone: in one bench run the kernel backend went
// from 0.89 to 0.98 of plain routing (CPU per bit 1.16 to 1.06 of plain).
// In a namespace that never had a rule of its own Linux even skips the
// rule list (fib6_rule_lookup; the kernel never clears
// fib6_has_custom_rules, and a mobile node adds its own rule anyway). A
// route of ours cannot displace the kernel's own routes there (local
// addresses, anycast, multicast), which have metric 0 and protocol
// "kernel". The prices: an operator's policy rules cannot come before the
// tunnel routes, and two data planes with BPF in one namespace share the
// table (one per namespace). Without BPF the detour needs rules ("iif"),
// and the routes stay in cfg.Table.
func (k *kernelDP) routeTable() int {
	if k.encap != nil {
		return unix.RT_TABLE_LOCAL
	}
	return k.cfg.Table
}

// inNS runs f with the package-level netlink calls (raw route messages,
// generic netlink) in the data plane's namespace.
func (k *kernelDP) inNS(f func() error) error { return inNetNS(k.ns, f) }

func (k *kernelDP) AddRoute(r Route) error {
	return k.apply([]Op{{Kind: OpAddRoute, Route: r}}, true)
}

func (k *kernelDP) DelRoute(s Selector) error {
	return k.apply([]Op{{Kind: OpDelRoute, Selector: s}}, true)
}

func (k *kernelDP) AddEndpoint(e Endpoint) error {
	return k.apply([]Op{{Kind: OpAddEndpoint, Endpoint: e}}, true)
}

func (k *kernelDP) DelEndpoint(local, peer netip.Addr, encap Encapsulation) error {
	return k.apply([]Op{{Kind: OpDelEndpoint, Endpoint: Endpoint{Local: local, Peer: peer, Encap: encap}}}, true)
}

// Apply implements Batcher.
func (k *kernelDP) Apply(ops []Op) error { return k.apply(ops, false) }

// routeMTU is the interface a route's tunnel leaves by and its inner MTU.
// Called with k.mu held.
func (k *kernelDP) routeMTU(r Route) (netlink.Link, int, error) {
	link, err := k.links.byAddr(r.Tunnel.Local)
	if err != nil {
		return nil, 0, fmt.Errorf("route %v: tunnel source: %w", r.Selector, err)
	}
	mtu, ok := innerMTU(r.Tunnel, link.Attrs().MTU, k.pmtu.get(tunnelKey{r.Tunnel.Local, r.Tunnel.Remote}))
	if !ok {
		return nil, 0, fmt.Errorf("route %v: inner MTU %d on %s is below %d", r.Selector, mtu, link.Attrs().Name, MinMTU)
	}
	return link, mtu, nil
}

// holdGSO runs the GSO restore at the egress of the link a tunnel from
// local leaves by. A failure costs goodput, not forwarding: logged only.
// Called with k.mu held.
func (k *kernelDP) holdGSO(link netlink.Link, local netip.Addr) {
	if k.gso == nil {
		return
	}
	if err := k.gso.hold(link, local, k.inNS); err != nil {
		k.log.Warn("tunnelled TCP GSO packets keep the shortened segments of bpf_lwt_push_encap", "err", err)
	}
}

// addSeg6Route is the route without BPF: into the detour, then seg6.
func (k *kernelDP) addSeg6Route(r Route, link netlink.Link, mtu int, prev kernelRoute, had bool) (kernelRoute, error) {
	kr := kernelRoute{r: r, rt: rtRoute{table: k.routeTable(), dst: r.Dst, src: r.Src, oif: k.detour.Attrs().Index, gw: detourGateway, mtu: mtu},
		encRt: rtRoute{table: k.cfg.Table + 1, dst: r.Dst, src: r.Src, oif: link.Attrs().Index,
			encap: seg6EncapRed(r.Tunnel.Remote), mtu: mtu + seg6Headroom}}
	if err := k.outerSource(r); err != nil {
		return kr, err
	}
	tk := tunnelKey{r.Tunnel.Local, r.Tunnel.Remote}
	if err := k.nft.holdTunnel(tk); err != nil {
		return kr, fmt.Errorf("route %v: %w", r.Selector, err)
	}
	// The seg6 route first: the detour leads there.
	err := k.rt.replace(kr.encRt)
	if err == nil {
		err = k.rt.replace(kr.rt)
	}
	if err != nil {
		_ = k.nft.releaseTunnel(tk)
		return kr, fmt.Errorf("route %v: %w", r.Selector, err)
	}
	if had {
		_ = k.nft.releaseTunnel(tunnelKey{prev.r.Tunnel.Local, prev.r.Tunnel.Remote})
	}
	return kr, nil
}

// outerSource makes sure the kernel will write r.Tunnel.Local as the outer
// source of a seg6 route. Linux 6.18 has no per-route seg6 source: it uses
// the namespace tunsrc or, when that is ::, source address selection on
// the route's device. (The BPF program writes the source itself.)
func (k *kernelDP) outerSource(r Route) error {
	want := r.Tunnel.Local
	if k.forcedSrc.IsValid() {
		if want != k.forcedSrc {
			return fmt.Errorf("route %v: outer source %v, but this namespace's seg6 tunsrc is fixed to %v for another tunnel: %w",
				r.Selector, want, k.forcedSrc, ErrUnsupported)
		}
		return nil
	}
	link, err := k.links.byAddr(want)
	if err != nil {
		return err
	}
	got, err := k.selectedSource(r.Tunnel.Remote, link)
	if err == nil && got == want {
		return nil
	}
	k.log.Debug("source selection does not give the tunnel source", "want", want, "got", got, "err", err)
	for _, other := range k.routes {
		if other.r.Tunnel.Local != want && other.r.Selector != r.Selector {
			return fmt.Errorf("route %v: the kernel would pick outer source %v, not %v, and tunsrc cannot be set while tunnels from %v exist: %w",
				r.Selector, got, want, other.r.Tunnel.Local, ErrUnsupported)
		}
	}
	return k.inNS(func() error {
		prev, err := getTunsrc()
		if err != nil {
			return err
		}
		if k.cfg.Adopt && prev == want {
			// A detached predecessor of ours set it: what it found
			// there is lost, :: is the kernel's default.
			prev = netip.IPv6Unspecified()
		}
		if err := setTunsrc(want); err != nil {
			return err
		}
		k.prevTunsrc, k.forcedSrc = prev, want
		k.log.Info("seg6 tunsrc set", "addr", want, "previous", prev)
		return nil
	})
}

// selectedSource is the source the kernel's address selection picks for
// dst on link (what seg6 uses when tunsrc is ::).
func (k *kernelDP) selectedSource(dst netip.Addr, link netlink.Link) (netip.Addr, error) {
	routes, err := k.h.RouteGetWithOptions(net.IP(dst.AsSlice()), &netlink.RouteGetOptions{OifIndex: link.Attrs().Index})
	if err != nil {
		return netip.Addr{}, err
	}
	for _, rt := range routes {
		if a, ok := netip.AddrFromSlice(rt.Src); ok {
			return a.Unmap(), nil
		}
	}
	return netip.Addr{}, errors.New("no source selected")
}

// holdDecap returns the internal address of e.Local, creating it and its
// End.DT6 route for the first endpoint there.
func (k *kernelDP) holdDecap(e Endpoint) (netip.Addr, bool, error) {
	if a, ok := k.decap[e.Local]; ok {
		return a, false, nil
	}
	link, err := k.links.byAddr(e.Local)
	if err != nil {
		return netip.Addr{}, false, fmt.Errorf("endpoint %v: %w", e, err)
	}
	// One internal address per local endpoint; the nftables rule
	// rewrites the outer destination to it so that the End.DT6 route
	// (which cannot share the address with a local route) matches.
	// A predecessor's address stays its own until Settle: its table
	// still rewrites to it.
	var a netip.Addr
	for !a.IsValid() || k.staleDecap[a] {
		k.nextDecap++
		if a, err = nthAddr(k.cfg.InternalPrefix, k.nextDecap); err != nil {
			return a, false, err
		}
	}
	// The route's device is the endpoint's interface: with lo the
	// kernel drops the packet before the seg6local action runs, so an
	// address on a loopback (an anycast home agent address, say) gets
	// the detour veth, which is always up.
	oif := link.Attrs().Index
	if link.Attrs().Flags&net.FlagLoopback != 0 {
		oif = k.detour.Attrs().Index
	}
	rt := rtRoute{table: k.routeTable(), dst: netip.PrefixFrom(a, 128), oif: oif, encap: seg6LocalDT6()}
	if err := k.rt.replace(rt); err != nil {
		return a, false, fmt.Errorf("endpoint %v: decap route: %w", e, err)
	}
	k.decap[e.Local] = a
	return a, true, nil
}

func (k *kernelDP) removeDecap(local netip.Addr) error {
	a, ok := k.decap[local]
	if !ok {
		return nil
	}
	delete(k.decap, local)
	rt := rtRoute{table: k.routeTable(), dst: netip.PrefixFrom(a, 128)}
	return k.rt.delete(rt)
}

// removeStaleRules deletes the rules a predecessor left (one without BPF,
// or an older version), which would send lookups to tables of stale
// routes, except those equal to one in keep (adopted: deleting and adding
// them again would leave a moment without them).
func (k *kernelDP) removeStaleRules(keep []*netlink.Rule) error {
	rules, err := k.h.RuleList(unix.AF_INET6)
	if err != nil {
		return fmt.Errorf("list rules: %w", err)
	}
	for _, r := range rules {
		ours := (r.Table == k.cfg.Table || r.Table == k.cfg.Table+1) &&
			(r.Priority == k.cfg.RulePriority || r.Priority == k.cfg.RulePriority-1)
		if !ours || slices.ContainsFunc(keep, func(w *netlink.Rule) bool { return sameRule(w, &r) }) {
			continue
		}
		if err := k.h.RuleDel(&r); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete stale rule pref %d lookup %d: %w", r.Priority, r.Table, err)
		}
		k.log.Info("stale rule removed", "priority", r.Priority, "table", r.Table)
	}
	return nil
}

// removeStaleDecap deletes decapsulation routes a predecessor left, or,
// adopting, notes them for Settle: the predecessor's nftables table still
// rewrites packets to them.
func (k *kernelDP) removeStaleDecap() error {
	routes, err := k.h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Table: k.routeTable()}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	for _, rt := range routes {
		if rt.Dst == nil || rt.Protocol != unix.RTPROT_STATIC {
			continue
		}
		a, ok := netip.AddrFromSlice(rt.Dst.IP)
		if ones, _ := rt.Dst.Mask.Size(); !ok || ones != 128 || !k.cfg.InternalPrefix.Contains(a.Unmap()) {
			continue
		}
		if k.adopting {
			k.staleDecap[a.Unmap()] = true
			continue
		}
		if err := k.h.RouteDel(&rt); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("delete stale decapsulation route %v: %w", a, err)
		}
		k.log.Info("stale decapsulation route removed", "addr", a)
	}
	return nil
}

func (k *kernelDP) Counters() (Counters, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return Counters{}, ErrClosed
	}
	c, err := k.nft.counters()
	if err != nil {
		return c, err
	}
	return c, k.addBPFCounters(&c)
}

func (k *kernelDP) Close() error {
	k.pmtu.close()
	k.counters.close()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	var errs []error
	if k.adopting && k.detour != nil && k.rt != nil {
		// Not settled: the predecessor's routes are not in k.routes.
		if _, err := k.sweep(nil); err != nil {
			errs = append(errs, err)
		}
	}
	// With BPF every tunnel route leaves by the detour veth, and deleting
	// the veth below takes them all with it: one call for any number.
	if k.encap == nil {
		for _, kr := range k.routes {
			if err := kr.delete(k.rt); err != nil {
				errs = append(errs, err)
			}
		}
	}
	clear(k.routes)
	for l := range k.decap {
		if err := k.removeDecap(l); err != nil {
			errs = append(errs, err)
		}
	}
	for _, rule := range k.rules {
		if err := k.h.RuleDel(rule); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("delete rule: %w", err))
		}
	}
	if k.gso != nil {
		if err := k.gso.close(); err != nil {
			errs = append(errs, fmt.Errorf("BPF GSO restore program: %w", err))
		}
	}
	if k.encap != nil {
		// The routes using the program are gone.
		if err := k.encap.close(); err != nil {
			errs = append(errs, fmt.Errorf("BPF tunnel program and maps: %w", err))
		}
	}
	for _, l := range []netlink.Link{k.detour, k.segmenter} {
		if l == nil {
			continue
		}
		if err := k.h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("delete veth %s: %w", l.Attrs().Name, err))
		}
	}
	if k.forcedSrc.IsValid() {
		prev := k.prevTunsrc
		if !prev.IsValid() {
			prev = netip.IPv6Unspecified()
		}
		if err := k.inNS(func() error { return setTunsrc(prev) }); err != nil {
			errs = append(errs, err)
		}
	}
	if k.nft != nil {
		if err := k.nft.destroy(); err != nil {
			errs = append(errs, err)
		}
		_ = k.nft.conn.CloseLasting()
	}
	if k.h != nil {
		k.h.Close()
	}
	k.rt.close()
	if k.ns > 0 {
		k.ns.Close()
	}
	k.log.Info("data plane closed")
	return errors.Join(errs...)
}

// nthAddr is prefix + n.
func nthAddr(p netip.Prefix, n uint64) (netip.Addr, error) {
	if host := 128 - p.Bits(); host < 64 && n >= 1<<host {
		return netip.Addr{}, fmt.Errorf("internal prefix %v exhausted", p)
	}
	b := p.Masked().Addr().As16()
	for i := 15; i >= 8 && n > 0; i-- {
		s := uint64(b[i]) + n&0xff
		b[i] = byte(s)
		n = n>>8 + s>>8
	}
	return netip.AddrFrom16(b), nil
}
