package dataplane

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"monami/internal/lab"
	"monami/internal/testenv"
)

// scaleN is how many mobile nodes the scale test installs per backend: as
// many as fit the suite's time. `monami lab bench dataplane --endpoints`
// goes to 100,000.
const scaleN = 5000

// scaleWindow is how many changes the first and last medians are taken
// over.
const scaleWindow = 500

// scaleMaxGrowth is how much slower a change may be with scaleN installed
// than with none. The check is for complexity, not speed (the speed figures
// are `monami lab bench dataplane --endpoints N`'s milestones): a cost that
// grows with the number installed (a rebuild, a copy, a walk) is ~20x at
// 5,000 against the first 500's median, while a loaded machine's noise
// reached 3.25x (load 11-16) on a flat cost.
const scaleMaxGrowth = 8.0

// mobileNode i's care-of and home addresses in the scale test.
func scaleAddrs(i int) (coa, hoa netip.Addr) {
	c := netip.MustParseAddr("2001:db8:c0a::").As16()
	h := netip.MustParseAddr("2001:db8:f0::").As16()
	c[13], c[14], c[15] = byte(i>>16), byte(i>>8), byte(i)
	h[13], h[14], h[15] = byte(i>>16), byte(i>>8), byte(i)
	return netip.AddrFrom16(c), netip.AddrFrom16(h)
}

// TestDataPlaneScale installs scaleN mobile nodes the way a home agent
// does (an endpoint accepting the home address from the care-of address,
// and the home address's route into the tunnel), checks that a change
// costs no more with all of them installed than with none, that a tunnel
// installed last carries traffic both ways through the full tables, and
// that removing them costs the same throughout.
func TestDataPlaneScale(t *testing.T) {
	testenv.RequireRoot(t)
	n := upTestNet(t, "mdpscale")
	for _, bc := range backendCases {
		t.Run(bc.name, func(t *testing.T) {
			dpA, dpB := newScalePair(t, n, bc)
			add := make([]time.Duration, scaleN)
			for i := range scaleN {
				coa, hoa := scaleAddrs(i)
				start := time.Now()
				if err := dpB.AddEndpoint(Endpoint{Local: addrB, Peer: coa, Encap: bc.encap, InnerSrc: []netip.Prefix{netip.PrefixFrom(hoa, 128)}}); err != nil {
					t.Fatalf("endpoint %d: %v", i, err)
				}
				if err := dpB.AddRoute(Route{Selector: Selector{Dst: netip.PrefixFrom(hoa, 128)}, Tunnel: Tunnel{Local: addrB, Remote: coa, Encap: bc.encap}}); err != nil {
					t.Fatalf("route %d: %v", i, err)
				}
				add[i] = time.Since(start)
			}
			checkGrowth(t, "add", add)
			// The real mobile node comes last: its packets meet full tables.
			checkBothWays(t, n, dpA, dpB, bc)
			del := make([]time.Duration, scaleN)
			for i := range scaleN {
				coa, hoa := scaleAddrs(i)
				start := time.Now()
				if err := dpB.DelRoute(Selector{Dst: netip.PrefixFrom(hoa, 128)}); err != nil {
					t.Fatalf("delete route %d: %v", i, err)
				}
				if err := dpB.DelEndpoint(addrB, coa, bc.encap); err != nil {
					t.Fatalf("delete endpoint %d: %v", i, err)
				}
				del[i] = time.Since(start)
			}
			checkGrowth(t, "delete", del)
			checkBothWays(t, n, dpA, dpB, bc)
		})
	}
}

// newScalePair starts a mobile-node-like data plane on a (reverse tunnel
// from its home address) and a home-agent-like one on b.
func newScalePair(t *testing.T, n *testNet, bc backendCase) (dpA, dpB DataPlane) {
	t.Helper()
	newDP := func(node *lab.NodeNS) DataPlane {
		dp, err := New(Config{Backend: bc.backend, Table: testTable, RulePriority: testPref, NetNS: nsHandle(t, node),
			NFTable: testNFT, TunName: testTun, NoBPF: bc.noBPF})
		if err != nil {
			t.Fatalf("new %s data plane: %v", bc.backend, err)
		}
		t.Cleanup(func() { dp.Close() })
		return dp
	}
	dpA, dpB = newDP(n.a), newDP(n.b)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	home := netip.PrefixFrom(addrAHome, 128)
	must(dpA.AddRoute(Route{Selector: Selector{Dst: netip.MustParsePrefix("::/0"), Src: home}, Tunnel: Tunnel{Local: addrA, Remote: addrB, Encap: bc.encap}}))
	must(dpA.AddEndpoint(Endpoint{Local: addrA, Peer: addrB, Encap: bc.encap}))
	return dpA, dpB
}

