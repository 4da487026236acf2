package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nextHop is where the packet-socket fast path (userspace_packet.go) sends
// a next-header-41 tunnel's outer packets: the interface and neighbour the
// kernel's own route lookup picked for the outer destination, resolved
// when the route is added and again whenever routes, neighbours or links
// change (and every hopRefresh). Without one the tunnel's raw socket sends.
type nextHop struct {
	ifindex int
	mac     net.HardwareAddr
	mtu     int // largest outer packet
	hdr     [ipv6HeaderLen]byte
	sa      unix.RawSockaddrLinklayer

	// probe asks the send loop to send its next batch through the raw
	// socket, i.e. through the kernel's neighbour code, which only sees
	// packets it routes itself: a STALE entry then gets re-confirmed
	// (RFC 4861 section 7.3.3) or fails, and the next refresh falls back.
	probe atomic.Bool
}

// hopRefresh bounds how long a changed next hop can go unnoticed when no
// netlink notification arrives. A variable only so that a test can push
// the refresh out of its window and see the notification path alone.
var hopRefresh = time.Second

// outerRouteRounds is how many rounds a cached outer route lasts at most.
const outerRouteRounds = 30

// hopDebounce is the least time between two resolutions: a burst of
// notifications (a link flap, a busy neighbour table) resolves once.
const hopDebounce = 50 * time.Millisecond

// hopKey identifies the outer flow of a tunnel.
type hopKey struct{ local, remote netip.Addr }

// hopStatus is a resolution's result: a next hop, or why there is none.
type hopStatus struct {
	hop    *nextHop
	reason string // empty when hop != nil
	state  int    // neighbour NUD state
}

// resolveNextHop asks the kernel how it would send an outer packet from
// local to remote and returns the next hop for the packet socket, or a
// reason to leave the packet to the raw socket: a route into the TUN
// device itself (tunIndex) or through a lightweight tunnel, a device
// without Ethernet addressing, an unresolved neighbour.
func resolveNextHop(h *netlink.Handle, local, remote netip.Addr, tunIndex int, hopLimit func(link string) int) hopStatus {
	return newHopPass(h).resolve(local, remote, tunIndex, hopLimit)
}

// hopPass is one round of resolutions: links and neighbour tables are
// read once per round, so resolving the tunnels of many mobile nodes
// costs one route lookup each, not three netlink dumps.
type hopPass struct {
	h      *netlink.Handle
	links  map[int]netlink.Link
	neighs map[int][]netlink.Neigh
	// routes, when set, keeps the kernel's route for each outer flow
	// from round to round until a route or link changes (hopLoop): a
	// round then reads the neighbour tables, not 100,000 routes.
	routes map[hopKey]netlink.Route
}

func newHopPass(h *netlink.Handle) *hopPass {
	return &hopPass{h: h, links: map[int]netlink.Link{}, neighs: map[int][]netlink.Neigh{}}
}

// route is the kernel's route for an outer packet from local to remote.
func (p *hopPass) route(local, remote netip.Addr) (netlink.Route, string) {
	k := hopKey{local, remote}
	if rt, ok := p.routes[k]; ok {
		return rt, ""
	}
	routes, err := p.h.RouteGetWithOptions(remote.AsSlice(), &netlink.RouteGetOptions{SrcAddr: local.AsSlice()})
	if err != nil {
		return netlink.Route{}, "route: " + err.Error()
	}
	if len(routes) == 0 {
		return netlink.Route{}, "no route"
	}
	if p.routes != nil {
		p.routes[k] = routes[0]
	}
	return routes[0], ""
}

func (p *hopPass) link(i int) (netlink.Link, error) {
	if l, ok := p.links[i]; ok {
		return l, nil
	}
	l, err := p.h.LinkByIndex(i)
	if err == nil {
		p.links[i] = l
	}
	return l, err
}

func (p *hopPass) neighbours(i int) ([]netlink.Neigh, error) {
	if n, ok := p.neighs[i]; ok {
		return n, nil
	}
	n, err := p.h.NeighList(i, netlink.FAMILY_V6)
	if err == nil {
		p.neighs[i] = n
	}
	return n, err
}

