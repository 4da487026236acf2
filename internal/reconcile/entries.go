package reconcile

import (
	"net/netip"

	"monami/internal/dataplane"
	"monami/internal/forwarding"
)

// Mapper turns a role's view of paths into tunnels.
type Mapper interface {
	// Parent is the data plane selector of a home address's traffic in
	// the direction this role sends: the home address at a home agent
	// (downlink), ::/0 from the home address at a mobile node (uplink).
	Parent(hoa netip.Addr) dataplane.Selector
	// Tunnel is the tunnel of one path (a binding at the home agent, an
	// interface's care-of address at the mobile node); false if it has
	// none now.
	Tunnel(hoa netip.Addr, p *forwarding.Path) (dataplane.Tunnel, bool)
	// Inbound is the inner-packet match of traffic arriving for hoa in
	// the other direction, narrowed by sel (mirrored): what a Dedup of a
	// bicast entry catches.
	Inbound(hoa netip.Addr, sel forwarding.Match) forwarding.Match
}

// Routes turns a home address's forwarding entries (precedence order)
// into data plane routes. An entry with no usable path is left out, so
// its traffic falls through to the next entry as forwarding.Table.Lookup
// says; so are selectors the tunnels cannot carry (IPv4 only). The
// returned dedups are those its replicate entries need at this end for
// traffic coming back.
func Routes(hoa netip.Addr, entries []*forwarding.Entry, m Mapper) ([]dataplane.Route, []dataplane.Dedup) {
	routes := make([]dataplane.Route, 0, len(entries))
	var dedups []dataplane.Dedup
	parent := m.Parent(hoa)
	for _, e := range entries {
		if e.Selector.Family == 4 {
			continue
		}
		if e.Mode == forwarding.Replicate {
			// Kept while the entry has no usable path too: the peer may
			// still bicast, and dropping the Dedup for a moment would let
			// its copies through.
			dedups = append(dedups, dataplane.Dedup{Match: m.Inbound(hoa, e.Selector.Mirror())})
		}
		rt, ok := route(hoa, e, m)
		if !ok {
			continue
		}
		rt.Selector = dataplane.Selector{Dst: parent.Dst, Src: parent.Src, Flow: e.Selector}
		rt.Order = uint32(e.Origin)<<16 | uint32(e.Priority)
		routes = append(routes, rt)
	}
	return routes, dedups
}

// route is an entry's paths and mode; false when it carries nothing.
func route(hoa netip.Addr, e *forwarding.Entry, m Mapper) (dataplane.Route, bool) {
	if e.Mode == forwarding.Drop {
		return dataplane.Route{Mode: dataplane.ModeDrop}, true
	}
	var paths []dataplane.Path
	for i := range e.Paths {
		p := &e.Paths[i]
		if !p.Usable {
			continue
		}
		t, ok := m.Tunnel(hoa, p)
		if !ok {
			continue
		}
		paths = append(paths, dataplane.Path{Tunnel: t, Weight: p.Weight})
		if e.Mode == forwarding.Single || len(paths) == dataplane.MaxPaths {
			break
		}
	}
	switch {
	case len(paths) == 0:
		return dataplane.Route{}, false
	case len(paths) == 1 && e.Selector.IsZero():
		// One tunnel for the whole home address: the plain route every
		// backend installs fastest.
		return dataplane.Route{Tunnel: paths[0].Tunnel}, true
	case len(paths) == 1:
		return dataplane.Route{Paths: paths}, true
	case e.Mode == forwarding.Share:
		return dataplane.Route{Mode: dataplane.ModeShare, Paths: paths}, true
	}
	return dataplane.Route{Mode: dataplane.ModeReplicate, Paths: paths}, true
}
