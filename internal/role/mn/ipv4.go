package mn

import (
	"net/netip"
	"sync/atomic"
	"time"

	"monami/internal/binding"
	"monami/internal/config"
	"monami/internal/dataplane"
	"monami/internal/transport"
	"monami/wire"
)

// IPv4 care-of addresses (RFC 5555). An interface with transport udp takes
// its IPv4 addresses as care-of addresses too when a home address names its
// home agent's IPv4 address (home_agent_ipv4). Its Binding Updates go in
// IPv4/UDP to that address, port 4191, from the mobile node's UDP
// signalling socket; the inner IPv6 packet comes from the home address,
// with no Home Address option, and the IPv4 Care-of Address option names
// the care-of address (section 4.1). Data leaves from the same socket (the
// data plane borrows it, dataplane.SharedUDP), so the NAT in front of the
// interface keeps one mapping for signalling and data, the one the home
// agent learnt from the update (section 4.3). When the acknowledgement
// says a NAT is on the path (NAT Detection option, section 4.2.2), the
// mobile node refreshes the mapping with a Binding Update every Refresh
// Time (section 4.1, NAT keepalives).

// ipv4Interfaces names the interfaces whose IPv4 addresses are care-of
// addresses: those with transport udp, when a home agent has an IPv4
// address.
func (m *MobileNode) ipv4Interfaces() []string {
	any4 := false
	for _, h := range m.homes {
		any4 = any4 || h.ha4.IsValid()
	}
	if !any4 {
		return nil
	}
	var out []string
	for _, f := range m.cfg.Interfaces {
		if f.Transport == config.TransportUDP {
			out = append(out, f.Name)
		}
	}
	return out
}

// haFor is the home agent address a care-of address reaches h through:
// its IPv4 address from an IPv4 care-of address.
func (h *homeRegistration) haFor(coa netip.Addr) netip.Addr {
	if coa.Is4() {
		return h.ha4
	}
	return h.ha
}

// udpLender lends the UDP signalling transport's socket to the data plane,
// which is opened first.
type udpLender struct{ u atomic.Pointer[transport.UDP] }

func (l *udpLender) SendPacket(peer netip.AddrPort, src netip.Addr, ifindex int, pkt []byte) error {
	u := l.u.Load()
	if u == nil {
		return transport.ErrClosed
	}
	return u.SendPacket(peer, src, ifindex, pkt)
}

// deliverUDP hands the data the UDP transport received (IPv4 tunnels) to
// the data plane.
func (m *MobileNode) deliverUDP(pkt []byte, peer, local netip.AddrPort, _ int) {
	if d, ok := m.dp.(dataplane.UDPDeliverer); ok {
		d.DeliverUDP(pkt, peer, local)
	}
}

// signalIPv4 fills in an RFC 5555 section 4.1 Binding Update from an IPv4
// care-of address: IPv4/UDP to the home agent's IPv4 address, the inner
// packet from the home address (no Home Address option).
func signalIPv4(sig *transport.Signal, h *homeRegistration, coa netip.Addr) {
	sig.Src, sig.Ext, sig.HomeAddress = h.hoa, transport.ExtNone, netip.Addr{}
	sig.Peer = netip.AddrPortFrom(h.ha4, transport.UDPPort)
	sig.Local = netip.AddrPortFrom(coa, 0)
}

// noteNATDetection records what the acknowledgement's NAT Detection option
// said about the path of the care-of address it came to.
func (m *MobileNode) noteNATDetection(local netip.Addr, o wire.NATDetection) {
	f := m.ifaceByCoA(local)
	if f == nil {
		return
	}
	was := f.natRefresh
	f.natRefresh = natRefreshOf(o.RefreshTime)
	if was != f.natRefresh {
		m.log.Info("NAT detected", "interface", f.cfg.Name, "coa", f.coa, "refresh", f.natRefresh,
			"udp_required", o.UDPEncapsulationRequired)
	}
}

// natRefreshOf: a Refresh Time of all ones means no keepalives are needed
// (RFC 5555 section 4.2.2); 0 is not a usable interval, take NATKATIMEOUT.
func natRefreshOf(s uint32) time.Duration {
	switch s {
	case 0xffffffff:
		return 0
	case 0:
		return natKATimeout
	}
	return time.Duration(s) * time.Second
}

// natKATimeout is RFC 5555's default NAT keepalive interval (section 7).
const natKATimeout = 110 * time.Second

// natKeepalives refreshes the bindings through each care-of address behind
// a NAT that sent no Binding Update for its Refresh Time.
func (m *MobileNode) natKeepalives() { m.do(m.keepaliveActions()) }

// keepaliveActions asks the Binding Update List for the refreshes due as
// NAT keepalives and returns what it says to do.
func (m *MobileNode) keepaliveActions() []binding.Action {
	now := m.now()
	for _, f := range m.ifs {
		if !f.coa.Is4() || f.natRefresh == 0 || now.Sub(f.lastBU) < f.natRefresh {
			continue
		}
		f.lastBU = now // one request per interval, whatever the answer
		for _, h := range m.homes {
			if !f.serves[h.hoa] {
				continue
			}
			if _, busy := m.outstanding[groupKey{h.ha, h.hoa}]; busy {
				continue
			}
			if m.bul.RefreshRequested(now, h.ha, h.hoa) {
				m.cnt.natKeepalives++
				m.log.Debug("NAT keepalive", "interface", f.cfg.Name, "coa", f.coa, "hoa", h.hoa)
			}
		}
	}
	return m.bul.Next(now)
}
