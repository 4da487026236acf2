package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// UDPEndpoint is one local UDP socket of the UDP transport.
type UDPEndpoint struct {
	// Addr is the local address and port. An unspecified address (0.0.0.0
	// or ::) listens on all addresses of that family; port 0 picks an
	// ephemeral port (a mobile node's choice, RFC 5555 section 4.1).
	Addr netip.AddrPort
	// Interface, if set, binds the socket to that device (SO_BINDTODEVICE),
	// e.g. one socket per access interface of a multihomed mobile node.
	Interface string
}

// UDPConfig configures ListenUDP.
type UDPConfig struct {
	// Endpoints; default [::]:4191 and 0.0.0.0:4191, a home agent.
	Endpoints []UDPEndpoint
	// Data, if set, gets every datagram that does not carry Mobility
	// Header signalling (RFC 5555 uses the same port for tunnelled data):
	// pkt is the inner IPv4 or IPv6 packet and is only valid during the
	// call. Otherwise such datagrams are counted as NotSignalling.
	Data func(pkt []byte, peer, local netip.AddrPort, ifindex int)
	// MaxPeers bounds the learnt home address -> peer map; default 4096.
	MaxPeers int
	Logger   *slog.Logger
	// QueueLen: see NativeConfig.QueueLen.
	QueueLen int
}

// UDP is the RFC 5555 UDP encapsulation transport: the UDP payload is the
// IPv6 packet carrying the Mobility Header (RFC 5555 section 4.1: from an
// IPv4 care-of address the inner header has the home address as source and
// no HAO; this transport also carries HAO or RH2 inside when the Signal
// asks for them). The kernel never parses the inner packet, so no nftables
// rule is needed; checksums are verified in userspace.
type UDP struct {
	log   *slog.Logger
	socks []*udpSock
	data  func(pkt []byte, peer, local netip.AddrPort, ifindex int)

	peersMu  sync.Mutex
	peers    map[netip.Addr]netip.AddrPort
	maxPeers int

	in        chan Signal
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	cnt       counters
	notSig    atomic.Uint64
}

type udpSock struct {
	conn  *net.UDPConn
	p4    *ipv4.PacketConn
	p6    *ipv6.PacketConn
	local netip.AddrPort // as bound (port resolved)
	ifc   string
}

var _ Transport = (*UDP)(nil)

// ListenUDP opens the UDP transport's sockets in the network namespace of
// the calling OS thread.
func ListenUDP(cfg UDPConfig) (_ *UDP, err error) {
	if len(cfg.Endpoints) == 0 {
		cfg.Endpoints = []UDPEndpoint{
			{Addr: netip.AddrPortFrom(netip.IPv6Unspecified(), UDPPort)},
			{Addr: netip.AddrPortFrom(netip.IPv4Unspecified(), UDPPort)},
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 256
	}
	if cfg.MaxPeers <= 0 {
		cfg.MaxPeers = 4096
	}
	u := &UDP{
		log: cfg.Logger.With("transport", "udp"), data: cfg.Data,
		peers: map[netip.Addr]netip.AddrPort{}, maxPeers: cfg.MaxPeers,
		in: make(chan Signal, cfg.QueueLen), done: make(chan struct{}),
	}
	defer func() {
		if err != nil {
			u.Close()
		}
	}()
	for _, ep := range cfg.Endpoints {
		s, err := listenUDPSock(ep)
		if err != nil {
			return nil, err
		}
		u.socks = append(u.socks, s)
	}
	for _, s := range u.socks {
		u.wg.Add(1)
		go u.read(s)
	}
	return u, nil
}

func listenUDPSock(ep UDPEndpoint) (*udpSock, error) {
	a := ep.Addr.Addr()
	network := "udp6"
	if a.Is4() || a.Is4In6() {
		network, a = "udp4", a.Unmap()
	} else if !a.Is6() {
		return nil, fmt.Errorf("transport: UDP endpoint %v: no address", ep.Addr)
	}
	lc := net.ListenConfig{}
	if ep.Interface != "" {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = unix.BindToDevice(int(fd), ep.Interface)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	// Go sets IPV6_V6ONLY on "udp6" sockets, so [::]:4191 and
	// 0.0.0.0:4191 coexist.
	pc, err := lc.ListenPacket(context.Background(), network, netip.AddrPortFrom(a, ep.Addr.Port()).String())
	if err != nil {
		return nil, fmt.Errorf("transport: UDP listen %v (%q): %w", ep.Addr, ep.Interface, err)
	}
	c := pc.(*net.UDPConn)
	s := &udpSock{conn: c, local: c.LocalAddr().(*net.UDPAddr).AddrPort(), ifc: ep.Interface}
	if network == "udp4" {
		s.p4 = ipv4.NewPacketConn(c)
		err = s.p4.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
	} else {
		s.p6 = ipv6.NewPacketConn(c)
		err = s.p6.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("transport: UDP %v: packet info: %w", s.local, err)
	}
	return s, nil
}

// LocalAddrs returns the bound address of every endpoint, in order.
func (u *UDP) LocalAddrs() []netip.AddrPort {
	r := make([]netip.AddrPort, len(u.socks))
	for i, s := range u.socks {
		r[i] = s.local
	}
	return r
}

// Peer returns the UDP endpoint from which the last valid signalling for
// home address hoa came (the inner source, or the HAO). It is
// unauthenticated: a home agent should keep the Peer of the Binding Update
// it accepted in its binding cache and send with that.
func (u *UDP) Peer(hoa netip.Addr) (netip.AddrPort, bool) {
	u.peersMu.Lock()
	defer u.peersMu.Unlock()
	p, ok := u.peers[hoa]
	return p, ok
}

func (u *UDP) learn(hoa netip.Addr, peer netip.AddrPort) {
	u.peersMu.Lock()
	defer u.peersMu.Unlock()
	if _, ok := u.peers[hoa]; !ok && len(u.peers) >= u.maxPeers {
		for k := range u.peers { // evict an arbitrary entry
			delete(u.peers, k)
			break
		}
	}
	u.peers[hoa] = peer
}

// Recv implements Transport.
func (u *UDP) Recv(ctx context.Context) (Signal, error) { return recvQueue(ctx, u.in, u.done) }

// UDPStats are the UDP transport's counters.
type UDPStats struct {
	Stats
	// NotSignalling: datagrams without MH and no Data callback.
	NotSignalling uint64
}

// Stats returns the counters.
func (u *UDP) Stats() UDPStats { return UDPStats{Stats: u.cnt.stats(), NotSignalling: u.notSig.Load()} }

// Close implements Transport.
func (u *UDP) Close() error {
	u.closeOnce.Do(func() {
		close(u.done)
		var errs []error
		for _, s := range u.socks {
			if err := s.conn.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		u.wg.Wait()
		u.closeErr = errors.Join(errs...)
	})
	return u.closeErr
}

func (u *UDP) closing() bool {
	select {
	case <-u.done:
		return true
	default:
		return false
	}
}
