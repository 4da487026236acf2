package mn

import (
	"fmt"
	"net/netip"

	"monami/internal/config"
	"monami/internal/dataplane"
)

// Nested home addresses (draft-ietf-monami6-mipv6-analysis section 6.3.1):
// mn.yaml's care_of.via_home_address makes another home address of this
// mobile node the one care-of address of a home address. The inner home
// address's Binding Updates and reverse-tunnelled traffic leave from the
// outer home address, so they travel inside the outer home address's own
// reverse tunnel; its home agent tunnels back to the outer home address,
// which the outer home agent tunnels on to an access interface's care-of
// address. The configuration has refused loops already (RFC 6275 section
// 9.5.1 at the home agent; config.validateNesting here).
//
// The outer home address is modelled as one more accessInterface, with
// outer set: no gateway, routes or path probes of its own, a Binding ID
// after every configured one, and a care-of address (the outer home
// address) while the outer home address has a registered binding.

// addNestedInterfaces adds one nested care-of "interface" per home
// address that another one goes through.
func (m *MobileNode) addNestedInterfaces() {
	next := uint16(0)
	for _, f := range m.ifs {
		next = max(next, f.cfg.BID)
	}
	for _, h := range m.homes {
		via := h.careOf.Via()
		if !via.IsValid() || m.nestedFor(via) != nil {
			continue
		}
		outer := m.homeByAddr(via)
		if outer == nil {
			continue // the configuration refuses this
		}
		// The next Binding ID no interface has (RFC 5648 section 6.1: 0
		// is not one).
		for next++; next == 0 || m.ifaceByBID(next) != nil; next++ {
		}
		f := newAccessInterface(config.InterfaceEntry{Name: nestedName(via), BID: next, Transport: config.TransportNative})
		f.outer = outer
		m.ifs = append(m.ifs, f)
	}
}

func nestedName(hoa netip.Addr) string { return fmt.Sprintf("via %s", hoa) }

func (m *MobileNode) homeByAddr(hoa netip.Addr) *homeRegistration {
	for _, h := range m.homes {
		if h.hoa == hoa {
			return h
		}
	}
	return nil
}

// nestedFor returns the nested care-of interface of the outer home address.
func (m *MobileNode) nestedFor(outer netip.Addr) *accessInterface {
	for _, f := range m.ifs {
		if f.outer != nil && f.outer.hoa == outer {
			return f
		}
	}
	return nil
}

// mayServe: f's care-of address may be registered for h. An access
// interface follows h's care_of rule (section 6.3.2; a nested home address
// takes none); a nested care-of address serves exactly the home addresses
// whose via_home_address it is.
func (m *MobileNode) mayServe(h *homeRegistration, f *accessInterface) bool {
	if f.outer != nil {
		return h.careOf.Via() == f.outer.hoa
	}
	return h.careOf.Allows(f.cfg.Name, f.coa)
}

// outerRegistered: some binding of h is registered, so what leaves from
// h.hoa reaches its home agent.
func (m *MobileNode) outerRegistered(h *homeRegistration) bool {
	for _, f := range m.ifs {
		if f.coa.IsValid() && f.registered[h.hoa] {
			return true
		}
	}
	return false
}

// syncNested brings each nested care-of address in line with its outer
// home address: up once that is registered, down when it has no binding
// left. It runs after every forwarding change (forward), which is where
// registrations and failovers land.
func (m *MobileNode) syncNested() {
	for _, f := range m.ifs {
		if f.outer == nil {
			continue
		}
		up := m.outerRegistered(f.outer)
		switch {
		case up && f.coa != f.outer.hoa:
			f.index = m.home
			m.attach(f, f.outer.hoa, "home address registered")
		case !up && f.coa.IsValid():
			m.nestedDown(f)
		}
	}
}

// nestedDown withdraws the nested bindings of f, as careOfAddressDown
// does for an access interface's address that went away.
func (m *MobileNode) nestedDown(f *accessInterface) {
	now := m.now()
	for _, h := range m.homes {
		if f.serves[h.hoa] {
			m.bul.RemoveCareOfAddress(now, h.ha, h.hoa, f.cfg.BID)
		}
	}
	f.serves = map[netip.Addr]bool{}
	m.pump(now, false)
	m.detach(f, "home address "+f.outer.hoa.String()+" has no registered binding", true)
}

// defaultLinkMTU stands for an access link whose MTU could not be read.
const defaultLinkMTU = 1500

func (m *MobileNode) linkMTU(index int) int {
	if m.nl == nil || index <= 0 {
		return 0
	}
	l, err := m.nl.LinkByIndex(index)
	if err != nil {
		return 0
	}
	return l.Attrs().MTU
}

// innerMTU is the largest packet h's reverse tunnel carries on any of its
// paths (the smallest of them, so that a failover does not change it): a
// tunnel nested in h adds its own header inside that (RFC 2473 section
// 6.7: each encapsulation costs its header out of the path MTU).
func (m *MobileNode) innerMTU(h *homeRegistration) int {
	least := 0
	for _, f := range m.ifs {
		if !f.coa.IsValid() || !m.mayServe(h, f) {
			continue
		}
		var mtu int
		switch {
		case f.outer != nil:
			mtu = m.innerMTU(f.outer)
		case f.mtu > 0:
			mtu = f.mtu
		default:
			mtu = defaultLinkMTU
		}
		mtu -= f.encap().Overhead()
		if least == 0 || mtu < least {
			least = mtu
		}
	}
	if least == 0 {
		return defaultLinkMTU - dataplane.EncapIPv6.Overhead()
	}
	return least
}
