package dataplane

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"

	"monami/internal/forwarding"
)

// tunOffset is the headroom left in front of each packet buffer; the TUN
// device needs 10 bytes there for its virtio-net header when writing.
const tunOffset = 16

// tunDeviceMTU is the TUN device's own MTU. Each route into it carries the
// tunnel's inner MTU, locked, so forwarding and local sockets use that.
const tunDeviceMTU = 1500

// userDP is the userspace backend: routes into a TUN device; a goroutine
// reads (GSO-split) packet batches from it and sends them with sendmmsg on
// a raw next-header-41 or UDP 4191 socket bound to the tunnel's local
// address; one goroutine per socket receives batches with recvmmsg, checks
// them and writes them to the TUN device (GRO-coalesced).
type userDP struct {
	cfg Config
	ns  netns.NsHandle
	log *slog.Logger
	h   *netlink.Handle

	dev      tun.Device
	devName  string
	devIndex int

	mu        sync.Mutex // control operations
	closed    bool
	routes    map[Selector]*userRoute
	parents   map[Selector]*userParent // by Dst and Src
	dedups    map[forwarding.Match]*dedupRule
	endpoints map[endpointKey]Endpoint
	socks     map[sockKey]*tunnelSock
	rule      *netlink.Rule

	table   *routeTable              // fast-path route index
	accept  *acceptTable             // fast-path ingress check
	dedup   atomic.Pointer[dedupSet] // nil: no Dedup installed
	links   *linkCache
	rt      *routeSock
	ctr     atomicCounters
	limiter *errorLimiter
	wg      sync.WaitGroup

	shares *shareFlows // ModeShare's placements (send loop only)

	pkt *pktSender // next-header-41 fast path, nil when unavailable
	// rxFree passes receive buffers from a closed socket's loop to the
	// next socket's (userspace_rxbuf.go).
	rxFree rxFree
	// outerRoutes caches the kernel's route of each tunnel's outer
	// flow for hopLoop (its goroutine only); nil after a change.
	outerRoutes map[hopKey]netlink.Route
	hopRounds   int
	hopKick     chan struct{} // asks hopLoop to resolve next hops now
	hopStop     chan struct{}

	// pmtu learns the tunnels' outer path MTUs from Packet Too Big
	// (pmtu.go); nil when its socket could not be opened.
	pmtu *tunnelPMTU
}

type acceptEntry struct {
	innerSrc []netip.Prefix
	// tunnel names the endpoint for Dedup: which tunnel delivered a copy.
	tunnel uint32
	// arrivals counts admitted packets (EndpointCounters); shared by the
	// entries that replace this one.
	arrivals *atomic.Uint64
}