func (p *hopPass) resolve(local, remote netip.Addr, tunIndex int, hopLimit func(link string) int) hopStatus {
	rt, why := p.route(local, remote)
	if why != "" {
		return hopStatus{reason: why}
	}
	switch {
	case rt.Type != 0 && rt.Type != unix.RTN_UNICAST:
		return hopStatus{reason: fmt.Sprintf("route type %d", rt.Type)}
	case rt.LinkIndex == 0:
		return hopStatus{reason: "route without device"}
	case rt.LinkIndex == tunIndex:
		return hopStatus{reason: "route into the TUN device"}
	case rt.Encap != nil:
		return hopStatus{reason: fmt.Sprintf("route with encapsulation type %d", rt.Encap.Type())}
	case len(rt.MultiPath) > 0:
		return hopStatus{reason: "multipath route"}
	}
	link, err := p.link(rt.LinkIndex)
	if err != nil {
		return hopStatus{reason: "link: " + err.Error()}
	}
	la := link.Attrs()
	switch {
	case la.EncapType != "ether" || len(la.HardwareAddr) != 6:
		return hopStatus{reason: fmt.Sprintf("%s is %s, not Ethernet", la.Name, la.EncapType)}
	case la.Flags&net.FlagUp == 0 || la.OperState == netlink.OperDown || la.OperState == netlink.OperLowerLayerDown:
		return hopStatus{reason: la.Name + " is down"}
	case la.RawFlags&unix.IFF_NOARP != 0:
		return hopStatus{reason: la.Name + " has no neighbour discovery"}
	}
	gw := remote
	if rt.Gw != nil {
		if a, ok := netip.AddrFromSlice(rt.Gw); ok {
			gw = a.Unmap()
		}
	}
	neighs, err := p.neighbours(rt.LinkIndex)
	if err != nil {
		return hopStatus{reason: "neighbours: " + err.Error()}
	}
	var mac net.HardwareAddr
	state := 0
	for _, n := range neighs {
		if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap() == gw && n.Flags&netlink.NTF_PROXY == 0 {
			mac, state = n.HardwareAddr, n.State
			break
		}
	}
	const usable = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY | netlink.NUD_PROBE | netlink.NUD_PERMANENT | netlink.NUD_NOARP
	if len(mac) != 6 || state&usable == 0 || isZeroMAC(mac) {
		return hopStatus{reason: fmt.Sprintf("neighbour %v unresolved (state %#x)", gw, state), state: state}
	}
	mtu := la.MTU
	if rt.MTU > 0 && rt.MTU < mtu {
		mtu = rt.MTU // route metric or a learned path MTU
	}
	hl := rt.Hoplimit
	if hl <= 0 && hopLimit != nil {
		hl = hopLimit(la.Name)
	}
	if hl <= 0 || hl > 255 {
		hl = 64
	}
	nh := &nextHop{ifindex: rt.LinkIndex, mac: mac, mtu: mtu}
	nh.hdr = outerHeader(local, remote, hl)
	nh.sa = unix.RawSockaddrLinklayer{Family: unix.AF_PACKET, Protocol: nativeBE16(unix.ETH_P_IPV6),
		Ifindex: int32(rt.LinkIndex), Halen: 6}
	copy(nh.sa.Addr[:], mac)
	return hopStatus{hop: nh, state: state}
}

func isZeroMAC(m net.HardwareAddr) bool {
	for _, b := range m {
		if b != 0 {
			return false
		}
	}
	return true
}

// outerHeader is the template of a tunnel's outer IPv6 header (RFC 2473
// section 3.1: next header 41, the entry point's address as source);
// payload length and flow label are filled in per packet.
func outerHeader(local, remote netip.Addr, hopLimit int) [ipv6HeaderLen]byte {
	var h [ipv6HeaderLen]byte
	h[0] = 6 << 4
	h[offNextHeader] = protoIPv6
	h[7] = byte(hopLimit)
	s, d := local.As16(), remote.As16()
	copy(h[offSrc:], s[:])
	copy(h[offDst:], d[:])
	return h
}

// sysctlHopLimit reads the interface's default hop limit in the calling
// thread's network namespace, 0 when it cannot.
func sysctlHopLimit(link string) int {
	if link == "" || link == "." || link == ".." || strings.Contains(link, "/") {
		return 0
	}
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + link + "/hop_limit")
	if err != nil {
		return 0
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return v
}

