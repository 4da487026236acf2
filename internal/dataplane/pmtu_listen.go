package dataplane

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// tunnelPMTU is the part of a data plane that learns its tunnels' outer
// path MTUs: the table, a raw ICMPv6 socket that hears every Packet Too
// Big reaching the namespace (filtered in the kernel to that type), and
// the timer that lets what it learned age (pmtuAge).
type tunnelPMTU struct {
	paths *pathMTUs
	log   *slog.Logger
	conn  net.PacketConn
	// retune installs again, with the MTU innerMTU now gives, every route
	// with a path through one of keys, under the data plane's lock, and
	// returns how many. With learn, it first checks that such a route
	// exists (a Packet Too Big for another packet of ours teaches the data
	// plane nothing) and calls learn, stopping when learn changed nothing.
	retune func(keys []tunnelKey, learn func() bool) int
	// limit bounds the messages that reach retune, which looks through
	// every route under the data plane's lock: Packet Too Big is easy to
	// forge, and routers send at most about one a second per destination
	// anyway (RFC 4443 section 2.4 (f)).
	limit *errorLimiter

	mu     sync.Mutex
	timer  *time.Timer
	closed bool
	wg     sync.WaitGroup
}

// pmtuRate is how many Packet Too Big messages a second may make a data
// plane look through its routes.
const pmtuRate = 100

// startTunnelPMTU opens the socket in ns and starts reading it.
func startTunnelPMTU(ns netns.NsHandle, log *slog.Logger, retune func([]tunnelKey, func() bool) int) (*tunnelPMTU, error) {
	p := &tunnelPMTU{paths: newPathMTUs(), log: log, retune: retune, limit: newErrorLimiter(pmtuRate, pmtuRate)}
	if err := inNetNS(ns, func() (err error) {
		p.conn, err = listenPacketTooBig()
		return err
	}); err != nil {
		return nil, fmt.Errorf("packet too big socket: %w", err)
	}
	p.wg.Add(1)
	go p.read()
	return p, nil
}

// listenPacketTooBig opens a raw ICMPv6 socket whose filter (RFC 3542
// section 3.2) passes Packet Too Big only.
func listenPacketTooBig() (net.PacketConn, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
	if err != nil {
		return nil, err
	}
	var f unix.ICMPv6Filter
	for i := range f.Data {
		f.Data[i] = ^uint32(0) // block all
	}
	f.Data[icmpPacketTooBig>>5] &^= 1 << (icmpPacketTooBig & 31)
	if err := unix.SetsockoptICMPv6Filter(fd, unix.IPPROTO_ICMPV6, unix.ICMPV6_FILTER, &f); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ICMPV6_FILTER: %w", err)
	}
	file := os.NewFile(uintptr(fd), "icmpv6-packet-too-big")
	defer file.Close()
	return net.FilePacketConn(file)
}

func (p *tunnelPMTU) read() {
	defer p.wg.Done()
	buf := make([]byte, MinMTU)
	for {
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.log.Warn("packet too big socket", "err", err)
			}
			return
		}
		tb, err := parsePacketTooBig(buf[:n])
		if err != nil {
			p.log.Debug("packet too big ignored", "err", err)
			continue
		}
		p.learn(tb)
	}
}

// learn lowers the tunnel MTU of tb's outer path when tb reports a lower
// path MTU for one of our tunnels, and installs its routes again.
func (p *tunnelPMTU) learn(tb tooBig) {
	key := tunnelKey{tb.Local, tb.Remote}
	if cur := p.paths.get(key, time.Now()); (cur != 0 && cur <= tb.MTU) || tb.MTU < MinMTU {
		return // nothing new (RFC 8201 section 4), without the route walk
	}
	if p.limit != nil && !p.limit.allow(time.Now()) {
		return
	}
	n := p.retune([]tunnelKey{key}, func() bool { return p.paths.lower(key, tb.MTU, time.Now()) })
	if n == 0 {
		return
	}
	p.log.Info("tunnel path MTU lowered", "local", tb.Local.String(), "remote", tb.Remote.String(), "next_header", tb.Next, "path_mtu", tb.MTU, "routes", n)
	p.schedule()
}

// schedule arms the timer for the next learned value to age.
func (p *tunnelPMTU) schedule() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.timer != nil {
		return
	}
	p.timer = time.AfterFunc(pmtuAge, p.age)
}

// age forgets what is older than pmtuAge: those tunnels try their link's
// MTU again (RFC 8201 section 4).
func (p *tunnelPMTU) age() {
	gone, next := p.paths.expire(time.Now())
	if len(gone) > 0 {
		n := p.retune(gone, nil)
		p.log.Info("tunnel path MTU aged out", "paths", len(gone), "routes", n)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer = nil
	if !p.closed && !next.IsZero() {
		p.timer = time.AfterFunc(time.Until(next), p.age)
	}
}

// close stops reading and the timer. Callers must not hold the data
// plane's lock: a retune in progress takes it.
func (p *tunnelPMTU) close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()
	p.conn.Close()
	p.wg.Wait()
}

// get is the learned path MTU of k now (0: none); nil-safe.
func (p *tunnelPMTU) get(k tunnelKey) int {
	if p == nil {
		return 0
	}
	return p.paths.get(k, time.Now())
}
