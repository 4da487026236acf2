package dataplane

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

type sockKey struct {
	local netip.Addr
	encap Encapsulation
}

// tunnelSock sends and receives one local address's tunnel traffic: a raw
// IPv6 socket for next header 41 (the kernel writes the outer header and
// strips it on receive), or a UDP socket on the encapsulation port.
type tunnelSock struct {
	key  sockKey
	conn net.PacketConn
	pc   *ipv6.PacketConn
	port int
	refs int // guarded by userDP.mu

	pending []ipv6.Message // send loop only

	// UDP GSO state, send loop only.
	noGSO     bool
	slab      []byte
	gsoMsgs   []ipv6.Message
	gsoCounts []int
	cmsgs     map[int][]byte

	gro bool // UDP_GRO enabled on the socket

	shared SharedUDP // set: no socket of its own (see Config.SharedUDP)
}

const sockBufBytes = 8 << 20

func openTunnelSock(key sockKey, port int) (*tunnelSock, error) {
	s := &tunnelSock{key: key, port: port}
	var err error
	switch key.encap {
	case EncapUDP:
		s.conn, err = net.ListenPacket("udp6", net.JoinHostPort(key.local.String(), strconv.Itoa(port)))
	default:
		s.conn, err = net.ListenPacket("ip6:"+strconv.Itoa(protoIPv6), key.local.String())
	}
	if err != nil {
		return nil, fmt.Errorf("open %s tunnel socket on %v: %w", key.encap, key.local, err)
	}
	sc, err := s.conn.(syscall.Conn).SyscallConn()
	if err == nil {
		err = sc.Control(func(fd uintptr) {
			// Bigger buffers absorb bursts of GSO-split packets; the FORCE
			// variants need CAP_NET_ADMIN, which a data plane has.
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, sockBufBytes)
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sockBufBytes)
			// Never fragment the outer packet: inner packets are checked
			// against the tunnel MTU instead (RFC 2473 section 7.1 allows
			// either; a PTB to the inner source keeps the path clean).
			// PROBE, not DO: the data plane learns the outer path MTU
			// itself (pmtu.go); with DO the kernel's own path MTU for the
			// socket would fail the sends already queued (EMSGSIZE, and
			// EINVAL for a UDP GSO send, which flushUDPGSO takes for a
			// path without GSO).
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE)
			if key.encap == EncapUDP {
				s.gro = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
			}
		})
	}
	if err != nil {
		s.conn.Close()
		return nil, fmt.Errorf("tunnel socket options: %w", err)
	}
	s.pc = ipv6.NewPacketConn(s.conn)
	return s, nil
}

func (s *tunnelSock) peerAddr(remote netip.Addr, port uint16) net.Addr {
	if s.key.encap == EncapUDP {
		if port == 0 {
			port = uint16(s.port)
		}
		return &net.UDPAddr{IP: remote.AsSlice(), Port: int(port)}
	}
	return &net.IPAddr{IP: remote.AsSlice()}
}

func (s *tunnelSock) close() {
	if s.conn != nil {
		s.conn.Close()
	}
}

func addrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.IPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// sendLoop moves packets from the TUN device into tunnels until the device
// is closed.
func (u *userDP) sendLoop() {
	defer u.wg.Done()
	batch := u.dev.BatchSize()
	bufs := make([][]byte, batch)
	sizes := make([]int, batch)
	for i := range bufs {
		bufs[i] = make([]byte, sendHeadroom+65535)
	}
	var b sendBatch
	for {
		n, err := u.dev.Read(bufs, sizes, sendHeadroom)
		if err != nil {
			if errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, tun.ErrTooManySegments) {
				u.ctr.drop(DropMalformed)
				continue
			}
			u.log.Debug("TUN read", "err", err)
			if u.isClosed() {
				return
			}
			u.ctr.drop(DropMalformed)
			continue
		}
		u.table.mu.RLock()
		b.active, b.probed = b.active[:0], nil
		for i := 0; i < n; i++ {
			u.route(&b, bufs[i], sizes[i])
		}
		u.table.mu.RUnlock()
		if u.pkt != nil && len(u.pkt.msgs) > 0 {
			u.flushPkt(u.pkt)
		}
		for _, s := range b.active {
			if s.key.encap == EncapUDP && !s.noGSO {
				u.flushUDPGSO(s)
			} else {
				u.flush(s)
			}
		}
		b.arena.reset()
	}
}

// sendBatch is the send loop's state for one batch read from the TUN.
type sendBatch struct {
	active []*tunnelSock // sockets with pending packets
	probed *nextHop      // this batch goes through the kernel for it
	arena  copyArena     // further copies of replicated packets
}

