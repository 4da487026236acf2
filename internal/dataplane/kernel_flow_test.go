package dataplane

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"monami/internal/forwarding"
	"monami/internal/lab"
	"monami/internal/testenv"
)

// TestKernelFlowRoutes runs the kernel backend's flow routes in the test
// network: a has two tunnel sources toward b (2001:db8:1::1, T1, and
// 2001:db8:1::66, T2); b counts arrivals per peer (EndpointCounters),
// which tells which tunnel a packet took.
func TestKernelFlowRoutes(t *testing.T) {
	testenv.RequireRoot(t)
	n := upTestNet(t, "mdpfl")
	dpA, dpB := setupTunnel(t, n, backendCases[0])
	ka, kb := dpA.(*kernelDP), dpB.(*kernelDP)
	t1 := Tunnel{Local: addrA, Remote: addrB}
	t2 := Tunnel{Local: addrEvil, Remote: addrB}
	if err := dpB.AddEndpoint(Endpoint{Local: addrB, Peer: addrEvil, InnerSrc: []netip.Prefix{prefS, prefAHome}}); err != nil {
		t.Fatal(err)
	}
	arrivals := func() (a1, a2 uint64) {
		t.Helper()
		m, err := kb.EndpointCounters()
		if err != nil {
			t.Fatal(err)
		}
		return m[EndpointKey{addrB, addrA}], m[EndpointKey{addrB, addrEvil}]
	}
	udp := func(port int) forwarding.Match {
		return forwarding.Match{NextHeader: forwarding.Exact[uint8](unix.IPPROTO_UDP), DstPort: forwarding.Exact(uint16(port))}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// send sends count datagrams "<tag>-<i>" from sport to port, paced.
	send := func(sport, port, count int, tag string) {
		t.Helper()
		err := n.s.Do(func() error {
			c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: addrS.AsSlice(), Port: sport})
			if err != nil {
				return err
			}
			defer c.Close()
			for i := range count {
				if _, err := c.WriteTo([]byte(fmt.Sprintf("%s-%04d-padding-to-16", tag, i)), &net.UDPAddr{IP: addrSvc.AsSlice(), Port: port}); err != nil {
					return err
				}
				time.Sleep(time.Millisecond)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	routeCounter := func(s Selector) RouteCounter {
		t.Helper()
		rcs, err := ka.RouteCounters()
		if err != nil {
			t.Fatal(err)
		}
		for _, rc := range rcs {
			if rc.Selector == s {
				return rc
			}
		}
		t.Fatalf("no counters for route %v", s)
		return RouteCounter{}
	}

	t.Run("steer-by-port", func(t *testing.T) {
		l1, l2 := listenUDP(t, n.b, addrSvc), listenUDP(t, n.b, addrSvc)
		sel := Selector{Dst: prefSvc, Flow: udp(l2.port)}
		must(dpA.AddRoute(Route{Selector: sel, Tunnel: t2}))
		b1, b2 := arrivals()
		send(0, l1.port, 20, "one")
		send(0, l2.port, 20, "two")
		if g1, g2 := len(l1.collect(300*time.Millisecond)), len(l2.collect(100*time.Millisecond)); g1 != 20 || g2 != 20 {
			t.Fatalf("delivered %d and %d, want 20 each", g1, g2)
		}
		a1, a2 := arrivals()
		if a1-b1 != 20 || a2-b2 != 20 {
			t.Errorf("arrivals on T1 +%d, T2 +%d; want +20 each (port %d steered to T2)", a1-b1, a2-b2, l2.port)
		}
		if rc := routeCounter(sel); len(rc.Paths) != 1 || rc.Paths[0].Packets != 20 || rc.Paths[0].Tunnel != t2 {
			t.Errorf("route counters %+v, want 20 packets on %v", rc, t2)
		}
		// TCP (GSO packets, pushed by the program) steered too.
		tcpSel := Selector{Dst: prefSvc, Flow: forwarding.Match{NextHeader: forwarding.Exact[uint8](unix.IPPROTO_TCP)}}
		must(dpA.AddRoute(Route{Selector: tcpSel, Tunnel: t2}))
		b1, b2 = arrivals()
		tcpEcho(t, n.s, addrS, n.b, addrSvc, 1<<20)
		if a1, a2 := arrivals(); a2-b2 < 10 || a1 != b1 {
			t.Errorf("TCP: arrivals on T1 +%d, T2 +%d; want the stream's on T2 only", a1-b1, a2-b2)
		}
		must(dpA.DelRoute(tcpSel))
		must(dpA.DelRoute(sel))
	})

	// A batch with several routes of one parent is one sync
	// (applyParentBatch): they all steer, and a second batch moving two
	// and removing one leaves exactly what it says.
	t.Run("batch-of-one-parent", func(t *testing.T) {
		ls := make([]*udpListener, 4)
		var ops []Op
		for i := range ls {
			ls[i] = listenUDP(t, n.b, addrSvc)
			ops = append(ops, Op{Kind: OpAddRoute, Route: Route{Selector: Selector{Dst: prefSvc, Flow: udp(ls[i].port)}, Tunnel: t2}})
		}
		must(dpA.(Batcher).Apply(ops))
		b1, b2 := arrivals()
		for i, l := range ls {
			send(0, l.port, 5, fmt.Sprintf("b%d", i))
		}
		for i, l := range ls {
			if got := len(l.collect(200 * time.Millisecond)); got != 5 {
				t.Fatalf("listener %d got %d, want 5", i, got)
			}
		}
		if a1, a2 := arrivals(); a2-b2 != 20 || a1 != b1 {
			t.Errorf("arrivals T1 +%d T2 +%d, want the 20 on T2", a1-b1, a2-b2)
		}
		move := []Op{
			{Kind: OpAddRoute, Route: Route{Selector: Selector{Dst: prefSvc, Flow: udp(ls[0].port)}, Tunnel: t1}},
			{Kind: OpAddRoute, Route: Route{Selector: Selector{Dst: prefSvc, Flow: udp(ls[1].port)}, Tunnel: t1}},
			{Kind: OpDelRoute, Selector: Selector{Dst: prefSvc, Flow: udp(ls[2].port)}},
		}
		must(dpA.(Batcher).Apply(move))
		b1, b2 = arrivals()
		for _, l := range ls {
			send(0, l.port, 5, "m")
		}
		for _, l := range ls {
			l.collect(200 * time.Millisecond)
		}
		// ports 0 and 1 moved to T1; 2 lost its route (the plain route, T1);
		// 3 stays on T2.
		if a1, a2 := arrivals(); a1-b1 != 15 || a2-b2 != 5 {
			t.Errorf("after the moves: T1 +%d T2 +%d, want +15 and +5", a1-b1, a2-b2)
		}
		if rc := routeCounter(Selector{Dst: prefSvc, Flow: udp(ls[0].port)}); len(rc.Paths) != 1 || rc.Paths[0].Tunnel != t1 {
			t.Errorf("moved route counters %+v", rc)
		}
		for i := range ls {
			if i != 2 {
				must(dpA.DelRoute(Selector{Dst: prefSvc, Flow: udp(ls[i].port)}))
			}
		}
	})

	t.Run("share", func(t *testing.T) {
		l := listenUDP(t, n.b, addrSvc)
		sel := Selector{Dst: prefSvc, Flow: udp(l.port)}
		must(dpA.AddRoute(Route{Selector: sel, Mode: ModeShare, Paths: []Path{{Tunnel: t1, Weight: 1}, {Tunnel: t2, Weight: 3}}}))
		var on1, on2 int
		const flows, per = 40, 3
		placed := make([]int, flows)
		for f := range flows {
			b1, b2 := arrivals()
			send(41000+f, l.port, per, "share")
			a1, a2 := arrivals()
			switch {
			case a1-b1 == per && a2 == b2:
				on1++
				placed[f] = 1
			case a2-b2 == per && a1 == b1:
				on2++
				placed[f] = 2
			default:
				t.Errorf("flow %d split: +%d on T1, +%d on T2", f, a1-b1, a2-b2)
			}
		}
		defer func() {
			// New weights, same paths: conntrack keeps every flow where
			// it was.
			must(dpA.AddRoute(Route{Selector: sel, Mode: ModeShare, Paths: []Path{{Tunnel: t1, Weight: 3}, {Tunnel: t2, Weight: 1}}}))
			for f := range flows {
				b1, b2 := arrivals()
				send(41000+f, l.port, 1, "again")
				a1, a2 := arrivals()
				if got := map[bool]int{true: 1, false: 2}[a1 > b1]; got != placed[f] || a1-b1+a2-b2 != 1 {
					t.Errorf("flow %d on T%d after the weights changed, was on T%d", f, got, placed[f])
				}
			}
			l.collect(300 * time.Millisecond)
			must(dpA.DelRoute(sel))
		}()
		if got := len(l.collect(300 * time.Millisecond)); got != flows*per {
			t.Errorf("delivered %d of %d", got, flows*per)
		}
		// Weighted round robin of new flows: any 4 consecutive flows put
		// 1 on T1 and 3 on T2, so 40 put exactly 10 and 30.
		if on1 != flows/4 || on2 != flows*3/4 {
			t.Errorf("flows on T1 (weight 1) %d, T2 (weight 3) %d: want %d and %d", on1, on2, flows/4, flows*3/4)
		}
		rc := routeCounter(sel)
		if len(rc.Paths) != 2 || rc.Paths[0].Packets != uint64(on1*per) || rc.Paths[1].Packets != uint64(on2*per) {
			t.Errorf("route counters %+v, want %d and %d packets", rc, on1*per, on2*per)
		}
	})

	t.Run("replicate-dedup", func(t *testing.T) {
		l := listenUDP(t, n.b, addrSvc)
		sel := Selector{Dst: prefSvc, Flow: udp(l.port)}
		must(dpA.AddRoute(Route{Selector: sel, Mode: ModeReplicate, Paths: []Path{{Tunnel: t1}, {Tunnel: t2}}}))
		// Without a Dedup the application sees both copies.
		send(0, l.port, 10, "raw")
		if got := len(l.collect(300 * time.Millisecond)); got != 20 {
			t.Fatalf("replicated without dedup: %d delivered, want 20 (two copies of 10)", got)
		}
		m := udp(l.port)
		must(Apply(dpB, []Op{{Kind: OpAddDedup, Dedup: Dedup{Match: m}}}))
		b1, b2 := arrivals()
		const count = 200
		// Read while sending: the copies' buffers would fill the
		// socket's receive buffer otherwise.
		done := make(chan []string)
		go func() { done <- l.collect(time.Second + count*2*time.Millisecond) }()
		send(0, l.port, count, "seq")
		got := <-done
		seen := map[string]int{}
		for _, g := range got {
			seen[g]++
		}
		for i := range count {
			key := fmt.Sprintf("seq-%04d-padding-to-16", i)
			if seen[key] != 1 {
				t.Errorf("datagram %d delivered %d times", i, seen[key])
			}
		}
		if len(got) != count {
			a1, a2 := arrivals()
			d, _ := kb.dedupDrops(m)
			t.Errorf("delivered %d, want %d (arrivals +%d +%d, dedup drops %d)", len(got), count, a1-b1, a2-b2, d)
			n.b.Do(func() error {
				b, _ := os.ReadFile("/proc/thread-self/net/snmp6")
				for _, line := range strings.Split(string(b), "\n") {
					if strings.HasPrefix(line, "Udp6") || strings.Contains(line, "Discard") || strings.Contains(line, "NoRoutes") {
						t.Log(line)
					}
				}
				return nil
			})
		}
		a1, a2 := arrivals()
		if a1-b1 != count || a2-b2 != count {
			t.Errorf("arrivals T1 +%d, T2 +%d; want +%d on both", a1-b1, a2-b2, count)
		}
		if d, err := kb.dedupDrops(m); err != nil || d != count {
			t.Errorf("dedup drops %d (%v), want %d", d, err, count)
		}
		rc := routeCounter(sel)
		if len(rc.Paths) != 2 || rc.Paths[0].Packets != count+10 || rc.Paths[1].Packets != count+10 {
			t.Errorf("route counters %+v, want %d per path", rc, count+10)
		}
		must(Apply(dpB, []Op{{Kind: OpDelDedup, Dedup: Dedup{Match: m}}}))
		must(dpA.DelRoute(sel))
	})

	t.Run("drop", func(t *testing.T) {
		l := listenUDP(t, n.b, addrSvc)
		sel := Selector{Dst: prefSvc, Flow: udp(l.port)}
		must(dpA.AddRoute(Route{Selector: sel, Mode: ModeDrop}))
		send(0, l.port, 10, "drop")
		if got := l.collect(300 * time.Millisecond); len(got) != 0 {
			t.Errorf("drop route delivered %d", len(got))
		}
		if rc := routeCounter(sel); len(rc.Paths) != 1 || rc.Paths[0].Packets != 10 {
			t.Errorf("route counters %+v, want 10 dropped", rc)
		}
		must(dpA.DelRoute(sel))
		send(0, l.port, 3, "after")
		if got := l.collect(300 * time.Millisecond); len(got) != 3 {
			t.Errorf("after removing the drop route: %d delivered, want 3", len(got))
		}
	})

	t.Run("parent-without-plain-route-drops-the-rest", func(t *testing.T) {
		l1, l2 := listenUDP(t, n.b, addrSvc), listenUDP(t, n.b, addrSvc)
		sel := Selector{Dst: netip.PrefixFrom(addrSvc, 128), Flow: udp(l1.port)}
		must(dpA.AddRoute(Route{Selector: sel, Tunnel: t2}))
		send(0, l1.port, 5, "flow")
		send(0, l2.port, 5, "rest")
		if g1, g2 := len(l1.collect(300*time.Millisecond)), len(l2.collect(100*time.Millisecond)); g1 != 5 || g2 != 0 {
			t.Errorf("delivered %d by the flow route and %d unmatched; want 5 and 0", g1, g2)
		}
		must(dpA.DelRoute(sel))
		send(0, l2.port, 5, "rest")
		if g := len(l2.collect(300 * time.Millisecond)); g != 5 {
			t.Errorf("after removing the /128 parent: %d delivered by the /64 route, want 5", g)
		}
	})

	t.Run("removed-parent-leaves-nothing", func(t *testing.T) {
		sel := Selector{Dst: prefSvc, Flow: udp(9)}
		must(dpA.AddRoute(Route{Selector: sel, Mode: ModeShare, Paths: []Path{{Tunnel: t1}, {Tunnel: t2}}}))
		if chains := flowChains(t, n.a); len(chains) != 3 { // flow_out, fp<id>, fs<id>
			t.Errorf("chains with a flow route: %v", chains)
		}
		must(dpA.DelRoute(sel))
		if chains := flowChains(t, n.a); len(chains) != 0 {
			t.Errorf("chains left after the last flow route: %v", chains)
		}
		if len(ka.flow.tunnels) != 0 || len(ka.flow.parents) != 0 {
			t.Errorf("flow state left: %d tunnels, %d parents", len(ka.flow.tunnels), len(ka.flow.parents))
		}
		rt := routeTo(t, n.a, prefSvc)
		if rt == nil || !rt.Gw.Equal(detourGateway.AsSlice()) {
			t.Errorf("route to %v after its flow routes: %v, want the plain route via %v", prefSvc, rt, detourGateway)
		}
		if rt := routeTo(t, n.a, netip.PrefixFrom(replicaAddr, 128)); rt != nil {
			t.Errorf("replica route left: %v", rt)
		}
		udpEcho(t, n.s, addrS, n.b, addrSvc)
	})

	t.Run("many-rules-last-matches", func(t *testing.T) {
		l := listenUDP(t, n.b, addrSvc)
		var ops []Op
		for i := range 1000 {
			port := 10000 + i
			if i == 999 {
				port = l.port
			}
			ops = append(ops, Op{Kind: OpAddRoute, Route: Route{Selector: Selector{Dst: prefSvc, Flow: udp(port)}, Tunnel: t2}})
		}
		// Order 0, as the plain route's: a higher Order would put them
		// after it (routeBefore), unreachable. Equal specificity: the
		// key orders them, "dport=10000" before "dport=<l.port>".
		must(Apply(dpA, ops))
		_, b2 := arrivals()
		send(0, l.port, 10, "last")
		if got := len(l.collect(300 * time.Millisecond)); got != 10 {
			t.Errorf("delivered %d, want 10", got)
		}
		if _, a2 := arrivals(); a2-b2 != 10 {
			t.Errorf("arrivals on T2 +%d, want +10", a2-b2)
		}
		if rc := routeCounter(ops[999].Route.Selector); len(rc.Paths) != 1 || rc.Paths[0].Packets != 10 {
			t.Errorf("the last rule's counters: %+v, want 10 packets", rc)
		}
		for i := range ops {
			ops[i] = Op{Kind: OpDelRoute, Selector: ops[i].Route.Selector}
		}
		must(Apply(dpA, ops))
	})

	t.Run("bad-routes", func(t *testing.T) {
		for _, c := range []struct {
			r    Route
			want string
			is   error
		}{
			{Route{Selector: Selector{Dst: prefSvc, Flow: forwarding.Match{DstPort: forwarding.Range[uint16]{Lo: 9, Hi: 1, Set: true}}}, Tunnel: t1},
				"start above its end", nil},
			{Route{Selector: Selector{Dst: prefSvc, Flow: udp(1)}, Tunnel: Tunnel{Local: addrA, Remote: addrB, Encap: EncapUDP}},
				"udp encapsulation", ErrUnsupported},
			{Route{Selector: Selector{Dst: prefSvc, Src: prefS, Flow: udp(1)}, Tunnel: t1}, "a destination and a source prefix", ErrUnsupported},
			{Route{Selector: Selector{Dst: prefSvc, Flow: udp(1)}, Tunnel: Tunnel{Local: netip.MustParseAddr("2001:db8:77::1"), Remote: addrB}},
				"not assigned", ErrNotFound},
			{Route{Selector: Selector{Dst: prefSvc, Flow: udp(1)}, Mode: Mode(9), Tunnel: t1}, "unknown mode", nil},
		} {
			err := dpA.AddRoute(c.r)
			if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
				t.Errorf("AddRoute(%v): %v, want an error with %q", c.r.Selector, err, c.want)
			}
		}
		if len(ka.flow.parents) != 0 || len(flowChains(t, n.a)) != 0 {
			t.Errorf("a refused route left state: %d parents, chains %v", len(ka.flow.parents), flowChains(t, n.a))
		}
	})
}

// flowChains lists the chains of the test table that flow routes make.
func flowChains(t *testing.T, node *lab.NodeNS) []string {
	t.Helper()
	var out []string
	err := node.Do(func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		chains, err := c.ListChains()
		if err != nil {
			return err
		}
		for _, ch := range chains {
			if ch.Table.Name == testNFT && (ch.Name == nftChainFlow || strings.HasPrefix(ch.Name, "fp") || strings.HasPrefix(ch.Name, "fs")) {
				out = append(out, ch.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// routeTo is the local table's route for exactly p, or nil.
func routeTo(t *testing.T, node *lab.NodeNS, p netip.Prefix) *netlink.Route {
	t.Helper()
	h, err := node.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	routes, err := h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Table: unix.RT_TABLE_LOCAL}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range routes {
		if r.Dst != nil && r.Dst.String() == p.String() && r.Protocol == unix.RTPROT_STATIC {
			return &routes[i]
		}
	}
	return nil
}
