package dataplane

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
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
	endpoints map[endpointKey]Endpoint
	socks     map[sockKey]*tunnelSock
	rule      *netlink.Rule

	table   *routeTable  // fast-path route index
	accept  *acceptTable // fast-path ingress check
	links   *linkCache
	rt      *routeSock
	ctr     atomicCounters
	limiter *errorLimiter
	wg      sync.WaitGroup

	pkt *pktSender // next-header-41 fast path, nil when unavailable
	// outerRoutes caches the kernel's route of each tunnel's outer
	// flow for hopLoop (its goroutine only); nil after a change.
	outerRoutes map[hopKey]netlink.Route
	hopRounds   int
	hopKick     chan struct{} // asks hopLoop to resolve next hops now
	hopStop     chan struct{}
}

type userRoute struct {
	sel  Selector
	tun  Tunnel
	mtu  int
	sock *tunnelSock
	addr net.Addr
	rt   rtRoute

	hop       atomic.Pointer[nextHop] // packet-socket next hop, nil: raw socket
	hopReason atomic.Pointer[string]  // why hop is nil (tests, debugging)
}

type acceptEntry struct {
	innerSrc []netip.Prefix
	// arrivals counts admitted packets (EndpointCounters); shared by the
	// entries that replace this one.
	arrivals *atomic.Uint64
}

func newUserspace(cfg Config, ns netns.NsHandle) (DataPlane, error) {
	u := &userDP{cfg: cfg, ns: ns, log: cfg.Logger.With("dataplane", "userspace"),
		routes: map[Selector]*userRoute{}, endpoints: map[endpointKey]Endpoint{}, socks: map[sockKey]*tunnelSock{},
		limiter: newErrorLimiter(100, 100)}
	u.table = newRouteTable()
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
		u.pkt, err = openPktSender(u.dev.BatchSize())
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
	ok = true
	u.log.Info("data plane up", "tun", u.devName, "batch", u.dev.BatchSize(), "table", cfg.Table, "rule_priority", cfg.RulePriority)
	return u, nil
}

func (u *userDP) Backend() Backend { return BackendUserspace }

func (u *userDP) AddRoute(r Route) error {
	if err := r.Selector.validate(); err != nil {
		return err
	}
	if !r.Plain() {
		return fmt.Errorf("route %v: flow routes: %w", r.Selector, ErrUnsupported)
	}
	if err := r.Tunnel.validate(); err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return ErrClosed
	}
	link, err := u.links.byAddr(r.Tunnel.Local)
	if err != nil {
		return fmt.Errorf("route %v: tunnel source: %w", r.Selector, err)
	}
	mtu := r.Tunnel.MTU
	if mtu == 0 {
		mtu = link.Attrs().MTU - r.Tunnel.Encap.Overhead()
	}
	if mtu < MinMTU {
		return fmt.Errorf("route %v: inner MTU %d on %s is below %d", r.Selector, mtu, link.Attrs().Name, MinMTU)
	}
	sock, err := u.getSock(sockKey{r.Tunnel.Local, r.Tunnel.Encap})
	if err != nil {
		return fmt.Errorf("route %v: %w", r.Selector, err)
	}
	ur := &userRoute{sel: r.Selector, tun: r.Tunnel, mtu: mtu, sock: sock, addr: sock.peerAddr(r.Tunnel.Remote),
		rt: rtRoute{table: u.cfg.Table, dst: r.Dst, src: r.Src, oif: u.devIndex, mtu: mtu}}
	if err := u.rt.replace(ur.rt); err != nil {
		u.putSock(sock)
		return err
	}
	if prev := u.routes[r.Selector]; prev != nil {
		u.putSock(prev.sock)
	}
	if r.Tunnel.Encap == EncapIPv6 && u.pkt != nil {
		// Resolve now so the first packets take the fast path; hopLoop
		// keeps it current.
		st := hopStatus{reason: u.fastPathBlocked(u.h)}
		if st.reason == "" {
			_ = inNetNS(u.ns, func() error {
				st = resolveNextHop(u.h, r.Tunnel.Local, r.Tunnel.Remote, u.devIndex, sysctlHopLimit)
				return nil
			})
		}
		ur.setHop(st, u)
	}
	u.routes[r.Selector] = ur
	u.table.put(ur)
	u.log.Debug("tunnel route", "selector", r.Selector.String(), "tunnel", r.Tunnel.String(), "inner_mtu", mtu)
	return nil
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
	if err := u.rt.delete(ur.rt); err != nil {
		return err
	}
	delete(u.routes, s)
	u.table.del(s)
	u.putSock(ur.sock)
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
	u.accept.put(key, &acceptEntry{innerSrc: e.InnerSrc, arrivals: u.accept.arrivals(key)})
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
	if key.encap == EncapUDP && u.cfg.SharedUDP != nil {
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
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	var errs []error
	// Closing the TUN device below takes every route into it along.
	clear(u.routes)
	u.table.clear()
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
