package mn

import (
	"errors"
	"net/netip"
	"slices"

	"monami/internal/dataplane"
	"monami/internal/forwarding"
	"monami/internal/reconcile"
)

// Uplink forwarding. On every change (a care-of address up or down, a
// path judged alive or dead, a binding acknowledged or lost, the policy
// changed) the mobile node derives the desired forwarding of each home
// address from scratch (internal/forwarding: each interface with a
// binding is a path, the policy's rules and default say which paths a
// flow takes) and hands it to a reconcile.Reconciler, which sends the
// data plane only the difference, in one batch. Without a policy that is
// one plain route per home address, ::/0 from the home address into the
// tunnel of the best care-of address (RFC 6275 section 11.3.1).

// unsetPriority stands for a BID-PRI left out of mn.yaml (0): after every
// given one (the configuration bounds them to 0..127).
const unsetPriority = 128

// forward recomputes the forwarding of every home address and applies it.
func (m *MobileNode) forward() {
	if m.rec == nil {
		m.rec = reconcile.New(m.dp)
	}
	now := m.now()
	in := forwarding.Input{Rules: m.rules, Default: m.def}
	// A nested home address has one path, its outer home address; the
	// policy names access interfaces only, so it does not apply there.
	var nested forwarding.Input
	for _, h := range m.homes {
		if h.careOf.Via().IsValid() {
			nested.Bindings = append(nested.Bindings, m.bindingsOf(h)...)
		} else {
			in.Bindings = append(in.Bindings, m.bindingsOf(h)...)
		}
	}
	table, ntable := forwarding.Compute(now, in), forwarding.Compute(now, nested)
	want := make(map[netip.Addr]reconcile.Home, len(m.homes))
	for _, h := range m.homes {
		if h.careOf.Via().IsValid() {
			h.entries = ntable.Entries(h.hoa)
		} else {
			h.entries = table.Entries(h.hoa)
		}
		routes, dedups := reconcile.Routes(h.hoa, h.entries, mnMapper{m: m, h: h})
		want[h.hoa] = reconcile.Home{Routes: routes, Dedups: dedups, Endpoints: m.endpointsOf(h)}
	}
	err := m.rec.Set(want)
	if errors.Is(err, dataplane.ErrUnsupported) {
		// A data plane without flow routes still carries each home
		// address's default, as before policies existed.
		if !m.plainOnly {
			m.log.Warn("the data plane cannot install the policy's flow routes; every flow takes the default", "err", err)
		}
		m.plainOnly = true
		err = m.rec.Set(plainOnly(want))
	} else if err == nil {
		m.plainOnly = false
	}
	if err != nil {
		// Set again with the next change: the reconciler re-sends what
		// may be missing.
		m.fwdFailed = true
		m.log.Error("forwarding not fully installed", "err", err)
	} else {
		m.fwdFailed = false
	}
	for _, h := range m.homes {
		m.noteTunnel(h)
	}
	m.syncNested()
}

// bindingsOf lists h's paths: each interface whose care-of address h may
// use (its care_of rule). Usable are those of the best standing, as the
// reverse tunnel always chose: a registered binding over one still
// registering (the home agent's ingress check drops what comes from an
// unregistered care-of address), a path not judged down over a dead one;
// when none is both, the best there is carries rather than nothing. A
// degraded path (loss above paths.max_loss) ranks after the healthy ones
// (forwarding.Binding.Degraded). Its RTT is not an input: srtt grows with
// the queue a bulk flow builds on the path it takes, so ranking by it
// would move the flow to the other path and back.
func (m *MobileNode) bindingsOf(h *homeRegistration) []forwarding.Binding {
	var out []forwarding.Binding
	var ranks []int
	best := -1
	for _, f := range m.ifs {
		if !f.coa.IsValid() || !m.mayServe(h, f) || f.home == h {
			// An interface at home is no tunnel path: the home link's
			// neighbours are on-link there (homelink.go).
			continue
		}
		r := 0
		if f.registered[h.hoa] {
			r += 2
		}
		if m.pathAlive(h, f) {
			r++
		}
		best = max(best, r)
		ranks = append(ranks, r)
		out = append(out, forwarding.Binding{HoA: h.hoa, ID: forwarding.PathID(f.cfg.BID), CoA: f.coa,
			Encap: forwarding.Encap(f.encap()), Priority: priorityOf(f), Weight: m.weightOf(f.cfg.Name),
			Degraded: m.pathDegraded(h, f)})
	}
	for i := range out {
		out[i].Usable = ranks[i] == best
	}
	return out
}

func priorityOf(f *accessInterface) uint8 {
	if f.cfg.Priority == 0 {
		return unsetPriority
	}
	return f.cfg.Priority
}

// weightOf is the share weight policy.interfaces gives an interface.
func (m *MobileNode) weightOf(name string) uint32 {
	if m.pol == nil {
		return 1
	}
	for _, pi := range m.pol.Interfaces {
		if pi.Name == name && pi.Weight != nil && *pi.Weight > 0 {
			return uint32(*pi.Weight)
		}
	}
	return 1
}

