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
// than with none: a cost that grows with the number installed (a rebuild,
// a copy, a walk) is far past it at 5,000, while this machine's noise on
// medians of 500 stays well below.
const scaleMaxGrowth = 3.0

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
	if got := down.collect(300 * time.Millisecond); len(got) == 0 {
		t.Error("nothing arrived at the home address through the tunnel")
	}
	if got := up.collect(100 * time.Millisecond); len(got) == 0 {
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
