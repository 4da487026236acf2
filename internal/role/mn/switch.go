package mn

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"monami/internal/binding"
	"monami/internal/paths"
	"monami/internal/transport"
	"monami/wire"
)

// The mobile node's side of a Home Agent Switch (RFC 5142 section 6): its
// registered home agent, draining, names others. The mobile node registers
// its care-of addresses with the first usable one, make before break, and
// once that home agent accepted, deregisters from the old one: that
// Binding Update answers the switch (the old home agent stops repeating
// it) and ends its bindings. Meanwhile the old binding keeps carrying
// traffic, and what either home agent tunnels is accepted.
//
// The new home agent is reached with the same security association (SPI
// and key of mn.yaml's home address): a cluster or a pair of home agents
// that share the mobile nodes' keys. A switch to a home agent without it
// fails authentication there (status 135) and the next listed one is
// tried; when none is left the mobile node stays where it was.

// switchState is a switch in progress for one home registration.
type switchState struct {
	listed []netip.Addr // the message's home agents, preferred first
	tried  []netip.Addr // those that failed
	from   netip.Addr   // the home agent being left
}

// homeAgentSwitch handles a received Home Agent Switch message.
func (m *MobileNode) homeAgentSwitch(sig *transport.Signal) {
	src, dst := sig.ChecksumAddrs()
	msg, err := (wire.Parser{ChecksumVerified: true, LaxAlignment: true}).Parse(sig.MH, src, dst)
	if err != nil {
		m.cnt.malformed++
		m.log.Warn("home agent switch ignored: malformed", "from", sig.Src, "err", err)
		return
	}
	has := msg.(wire.HomeAgentSwitch)
	hoa := sig.Dst
	if sig.Ext == transport.ExtRH2 {
		hoa = sig.HomeAddress
	}
	h := m.homeFor(sig.Src, hoa)
	if h == nil || h.ha != sig.Src {
		if h != nil && h.sw != nil {
			m.log.Debug("home agent switch repeated while switching", "from", sig.Src, "hoa", hoa)
			return
		}
		m.log.Warn("home agent switch ignored: not from the registered home agent of this home address", "from", sig.Src, "hoa", hoa)
		return
	}
	if h.auth != nil {
		if err := m.verifySigned(h, sig); err != nil {
			m.cnt.unauthenticated++
			m.log.Warn("home agent switch ignored: not authenticated", "from", sig.Src, "hoa", hoa, "err", err)
			return
		}
	}
	m.cnt.switches++
	if h.sw != nil {
		m.log.Debug("home agent switch repeated while switching", "from", sig.Src, "hoa", hoa)
		return
	}
	m.log.Info("home agent switch received (RFC 5142)", "from", sig.Src, "hoa", hoa, "home_agents", has.HomeAgentAddresses,
		"authenticated", h.auth != nil)
	h.sw = &switchState{listed: slices.Clone(has.HomeAgentAddresses), from: h.ha}
	m.switchNext(h)
	m.pump(m.now(), false)
}

// switchNext registers with the next listed home agent, or gives the
// switch up and stays when none is left.
func (m *MobileNode) switchNext(h *homeRegistration) {
	next, ok := binding.ChooseHomeAgent(h.sw.listed, h.ha, h.sw.tried)
	if !ok {
		why := "no listed home agent left to try"
		if len(h.sw.listed) == 0 {
			why = "no home agent listed; Dynamic Home Agent Address Discovery (RFC 6275 section 10.5) is not implemented"
		}
		m.log.Warn("home agent switch given up; staying with the current home agent", "hoa", h.hoa, "ha", h.ha, "reason", why,
			"tried", h.sw.tried)
		h.sw, h.next = nil, netip.Addr{}
		return
	}
	h.next = next
	m.log.Info("registering with the new home agent", "hoa", h.hoa, "ha", next, "leaving", h.ha)
	now := m.now()
	for _, f := range m.ifs {
		if f.coa.IsValid() && f.serves[h.hoa] {
			m.bul.SetCareOfAddress(now, binding.CareOfBinding{HA: next, HoA: h.hoa, BID: f.cfg.BID, CoA: f.coa, Priority: f.cfg.Priority})
			if m.live != nil {
				m.live.Add(now, paths.Key{Local: f.coa, Peer: next})
			}
		}
	}
	m.forward() // accept what the new home agent tunnels from now on
}