// resolveHops resolves the next hop of every next-header-41 route and
// publishes the results; h must be usable from the calling goroutine.
// Routes sharing an outer flow share one resolution.
func (u *userDP) resolveHops(h *netlink.Handle) {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return
	}
	routes := make([]*userPath, 0, len(u.routes))
	for _, r := range u.routes {
		for _, p := range r.paths {
			if p.tun.Encap == EncapIPv6 {
				routes = append(routes, p)
			}
		}
	}
	u.mu.Unlock()
	if len(routes) == 0 {
		return
	}
	if reason := u.fastPathBlocked(h); reason != "" {
		for _, r := range routes {
			r.setHop(hopStatus{reason: reason}, u)
		}
		return
	}
	done := map[hopKey]hopStatus{}
	pass := newHopPass(h)
	// Learned path MTUs change routes without a notification: look them
	// all up again now and then.
	if u.hopRounds++; u.outerRoutes == nil || u.hopRounds%outerRouteRounds == 0 {
		u.outerRoutes = map[hopKey]netlink.Route{}
	}
	pass.routes = u.outerRoutes
	for _, r := range routes {
		k := hopKey{r.tun.Local, r.tun.Remote}
		st, ok := done[k]
		if !ok {
			_ = inNetNS(u.ns, func() error {
				st = pass.resolve(k.local, k.remote, u.devIndex, sysctlHopLimit)
				return nil
			})
			done[k] = st
		}
		r.setHop(st, u)
	}
}

// fastPathBlocked returns why no tunnel may use the packet socket at all:
// IPsec policies apply to packets the kernel routes, not to a packet
// socket's, so any policy keeps everything on the raw socket.
func (u *userDP) fastPathBlocked(h *netlink.Handle) string {
	if u.pkt == nil {
		return "no packet socket"
	}
	if pols, err := h.XfrmPolicyList(netlink.FAMILY_ALL); err == nil && len(pols) > 0 {
		return "IPsec policies present"
	}
	return ""
}

// setHop publishes st for the send loop. A next hop equal to the current
// one is kept (with its probe state) so refreshes do not churn.
func (r *userPath) setHop(st hopStatus, u *userDP) {
	old := r.hop.Load()
	nh := st.hop
	if nh != nil && old != nil && old.ifindex == nh.ifindex && string(old.mac) == string(nh.mac) &&
		old.mtu == nh.mtu && old.hdr == nh.hdr {
		nh = old
	}
	if nh != nil {
		const fresh = netlink.NUD_REACHABLE | netlink.NUD_PERMANENT | netlink.NUD_NOARP
		if st.state&fresh == 0 {
			nh.probe.Store(true)
		}
	}
	if nh != old {
		r.hop.Store(nh)
		if nh != nil {
			u.log.Debug("tunnel next hop", "tunnel", r.tun.String(), "ifindex", nh.ifindex, "mac", nh.mac.String(), "mtu", nh.mtu)
		} else {
			u.log.Debug("tunnel next hop: raw socket", "tunnel", r.tun.String(), "reason", st.reason)
		}
	}
	r.hopReason.Store(&st.reason)
}

// hopLoop keeps next hops current: it re-resolves them when the kernel
// announces a change to IPv6 routes, neighbours or links, and every
// hopRefresh, until stop is closed.
func (u *userDP) hopLoop(h *netlink.Handle, stop <-chan struct{}) {
	defer u.wg.Done()
	defer h.Close()
	var sock *nl.NetlinkSocket
	var err error
	groups := []uint{unix.RTNLGRP_IPV6_ROUTE, unix.RTNLGRP_NEIGH, unix.RTNLGRP_LINK}
	// Opened in u.ns by inNetNS: nl.SubscribeAt would need netns.None()
	// as its "current" handle, and fails to switch back otherwise.
	err = inNetNS(u.ns, func() error {
		var err error
		sock, err = nl.Subscribe(unix.NETLINK_ROUTE, groups...)
		return err
	})
	if err != nil {
		u.log.Warn("next-hop change notifications off", "err", err)
	} else {
		tv := unix.NsecToTimeval(int64(hopRefresh))
		_ = sock.SetReceiveTimeout(&tv)
		go func() { <-stop; sock.Close() }()
	}
	last, gap := time.Time{}, hopDebounce
	for {
		select {
		case <-stop:
			return
		case <-u.hopKick:
		default:
		}
		if d := time.Since(last); d < gap {
			select {
			case <-stop:
				return
			case <-time.After(gap - d):
			}
		}
		start := time.Now()
		u.resolveHops(h)
		last = time.Now()
		// A round over many tunnels takes a while: keep this loop to a
		// fifth of a core at most.
		gap = max(hopDebounce, 4*last.Sub(start))
		if sock == nil {
			select {
			case <-stop:
				return
			case <-u.hopKick:
			case <-time.After(hopRefresh):
			}
			continue
		}
		u.awaitHopChange(sock, stop)
	}
}