// route classifies the inner packet buf[sendHeadroom:sendHeadroom+n] and
// queues it on its path(s); the caller holds u.table.mu for reading.
func (u *userDP) route(b *sendBatch, buf []byte, n int) {
	pkt := buf[sendHeadroom : sendHeadroom+n]
	src, dst, _, ok := ipv6Header(pkt)
	if !ok {
		u.ctr.drop(DropMalformed)
		return
	}
	p := u.table.lookup(src, dst)
	if p == nil {
		// The kernel's own multicast on the TUN (MLD, router
		// solicitations) is no one's loss; count the rest.
		if !dst.IsMulticast() {
			u.ctr.drop(DropNoRoute)
		}
		return
	}
	r, path, ok := p.pick(pkt, u.shares)
	switch {
	case !ok:
		u.ctr.drop(DropMalformed)
		return
	case r == nil:
		u.ctr.drop(DropNoRoute) // no flow route matches, none without a flow
		return
	case r.r.Mode == ModeDrop:
		u.ctr.drop(DropPolicy)
		return
	case len(pkt) > r.mtu:
		u.tooBig(r, pkt)
		return
	}
	if r.r.Mode != ModeReplicate {
		u.enqueue(b, r.paths[path], buf, n, false)
		return
	}
	// Bicasting: every path gets the packet (a GSO super-packet was
	// split by the TUN read, so each segment is copied).
	inPlace := false
	for _, pa := range r.paths {
		inPlace = u.enqueue(b, pa, buf, n, inPlace)
	}
}

// enqueue queues the packet on one path: through the packet socket when
// the path has a next hop, else its tunnel socket. The packet socket
// writes the outer header into the headroom, so once one copy did
// (headroomUsed), another copy for the packet socket is taken from the
// arena. It returns whether the headroom is now in use.
func (u *userDP) enqueue(b *sendBatch, pa *userPath, buf []byte, n int, headroomUsed bool) bool {
	pkt := buf[sendHeadroom : sendHeadroom+n]
	pa.packets.Add(1)
	pa.octets.Add(uint64(n))
	if nh := pa.hop.Load(); nh != nil && n+ipv6HeaderLen <= nh.mtu {
		if nh.probe.Load() && b.probed == nil {
			nh.probe.Store(false)
			b.probed = nh
		}
		if nh != b.probed {
			if headroomUsed {
				c := b.arena.get(sendHeadroom + n)
				copy(c[sendHeadroom:], pkt)
				u.pkt.add(c, n, nh)
				return true
			}
			u.pkt.add(buf, n, nh)
			return true
		}
	}
	s := pa.sock
	if len(s.pending) == 0 {
		b.active = append(b.active, s)
	}
	s.pending = append(s.pending, ipv6.Message{Buffers: [][]byte{pkt}, Addr: pa.addr})
	return headroomUsed
}

// copyArena hands out buffers for one batch from a few reused chunks.
type copyArena struct {
	chunks [][]byte
	cur    int // chunk in use
	off    int // next free octet in it
}

const arenaChunk = 256 << 10

// get returns n octets valid until reset.
func (a *copyArena) get(n int) []byte {
	for {
		if a.cur == len(a.chunks) {
			a.chunks = append(a.chunks, make([]byte, max(arenaChunk, n)))
		}
		c := a.chunks[a.cur]
		if len(c)-a.off >= n {
			a.off += n
			return c[a.off-n : a.off : a.off]
		}
		a.cur, a.off = a.cur+1, 0
	}
}

func (a *copyArena) reset() { a.cur, a.off = 0, 0 }

// flush sends s.pending with as few sendmmsg calls as the kernel allows.
func (u *userDP) flush(s *tunnelSock) {
	if s.shared != nil {
		u.flushShared(s)
		return
	}
	ms := s.pending
	for len(ms) > 0 {
		n, err := s.pc.WriteBatch(ms, 0)
		n = max(n, 0) // sendmmsg's -1 on an error
		for _, m := range ms[:n] {
			u.ctr.packetsOut.Add(1)
			u.ctr.bytesOut.Add(uint64(len(m.Buffers[0])))
		}
		ms = ms[n:]
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENOBUFS) {
				continue
			}
			// The first unsent message failed; skip it, keep the rest.
			if len(ms) > 0 {
				u.ctr.drop(DropIO)
				ms = ms[1:]
			}
			if errors.Is(err, net.ErrClosed) {
				for range ms {
					u.ctr.drop(DropIO)
				}
				break
			}
		}
	}
	clear(s.pending)
	s.pending = s.pending[:0]
}