// switchResult follows a registration result at a home agent other than
// the current one: the first acceptance at the one being switched to
// completes the switch; its refusal moves on to the next listed one; the
// old one's deregistration ends. It reports whether the action is
// consumed here: only the current home agent's results change what is
// registered and forwarded.
func (m *MobileNode) switchResult(a binding.Action) bool {
	b := a.Binding
	h := m.homeOf(b.HoA)
	if h == nil || b.HA == h.ha {
		return false
	}
	switch {
	case b.HA == h.prev:
		// Once the old home agent has no binding left, what it tunnels is
		// no longer accepted.
		if a.Kind == binding.BindingDeregistered && !m.hasEntries(h.prev, h.hoa) {
			h.prev = netip.Addr{}
			m.forward()
		}
	case h.sw != nil && b.HA == h.next:
		switch a.Kind {
		case binding.BindingRegistered:
			m.completeSwitch(h)
			return false // now the current home agent's registration
		case binding.BindingFailed, binding.BindingExpired:
			m.log.Warn("new home agent refused the registration", "hoa", h.hoa, "ha", b.HA, "status", a.Status, "reason", a.Reason)
			m.bul.Forget(b.HA, h.hoa)
			if m.live != nil {
				for _, f := range m.ifs {
					m.live.Remove(paths.Key{Local: f.coa, Peer: b.HA})
				}
			}
			h.sw.tried = append(h.sw.tried, b.HA)
			m.switchNext(h)
			if !h.next.IsValid() {
				m.forward() // given up: stop accepting from the refused ones
			}
		}
	}
	return true
}

// homeOf is the home registration of hoa.
func (m *MobileNode) homeOf(hoa netip.Addr) *homeRegistration {
	for _, h := range m.homes {
		if h.hoa == hoa {
			return h
		}
	}
	return nil
}

// completeSwitch makes the new home agent the current one and deregisters
// from the old (RFC 5142 section 6.1: the Binding Update that answers the
// switch).
func (m *MobileNode) completeSwitch(h *homeRegistration) {
	old := h.ha
	h.prev, h.ha, h.next, h.sw = old, h.next, netip.Addr{}, nil
	m.cnt.switched++
	m.log.Info("home agent switched", "hoa", h.hoa, "ha", h.ha, "from", old)
	m.abandon(h, old)
}

// abandon deregisters every binding of h at ha and stops judging the paths
// to it.
func (m *MobileNode) abandon(h *homeRegistration, ha netip.Addr) {
	now := m.now()
	for _, e := range m.bul.Entries() {
		if e.HA == ha && e.HoA == h.hoa && e.State != binding.StateDeregistering {
			m.bul.RemoveCareOfAddress(now, ha, h.hoa, e.BID)
			if m.live != nil {
				m.live.Remove(paths.Key{Local: e.CoA, Peer: ha})
			}
		}
	}
}

var (
	errNoOptions = errors.New("message has no options")
	// errSwitchUnauthenticated: a Home Agent Switch without a valid MN-HA
	// authenticator for the home address's security association.
	errSwitchUnauthenticated = errors.New("home agent switch not authenticated")
)

// verifySigned checks the MN-HA authentication option, the last option of
// any message from the home agent (RFC 4285 section 5), over the care-of
// address it was sent to and the home address.
func (m *MobileNode) verifySigned(h *homeRegistration, sig *transport.Signal) error {
	mh := sig.MH
	if len(mh) < 2 {
		return errSwitchUnauthenticated
	}
	hlen := (int(mh[1]) + 1) * 8
	if hlen > len(mh) {
		return errSwitchUnauthenticated
	}
	off, ok := wire.OptionsOffset(mh[:hlen])
	if !ok {
		return fmt.Errorf("%w: %w", errSwitchUnauthenticated, errNoOptions)
	}
	last, ok := wire.LastOption(wire.NewOptionIterator(mh[off:hlen], off))
	if !ok || last.Type != wire.OptMobilityMessageAuthentication {
		return fmt.Errorf("%w: no authentication option", errSwitchUnauthenticated)
	}
	a, err := wire.DecodeMobilityMessageAuthentication(last.Data)
	if err != nil || a.SPI != h.spi {
		return fmt.Errorf("%w: SPI is not %d", errSwitchUnauthenticated, h.spi)
	}
	if err := h.auth.Verify(mh[:hlen], last, sig.Dst, h.hoa); err != nil {
		return fmt.Errorf("%w: %w", errSwitchUnauthenticated, err)
	}
	return nil
}

// hasEntries reports whether the Binding Update List has entries of hoa at ha.
func (m *MobileNode) hasEntries(ha, hoa netip.Addr) bool {
	for _, e := range m.bul.Entries() {
		if e.HA == ha && e.HoA == hoa {
			return true
		}
	}
	return false
}
