package dataplane

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"monami/internal/lab"
	"monami/internal/testenv"
)

// TestKernelBackendOnHost: a mobile node does not forward
// (net.ipv6.conf.all.forwarding=0); its own traffic must still reach the
// home network, with the tunnel's MTU. Then a data plane that starts after
// a killed one removes the decapsulation route it left.
func TestKernelBackendOnHost(t *testing.T) {
	testenv.RequireRoot(t)
	name := "mdphost"
	_ = lab.Teardown(name)
	l, err := lab.Up(context.Background(), &lab.Topology{
		Name:  name,
		Nodes: []lab.Node{{Name: "a", Kind: lab.KindHost}, {Name: "b", Kind: lab.KindRouter}},
		Links: []lab.Link{{A: lab.End{Node: "a", If: "mdp1", Addrs: []string{"2001:db8:1::1/64"}},
			B: lab.End{Node: "b", If: "mdp1", Addrs: []string{"2001:db8:1::2/64"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Error(err)
		}
	})
	n := &testNet{lab: l, a: l.MustNode("a"), b: l.MustNode("b"), name: name}
	n.addLo(t, n.a, addrAHome)
	n.addLo(t, n.b, addrSvc)
	newDP := func(node *lab.NodeNS) DataPlane {
		dp, err := New(Config{Backend: BackendKernel, Table: testTable, RulePriority: testPref, NetNS: nsHandle(t, node),
			NFTable: testNFT, TunName: testTun})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dp.Close() })
		return dp
	}
	a, b := newDP(n.a), newDP(n.b)
	home := netip.PrefixFrom(addrAHome, 128)
	for _, err := range []error{
		a.AddRoute(Route{Selector: Selector{Dst: netip.MustParsePrefix("::/0"), Src: home}, Tunnel: Tunnel{Local: addrA, Remote: addrB}}),
		a.AddEndpoint(Endpoint{Local: addrA, Peer: addrB}),
		b.AddRoute(Route{Selector: Selector{Dst: home}, Tunnel: Tunnel{Local: addrB, Remote: addrA}}),
		b.AddEndpoint(Endpoint{Local: addrB, Peer: addrA, InnerSrc: []netip.Prefix{home}}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	tcpEcho(t, n.a, addrAHome, n.b, addrSvc, 1<<20)
	tcpEcho(t, n.b, addrSvc, n.a, addrAHome, 1<<20)
	// A local socket sees the inner MTU: 1500 - 40.
	var mtu int
	err = n.a.Do(func() error {
		c, err := net.DialUDP("udp6", &net.UDPAddr{IP: addrAHome.AsSlice()}, &net.UDPAddr{IP: addrSvc.AsSlice(), Port: 9})
		if err != nil {
			return err
		}
		defer c.Close()
		sc, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := sc.Control(func(fd uintptr) { mtu, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU) }); err != nil {
			return err
		}
		return serr
	})
	if err != nil {
		t.Fatal(err)
	}
	if mtu != 1460 {
		t.Errorf("local path MTU through the tunnel %d, want 1460", mtu)
	}

	// "Kill" b's data plane: its routes stay, as after SIGKILL (the
	// handles it holds are only closed by the cleanup, which then finds
	// nothing left to remove). Its successor starts clean.
	b.(*kernelDP).mu.Lock()
	decap := b.(*kernelDP).decap[addrB]
	b.(*kernelDP).routes, b.(*kernelDP).decap, b.(*kernelDP).rules = map[Selector]kernelRoute{}, map[netip.Addr]netip.Addr{}, nil
	b.(*kernelDP).mu.Unlock()
	// ... and an older version's rules (table and the next, priority and
	// the one before) are there too.
	hb, err := n.b.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*netlink.Rule{routeRule(testTable, testPref), routeRule(testTable+1, testPref-1)} {
		if err := hb.RuleAdd(r); err != nil {
			t.Fatal(err)
		}
	}
	succ := newDP(n.b)
	local, err := hb.RouteListFiltered(unix.AF_INET6, &netlink.Route{Table: unix.RT_TABLE_LOCAL}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range local {
		if r.Dst != nil && r.Dst.IP.Equal(decap.AsSlice()) {
			t.Errorf("stale decapsulation route %v left after a restart", r)
		}
	}
	if err := succ.Close(); err != nil {
		t.Fatal(err)
	}
	assertClean(t, n.b)
}
