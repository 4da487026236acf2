package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"monami/internal/forwarding"
	"monami/internal/lab"
	"monami/internal/testenv"
)

// The flow tests use two tunnels from a to b over the one link: a's
// addresses 2001:db8:1::1 (tunnel 1) and 2001:db8:1::66 (tunnel 2), each
// an endpoint at b, so b's per-endpoint counters say which tunnel a
// packet took.
var addrA2 = addrEvil

type flowNet struct {
	*testNet
	dpA, dpB DataPlane
	t1, t2   Tunnel
}

func upFlowNet(t *testing.T, name string, encap Encapsulation) *flowNet {
	t.Helper()
	n := upTestNet(t, name)
	bc := backendCase{name: "userspace", backend: BackendUserspace, encap: encap}
	dpA, dpB := setupTunnel(t, n, bc)
	if err := dpB.AddEndpoint(Endpoint{Local: addrB, Peer: addrA2, Encap: encap, InnerSrc: []netip.Prefix{prefS, prefAHome}}); err != nil {
		t.Fatal(err)
	}
	// Resolve the neighbours both ways first: packets sent while a
	// neighbour is unresolved wait in a short kernel queue, which a burst
	// overflows on a busy machine.
	udpEcho(t, n.s, addrS, n.b, addrSvc)
	return &flowNet{testNet: n, dpA: dpA, dpB: dpB,
		t1: Tunnel{Local: addrA, Remote: addrB, Encap: encap}, t2: Tunnel{Local: addrA2, Remote: addrB, Encap: encap}}
}

// arrivals returns b's admitted packets per tunnel (1 and 2).
func (f *flowNet) arrivals(t *testing.T) (t1, t2 uint64) {
	t.Helper()
	m, err := f.dpB.(EndpointCounter).EndpointCounters()
	if err != nil {
		t.Fatal(err)
	}
	return m[EndpointKey{addrB, addrA}], m[EndpointKey{addrB, addrA2}]
}

func (f *flowNet) routeCounter(t *testing.T, s Selector) RouteCounter {
	t.Helper()
	cs, err := f.dpA.(FlowCounterReader).RouteCounters()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Selector == s {
			return c
		}
	}
	t.Fatalf("no counters for route %v in %+v", s, cs)
	return RouteCounter{}
}