// awaitHopChange returns when a notification may have changed a next hop,
// after hopRefresh without one, or when stop closes. Changes to the data
// plane's own routes (its table, into the TUN device) do not count: a
// home agent adding thousands of them must not re-resolve every tunnel for
// each. A change of another route or of a link drops the cached outer
// routes; a neighbour change only makes the next round read the
// neighbour tables again.
func (u *userDP) awaitHopChange(sock *nl.NetlinkSocket, stop <-chan struct{}) {
	deadline := time.Now().Add(hopRefresh)
	for time.Now().Before(deadline) {
		msgs, _, err := sock.Receive()
		if errors.Is(err, unix.EAGAIN) {
			return // timeout: refresh the neighbours
		}
		if err != nil {
			u.outerRoutes = nil // notifications lost, or the socket failed
			if !errors.Is(err, unix.ENOBUFS) {
				u.log.Debug("next-hop notifications", "err", err)
				select {
				case <-stop:
				case <-time.After(hopRefresh):
				}
			}
			return
		}
		changed := false
		for _, m := range msgs {
			if u.ownRoute(m) {
				continue
			}
			changed = true
			if m.Header.Type != unix.RTM_NEWNEIGH && m.Header.Type != unix.RTM_DELNEIGH {
				u.outerRoutes = nil
			}
		}
		if changed {
			return
		}
	}
}

// ownRoute reports whether m announces one of the data plane's routes.
func (u *userDP) ownRoute(m syscall.NetlinkMessage) bool {
	if m.Header.Type != unix.RTM_NEWROUTE && m.Header.Type != unix.RTM_DELROUTE {
		return false
	}
	if len(m.Data) < unix.SizeofRtMsg {
		return false
	}
	rt := nl.DeserializeRtMsg(m.Data)
	table := int(rt.Table)
	attrs, err := nl.ParseRouteAttr(m.Data[unix.SizeofRtMsg:])
	if err != nil {
		return false
	}
	for _, a := range attrs {
		if a.Attr.Type == unix.RTA_TABLE && len(a.Value) == 4 {
			table = int(binary.NativeEndian.Uint32(a.Value))
		}
	}
	return table == u.cfg.Table
}

// kickHops asks hopLoop for a resolution soon (after a send error).
func (u *userDP) kickHops() {
	select {
	case u.hopKick <- struct{}{}:
	default:
	}
}

// flowLabel derives the outer flow label from the inner packet's flow
// (RFC 6438 section 3: addresses, next header and ports of the inner
// header, or its own flow label), so ECMP paths can tell tunnelled flows
// apart. Never 0 (RFC 6437 section 2: 0 means unlabelled).
func flowLabel(pkt []byte) uint32 {
	if fl := binary.BigEndian.Uint32(pkt[0:4]) & 0xfffff; fl != 0 {
		return fl
	}
	h := uint64(14695981039346656037)
	mix := func(v uint64) { h ^= v; h *= 1099511628211 }
	mix(binary.LittleEndian.Uint64(pkt[8:]))
	mix(binary.LittleEndian.Uint64(pkt[16:]))
	mix(binary.LittleEndian.Uint64(pkt[24:]))
	mix(binary.LittleEndian.Uint64(pkt[32:]))
	next := pkt[offNextHeader]
	mix(uint64(next))
	if (next == unix.IPPROTO_TCP || next == unix.IPPROTO_UDP) && len(pkt) >= ipv6HeaderLen+4 {
		mix(uint64(binary.LittleEndian.Uint32(pkt[ipv6HeaderLen:])))
	}
	fl := uint32(h^h>>20^h>>40) & 0xfffff
	if fl == 0 {
		fl = 1
	}
	return fl
}

// newHandle is a netlink handle in namespace ns (<= 0: the caller's).
func newHandle(ns netns.NsHandle) (*netlink.Handle, error) {
	if ns > 0 {
		return netlink.NewHandleAt(ns)
	}
	return netlink.NewHandle()
}