func newUserspace(cfg Config, ns netns.NsHandle) (DataPlane, error) {
	u := &userDP{cfg: cfg, ns: ns, log: cfg.Logger.With("dataplane", "userspace"),
		routes: map[Selector]*userRoute{}, parents: map[Selector]*userParent{},
		dedups: map[forwarding.Match]*dedupRule{}, endpoints: map[endpointKey]Endpoint{}, socks: map[sockKey]*tunnelSock{},
		limiter: newErrorLimiter(100, 100)}
	u.table = newRouteTable()
	u.shares = newShareFlows(time.Now)
	u.accept = &acceptTable{m: map[endpointKey]*acceptEntry{}}
	var err error
	if u.h, err = newHandle(ns); err != nil {
		return nil, fmt.Errorf("userspace dataplane: netlink: %w", err)
	}
	u.links = newLinkCache(u.h)
	if u.rt, err = openRouteSock(ns); err != nil {
		return nil, fmt.Errorf("userspace dataplane: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			u.Close()
		}
	}()
	if err := inNetNS(ns, func() error {
		var err error
		u.dev, err = tun.CreateTUN(cfg.TunName, tunDeviceMTU)
		return err
	}); err != nil {
		return nil, fmt.Errorf("userspace dataplane: create TUN %s: %w", cfg.TunName, err)
	}
	if u.devName, err = u.dev.Name(); err != nil {
		return nil, fmt.Errorf("userspace dataplane: TUN name: %w", err)
	}
	link, err := u.h.LinkByName(u.devName)
	if err != nil {
		return nil, fmt.Errorf("userspace dataplane: TUN link: %w", err)
	}
	u.devIndex = link.Attrs().Index
	if err := u.h.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("userspace dataplane: TUN up: %w", err)
	}
	rule := routeRule(cfg.Table, cfg.RulePriority)
	if err := u.h.RuleAdd(rule); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("userspace dataplane: rule pref %d lookup %d: %w", cfg.RulePriority, cfg.Table, err)
	}
	u.rule = rule
	u.hopKick, u.hopStop = make(chan struct{}, 1), make(chan struct{})
	if err := inNetNS(ns, func() error {
		var err error
		// A replicated packet takes up to MaxPaths messages.
		u.pkt, err = openPktSender(u.dev.BatchSize() * MaxPaths)
		return err
	}); err != nil {
		u.log.Info("packet socket unavailable, next header 41 uses the raw socket only", "err", err)
	} else if hh, err := newHandle(ns); err != nil {
		// Without the loop that keeps next hops current the fast path
		// would keep a stale one: do without it.
		u.log.Warn("next-hop resolution unavailable, next header 41 uses the raw socket only", "err", err)
		u.pkt.close()
		u.pkt = nil
	} else {
		u.wg.Add(1)
		go u.hopLoop(hh, u.hopStop)
	}
	u.wg.Add(1)
	go u.sendLoop()
	if u.pmtu, err = startTunnelPMTU(ns, u.log, u.retunePMTU); err != nil {
		u.log.Warn("tunnel path MTUs are not learned: the care-of paths must carry the links' MTU", "err", err)
	}
	ok = true
	u.log.Info("data plane up", "tun", u.devName, "batch", u.dev.BatchSize(), "table", cfg.Table, "rule_priority", cfg.RulePriority)
	return u, nil
}

func (u *userDP) Backend() Backend { return BackendUserspace }

// AddRoute installs r. Routes of one (Dst, Src) share one kernel route
// into the TUN device (its MTU the smallest of their paths'); the send
// loop classifies among them (userspace_flow.go).
func (u *userDP) AddRoute(r Route) error {
	if err := r.validate(); err != nil {
		return err
	}
	r.Paths = slices.Clone(r.Paths)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return ErrClosed
	}
	return u.addRouteLocked(r)
}

// addRouteLocked is AddRoute on a validated r with u.mu held.
func (u *userDP) addRouteLocked(r Route) error {
	psel := r.Selector.parent()
	sibs := u.siblings(psel, r.Selector)
	ur, err := u.newUserRoute(r, sibs)
	if err != nil {
		return err
	}
	members := insertRoute(sibs, ur)
	if err := u.putParent(psel, members); err != nil {
		u.putPaths(ur)
		return err
	}
	if prev := u.routes[r.Selector]; prev != nil {
		u.putPaths(prev)
	}
	u.routes[r.Selector] = ur
	u.log.Debug("tunnel route", "selector", r.Selector.String(), "mode", r.Mode.String(), "paths", len(ur.paths), "inner_mtu", ur.mtu)
	return nil
}

// newUserRoute opens what r's paths need; sibs are the other routes of
// its parent. Callers hold u.mu.
func (u *userDP) newUserRoute(r Route, sibs []*userRoute) (*userRoute, error) {
	ur := &userRoute{r: r, mtu: tunDeviceMTU}
	for i, p := range r.PathList() {
		up, err := u.newUserPath(p, sibs)
		if err != nil {
			u.putPaths(ur)
			if len(r.Paths) > 0 {
				return nil, fmt.Errorf("route %v: path %d: %w", r.Selector, i, err)
			}
			return nil, fmt.Errorf("route %v: %w", r.Selector, err)
		}
		ur.paths = append(ur.paths, up)
		if i == 0 || up.mtu < ur.mtu {
			ur.mtu = up.mtu
		}
	}
	return ur, nil
}