// sendUDP sends count datagrams from s (source port sport, 0: any) to
// the service's port, each carrying its sequence number, paced so that
// no socket buffer overflows.
func sendUDP(t *testing.T, node *lab.NodeNS, from netip.Addr, sport int, to netip.AddrPort, first, count int) {
	t.Helper()
	var c net.PacketConn
	if err := node.Do(func() (err error) {
		c, err = net.ListenPacket("udp6", net.JoinHostPort(from.String(), fmt.Sprint(sport)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, 200)
	for i := first; i < first+count; i++ {
		binary.BigEndian.PutUint32(msg, uint32(i))
		if _, err := c.WriteTo(msg, net.UDPAddrFromAddrPort(to)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if i%32 == 31 {
			time.Sleep(time.Millisecond)
		}
	}
}

// seqListener receives datagrams from the moment it is made, so that a
// burst never overflows its socket.
type seqListener struct {
	port int
	ch   chan uint32
}

func listenSeq(t *testing.T, node *lab.NodeNS, at netip.Addr) *seqListener {
	t.Helper()
	l := listenUDP(t, node, at)
	// A big buffer: the test machine is shared, and a late reader must
	// not lose what the data plane delivered.
	if sc, err := l.c.(syscall.Conn).SyscallConn(); err == nil {
		sc.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20) })
	}
	s := &seqListener{port: l.port, ch: make(chan uint32, 1<<16)}
	go func() {
		buf := make([]byte, 2000)
		for {
			n, _, err := l.c.ReadFrom(buf)
			if err != nil {
				return // closed at cleanup
			}
			if n >= 4 {
				s.ch <- binary.BigEndian.Uint32(buf)
			}
		}
	}()
	return s
}

// wait returns how often each sequence number arrived: it waits up to 5
// s for want datagrams, then settle longer for more (duplicates).
func (l *seqListener) wait(want int, settle time.Duration) map[uint32]int {
	got, total := map[uint32]int{}, 0
	deadline := time.After(5 * time.Second)
	for total < want {
		select {
		case seq := <-l.ch:
			got[seq]++
			total++
		case <-deadline:
			return got
		}
	}
	for {
		select {
		case seq := <-l.ch:
			got[seq]++
		case <-time.After(settle):
			return got
		}
	}
}

func (l *seqListener) count(want int) int {
	n := 0
	for _, c := range l.wait(want, 100*time.Millisecond) {
		n += c
	}
	return n
}

func svcPort(l *seqListener) netip.AddrPort { return netip.AddrPortFrom(addrSvc, uint16(l.port)) }

func flowEncaps() []Encapsulation { return []Encapsulation{EncapIPv6, EncapUDP} }

// TestUserspaceFlowSteering: flow routes send a destination port into
// tunnel 2 while the rest of the destination keeps tunnel 1; a drop
// route discards its port; removing routes gives the traffic back to the
// zero-Flow route, and a destination with flow routes only has no route
// for what they do not match.
func TestUserspaceFlowSteering(t *testing.T) {
	testenv.RequireRoot(t)
	for i, encap := range flowEncaps() {
		t.Run(encap.String(), func(t *testing.T) {
			f := upFlowNet(t, fmt.Sprintf("mdpuf%d", i), encap)
			lnSteered, lnRest, lnDropped := listenSeq(t, f.b, addrSvc), listenSeq(t, f.b, addrSvc), listenSeq(t, f.b, addrSvc)
			steered := Selector{Dst: prefSvc, Flow: forwarding.Match{NextHeader: forwarding.Exact[uint8](17), DstPort: forwarding.Exact(uint16(lnSteered.port))}}
			dropped := Selector{Dst: prefSvc, Flow: forwarding.Match{DstPort: forwarding.Exact(uint16(lnDropped.port))}}
			if err := f.dpA.AddRoute(Route{Selector: steered, Tunnel: f.t2}); err != nil {
				t.Fatal(err)
			}
			if err := Apply(f.dpA, []Op{{Kind: OpAddRoute, Route: Route{Selector: dropped, Mode: ModeDrop}}}); err != nil {
				t.Fatal(err)
			}
			c0, _ := f.dpA.Counters()
			a1, a2 := f.arrivals(t)
			sendUDP(t, f.s, addrS, 0, svcPort(lnSteered), 0, 100)
			sendUDP(t, f.s, addrS, 0, svcPort(lnRest), 0, 50)
			sendUDP(t, f.s, addrS, 0, svcPort(lnDropped), 0, 30)
			if g1, g2, g3 := lnSteered.count(100), lnRest.count(50), lnDropped.count(0); g1 != 100 || g2 != 50 || g3 != 0 {
				t.Fatalf("delivered %d steered, %d other, %d to the dropped port; want 100, 50, 0", g1, g2, g3)
			}
			b1, b2 := f.arrivals(t)
			if b1-a1 != 50 || b2-a2 != 100 {
				t.Errorf("tunnel 1 carried %d, tunnel 2 %d; want 50 and 100", b1-a1, b2-a2)
			}
			if c := f.routeCounter(t, steered); len(c.Paths) != 1 || c.Paths[0].Tunnel != f.t2 || c.Paths[0].Packets != 100 || c.Paths[0].Octets != 100*(ipv6HeaderLen+udpHeaderLen+200) {
				t.Errorf("steered route counters %+v, want 100 packets of 248 octets on tunnel 2", c)
			}
			c1, _ := f.dpA.Counters()
			if d := c1.Drops[DropPolicy] - c0.Drops[DropPolicy]; d != 30 {
				t.Errorf("policy drops +%d, want +30", d)
			}

			// Without its flow route the port goes back to tunnel 1.
			if err := f.dpA.DelRoute(steered); err != nil {
				t.Fatal(err)
			}
			if err := f.dpA.DelRoute(steered); !errors.Is(err, ErrNotFound) {
				t.Errorf("second delete: %v, want ErrNotFound", err)
			}
			a1, a2 = f.arrivals(t)
			sendUDP(t, f.s, addrS, 0, svcPort(lnSteered), 0, 40)
			if g := lnSteered.count(40); g != 40 {
				t.Fatalf("after removal delivered %d of 40", g)
			}
			if b1, b2 := f.arrivals(t); b1-a1 != 40 || b2 != a2 {
				t.Errorf("after removal tunnel 1 carried %d, tunnel 2 %d; want 40 and 0", b1-a1, b2-a2)
			}

			// Only flow routes left: what they do not match has no route.
			if err := f.dpA.DelRoute(Selector{Dst: prefSvc}); err != nil {
				t.Fatal(err)
			}
			if err := f.dpA.AddRoute(Route{Selector: steered, Tunnel: f.t2}); err != nil {
				t.Fatal(err)
			}
			c0, _ = f.dpA.Counters()
			sendUDP(t, f.s, addrS, 0, svcPort(lnSteered), 0, 10)
			sendUDP(t, f.s, addrS, 0, svcPort(lnRest), 0, 10)
			if g1, g2 := lnSteered.count(10), lnRest.count(0); g1 != 10 || g2 != 0 {
				t.Errorf("flow routes only: delivered %d steered, %d other; want 10 and 0", g1, g2)
			}
			c1, _ = f.dpA.Counters()
			if d := c1.Drops[DropNoRoute] - c0.Drops[DropNoRoute]; d != 10 {
				t.Errorf("no-route drops +%d, want +10", d)
			}
			// The last route of the destination takes its kernel route along.
			for _, s := range []Selector{steered, dropped} {
				if err := f.dpA.DelRoute(s); err != nil {
					t.Fatal(err)
				}
			}
			if rs := tableRoutes(t, f.a, prefSvc); len(rs) != 0 {
				t.Errorf("kernel routes left for %v: %v", prefSvc, rs)
			}
		})
	}
}

// tableRoutes lists the data plane table's routes to dst.
func tableRoutes(t *testing.T, node *lab.NodeNS, dst netip.Prefix) []netlink.Route {
	t.Helper()
	h, err := node.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := h.RouteListFiltered(netlink.FAMILY_V6, &netlink.Route{Table: testTable,
		Dst: &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), 128)}}, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_DST)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestUserspaceFlowShare: a share route puts each flow on one tunnel and
