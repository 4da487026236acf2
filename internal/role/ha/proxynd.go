package ha

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netns"
	"golang.org/x/net/ipv6"
)

// neighborProxy defends home addresses on the home link while their mobile
// nodes are away (RFC 6275 section 10.4.1): the home agent answers Neighbor
// Solicitations for them, Duplicate Address Detection included, with its
// own link-layer address, so hosts on the home link send it the packets it
// then tunnels. The real one speaks ND with mdlayher/ndp; tests inject a
// fake.
type neighborProxy interface {
	Defend(hoa netip.Addr) error
	Release(hoa netip.Addr) error
	Close() error
}

// linkLocalWait bounds how long the proxy waits for the home link
// interface's link-local address at start.
const linkLocalWait = 5 * time.Second

// allNodes is the link-scope all-nodes multicast address (RFC 4291 section
// 2.7.1), the destination of unsolicited and DAD-answering advertisements.
var allNodes = netip.MustParseAddr("ff02::1")

// ndpProxy is the neighborProxy on a real interface.
type ndpProxy struct {
	conn *ndp.Conn
	mac  net.HardwareAddr
	ifn  string
	log  *slog.Logger

	mu       sync.Mutex
	defended map[netip.Addr]bool
	groups   map[netip.Addr]int // solicited-node group -> defended addresses in it
	done     chan struct{}
}

// openNeighborProxy opens an ND socket on ifname in ns (the current
// namespace when ns <= 0) and starts answering solicitations.
func openNeighborProxy(ifname string, ns netns.NsHandle, log *slog.Logger) (*ndpProxy, error) {
	var p *ndpProxy
	err := inNamespace(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		if len(ifi.HardwareAddr) == 0 {
			return errors.New("the interface has no link-layer address to advertise")
		}
		// ndp.Listen binds to the interface's link-local address, which a
		// link just brought up may not have yet (still tentative, RFC 4862
		// section 5.4): wait for it a little rather than fail.
		var conn *ndp.Conn
		for deadline := time.Now().Add(linkLocalWait); ; time.Sleep(100 * time.Millisecond) {
			if conn, _, err = ndp.Listen(ifi, ndp.LinkLocal); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			return err
		}
		p = &ndpProxy{conn: conn, mac: ifi.HardwareAddr, ifn: ifname, log: log,
			defended: map[netip.Addr]bool{}, groups: map[netip.Addr]int{}, done: make(chan struct{})}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("home_link %s: proxy neighbor discovery: %w", ifname, err)
	}
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeNeighborSolicitation)
	if err := p.conn.SetICMPFilter(&f); err != nil {
		p.conn.Close()
		return nil, fmt.Errorf("home_link %s: ICMPv6 filter: %w", ifname, err)
	}
	// RFC 4861 section 7.1.1: a solicitation whose hop limit is not 255
	// was forwarded and must be ignored.
	if err := p.conn.SetControlMessage(ipv6.FlagHopLimit, true); err != nil {
		p.conn.Close()
		return nil, fmt.Errorf("home_link %s: hop limit: %w", ifname, err)
	}
	go p.serve()
	log.Info("proxy neighbor discovery on the home link", "interface", ifname, "lladdr", p.mac)
	return p, nil
}

// inNamespace runs f on a thread in ns; sockets opened there stay there.
func inNamespace(ns netns.NsHandle, f func() error) error {
	if ns <= 0 {
		return f()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		return err
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		panic("cannot return to the original network namespace: " + err.Error())
	}
	return ferr
}

// Defend joins the home address's solicited-node group (RFC 4861 section
// 7.2.1 for a proxy) and announces the home agent's link-layer address for
// it with an unsolicited advertisement, Override set, to all nodes (RFC 6275
// section 10.4.1), so caches holding the mobile node's own address switch.
func (p *ndpProxy) Defend(hoa netip.Addr) error {
	g, err := ndp.SolicitedNodeMulticast(hoa)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if p.defended[hoa] {
		p.mu.Unlock()
		return nil
	}
	if p.groups[g] == 0 {
		if err := p.conn.JoinGroup(g); err != nil {
			p.mu.Unlock()
			return fmt.Errorf("joining %s: %w", g, err)
		}
	}
	p.groups[g]++
	p.defended[hoa] = true
	p.mu.Unlock()
	return p.advertise(hoa, allNodes, false, true)
}

// Release stops answering for hoa: the mobile node came home (it answers
// itself) or its bindings are gone (RFC 6275 section 10.3.2).
func (p *ndpProxy) Release(hoa netip.Addr) error {
	g, err := ndp.SolicitedNodeMulticast(hoa)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.defended[hoa] {
		return nil
	}
	delete(p.defended, hoa)
	if p.groups[g]--; p.groups[g] > 0 {
		return nil
	}
	delete(p.groups, g)
	return p.conn.LeaveGroup(g)
}

func (p *ndpProxy) Close() error {
	err := p.conn.Close()
	<-p.done
	return err
}

func (p *ndpProxy) serve() {
	defer close(p.done)
	for {
		m, cm, src, err := p.conn.ReadFrom()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			p.log.Debug("proxy ND: read", "err", err)
			continue
		}
		ns, ok := m.(*ndp.NeighborSolicitation)
		if !ok || (cm != nil && cm.HopLimit != ndp.HopLimit) {
			continue
		}
		if err := p.answer(ns, src); err != nil {
			p.log.Warn("proxy ND: answering a solicitation", "target", ns.TargetAddress, "from", src, "err", err)
		}
	}
}

// answer replies to a solicitation for a defended home address. A DAD
// probe (unspecified source) gets a multicast answer with Solicited clear
// (RFC 4861 section 7.2.4), so the prober sees the address is taken; any
// other gets a unicast one with Solicited set. Override stays clear in
// both: a proxy's solicited advertisement must not override the node's own
// (RFC 4861 section 7.2.8).
func (p *ndpProxy) answer(ns *ndp.NeighborSolicitation, src netip.Addr) error {
	p.mu.Lock()
	mine := p.defended[ns.TargetAddress]
	p.mu.Unlock()
	if !mine {
		return nil
	}
	if src.WithZone("").IsUnspecified() {
		p.log.Info("proxy ND: defending home address against DAD", "hoa", ns.TargetAddress, "interface", p.ifn)
		return p.advertise(ns.TargetAddress, allNodes, false, false)
	}
	return p.advertise(ns.TargetAddress, src, true, false)
}

func (p *ndpProxy) advertise(target, dst netip.Addr, solicited, override bool) error {
	na := &ndp.NeighborAdvertisement{
		Solicited: solicited, Override: override, TargetAddress: target,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: p.mac}},
	}
	return p.conn.WriteTo(na, nil, dst)
}
