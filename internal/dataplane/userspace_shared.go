package dataplane

import (
	"net"
	"net/netip"
	"sync"
)

// SharedUDP is a UDP socket owned by someone else that the userspace
// backend sends its UDP-encapsulated packets through (Config.SharedUDP).
// monami's RFC 5555 signalling transport (internal/transport.UDP)
// implements it.
type SharedUDP interface {
	// SendPacket sends pkt, a whole IPv6 packet, UDP-encapsulated to peer
	// from local address src (RFC 5555 section 4).
	SendPacket(peer netip.AddrPort, src netip.Addr, ifindex int, pkt []byte) error
}

// UDPDeliverer is implemented by a data plane that takes the
// UDP-encapsulated packets its SharedUDP lender received for it.
type UDPDeliverer interface {
	// DeliverUDP decapsulates pkt (the inner packet) that arrived from peer
	// on local, with the same ingress check as the data plane's own sockets.
	// pkt is only read during the call.
	DeliverUDP(pkt []byte, peer, local netip.AddrPort)
}

var tunBufPool = sync.Pool{New: func() any { b := make([]byte, tunOffset+65535); return &b }}

// DeliverUDP implements UDPDeliverer.
func (u *userDP) DeliverUDP(pkt []byte, peer, local netip.AddrPort) {
	ep := u.accept.get(endpointKey{local.Addr().Unmap(), peer.Addr().Unmap(), EncapUDP})
	dd := u.dedup.Load()
	var now uint32
	if dd != nil {
		now = dedupNow()
	}
	if len(pkt) > 65535 || !u.admit(ep, pkt, dd, now) {
		return
	}
	bp := tunBufPool.Get().(*[]byte)
	b := (*bp)[:tunOffset+len(pkt)]
	copy(b[tunOffset:], pkt)
	u.writeTUN([][]byte{b})
	tunBufPool.Put(bp)
}

// flushShared sends s.pending through the lender's socket, one packet at a
// time: the shared path trades the batching of the data plane's own
// sockets for one port shared with signalling.
func (u *userDP) flushShared(s *tunnelSock) {
	for _, m := range s.pending {
		pkt := m.Buffers[0]
		ua, _ := m.Addr.(*net.UDPAddr)
		if ua == nil {
			u.ctr.drop(DropIO)
			continue
		}
		peer := ua.AddrPort()
		peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
		if err := s.shared.SendPacket(peer, s.key.local, 0, pkt); err != nil {
			u.ctr.drop(DropIO)
			continue
		}
		u.ctr.packetsOut.Add(1)
		u.ctr.bytesOut.Add(uint64(len(pkt)))
	}
	clear(s.pending)
	s.pending = s.pending[:0]
}
