package ha

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// unreachableMetric is the metric of the home prefixes' unreachable
// routes: high, so an operator's own route for a prefix (a home link
// on-link route, metric 256) keeps precedence, and distinct, so they are
// recognisably ours.
const unreachableMetric = 4_190_000_000

// homePrefixGuard makes the home agent own its home prefixes: an
// unreachable route for each, in the main table. A bound home address has
// a /128 tunnel route, more specific (and, with the BPF backend, in the
// local table, looked up first), so it wins; a home address without a
// binding matches the unreachable route and the kernel answers with an
// ICMPv6 Destination Unreachable, rate-limited per destination by
// net.ipv6.icmp.ratelimit (default 1000 ms, RFC 4443 section 2.4 (f)) and
// overall by net.ipv4.icmp_msgs_per_sec. Without it a packet for such an
// address follows the home agent's default route back to the router, which
// routes the home prefix to the home agent again: a loop until the hop
// limit runs out.
type homePrefixGuard struct {
	h      *netlink.Handle
	routes []*netlink.Route
	log    *slog.Logger
}

// guardHomePrefixes installs the unreachable routes in ns (the current
// namespace when ns <= 0). A route left by a killed predecessor is
// adopted.
func guardHomePrefixes(prefixes []netip.Prefix, ns netns.NsHandle, log *slog.Logger) (*homePrefixGuard, error) {
	var h *netlink.Handle
	var err error
	if ns > 0 {
		h, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("home prefix routes: netlink: %w", err)
	}
	g := &homePrefixGuard{h: h, log: log}
	for _, p := range prefixes {
		r := unreachableRoute(p)
		if err := h.RouteAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			g.close()
			return nil, fmt.Errorf("home prefix %s: unreachable route: %w", p, err)
		}
		g.routes = append(g.routes, r)
	}
	g.removeStale(prefixes)
	log.Info("home prefixes owned: addresses without a binding are unreachable", "prefixes", prefixes, "metric", unreachableMetric)
	return g, nil
}

// removeStale deletes the unreachable routes a predecessor left (an
// upgrade stop, or a kill) for prefixes no longer configured: ours by
// their type and metric.
func (g *homePrefixGuard) removeStale(prefixes []netip.Prefix) {
	routes, err := g.h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		g.log.Warn("home prefix routes: listing the predecessor's", "err", err)
		return
	}
	for _, r := range routes {
		if r.Type != unix.RTN_UNREACHABLE || r.Priority != unreachableMetric || r.Dst == nil {
			continue
		}
		a, _ := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		got := netip.PrefixFrom(a.Unmap(), ones)
		if slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Masked() == got }) {
			continue
		}
		if err := g.h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			g.log.Warn("home prefix routes: removing the predecessor's", "prefix", r.Dst, "err", err)
			continue
		}
		g.log.Info("home prefix no longer served: its unreachable route is removed", "prefix", r.Dst)
	}
}

func unreachableRoute(p netip.Prefix) *netlink.Route {
	return &netlink.Route{
		Dst:      &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 128)},
		Type:     unix.RTN_UNREACHABLE,
		Table:    unix.RT_TABLE_MAIN,
		Priority: unreachableMetric,
		Family:   unix.AF_INET6,
	}
}

// close removes the routes; the home agent no longer answers for the
// prefixes, so the network decides again.
func (g *homePrefixGuard) close() {
	if g == nil {
		return
	}
	for _, r := range g.routes {
		if err := g.h.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
			g.log.Warn("removing home prefix route", "prefix", r.Dst, "err", err)
		}
	}
	g.h.Close()
}

// detach leaves the routes in place for the next start, which adopts them
// (an upgrade stop).
func (g *homePrefixGuard) detach() {
	if g != nil {
		g.h.Close()
	}
}
