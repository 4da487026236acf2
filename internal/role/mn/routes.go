package mn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Routing of a mobile node on a kernel without CONFIG_IPV6_MIP6.
//
// Such a kernel has no RFC 6724 rule 4 ("prefer home address"), and
// ip6_dst_lookup_tail takes an unbound socket's source from the preferred
// source of the route it finds with source ::. So the mobile node's own
// table (rule "lookup T" after the data plane's rules) holds:
//
//	default via <home if peer> dev <home if> src <HoA> metric 1   source ::  -> HoA, into the home interface
//	unreachable default from <HoA>                                no tunnel: fail, never leak the HoA natively
//	default from <CoA> via <gw> dev <if>                          per CoA: tunnel outer packets and signalling
//	default via <gw> dev <if> metric 1024+BID                     only for lookups bound to <if>
//
// Traffic from the HoA meets the data plane's reverse tunnel route (RFC 6275
// section 11.3.1) first; its outer packets (source CoA) and the Binding
// Updates (source CoA) meet the CoA's source-specific route and leave by
// that CoA's interface only, so an ingress-filtering access network sees
// its own prefix as source (draft-ietf-monami6-mipv6-analysis section
// 6.1.5). vishvananda/netlink cannot express a source prefix (RTA_SRC), so
// the messages are built here.

// Metrics of the routes in the mobile node's table.
const (
	metricHome        = 1    // the source-selection default into the home interface
	metricUnreachable = 1    // per HoA; a different source prefix, so no clash
	metricCoA         = 1    // per CoA, source-specific
	metricIfaceBase   = 1024 // + BID: per interface, source ::
)

// routeSpec is one IPv6 route of the mobile node's table.
type routeSpec struct {
	dst, src    netip.Prefix // src optional (RFC 3178-style source routing, IPv6 subtrees)
	oif         int
	gw          netip.Addr
	prefsrc     netip.Addr
	metric      int
	unreachable bool
	// table, when set, overrides the router's table (the home link's
	// routes go to the local table, homelink.go).
	table int
}

type routeKey struct {
	dst, src netip.Prefix
	metric   int
	table    int
}

func (r routeSpec) key() routeKey { return routeKey{r.dst, r.src, r.metric, r.table} }

// in is the table r goes to.
func (rt *router) in(r routeSpec) int {
	if r.table != 0 {
		return r.table
	}
	return rt.table
}

func (r routeSpec) String() string {
	s := r.dst.String()
	if r.unreachable {
		s = "unreachable " + s
	}
	if r.src.IsValid() {
		s += " from " + r.src.String()
	}
	if r.gw.IsValid() {
		s += " via " + r.gw.String()
	}
	if r.oif != 0 {
		s += fmt.Sprintf(" oif %d", r.oif)
	}
	if r.prefsrc.IsValid() {
		s += " src " + r.prefsrc.String()
	}
	return s + fmt.Sprintf(" metric %d", r.metric)
}

var defaultRoute = netip.PrefixFrom(netip.IPv6Unspecified(), 0)

func u32attr(t int, v uint32) *nl.RtAttr {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, v)
	return nl.NewRtAttr(t, b)
}

func (r routeSpec) msg(cmd, flags, table int) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(cmd, flags|unix.NLM_F_ACK)
	m := &nl.RtMsg{RtMsg: unix.RtMsg{
		Family: unix.AF_INET6, Dst_len: uint8(r.dst.Bits()),
		Protocol: unix.RTPROT_STATIC, Scope: unix.RT_SCOPE_UNIVERSE, Type: unix.RTN_UNICAST,
		Table: unix.RT_TABLE_UNSPEC,
	}}
	if r.unreachable {
		m.Type = unix.RTN_UNREACHABLE
	}
	if cmd == unix.RTM_DELROUTE {
		m.Scope = unix.RT_SCOPE_NOWHERE
	}
	// A gateway on the access link, given or learnt, may lie outside the
	// prefixes the kernel has put back after a link flap: declare it on-link.
	if r.gw.IsValid() && cmd != unix.RTM_DELROUTE {
		m.Flags |= unix.RTNH_F_ONLINK
	}
	req.AddData(m)
	dst := r.dst.Masked().Addr().As16()
	req.AddData(nl.NewRtAttr(unix.RTA_DST, dst[:]))
	if r.src.IsValid() {
		m.Src_len = uint8(r.src.Bits())
		src := r.src.Masked().Addr().As16()
		req.AddData(nl.NewRtAttr(unix.RTA_SRC, src[:]))
	}
	req.AddData(u32attr(unix.RTA_TABLE, uint32(table)))
	req.AddData(u32attr(unix.RTA_PRIORITY, uint32(r.metric)))
	if cmd == unix.RTM_DELROUTE {
		return req
	}
	if r.oif != 0 {
		req.AddData(u32attr(unix.RTA_OIF, uint32(r.oif)))
	}
	if r.gw.IsValid() {
		gw := r.gw.As16()
		req.AddData(nl.NewRtAttr(unix.RTA_GATEWAY, gw[:]))
	}
	if r.prefsrc.IsValid() {
		ps := r.prefsrc.As16()
		req.AddData(nl.NewRtAttr(unix.RTA_PREFSRC, ps[:]))
	}
	return req
}

// router installs and removes what the mobile node adds to the kernel's
// routing: its table, its rule, the home addresses. It remembers all of it
// so shutdown removes exactly that.
type router struct {
	m        *MobileNode
	table    int
	priority int
	routes   map[routeKey]routeSpec
	rule     *netlink.Rule
	addrs    map[linkAddr]bool // home addresses and the links they are on
}

// linkAddr is an address on a link.
type linkAddr struct {
	addr netip.Addr
	link int
}

