package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"monami/wire"
)

// read delivers the signalling arriving on one socket.
func (u *UDP) read(s *udpSock) {
	defer u.wg.Done()
	buf := make([]byte, 65536)
	for {
		var (
			n       int
			src     net.Addr
			dst     net.IP
			ifindex int
			err     error
		)
		if s.p4 != nil {
			var cm *ipv4.ControlMessage
			n, cm, src, err = s.p4.ReadFrom(buf)
			if cm != nil {
				dst, ifindex = cm.Dst, cm.IfIndex
			}
		} else {
			var cm *ipv6.ControlMessage
			n, cm, src, err = s.p6.ReadFrom(buf)
			if cm != nil {
				dst, ifindex = cm.Dst, cm.IfIndex
			}
		}
		if err != nil {
			if u.closing() || errors.Is(err, net.ErrClosed) {
				return
			}
			u.log.Warn("UDP read", "local", s.local, "err", err)
			time.Sleep(readErrorPause)
			continue
		}
		ua, _ := src.(*net.UDPAddr)
		if ua == nil {
			continue
		}
		peer := netip.AddrPortFrom(addrFromIP(ua.IP), uint16(ua.Port))
		local := netip.AddrPortFrom(addrFromIP(dst), s.local.Port())
		sig, inner, err := decodeUDP(buf[:n])
		switch {
		case err != nil:
			u.cnt.malformed.Add(1)
			u.log.Debug("dropped malformed UDP-encapsulated packet", "peer", peer, "err", err)
		case inner != nil:
			if u.data != nil {
				u.data(inner, peer, local, ifindex)
			} else {
				u.notSig.Add(1)
			}
		default:
			csrc, cdst := sig.ChecksumAddrs()
			if !verifyMH(csrc, cdst, sig.MH) {
				u.cnt.badChecksum.Add(1)
				u.log.Debug("dropped UDP-encapsulated MH with bad checksum", "peer", peer, "src", sig.Src)
				continue
			}
			sig.Peer, sig.Local, sig.IfIndex = peer, local, ifindex
			sig.MH = append([]byte(nil), sig.MH...)
			// The mobile node's home address: the HAO, else the inner
			// source (RFC 5555 section 4.1).
			hoa := sig.Src
			if sig.Ext == ExtHAO {
				hoa = sig.HomeAddress
			}
			u.learn(hoa, peer)
			deliver(u.in, u.done, &u.cnt, sig)
		}
	}
}

func addrFromIP(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// decodeUDP decodes the payload of a datagram received on the RFC 5555
// port. It returns either a Signal (checksum not yet verified, MH aliasing
// payload) or, when the inner packet is not Mobility Header signalling, the
// inner packet for the data plane.
func decodeUDP(payload []byte) (Signal, []byte, error) {
	enc, err := wire.ParseUDPEncapsulated(payload)
	if err != nil {
		return Signal{}, nil, err
	}
	if enc.Version != 6 {
		return Signal{}, enc.Packet, nil
	}
	p, err := parsePacket(enc.Packet)
	if errors.Is(err, errNotMH) || errors.Is(err, errFragment) {
		return Signal{}, enc.Packet, nil
	}
	if err != nil {
		return Signal{}, nil, err
	}
	return Signal{Via: ViaUDP, Src: p.Src, Dst: p.Dst, Ext: p.Ext, HomeAddress: p.HomeAddress,
		HopLimit: p.HopLimit, MH: p.MH}, nil, nil
}

// Send implements Transport: it builds the IPv6 packet for s (as Native
// would) and sends it as the payload of a UDP datagram to s.Peer, or, when
// s.Peer is zero, to the peer last seen for the destination's home address
// (Dst, or the RH2 home address).
func (u *UDP) Send(ctx context.Context, s Signal) error {
	if u.closing() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.Peer.IsValid() {
		hoa := s.Dst
		if s.Ext == ExtRH2 {
			hoa = s.HomeAddress
		}
		p, ok := u.Peer(hoa)
		if !ok {
			return fmt.Errorf("%w for %v", ErrNoPeer, hoa)
		}
		s.Peer = p
	}
	pkt, err := appendPacket(make([]byte, 0, 128+len(s.MH)), &s)
	if err != nil {
		return err
	}
	if err := u.SendPacket(s.Peer, s.Local.Addr(), s.IfIndex, pkt); err != nil {
		return err
	}
	u.cnt.sent.Add(1)
	return nil
}

// SendPacket sends one whole IPv4 or IPv6 packet UDP-encapsulated (RFC 5555
// section 4) to peer, from src if valid (it must be a local address) and
// out of interface ifindex if not 0. The data plane uses it to share the
// port with signalling.
func (u *UDP) SendPacket(peer netip.AddrPort, src netip.Addr, ifindex int, pkt []byte) error {
	if u.closing() {
		return ErrClosed
	}
	payload, err := wire.AppendUDPEncapsulated(nil, pkt)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSignal, err)
	}
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	sock := u.pick(peer.Addr(), src)
	if sock == nil {
		return fmt.Errorf("transport: no UDP socket for %v (source %v)", peer, src)
	}
	to := net.UDPAddrFromAddrPort(peer)
	if sock.p4 != nil {
		cm := &ipv4.ControlMessage{IfIndex: ifindex}
		if src.Is4() && sock.local.Addr().IsUnspecified() {
			cm.Src = src.AsSlice()
		}
		_, err = sock.p4.WriteTo(payload, cm, to)
	} else {
		cm := &ipv6.ControlMessage{IfIndex: ifindex}
		if src.Is6() && sock.local.Addr().IsUnspecified() {
			cm.Src = src.AsSlice()
		}
		_, err = sock.p6.WriteTo(payload, cm, to)
	}
	if err != nil {
		if u.closing() {
			return ErrClosed
		}
		return fmt.Errorf("transport: UDP send %v -> %v: %w", sock.local, peer, err)
	}
	return nil
}

// pick returns the socket to send to dst from: one bound to src, else the
// first wildcard one of dst's family, else the first of dst's family.
func (u *UDP) pick(dst, src netip.Addr) *udpSock {
	var wild, first *udpSock
	for _, s := range u.socks {
		if (s.p4 != nil) != dst.Is4() {
			continue
		}
		if src.IsValid() && s.local.Addr() == src {
			return s
		}
		if wild == nil && s.local.Addr().IsUnspecified() {
			wild = s
		}
		if first == nil {
			first = s
		}
	}
	if wild != nil {
		return wild
	}
	return first
}
