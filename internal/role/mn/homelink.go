package mn

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/ndp"
	"golang.org/x/sys/unix"

	"monami/internal/binding"
)

// At home on one interface, away on the others (RFC 5648 section 5.6.3,
// draft-ietf-monami6-mipv6-analysis section 6.2.2).
//
// An access interface whose usable address lies in a home address's prefix
// is on that home link (RFC 6275 section 11.5.4: the mobile node learns it
// is home from the prefix the home link advertises). For that home address
// the interface's Binding ID is registered with the home address as its
// care-of address and the H flag set in the Binding Identifier option (RFC
// 5648 sections 5.6.3 and 6.1): the home agent stops defending the home
// address with proxy Neighbor Discovery, keeps the bindings of the other
// Binding IDs, and answers MCOA RETURNHOME WO/NDP (RFC 5648 section 6.2).
// The mobile node then owns its home address on the home link: the address
// on the interface, without Duplicate Address Detection (the home agent
// defends it until it has the update, RFC 6275 section 11.5.4), the home
// prefix on-link there, and an unsolicited Neighbor Advertisement with the
// Override flag once the home agent accepted (RFC 6275 section 11.5.4), so
// the home link's neighbours send to the mobile node's own link-layer
// address instead of the home agent's. The other interfaces keep their
// bindings and tunnels; the interface at home is no tunnel path for that
// home address. When the interface leaves the home link its Binding ID
// takes a care-of address again (H flag clear) and the home agent defends
// the home address again; the address and routes here go.
//
// The routes go to the local table, which the kernel consults before any
// rule: the data plane's reverse tunnel ("::/0 from the home address", in
// its table or, with BPF, in the local table too) would otherwise take
// what leaves from the home address to the home link's neighbours. The
// home prefix is more specific than ::/0, so it wins there.

// homeLinkMetric: the metric of the home link's routes in the local table,
// after the kernel's own (metric 0).
const homeLinkMetric = 1024

// homeLinkOf is the home registration whose home link address a lies on
// (its home prefix), nil when none. A nested home address has no home link
// of its own to return to here.
func (m *MobileNode) homeLinkOf(a netip.Addr) *homeRegistration {
	for _, h := range m.homes {
		if h.prefix.IsValid() && h.prefix.Contains(a) && !h.careOf.Via().IsValid() {
			return h
		}
	}
	return nil
}

// isHomeAddress: a is one of the mobile node's home addresses (the kernel
// reports it as an address of the interface at home: no care-of address).
func (m *MobileNode) isHomeAddress(a netip.Addr) bool {
	return m.homeOf(a) != nil
}

// careOfFor is the care-of address f registers for hoa: the home address
// itself on its home link (RFC 5648 section 5.6.3), else f's.
func (f *accessInterface) careOfFor(hoa netip.Addr) netip.Addr {
	if f.home != nil && f.home.hoa == hoa {
		return hoa
	}
	return f.coa
}

// homeLinkRoutes are the routes of f at home for h: the home prefix on-link
// (source the home address), and the home agent through the home link when
// it is not on it, from the home address only: what leaves from a care-of
// address keeps to that care-of address's interface.
func (m *MobileNode) homeLinkRoutes(f *accessInterface, h *homeRegistration) []routeSpec {
	rs := []routeSpec{{dst: h.prefix.Masked(), oif: f.index, prefsrc: h.hoa, metric: homeLinkMetric, table: unix.RT_TABLE_LOCAL}}
	if !h.prefix.Contains(h.ha) && f.gw.IsValid() {
		rs = append(rs, routeSpec{dst: netip.PrefixFrom(h.ha, 128), src: netip.PrefixFrom(h.hoa, 128), oif: f.index, gw: f.gw,
			metric: homeLinkMetric, table: unix.RT_TABLE_LOCAL})
	}
	return rs
}

// homeLinkOn puts h's home address on f, at home, with its routes. The
// address goes on before the Binding Update: the home agent may answer on
// the home link, and it stops defending the address once it accepted.
func (m *MobileNode) homeLinkOn(f *accessInterface) {
	if f == nil || f.home == nil {
		return
	}
	h := f.home
	if err := m.rt.addHomeAddress(f.index, h.hoa); err != nil {
		m.log.Error("home address on the home link", "interface", f.cfg.Name, "hoa", h.hoa, "err", err)
		return
	}
	for _, r := range m.homeLinkRoutes(f, h) {
		if err := m.rt.replace(r); err != nil {
			m.log.Error("home link route", "interface", f.cfg.Name, "err", err)
		}
	}
	if f.gw.IsValid() {
		// At home, what the reverse tunnel does not carry (no binding away
		// left) leaves natively through the home link, as from any node
		// there (RFC 6275 section 11.5.4), instead of being unreachable.
		// The data plane's rules and routes come first: while a tunnel
		// exists, it carries.
		if err := m.rt.replace(routeSpec{dst: defaultRoute, src: netip.PrefixFrom(h.hoa, 128), oif: f.index, gw: f.gw,
			metric: metricUnreachable}); err != nil {
			m.log.Error("home link default route", "interface", f.cfg.Name, "err", err)
		}
	}
}