func (u *userDP) newUserPath(p Path, sibs []*userRoute) (*userPath, error) {
	t := p.Tunnel
	link, err := u.links.byAddr(t.Local)
	if err != nil {
		return nil, fmt.Errorf("tunnel source: %w", err)
	}
	mtu, ok := innerMTU(t, link.Attrs().MTU, u.pmtu.get(tunnelKey{t.Local, t.Remote}))
	if !ok {
		return nil, fmt.Errorf("tunnel %v: inner MTU %d on %s is below %d", t, mtu, link.Attrs().Name, MinMTU)
	}
	sock, err := u.getSock(sockKey{t.Local, t.Encap})
	if err != nil {
		return nil, err
	}
	up := &userPath{tun: t, mtu: mtu, sock: sock, addr: sock.peerAddr(t.Remote, t.RemotePort), id: pathID(t), weight: p.weight()}
	if t.Encap == EncapIPv6 && u.pkt != nil {
		u.initHop(up, sibs)
	}
	return up, nil
}

// initHop gives a new path the next hop of a sibling route's path with
// the same outer flow (flow routes mostly share their tunnels), or
// resolves it now so the first packets take the fast path; hopLoop keeps
// it current. Only siblings are looked at: a home agent adds routes for
// thousands of mobile nodes, each its own parent.
func (u *userDP) initHop(up *userPath, sibs []*userRoute) {
	for _, r := range sibs {
		for _, o := range r.paths {
			if o.tun.Local == up.tun.Local && o.tun.Remote == up.tun.Remote && o.tun.Encap == EncapIPv6 {
				if reason := o.hopReason.Load(); reason != nil {
					up.hop.Store(o.hop.Load())
					up.hopReason.Store(reason)
					return
				}
			}
		}
	}
	st := hopStatus{reason: u.fastPathBlocked(u.h)}
	if st.reason == "" {
		_ = inNetNS(u.ns, func() error {
			st = resolveNextHop(u.h, up.tun.Local, up.tun.Remote, u.devIndex, sysctlHopLimit)
			return nil
		})
	}
	up.setHop(st, u)
}

func (u *userDP) putPaths(ur *userRoute) {
	for _, p := range ur.paths {
		u.putSock(p.sock)
	}
}

// siblings returns the routes of parent psel other than s.
func (u *userDP) siblings(psel, s Selector) []*userRoute {
	p := u.parents[psel]
	if p == nil {
		return nil
	}
	out := make([]*userRoute, 0, len(p.routes)+1)
	for _, r := range p.routes {
		if r.sel() != s {
			out = append(out, r)
		}
	}
	return out
}

// putParent installs the parent psel with routes, or removes it when
// there are none: the kernel route first (when it changes), then the
// fast-path table.
func (u *userDP) putParent(psel Selector, routes []*userRoute) error {
	prev := u.parents[psel]
	if len(routes) == 0 {
		if prev != nil {
			if err := u.rt.delete(u.kernelRoute(prev)); err != nil {
				return err
			}
		}
		delete(u.parents, psel)
		u.table.del(psel)
		return nil
	}
	p := newParent(psel, routes)
	if prev == nil || prev.mtu != p.mtu {
		if err := u.rt.replace(u.kernelRoute(p)); err != nil {
			return err
		}
	}
	u.parents[psel] = p
	u.table.put(p)
	return nil
}

// kernelRoute is the route into the TUN device that carries p's packets.
func (u *userDP) kernelRoute(p *userParent) rtRoute {
	return rtRoute{table: u.cfg.Table, dst: p.sel.Dst, src: p.sel.Src, oif: u.devIndex, mtu: p.mtu}
}

func (u *userDP) DelRoute(s Selector) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return ErrClosed
	}
	ur := u.routes[s]
	if ur == nil {
		return fmt.Errorf("route %v: %w", s, ErrNotFound)
	}
	psel := s.parent()
	if err := u.putParent(psel, u.siblings(psel, s)); err != nil {
		return err
	}
	delete(u.routes, s)
	u.putPaths(ur)
	u.log.Debug("tunnel route removed", "selector", s.String())
	return nil
}