// checkBothWays installs a's binding at b and sends a datagram each way.
func checkBothWays(t *testing.T, n *testNet, dpA, dpB DataPlane, bc backendCase) {
	t.Helper()
	home := netip.PrefixFrom(addrAHome, 128)
	if err := dpB.AddEndpoint(Endpoint{Local: addrB, Peer: addrA, Encap: bc.encap, InnerSrc: []netip.Prefix{home}}); err != nil {
		t.Fatal(err)
	}
	if err := dpB.AddRoute(Route{Selector: Selector{Dst: home}, Tunnel: Tunnel{Local: addrB, Remote: addrA, Encap: bc.encap}}); err != nil {
		t.Fatal(err)
	}
	down := listenUDP(t, n.a, addrAHome)
	up := listenUDP(t, n.b, addrB)
	noOpt := func(int) error { return nil }
	// A first datagram may wait for neighbour discovery; three is plenty.
	for i := range 3 {
		sendUDPWith(t, n.b, addrB, addrAHome, down.port, []byte(fmt.Sprint("down", i)), noOpt)
		sendUDPWith(t, n.a, addrAHome, addrB, up.port, []byte(fmt.Sprint("up", i)), noOpt)
	}
	if !down.first(2 * time.Second) {
		t.Error("nothing arrived at the home address through the tunnel")
	}
	if !up.first(2 * time.Second) {
		t.Error("nothing reverse-tunnelled from the home address passed the ingress check")
	}
	if err := dpB.DelRoute(Selector{Dst: home}); err != nil {
		t.Fatal(err)
	}
	if err := dpB.DelEndpoint(addrB, addrA, bc.encap); err != nil {
		t.Fatal(err)
	}
}

// checkGrowth compares the median change of the first and the last
// scaleWindow changes.
func checkGrowth(t *testing.T, what string, d []time.Duration) {
	t.Helper()
	first, last := median(d[:scaleWindow]), median(d[len(d)-scaleWindow:])
	ratio := float64(last) / float64(first)
	t.Logf("%s: median %v over the first %d, %v over the last %d (%.2fx), %d in %v",
		what, first, scaleWindow, last, scaleWindow, ratio, len(d), sum(d))
	if ratio > scaleMaxGrowth {
		t.Errorf("%s: a change costs %.1fx more at the end than at the start (%v vs %v): it grows with the number installed",
			what, ratio, last, first)
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func sum(d []time.Duration) time.Duration {
	var t time.Duration
	for _, x := range d {
		t += x
	}
	return t
}

// TestApplyBatch installs and removes mobile nodes in batches, as a home
// agent does with the Binding Updates waiting in its queue: a batch mixes
// additions, removals and removals of what is not there (not an error),
// and what it leaves forwards like single calls would.
func TestApplyBatch(t *testing.T) {
	testenv.RequireRoot(t)
	n := upTestNet(t, "mdpbatch")
	const total, batch = 1000, 50
	for _, bc := range backendCases {
		t.Run(bc.name, func(t *testing.T) {
			dpA, dpB := newScalePair(t, n, bc)
			var ops []Op
			flush := func() {
				t.Helper()
				if err := Apply(dpB, ops); err != nil {
					t.Fatal(err)
				}
				ops = ops[:0]
			}
			for i := range total {
				ops = append(ops, scaleOps(i, bc.encap, true)...)
				if len(ops) >= 2*batch {
					flush()
				}
			}
			flush()
			// Remove the first half, one of them twice, and something never added.
			for i := range total / 2 {
				ops = append(ops, scaleOps(i, bc.encap, false)...)
			}
			ops = append(ops, scaleOps(0, bc.encap, false)...)
			ops = append(ops, scaleOps(total+5, bc.encap, false)...)
			flush()
			if k, ok := dpB.(*kernelDP); ok {
				k.mu.Lock()
				routes, eps := len(k.routes), len(k.endpoints)
				k.mu.Unlock()
				if routes != total/2 || eps != total/2 {
					t.Errorf("%d routes and %d endpoints installed, want %d each", routes, eps, total/2)
				}
			}
			checkBothWays(t, n, dpA, dpB, bc)
		})
	}
}

// scaleOps adds or removes mobile node i's endpoint and route.
func scaleOps(i int, encap Encapsulation, add bool) []Op {
	coa, hoa := scaleAddrs(i)
	host := netip.PrefixFrom(hoa, 128)
	ep := Endpoint{Local: addrB, Peer: coa, Encap: encap, InnerSrc: []netip.Prefix{host}}
	if add {
		return []Op{{Kind: OpAddEndpoint, Endpoint: ep},
			{Kind: OpAddRoute, Route: Route{Selector: Selector{Dst: host}, Tunnel: Tunnel{Local: addrB, Remote: coa, Encap: encap}}}}
	}
	return []Op{{Kind: OpDelRoute, Selector: Selector{Dst: host}}, {Kind: OpDelEndpoint, Endpoint: ep}}
}

// first reports whether a datagram arrives within d (a busy machine may
// take a while; a working tunnel needs only one).
func (l *udpListener) first(d time.Duration) bool {
	l.c.SetReadDeadline(time.Now().Add(d))
	_, _, err := l.c.ReadFrom(make([]byte, 2000))
	return err == nil
}