func newRouter(m *MobileNode, table, priority int) *router {
	return &router{m: m, table: table, priority: priority, routes: map[routeKey]routeSpec{}, addrs: map[linkAddr]bool{}}
}

func (rt *router) replace(r routeSpec) error {
	err := inNS(rt.m.ns, func() error {
		_, err := r.msg(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, rt.in(r)).Execute(unix.NETLINK_ROUTE, 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("route %v table %d: %w", r, rt.in(r), err)
	}
	rt.routes[r.key()] = r
	return nil
}

func (rt *router) remove(k routeKey) error {
	r, ok := rt.routes[k]
	if !ok {
		return nil
	}
	delete(rt.routes, k)
	err := inNS(rt.m.ns, func() error {
		_, err := r.msg(unix.RTM_DELROUTE, 0, rt.in(r)).Execute(unix.NETLINK_ROUTE, 0)
		return err
	})
	// The kernel flushes routes through an interface that goes down.
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete route %v table %d: %w", r, rt.in(r), err)
	}
	return nil
}

// addRule adds "from all lookup table" at the router's priority.
func (rt *router) addRule() error {
	r := netlink.NewRule()
	r.Family, r.Table, r.Priority = unix.AF_INET6, rt.table, rt.priority
	if err := rt.m.nl.RuleAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("rule pref %d lookup %d: %w", rt.priority, rt.table, err)
	}
	rt.rule = r
	return nil
}

// addHomeAddress puts a home address on the home interface as /128: with
// its real prefix length the kernel would take the home link as on-link
// here and look for home-link neighbours on the home interface, where only
// the tunnel leads. NODAD: the home agent defends the address on the home
// link (RFC 6275 section 10.4.1), DAD on a tunnel interface means nothing.
func (rt *router) addHomeAddress(link int, hoa netip.Addr) error {
	l, err := rt.m.nl.LinkByIndex(link)
	if err != nil {
		return err
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: hoa.AsSlice(), Mask: net.CIDRMask(128, 128)},
		Flags: unix.IFA_F_NODAD | unix.IFA_F_NOPREFIXROUTE}
	if err := rt.m.nl.AddrReplace(l, a); err != nil {
		return fmt.Errorf("home address %v on %s: %w", hoa, l.Attrs().Name, err)
	}
	rt.addrs[linkAddr{hoa, link}] = true
	return nil
}

// removeHomeAddress takes a home address off a link (an interface that
// left the home link, homelink.go).
func (rt *router) removeHomeAddress(link int, hoa netip.Addr) error {
	if !rt.addrs[linkAddr{hoa, link}] {
		return nil
	}
	delete(rt.addrs, linkAddr{hoa, link})
	return rt.delAddr(link, hoa)
}

func (rt *router) delAddr(link int, hoa netip.Addr) error {
	l, err := rt.m.nl.LinkByIndex(link)
	if err == nil {
		err = rt.m.nl.AddrDel(l, &netlink.Addr{IPNet: &net.IPNet{IP: hoa.AsSlice(), Mask: net.CIDRMask(128, 128)}})
	}
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENODEV) {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return fmt.Errorf("delete home address %v: %w", hoa, err)
		}
	}
	return nil
}

// close removes routes, rule and home addresses.
func (rt *router) close() error {
	var errs []error
	keys := make([]routeKey, 0, len(rt.routes))
	for k := range rt.routes {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if err := rt.remove(k); err != nil {
			errs = append(errs, err)
		}
	}
	if rt.rule != nil {
		if err := rt.m.nl.RuleDel(rt.rule); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("delete rule pref %d: %w", rt.priority, err))
		}
		rt.rule = nil
	}
	for a := range rt.addrs {
		if err := rt.delAddr(a.link, a.addr); err != nil {
			errs = append(errs, err)
		}
		delete(rt.addrs, a)
	}
	return errors.Join(errs...)
}

// defaultGateway is the next hop of the kernel's default route through
// interface index in the main table (static or from Router
// Advertisements), preferring the lowest metric.
func (rt *router) defaultGateway(index int) (netip.Addr, error) {
	routes, err := rt.m.nl.RouteListFiltered(unix.AF_INET6, &netlink.Route{LinkIndex: index, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
	if err != nil {
		return netip.Addr{}, err
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].Priority < routes[j].Priority })
	for _, r := range routes {
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 {
				continue
			}
		}
		if gw, ok := netip.AddrFromSlice(r.Gw); ok && r.Gw != nil {
			return gw.Unmap(), nil
		}
	}
	return netip.Addr{}, errors.New("no default route with a gateway on this interface")
}

// homeNextHop is the next hop of the home interface: for the kernel data
// plane's detour veth the address of its peer (TunName+"x"); a TUN device
// needs none.
func (rt *router) homeNextHop(name string) (netip.Addr, error) {
	peer, err := rt.m.nl.LinkByName(name + "x")
	if err != nil {
		return netip.Addr{}, nil //nolint:nilerr // no peer: a TUN device
	}
	if _, ok := peer.(*netlink.Veth); !ok {
		return netip.Addr{}, nil
	}
	addrs, err := rt.m.nl.AddrList(peer, unix.AF_INET6)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("addresses of %s: %w", peer.Attrs().Name, err)
	}
	// The data plane's own next hop is the address it added without DAD;
	// the kernel's autoconfigured link-local one may still be tentative.
	var first netip.Addr
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		if a.Flags&unix.IFA_F_NODAD != 0 {
			return ip.Unmap(), nil
		}
		if !first.IsValid() {
			first = ip.Unmap()
		}
	}
	if first.IsValid() {
		return first, nil
	}
	return netip.Addr{}, fmt.Errorf("home interface peer %s has no IPv6 address", peer.Attrs().Name)
}