func (u *userDP) AddEndpoint(e Endpoint) error {
	if err := e.validate(); err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return ErrClosed
	}
	if _, err := u.links.byAddr(e.Local); err != nil {
		return fmt.Errorf("endpoint %v: %w", e, err)
	}
	key := e.key()
	if _, had := u.endpoints[key]; !had {
		if _, err := u.getSock(sockKey{e.Local, e.Encap}); err != nil {
			return fmt.Errorf("endpoint %v: %w", e, err)
		}
	}
	e.InnerSrc = append([]netip.Prefix(nil), e.InnerSrc...)
	u.endpoints[key] = e
	u.accept.put(key, &acceptEntry{innerSrc: e.InnerSrc, tunnel: tunnelID(e.Local, e.Peer, e.Encap), arrivals: u.accept.arrivals(key)})
	u.log.Debug("tunnel endpoint", "endpoint", e.String(), "inner_src", e.InnerSrc)
	return nil
}

func (u *userDP) DelEndpoint(local, peer netip.Addr, encap Encapsulation) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return ErrClosed
	}
	key := endpointKey{local, peer, encap}
	if _, ok := u.endpoints[key]; !ok {
		return fmt.Errorf("endpoint %v<-%v: %w", local, peer, ErrNotFound)
	}
	delete(u.endpoints, key)
	u.accept.del(key)
	u.putSock(u.socks[sockKey{local, encap}])
	return nil
}

// getSock returns the socket for key, opening it (and its receive loop) on
// first use. Callers hold u.mu.
func (u *userDP) getSock(key sockKey) (*tunnelSock, error) {
	if s := u.socks[key]; s != nil {
		s.refs++
		return s, nil
	}
	if key.encap == EncapUDP && key.local.Is4() && u.cfg.SharedUDP == nil {
		// An IPv4 care-of address sits behind NATs: data must leave from
		// the signalling's port, whose mapping the NAT holds (RFC 5555
		// section 4.3), so only a lent socket carries it.
		return nil, fmt.Errorf("tunnel socket on %v: IPv4 UDP encapsulation needs the signalling socket (SharedUDP): %w", key.local, ErrUnsupported)
	}
	if key.encap == EncapUDP && u.cfg.SharedUDP != nil && (key.local.Is4() || !u.cfg.SharedUDPIPv4Only) {
		// Sent through the lender's socket; its receiver calls DeliverUDP.
		s := &tunnelSock{key: key, port: u.cfg.udpPort(), shared: u.cfg.SharedUDP, noGSO: true, refs: 1}
		u.socks[key] = s
		return s, nil
	}
	var s *tunnelSock
	if err := inNetNS(u.ns, func() error {
		var err error
		s, err = openTunnelSock(key, u.cfg.udpPort())
		return err
	}); err != nil {
		return nil, err
	}
	s.refs = 1
	u.socks[key] = s
	u.wg.Add(1)
	go u.receiveLoop(s)
	return s, nil
}

func (u *userDP) putSock(s *tunnelSock) {
	if s == nil {
		return
	}
	s.refs--
	if s.refs > 0 {
		return
	}
	delete(u.socks, s.key)
	s.close()
}

func (u *userDP) Counters() (Counters, error) {
	return u.ctr.snapshot(), nil
}

func (u *userDP) Close() error {
	u.pmtu.close()
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	var errs []error
	// Closing the TUN device below takes every route into it along.
	clear(u.routes)
	clear(u.parents)
	u.table.clear()
	u.dedup.Store(nil)
	for k, s := range u.socks {
		s.close()
		delete(u.socks, k)
	}
	if u.rule != nil {
		if err := u.h.RuleDel(u.rule); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("delete rule: %w", err))
		}
	}
	if u.dev != nil {
		// Closing the only file descriptor removes the (non-persistent)
		// TUN device with its routes.
		if err := u.dev.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close TUN: %w", err))
		}
	}
	if u.hopStop != nil {
		close(u.hopStop)
	}
	u.mu.Unlock()
	u.wg.Wait()
	u.pkt.close() // after the send loop is gone
	if u.h != nil {
		// The kernel deletes the TUN link asynchronously after the last
		// close; make sure it is gone before reporting closed.
		if l, err := u.h.LinkByName(u.devName); err == nil && u.devName != "" {
			if err := u.h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("delete TUN link: %w", err))
			}
		}
		u.h.Close()
	}
	u.rt.close()
	if u.ns > 0 {
		u.ns.Close()
	}
	u.log.Info("data plane closed", "counters", u.ctr.snapshot().String())
	return errors.Join(errs...)
}
