package mn

import (
	"net/netip"
	"sort"
	"time"

	"monami/internal/binding"
	"monami/internal/config"
	"monami/internal/dataplane"
	"monami/internal/linkmon"
	"monami/internal/transport"
)

// accessInterface is one configured access interface and the care-of
// address it lends to its binding (one Binding ID per interface, RFC 5648
// section 6.1). Further usable addresses on it wait as spares and take over
// when the care-of address goes.
type accessInterface struct {
	cfg    config.InterfaceEntry
	index  int
	usable map[netip.Addr]bool
	coa    netip.Addr // invalid: no care-of address
	gw     netip.Addr // next hop of the source-specific route
	// registered: the home agent of that home address accepted this
	// interface's current care-of address.
	registered map[netip.Addr]bool
	// serves: home addresses with a Binding Update List entry for this
	// interface's Binding ID (the care_of rule may leave some out).
	serves  map[netip.Addr]bool
	changed time.Time
	// outer, when set, makes this no access interface but the home address
	// outer.hoa serving as the care-of address of the home addresses nested
	// in it (care_of.via_home_address, nested.go).
	outer *homeRegistration
	// mtu is the access link's MTU, read when its care-of address comes up
	// (0: unknown, taken as 1500); the nested tunnels' MTU derives from it.
	mtu int
	// natRefresh: the NAT Detection option's keepalive interval for an
	// IPv4 care-of address behind a NAT (0: none); lastBU: when a Binding
	// Update last left from the care-of address (ipv4.go).
	natRefresh time.Duration
	lastBU     time.Time
	// home: the home registration whose home link the care-of address is
	// on (nil: away); for that home address the interface registers the
	// home address itself, H flag set (homelink.go).
	home *homeRegistration
}

func newAccessInterface(f config.InterfaceEntry) *accessInterface {
	return &accessInterface{cfg: f, usable: map[netip.Addr]bool{}, registered: map[netip.Addr]bool{}, serves: map[netip.Addr]bool{}}
}

func (f *accessInterface) encap() dataplane.Encapsulation {
	if f.cfg.Transport == config.TransportUDP || f.coa.Is4() {
		return dataplane.EncapUDP
	}
	return dataplane.EncapIPv6
}

func (f *accessInterface) via() transport.Via {
	if f.cfg.Transport == config.TransportUDP {
		return transport.ViaUDP
	}
	return transport.ViaMH
}

func (m *MobileNode) ifaceByName(name string) *accessInterface {
	for _, f := range m.ifs {
		if f.cfg.Name == name {
			return f
		}
	}
	return nil
}

func (m *MobileNode) ifaceByBID(bid uint16) *accessInterface {
	for _, f := range m.ifs {
		if f.cfg.BID == bid {
			return f
		}
	}
	return nil
}

func (m *MobileNode) ifaceByCoA(coa netip.Addr) *accessInterface {
	for _, f := range m.ifs {
		if f.coa == coa && coa.IsValid() {
			return f
		}
	}
	return nil
}

// careOfAddressUp: an address became usable (linkmon).
func (m *MobileNode) careOfAddressUp(ev linkmon.Event) {
	f := m.ifaceByName(ev.Interface)
	if f == nil || m.isHomeAddress(ev.Address) {
		return // a home address on the interface at home is no care-of address
	}
	f.index = ev.IfIndex
	f.usable[ev.Address] = true
	if f.coa.Is4() && ev.Address.Is6() {
		// Native IPv6 beats IPv6 in UDP in IPv4 (RFC 5555 is for networks
		// without it): same Binding ID, the binding moves.
		old := f.coa
		m.detach(f, "an IPv6 address is preferred", false)
		m.attach(f, ev.Address, "replaces "+old.String())
		return
	}
	if f.coa.IsValid() {
		return // a spare
	}
	m.attach(f, ev.Address, ev.Reason)
}

