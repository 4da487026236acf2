package ha

import (
	"net/netip"

	"monami/internal/binding"
	"monami/internal/dataplane"
	"monami/internal/transport"
)

// udpPath is where the home agent tunnels a binding with an IPv4 care-of
// address: from the IPv4 address the Binding Update came to, to the IPv4
// address and port it came from. Behind a NAT those are the NAT's mapping,
// not the care-of address (RFC 5555 sections 4.2.2 and 4.3: the home agent
// tunnels to the source address and port of the Binding Update, and every
// accepted update refreshes them: a NAT may have changed its mapping).
type udpPath struct {
	local netip.Addr
	peer  netip.AddrPort
}

// udpPathOf is the UDP path of a Binding Update that carried an IPv4
// care-of address (zero for any other).
func udpPathOf(sig *transport.Signal, req *binding.BindingUpdateRequest) udpPath {
	if !req.IPv4CoA.IsValid() || !sig.Peer.Addr().Unmap().Is4() || !sig.Local.Addr().Unmap().Is4() {
		return udpPath{}
	}
	return udpPath{local: sig.Local.Addr().Unmap(), peer: netip.AddrPortFrom(sig.Peer.Addr().Unmap(), sig.Peer.Port())}
}

// noteUDPPath records the pending update's UDP path for a binding of it
// with an IPv4 care-of address; reports whether it changed.
func (h *HomeAgent) noteUDPPath(b *binding.Binding) bool {
	key := bindingKey{b.HoA, b.BID}
	if !b.CoA.Is4() || !h.pendingUDP.peer.IsValid() {
		return false
	}
	if h.udpPaths[key] == h.pendingUDP {
		return false
	}
	h.udpPaths[key] = h.pendingUDP
	h.log.Info("binding UDP path", "hoa", b.HoA, "bid", b.BID, "coa", b.CoA, "local", h.pendingUDP.local,
		"peer", h.pendingUDP.peer, "nat", h.pendingUDP.peer.Addr() != b.CoA)
	return true
}

// ipv4Endpoint is the tunnel endpoint of a binding with an IPv4 care-of
// address: what arrives from the NAT's address (or the care-of address) at
// the home agent's IPv4 address. ok is false when the path is unknown (a
// binding restored from the store before its next Binding Update).
func (h *HomeAgent) ipv4Endpoint(b *binding.Binding, inner []netip.Prefix) (dataplane.Endpoint, bool) {
	u, ok := h.udpPaths[bindingKey{b.HoA, b.BID}]
	if !ok {
		return dataplane.Endpoint{}, false
	}
	return dataplane.Endpoint{Local: u.local, Peer: u.peer.Addr(), Encap: dataplane.EncapUDP, InnerSrc: inner}, true
}

// ipv4Tunnel is the downlink tunnel of a binding with an IPv4 care-of
// address: IPv6 in UDP in IPv4 to the NAT mapping.
func (h *HomeAgent) ipv4Tunnel(hoa netip.Addr, bid uint16) (dataplane.Tunnel, bool) {
	u, ok := h.udpPaths[bindingKey{hoa, bid}]
	if !ok {
		return dataplane.Tunnel{}, false
	}
	return dataplane.Tunnel{Local: u.local, Remote: u.peer.Addr(), RemotePort: u.peer.Port(), Encap: dataplane.EncapUDP}, true
}