// spreads flows over both.
func TestUserspaceFlowShare(t *testing.T) {
	testenv.RequireRoot(t)
	f := upFlowNet(t, "mdpus0", EncapIPv6)
	ln := listenSeq(t, f.b, addrSvc)
	sel := Selector{Dst: prefSvc}
	if err := f.dpA.AddRoute(Route{Selector: sel, Mode: ModeShare, Paths: []Path{{Tunnel: f.t1, Weight: 1}, {Tunnel: f.t2, Weight: 1}}}); err != nil {
		t.Fatal(err)
	}
	on := [2]int{}
	for flow := range 24 {
		a1, a2 := f.arrivals(t)
		sendUDP(t, f.s, addrS, 41000+flow, svcPort(ln), 0, 20)
		if g := ln.count(20); g != 20 {
			ca, _ := f.dpA.Counters()
			cb, _ := f.dpB.Counters()
			b1, b2 := f.arrivals(t)
			t.Fatalf("flow %d: delivered %d of 20 (a: %v; b: %v; tunnels +%d +%d)", flow, g, ca, cb, b1-a1, b2-a2)
		}
		b1, b2 := f.arrivals(t)
		switch {
		case b1-a1 == 20 && b2 == a2:
			on[0]++
		case b2-a2 == 20 && b1 == a1:
			on[1]++
		default:
			t.Fatalf("flow %d split: %d on tunnel 1, %d on tunnel 2", flow, b1-a1, b2-a2)
		}
	}
	if on[0] < 4 || on[1] < 4 {
		t.Errorf("24 flows over equal weights: %v", on)
	}
	c := f.routeCounter(t, sel)
	if len(c.Paths) != 2 || c.Paths[0].Packets != uint64(20*on[0]) || c.Paths[1].Packets != uint64(20*on[1]) {
		t.Errorf("route counters %+v, want %d and %d packets", c, 20*on[0], 20*on[1])
	}
}