// careOfAddressDown: an address stopped being usable. If it was the
// interface's care-of address, its binding is deregistered through another
// interface and the reverse tunnel moves to the best remaining binding at
// once, without waiting for the Binding Acknowledgement.
func (m *MobileNode) careOfAddressDown(ev linkmon.Event) {
	f := m.ifaceByName(ev.Interface)
	if f == nil {
		return
	}
	delete(f.usable, ev.Address)
	if f.coa != ev.Address {
		return
	}
	now := m.now()
	old := f.coa
	if spare, ok := f.spare(); ok {
		// Same Binding ID, new care-of address: the binding moves.
		m.detach(f, ev.Reason, false)
		m.attach(f, spare, "replaces "+old.String())
		return
	}
	for _, h := range m.homes {
		m.bul.RemoveCareOfAddress(now, h.ha, h.hoa, f.cfg.BID)
	}
	f.serves = map[netip.Addr]bool{}
	// The deregistration goes out first: its round trip gates how soon the
	// home agent stops sending down this path.
	m.pump(now, false)
	m.detach(f, ev.Reason, true)
}

func (f *accessInterface) spare() (netip.Addr, bool) {
	var as []netip.Addr
	for a := range f.usable {
		if a != f.coa {
			as = append(as, a)
		}
	}
	if len(as) == 0 {
		return netip.Addr{}, false
	}
	// IPv6 first: an IPv4 care-of address only when there is no other.
	sort.Slice(as, func(i, j int) bool {
		if as[i].Is4() != as[j].Is4() {
			return as[j].Is4()
		}
		return as[i].Less(as[j])
	})
	return as[0], true
}

// attach makes coa the interface's care-of address: its routes, a binding
// per home address, and the forwarding (decapsulation endpoints first:
// what the home agent tunnels there is accepted before it is asked to).
func (m *MobileNode) attach(f *accessInterface, coa netip.Addr, reason string) {
	now := m.now()
	f.coa, f.changed = coa, now
	f.registered = map[netip.Addr]bool{}
	f.natRefresh = 0
	if coa.Is4() {
		// The kernel's IPv4 routes carry it: the mobile node's
		// source-specific routes and neighbour probes are IPv6's.
		m.log.Info("care-of address up", "interface", f.cfg.Name, "coa", coa, "bid", f.cfg.BID, "ipv4", true, "reason", reason)
		for _, h := range m.homes {
			m.bindCareOf(now, h, f)
		}
		m.forward()
		return
	}
	if f.outer == nil {
		m.findGateway(f)
		f.mtu = m.linkMTU(f.index)
		f.home = m.homeLinkOf(coa)
	}
	m.log.Info("care-of address up", "interface", f.cfg.Name, "coa", coa, "bid", f.cfg.BID, "gateway", f.gw, "reason", reason)
	if f.home != nil {
		m.log.Info("interface on the home link (RFC 5648 section 5.6.3): registering the home address with the H flag",
			"interface", f.cfg.Name, "hoa", f.home.hoa, "prefix", f.home.prefix, "address", coa)
		m.homeLinkOn(f)
	}
	if f.outer == nil {
		// A nested care-of address leaves through its home address's
		// reverse tunnel, which the data plane routes.
		m.installCoARoutes(f)
		m.probeGateway(f)
		m.watchPaths(f)
	}
	for _, h := range m.homes {
		m.bindCareOf(now, h, f)
	}
	m.forward()
}

// bindCareOf registers the interface's care-of address for h when the
// care_of rule of h allows it, and withdraws an earlier one of this Binding
// ID when it does not (draft-ietf-monami6-mipv6-analysis section 6.3.2).
func (m *MobileNode) bindCareOf(now time.Time, h *homeRegistration, f *accessInterface) {
	if f.coa.Is4() && !h.ha4.IsValid() {
		m.log.Info("IPv4 care-of address not bound: no home_agent_ipv4 for this home address", "hoa", h.hoa, "interface", f.cfg.Name, "coa", f.coa)
		return
	}
	if f.home == h {
		// At home on this interface: the home address is its care-of
		// address, which the BUL sends with the H flag (RFC 5648 section
		// 5.6.3); the care_of rule is about care-of addresses, not this.
		m.bul.SetCareOfAddress(now, binding.CareOfBinding{HA: h.ha, HoA: h.hoa, BID: f.cfg.BID, CoA: h.hoa, Priority: f.cfg.Priority})
		f.serves[h.hoa] = true
		return
	}
	if m.mayServe(h, f) {
		m.bul.SetCareOfAddress(now, binding.CareOfBinding{HA: h.ha, HoA: h.hoa, BID: f.cfg.BID, CoA: f.coa, Priority: f.cfg.Priority})
		f.serves[h.hoa] = true
		return
	}
	if f.outer == nil {
		m.log.Info("care-of address not bound to this home address (care_of rule)", "hoa", h.hoa, "interface", f.cfg.Name, "coa", f.coa)
	}
	if f.serves[h.hoa] {
		m.bul.RemoveCareOfAddress(now, h.ha, h.hoa, f.cfg.BID)
		delete(f.serves, h.hoa)
	}
}