// endpointsOf: what the home agent tunnels to any current care-of address
// is accepted (RFC 6275 section 11.3.1 decapsulation), from any inner
// source (correspondents), before the binding is even asked for.
//
// During a Home Agent Switch (switch.go) both home agents may tunnel: the
// one being registered with and the one left, until it has the
// deregistration.
func (m *MobileNode) endpointsOf(h *homeRegistration) []dataplane.Endpoint {
	var out []dataplane.Endpoint
	for _, f := range m.ifs {
		// A nested home address is tunnelled to its outer home address
		// only; that one only to the home addresses nested in it.
		nested := h.careOf.Via().IsValid()
		if !f.coa.IsValid() || !(f.outer == nil && !nested || f.outer != nil && m.mayServe(h, f)) {
			continue
		}
		if f.coa.Is4() {
			// RFC 5555: an IPv4 care-of address reaches the home
			// agent's IPv4 address only.
			if h.ha4.IsValid() {
				out = append(out, dataplane.Endpoint{Local: f.coa, Peer: h.haFor(f.coa), Encap: f.encap()})
			}
			continue
		}
		for _, ha := range []netip.Addr{h.ha, h.next, h.prev} {
			if ha.IsValid() && !slices.ContainsFunc(out, func(e dataplane.Endpoint) bool {
				return e.Local == f.coa && e.Peer == ha
			}) {
				out = append(out, dataplane.Endpoint{Local: f.coa, Peer: ha, Encap: f.encap()})
			}
		}
	}
	return out
}

// mnMapper maps the mobile node's paths to tunnels (reconcile.Mapper).
type mnMapper struct {
	m *MobileNode
	h *homeRegistration
}

// Parent: the mobile node reverse-tunnels what leaves from the home
// address (RFC 6275 section 11.3.1).
func (mm mnMapper) Parent(hoa netip.Addr) dataplane.Selector {
	return dataplane.Selector{Dst: defaultRoute, Src: netip.PrefixFrom(hoa, 128)}
}

// Tunnel: from the interface's care-of address to the home agent.
func (mm mnMapper) Tunnel(_ netip.Addr, p *forwarding.Path) (dataplane.Tunnel, bool) {
	f := mm.m.ifaceByBID(uint16(p.ID))
	if f == nil || !f.coa.IsValid() {
		return dataplane.Tunnel{}, false
	}
	if f.coa.Is4() && !mm.h.ha4.IsValid() {
		return dataplane.Tunnel{}, false
	}
	t := dataplane.Tunnel{Local: f.coa, Remote: mm.h.haFor(f.coa), Encap: f.encap()}
	if f.outer != nil {
		t.MTU = mm.m.innerMTU(f.outer) - t.Encap.Overhead()
	}
	return t, true
}

// Inbound: a bicast flow's answers come to the home address.
func (mm mnMapper) Inbound(hoa netip.Addr, sel forwarding.Match) forwarding.Match {
	sel.Dst = forwarding.AddrExact(hoa)
	return sel.Canonical()
}

// inUse lists the paths an entry sends on now: the first usable one
// (Single), every usable one (Share, Replicate), none (Drop).
func inUse(e *forwarding.Entry) []forwarding.Path {
	if e.Mode == forwarding.Drop {
		return nil
	}
	var out []forwarding.Path
	for _, p := range e.Paths {
		if !p.Usable {
			continue
		}
		out = append(out, p)
		if e.Mode == forwarding.Single || len(out) == dataplane.MaxPaths {
			break
		}
	}
	return out
}

// noteTunnel keeps and logs which interface carries the home address's
// default traffic (the "status" topic's reverse tunnel).
func (m *MobileNode) noteTunnel(h *homeRegistration) {
	var f *accessInterface
	for _, e := range h.entries {
		if e.Origin == forwarding.FromDefault {
			if ps := inUse(e); len(ps) > 0 {
				f = m.ifaceByBID(uint16(ps[0].ID))
			}
		}
	}
	if f == nil {
		if h.active == nil {
			return
		}
		m.log.Warn("reverse tunnel down: no care-of address", "hoa", h.hoa, "was", h.activeCoA)
		h.active, h.activeCoA, h.since = nil, netip.Addr{}, m.now()
		m.cnt.tunnelMoves++
		return
	}
	if h.active == f && h.activeCoA == f.coa {
		return
	}
	m.log.Info("reverse tunnel", "hoa", h.hoa, "coa", f.coa, "interface", f.cfg.Name, "bid", f.cfg.BID,
		"registered", f.registered[h.hoa], "was", h.activeCoA)
	h.active, h.activeCoA, h.since = f, f.coa, m.now()
	m.cnt.tunnelMoves++
}

// plainOnly keeps the routes every backend takes: each home address's
// default, as one tunnel.
func plainOnly(want map[netip.Addr]reconcile.Home) map[netip.Addr]reconcile.Home {
	out := make(map[netip.Addr]reconcile.Home, len(want))
	for hoa, h := range want {
		var rs []dataplane.Route
		for _, r := range h.Routes {
			if !r.Flow.IsZero() || r.Mode == dataplane.ModeDrop {
				continue
			}
			if !r.Plain() {
				// A shared or bicast default: its first path.
				r = dataplane.Route{Selector: r.Selector, Tunnel: r.Paths[0].Tunnel, Order: r.Order}
			}
			rs = append(rs, r)
		}
		out[hoa] = reconcile.Home{Routes: rs, Endpoints: h.Endpoints}
	}
	return out
}