// TestUserspaceFlowReplicateDedup: a replicate route sends every packet
// on both tunnels; without Dedup the receiver gets each twice, with it
// exactly once while both tunnels still carry every packet; an
// application's own repeat on one tunnel still arrives; TCP (GSO
// segments) goes through too.
func TestUserspaceFlowReplicateDedup(t *testing.T) {
	testenv.RequireRoot(t)
	for i, encap := range flowEncaps() {
		t.Run(encap.String(), func(t *testing.T) {
			f := upFlowNet(t, fmt.Sprintf("mdpur%d", i), encap)
			ln := listenSeq(t, f.b, addrSvc)
			sel := Selector{Dst: prefSvc}
			if err := f.dpA.AddRoute(Route{Selector: sel, Mode: ModeReplicate, Paths: []Path{{Tunnel: f.t1}, {Tunnel: f.t2}}}); err != nil {
				t.Fatal(err)
			}
			// Without Dedup both copies reach the socket.
			sendUDP(t, f.s, addrS, 0, svcPort(ln), 0, 20)
			got := ln.wait(40, 200*time.Millisecond)
			for seq := range uint32(20) {
				if got[seq] != 2 {
					t.Fatalf("without dedup: datagram %d arrived %d times, want 2", seq, got[seq])
				}
			}

			dd := Dedup{Match: forwarding.Match{Dst: forwarding.AddrExact(addrSvc), NextHeader: forwarding.Exact[uint8](17)}}
			if err := Apply(f.dpB, []Op{{Kind: OpAddDedup, Dedup: dd}}); err != nil {
				t.Fatal(err)
			}
			cb0, _ := f.dpB.Counters()
			a1, a2 := f.arrivals(t)
			const n = 2000
			sendUDP(t, f.s, addrS, 0, svcPort(ln), 0, n)
			got = ln.wait(n, 300*time.Millisecond)
			lost, dup := 0, 0
			for seq := range uint32(n) {
				switch c := got[seq]; {
				case c == 0:
					lost++
				case c > 1:
					dup += c - 1
				}
			}
			b1, b2 := f.arrivals(t)
			cb1, _ := f.dpB.Counters()
			t.Logf("%d datagrams: %d lost, %d duplicated; tunnel 1 carried %d, tunnel 2 %d; %d duplicates dropped",
				n, lost, dup, b1-a1, b2-a2, cb1.Drops[DropDuplicate]-cb0.Drops[DropDuplicate])
			if lost != 0 || dup != 0 || len(got) != n {
				t.Errorf("%d lost, %d duplicated, %d distinct of %d", lost, dup, len(got), n)
			}
			if b1-a1 != n || b2-a2 != n {
				t.Errorf("tunnels carried %d and %d, want %d each", b1-a1, b2-a2, n)
			}
			if d := cb1.Drops[DropDuplicate] - cb0.Drops[DropDuplicate]; d != n {
				t.Errorf("duplicates dropped %d, want %d", d, n)
			}
			if c := f.routeCounter(t, sel); len(c.Paths) != 2 || c.Paths[0].Packets < n || c.Paths[0].Packets != c.Paths[1].Packets {
				t.Errorf("route counters %+v, want equal counts of at least %d", c, n)
			}
			if got := f.dpB.(*userDP).DedupCounters()[dd.Match.Key()]; got < n {
				t.Errorf("dedup counter %d, want at least %d", got, n)
			}

			// The same datagram sent twice (the application's repeat)
			// arrives twice: each time tunnel 1's copy is first... or
			// tunnel 2's, but the same tunnel's repeat passes.
			sendUDP(t, f.s, addrS, 43000, svcPort(ln), 7777, 1)
			time.Sleep(50 * time.Millisecond)
			sendUDP(t, f.s, addrS, 43000, svcPort(ln), 7777, 1)
			if got := ln.wait(2, 200*time.Millisecond); got[7777] != 2 {
				t.Errorf("an application's repeated datagram arrived %d times, want 2", got[7777])
			}

			// TCP through both tunnels, deduplicated: the send loop's GSO
			// segments are each replicated.
			if err := Apply(f.dpB, []Op{{Kind: OpAddDedup, Dedup: Dedup{Match: forwarding.Match{Dst: forwarding.AddrExact(addrSvc)}}}}); err != nil {
				t.Fatal(err)
			}
			a1, a2 = f.arrivals(t)
			tcpEcho(t, f.s, addrS, f.b, addrSvc, 1<<20)
			if b1, b2 := f.arrivals(t); b1-a1 < 700 || b2-a2 < 700 {
				t.Errorf("TCP: tunnels carried %d and %d packets, want each at least 1 MiB's segments", b1-a1, b2-a2)
			}

			// Removing the Dedup brings the duplicates back.
			if err := Apply(f.dpB, []Op{{Kind: OpDelDedup, Dedup: dd}, {Kind: OpDelDedup, Dedup: Dedup{Match: forwarding.Match{Dst: forwarding.AddrExact(addrSvc)}}}}); err != nil {
				t.Fatal(err)
			}
			sendUDP(t, f.s, addrS, 0, svcPort(ln), 0, 5)
			if got := ln.wait(10, 200*time.Millisecond); got[4] != 2 {
				t.Errorf("after deleting the Dedup datagram 4 arrived %d times, want 2", got[4])
			}
		})
	}
}