// homeLinkOff removes what homeLinkOn installed: the interface left the
// home link, or the home agent refused or lost the registration from it
// (it defends the home address again, RFC 6275 section 10.4.1; RFC 5648
// section 5.6.2: the mobile node then uses its other interfaces only).
func (m *MobileNode) homeLinkOff(f *accessInterface) {
	h := f.home
	if h == nil {
		return
	}
	for _, r := range m.homeLinkRoutes(f, h) {
		if err := m.rt.remove(r.key()); err != nil {
			m.log.Warn("home link route", "interface", f.cfg.Name, "err", err)
		}
	}
	// Away again: nothing from the home address leaves natively.
	if err := m.rt.replace(routeSpec{dst: defaultRoute, src: netip.PrefixFrom(h.hoa, 128), metric: metricUnreachable, unreachable: true}); err != nil {
		m.log.Warn("home address unreachable route", "hoa", h.hoa, "err", err)
	}
	if err := m.rt.removeHomeAddress(f.index, h.hoa); err != nil {
		m.log.Warn("home address off the home link", "interface", f.cfg.Name, "hoa", h.hoa, "err", err)
	}
}

// allNodes is the link-scope all-nodes group (RFC 4291 section 2.7.1).
var allNodes = netip.MustParseAddr("ff02::1")

// announceHome multicasts the Neighbor Advertisement of RFC 6275 section
// 11.5.4 for hoa on f: Target the home address, f's link-layer address,
// Solicited clear, Override set, so the neighbours' caches that hold the
// home agent's link-layer address (its proxy advertisements) switch.
func (m *MobileNode) announceHome(f *accessInterface, hoa netip.Addr) error {
	return inNS(m.ns, func() error {
		ifi, err := net.InterfaceByIndex(f.index)
		if err != nil {
			return err
		}
		if len(ifi.HardwareAddr) == 0 {
			return fmt.Errorf("%s has no link-layer address", ifi.Name)
		}
		c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
		if err != nil {
			return err
		}
		defer c.Close()
		na := &ndp.NeighborAdvertisement{Override: true, TargetAddress: hoa,
			Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: ifi.HardwareAddr}}}
		return c.WriteTo(na, nil, allNodes)
	})
}

// homeAccepted: the home agent accepted the registration of f at home (RFC
// 5648 status MCOA RETURNHOME WO/NDP, or a refresh of it). The address and
// routes go back if a refusal took them, and the neighbours learn the
// mobile node's link-layer address (RFC 6275 section 11.5.4).
func (m *MobileNode) homeAccepted(f *accessInterface) {
	if f.home == nil {
		return
	}
	m.homeLinkOn(f)
	if err := m.announceHome(f, f.home.hoa); err != nil {
		m.log.Warn("neighbor advertisement for the home address", "interface", f.cfg.Name, "hoa", f.home.hoa, "err", err)
		return
	}
	m.log.Info("at home on the home link; home agent no longer defends the home address", "interface", f.cfg.Name,
		"hoa", f.home.hoa)
}

// homeRefused: the home agent refused the registration at home (RFC 5648
// status 169, MCOA SIMULTANEOUS HOME AND FOREIGN PROHIBITED) or it was lost:
// the home agent defends the home address, so the mobile node must not
// answer for it there (RFC 5648 section 5.6.2). The Binding Update List
// retries later.
func (m *MobileNode) homeRefused(f *accessInterface, st binding.Status) {
	if f.home == nil {
		return
	}
	m.log.Warn("not using the home link: the home agent keeps defending the home address", "interface", f.cfg.Name,
		"hoa", f.home.hoa, "status", st)
	m.homeLinkOff(f)
}

// homeInterface is the interface at home on h's home link, nil when none.
func (m *MobileNode) homeInterface(h *homeRegistration) *accessInterface {
	for _, f := range m.ifs {
		if f.home == h && f.coa.IsValid() {
			return f
		}
	}
	return nil
}