// detach forgets the interface's care-of address and removes what attach
// installed. With reselect the forwarding moves off it at once (without,
// the attach that follows does).
func (m *MobileNode) detach(f *accessInterface, reason string, reselect bool) {
	coa := f.coa
	f.coa, f.changed = netip.Addr{}, m.now()
	f.registered = map[netip.Addr]bool{}
	m.log.Info("care-of address down", "interface", f.cfg.Name, "coa", coa, "bid", f.cfg.BID, "reason", reason)
	if f.home != nil {
		m.log.Info("interface left the home link", "interface", f.cfg.Name, "hoa", f.home.hoa)
		m.homeLinkOff(f)
		f.home = nil
	}
	m.unwatchPaths(coa)
	if reselect {
		m.forward()
	}
	if f.outer != nil || coa.Is4() {
		return // attach installed no routes
	}
	for _, k := range []routeKey{
		{dst: defaultRoute, src: netip.PrefixFrom(coa, 128), metric: metricCoA},
		{dst: defaultRoute, metric: metricIfaceBase + int(f.cfg.BID)},
	} {
		if err := m.rt.remove(k); err != nil {
			m.log.Warn("remove route", "interface", f.cfg.Name, "err", err)
		}
	}
}

func (m *MobileNode) probeGateway(f *accessInterface) {
	if err := m.nbr.probe(f.coa, f.gw, f.index); err != nil {
		m.log.Debug("neighbour probe", "interface", f.cfg.Name, "gateway", f.gw, "err", err)
	}
}

// findGateway sets f.gw: the configured gateway, else the kernel's default
// route on the interface, else the one learnt before (the kernel flushes
// routes on link down, and they come back after the address does, or with
// the next Router Advertisement). Reports whether f.gw is valid.
func (m *MobileNode) findGateway(f *accessInterface) bool {
	if gw := f.cfg.GatewayAddr(); gw.IsValid() {
		f.gw = gw.WithZone("")
		return true
	}
	gw, err := m.rt.defaultGateway(f.index)
	if err == nil {
		f.gw = gw.WithZone("")
		return true
	}
	if f.gw.IsValid() {
		m.log.Debug("no default route on the interface now; keeping the gateway learnt before", "interface", f.cfg.Name, "gateway", f.gw)
		return true
	}
	m.log.Warn("no gateway for care-of address yet; routing it on-link", "interface", f.cfg.Name, "coa", f.coa, "err", err)
	return false
}

// installCoARoutes (re)installs the care-of address's source-specific route
// and the interface's route for bound lookups (routes.go).
func (m *MobileNode) installCoARoutes(f *accessInterface) {
	if err := m.rt.replace(routeSpec{dst: defaultRoute, src: netip.PrefixFrom(f.coa, 128), oif: f.index, gw: f.gw, metric: metricCoA}); err != nil {
		m.log.Error("care-of address route", "interface", f.cfg.Name, "err", err)
	}
	if err := m.rt.replace(routeSpec{dst: defaultRoute, oif: f.index, gw: f.gw, metric: metricIfaceBase + int(f.cfg.BID)}); err != nil {
		m.log.Error("interface route", "interface", f.cfg.Name, "err", err)
	}
}

// keepalive probes every gateway, and picks up a gateway that appeared
// since the care-of address came up without one.
func (m *MobileNode) keepalive() {
	if m.fwdFailed {
		m.forward() // the reconciler re-sends what the failed batch may have missed
	}
	for _, f := range m.ifs {
		if !f.coa.Is6() || f.outer != nil {
			continue
		}
		if !f.gw.IsValid() && m.findGateway(f) {
			m.log.Info("gateway found", "interface", f.cfg.Name, "coa", f.coa, "gateway", f.gw)
			m.installCoARoutes(f)
		}
		m.probeGateway(f)
	}
}