// tooBig answers an inner packet larger than its tunnel's MTU with an
// ICMPv6 Packet Too Big (RFC 4443 section 3.2; RFC 2473 section 7.1 lets
// the tunnel entry point send it), written back into the TUN device so the
// kernel routes it to the packet's source.
func (u *userDP) tooBig(r *userRoute, pkt []byte) {
	if len(r.paths) == 0 {
		return
	}
	u.ctr.drop(DropTooBig)
	if !u.limiter.allow(time.Now()) {
		return
	}
	ptb := packetTooBig(r.paths[0].tun.Local, r.mtu, pkt)
	if ptb == nil {
		return
	}
	buf := make([]byte, tunOffset+len(ptb))
	copy(buf[tunOffset:], ptb)
	if _, err := u.dev.Write([][]byte{buf}, tunOffset); err != nil {
		u.log.Debug("write Packet Too Big", "err", err)
	}
}

// receiveLoop decapsulates what arrives on s: the outer source must be an
// endpoint's peer and, when the endpoint lists inner sources, the inner
// source one of them (RFC 6275 section 10.4.5). Accepted packets are
// written to the TUN device, which hands them to the kernel as if they had
// arrived on it.
func (u *userDP) receiveLoop(s *tunnelSock) {
	defer u.wg.Done()
	rb := u.rxFree.get(s.gro)
	defer u.rxFree.put(rb)
	bufs, ms, pool := rb.bufs, rb.ms, rb.pool
	// Coalesced UDP runs are split into the pool's buffers, which have
	// the headroom and capacity the TUN device's GRO needs.
	out := rb.out
	for {
		n, err := s.pc.ReadBatch(ms, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			u.log.Debug("tunnel socket read", "local", s.key.local, "err", err)
			u.ctr.drop(DropIO)
			time.Sleep(time.Millisecond)
			continue
		}
		out = out[:0]
		used := 0
		dd := u.dedup.Load()
		var now uint32
		if dd != nil {
			now = dedupNow()
		}
		for i := 0; i < n; i++ {
			m := &ms[i]
			data := bufs[i][tunOffset : tunOffset+m.N]
			m.Buffers[0] = bufs[i][tunOffset:]
			gso := 0
			if s.gro {
				gso = groSize(m.OOB[:m.NN])
				m.OOB = m.OOB[:cap(m.OOB)]
			}
			ep := u.accept.get(endpointKey{s.key.local, addrOf(m.Addr), s.key.encap})
			if gso == 0 || gso >= len(data) {
				if u.admit(ep, data, dd, now) {
					out = append(out, bufs[i][:tunOffset+len(data)])
				}
				continue
			}
			for off := 0; off < len(data); off += gso {
				seg := data[off:min(off+gso, len(data))]
				if !u.admit(ep, seg, dd, now) {
					continue
				}
				if used == len(pool) {
					u.writeTUN(out)
					out, used = out[:0], 0
				}
				b := pool[used][:tunOffset+len(seg)]
				copy(b[tunOffset:], seg)
				used++
				out = append(out, b)
			}
		}
		if !u.writeTUN(out) {
			return
		}
	}
}

// admit applies the ingress check to one decapsulated packet and counts
// it; with dd, a copy of a bicast packet that another tunnel delivered
// first is dropped (after it counted as an arrival: it proves the path).
func (u *userDP) admit(ep *acceptEntry, pkt []byte, dd *dedupSet, now uint32) bool {
	if ep == nil {
		u.ctr.drop(DropOuterSource)
		return false
	}
	src, _, _, ok := ipv6Header(pkt)
	if !ok {
		u.ctr.drop(DropMalformed)
		return false
	}
	if len(ep.innerSrc) > 0 && !containsAddr(ep.innerSrc, src) {
		u.ctr.drop(DropInnerSource)
		return false
	}
	ep.arrivals.Add(1)
	if dd != nil && dd.duplicate(pkt, ep.tunnel, now) {
		u.ctr.drop(DropDuplicate)
		return false
	}
	u.ctr.packetsIn.Add(1)
	u.ctr.bytesIn.Add(uint64(len(pkt)))
	return true
}

// writeTUN hands packets to the kernel; false once the device is closed.
func (u *userDP) writeTUN(out [][]byte) bool {
	if len(out) == 0 {
		return true
	}
	if _, err := u.dev.Write(out, tunOffset); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return false
		}
		u.ctr.drop(DropIO)
		u.log.Debug("TUN write", "err", err)
	}
	return true
}

func containsAddr(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (u *userDP) isClosed() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.closed
}