// TestUserspaceFlowBadInput: malformed routes and Dedups are refused
// with an error naming what is wrong, and nothing is installed.
func TestUserspaceFlowBadInput(t *testing.T) {
	testenv.RequireRoot(t)
	f := upFlowNet(t, "mdpub0", EncapIPv6)
	sel := Selector{Dst: prefSvc, Flow: dport(80)}
	nine := make([]Path, 9)
	for i := range nine {
		nine[i] = Path{Tunnel: f.t1}
	}
	for _, tc := range []struct {
		name string
		r    Route
		want string
	}{
		{"unknown mode", Route{Selector: sel, Mode: 9, Tunnel: f.t1}, "unknown mode"},
		{"drop with paths", Route{Selector: sel, Mode: ModeDrop, Paths: []Path{{Tunnel: f.t1}}}, "drop route has no paths"},
		{"too many paths", Route{Selector: sel, Mode: ModeReplicate, Paths: nine}, "at most 8"},
		{"path not local", Route{Selector: sel, Mode: ModeShare, Paths: []Path{{Tunnel: f.t1}, {Tunnel: Tunnel{Local: netip.MustParseAddr("2001:db8:77::1"), Remote: addrB}}}}, "path 1: tunnel source"},
		{"IPv4 flow", Route{Selector: Selector{Dst: prefSvc, Flow: forwarding.Match{Family: 4}}, Tunnel: f.t1}, "IPv4 match"},
		{"reversed port range", Route{Selector: Selector{Dst: prefSvc, Flow: forwarding.Match{DstPort: forwarding.Between[uint16](90, 80)}}, Tunnel: f.t1}, "start above its end"},
	} {
		err := f.dpA.AddRoute(tc.r)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if cs, _ := f.dpA.(FlowCounterReader).RouteCounters(); len(cs) != 1 {
		t.Errorf("routes after refusals: %+v, want only the plain one", cs)
	}
	err := Apply(f.dpB, []Op{{Kind: OpAddDedup, Dedup: Dedup{Window: 2 * time.Minute}}})
	if err == nil || !strings.Contains(err.Error(), "window") {
		t.Errorf("dedup with a 2m window: %v", err)
	}
	if f.dpB.(*userDP).dedup.Load() != nil {
		t.Error("refused Dedup installed")
	}
	// Deleting what is not there is no error in a batch.
	if err := Apply(f.dpB, []Op{{Kind: OpDelDedup, Dedup: Dedup{Match: dport(1)}}, {Kind: OpDelRoute, Selector: sel}}); err != nil {
		t.Errorf("batch deleting nothing: %v", err)
	}
}

// TestUserspaceFlowManyRules: with 1,000 flow routes on one destination
// (past the linear scan: port index and flow cache), a flow ranked after
// all of them and a flow matching none each take their own tunnel.
func TestUserspaceFlowManyRules(t *testing.T) {
	testenv.RequireRoot(t)
	f := upFlowNet(t, "mdpum0", EncapIPv6)
	ln, other := listenSeq(t, f.b, addrSvc), listenSeq(t, f.b, addrSvc)
	var ops []Op
	for i := range 999 {
		s := Selector{Dst: prefSvc, Flow: forwarding.Match{NextHeader: forwarding.Exact[uint8](17), DstPort: forwarding.Exact(uint16(10000 + i))}}
		ops = append(ops, Op{Kind: OpAddRoute, Route: Route{Selector: s, Tunnel: f.t2}})
	}
	last := Selector{Dst: prefSvc, Flow: forwarding.Match{Src: forwarding.PrefixRange(prefS)}}
	ops = append(ops, Op{Kind: OpAddRoute, Route: Route{Selector: last, Tunnel: f.t2, Order: 1}},
		// The zero-Flow route (tunnel 1) ranked after them all.
		Op{Kind: OpAddRoute, Route: Route{Selector: Selector{Dst: prefSvc}, Tunnel: f.t1, Order: 2}})
	if err := Apply(f.dpA, ops); err != nil {
		t.Fatal(err)
	}
	// The last rule catches s's traffic, except for other's port, which a
	// more urgent rule sends to tunnel 1.
	first := Selector{Dst: prefSvc, Flow: forwarding.Match{DstPort: forwarding.Exact(uint16(other.port))}}
	if err := f.dpA.AddRoute(Route{Selector: first, Tunnel: f.t1}); err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // the second round meets the flow cache
		a1, a2 := f.arrivals(t)
		sendUDP(t, f.s, addrS, 0, svcPort(ln), 0, 50)
		sendUDP(t, f.s, addrS, 0, svcPort(other), 0, 30)
		if g1, g2 := ln.count(50), other.count(30); g1 != 50 || g2 != 30 {
			t.Fatalf("round %d: delivered %d and %d, want 50 and 30", round, g1, g2)
		}
		if b1, b2 := f.arrivals(t); b1-a1 != 30 || b2-a2 != 50 {
			t.Errorf("round %d: tunnel 1 carried %d, tunnel 2 %d; want 30 and 50", round, b1-a1, b2-a2)
		}
	}
	if c := f.routeCounter(t, last); c.Paths[0].Packets != 100 {
		t.Errorf("last-ranked rule carried %d packets, want 100", c.Paths[0].Packets)
	}
}
