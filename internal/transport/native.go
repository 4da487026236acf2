package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netns"
	"golang.org/x/net/ipv6"
)

// NativeConfig configures OpenNative.
type NativeConfig struct {
	// NFTTable names the ip6 nftables table the transport installs and
	// removes on Close; default DefaultNFTTable. One transport per network
	// namespace and table name.
	NFTTable string
	// Logger; default slog.Default().
	Logger *slog.Logger
	// QueueLen is how many received Signals wait for Recv before further
	// ones are dropped (and counted); default 256.
	QueueLen int
}

// Stats are counters of a transport; all packets not returned by Recv are
// counted in one of the drop counters.
type Stats struct {
	Sent, Received uint64
	// BadChecksum: MH checksum did not verify (userspace check).
	BadChecksum uint64
	// Malformed: packet could not be parsed.
	Malformed uint64
	// NotLocal: captured, but not addressed to this node (forwarded).
	NotLocal uint64
	// QueueFull: Recv did not keep up.
	QueueFull uint64
}

type counters struct {
	sent, received, badChecksum, malformed, notLocal, queueFull atomic.Uint64
}

func (c *counters) stats() Stats {
	return Stats{
		Sent: c.sent.Load(), Received: c.received.Load(), BadChecksum: c.badChecksum.Load(),
		Malformed: c.malformed.Load(), NotLocal: c.notLocal.Load(), QueueFull: c.queueFull.Load(),
	}
}

// Native sends and receives MH as IPv6 next header 135.
//
// Receiving HAO and RH2 packets: this kernel (no CONFIG_IPV6_MIP6) rejects
// them in ip6_input, after the prerouting hook. The choice between an
// NFQUEUE at prerouting and AF_PACKET + an nftables drop rule fell on the
// latter because the kernel lacks CONFIG_NFT_QUEUE (only the xtables NFQUEUE
// target exists, which needs iptables-compat rules), and AF_PACKET needs no
// extra Go module: packet taps run in __netif_receive_skb before ip6_rcv, so
// the capture gets its copy before the nftables rule (nft.go) drops the
// packet and the kernel never sends Parameter Problem. A classic BPF filter
// (bpf.go) keeps all other traffic out of userspace. Plain MH arrives on a
// raw IPPROTO_MH socket whose checksum the kernel verifies (IPV6_CHECKSUM
// offset 4, RFC 3542 section 3.1, RFC 6275 section 6.1.1).
type Native struct {
	log   *slog.Logger
	send  *ipv6.PacketConn // AF_INET6 SOCK_RAW IPPROTO_RAW: header included
	mh    *ipv6.PacketConn // AF_INET6 SOCK_RAW IPPROTO_MH
	cap   *capture
	nft   *mhDropTable
	local *localAddrs

	in       chan Signal
	done     chan struct{}
	wg       sync.WaitGroup
	closeMu  sync.Once
	closeErr error
	cnt      counters
	bufPool  sync.Pool
}

var _ Transport = (*Native)(nil)

// OpenNative opens the native transport in the network namespace of the
// calling OS thread (callers that switch namespaces must hold
// runtime.LockOSThread). It installs the nftables table.
func OpenNative(cfg NativeConfig) (_ *Native, err error) {
	if cfg.NFTTable == "" {
		cfg.NFTTable = DefaultNFTTable
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 256
	}
	n := &Native{
		log:  cfg.Logger.With("transport", "mh"),
		in:   make(chan Signal, cfg.QueueLen),
		done: make(chan struct{}),
	}
	n.bufPool.New = func() any { b := make([]byte, 0, 1500); return &b }
	defer func() {
		if err != nil {
			n.Close()
		}
	}()

	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("transport: current network namespace: %w", err)
	}
	defer ns.Close()

	// Sockets first, nftables last: once the drop rule is in, the capture
	// must already be listening.
	c, err := net.ListenPacket("ip6:255", "::") // IPPROTO_RAW implies IPV6_HDRINCL
	if err != nil {
		return nil, fmt.Errorf("transport: raw IPv6 send socket: %w", err)
	}
	n.send = ipv6.NewPacketConn(c)

	c, err = net.ListenPacket(fmt.Sprintf("ip6:%d", ProtoMH), "::")
	if err != nil {
		return nil, fmt.Errorf("transport: raw MH socket: %w", err)
	}
	n.mh = ipv6.NewPacketConn(c)
	// RFC 6275 section 6.1.1: the MH checksum is at offset 4; the kernel
	// then verifies it on receive (and would fill it in on send).
	if err := n.mh.SetChecksum(true, 4); err != nil {
		return nil, fmt.Errorf("transport: IPV6_CHECKSUM on MH socket: %w", err)
	}
	if err := n.mh.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface|ipv6.FlagHopLimit, true); err != nil {
		return nil, fmt.Errorf("transport: IPV6_RECVPKTINFO on MH socket: %w", err)
	}

	if n.cap, err = openCapture(); err != nil {
		return nil, err
	}
	if n.local, err = newLocalAddrs(ns); err != nil {
		return nil, err
	}
	if n.nft, err = installDropTable(cfg.NFTTable, int(ns)); err != nil {
		return nil, err
	}

	n.wg.Add(2)
	go n.readMH()
	go n.readCapture()
	n.log.Debug("native MH transport open", "nft_table", cfg.NFTTable)
	return n, nil
}

// Recv implements Transport.
func (n *Native) Recv(ctx context.Context) (Signal, error) {
	return recvQueue(ctx, n.in, n.done)
}

func recvQueue(ctx context.Context, in <-chan Signal, done <-chan struct{}) (Signal, error) {
	select {
	case s := <-in:
		return s, nil
	default:
	}
	select {
	case s := <-in:
		return s, nil
	case <-done:
		return Signal{}, ErrClosed
	case <-ctx.Done():
		return Signal{}, ctx.Err()
	}
}

// deliver queues s for Recv without blocking.
func deliver(in chan<- Signal, done <-chan struct{}, cnt *counters, s Signal) {
	select {
	case in <- s:
		cnt.received.Add(1)
	case <-done:
	default:
		cnt.queueFull.Add(1)
	}
}

// Stats returns the counters.
func (n *Native) Stats() Stats { return n.cnt.stats() }

// Close implements Transport: it closes the sockets, waits for the readers
// and removes the nftables table.
func (n *Native) Close() error {
	n.closeMu.Do(func() {
		close(n.done)
		var errs []error
		for _, c := range []interface{ Close() error }{n.send, n.mh, n.cap} {
			if c == nil || isNilCloser(c) {
				continue
			}
			if err := c.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		n.wg.Wait()
		if err := n.nft.remove(); err != nil {
			errs = append(errs, err)
		}
		n.local.close()
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

func isNilCloser(c interface{ Close() error }) bool {
	switch v := c.(type) {
	case *ipv6.PacketConn:
		return v == nil
	case *capture:
		return v == nil
	}
	return false
}
