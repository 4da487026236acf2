package dataplane

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"monami/internal/lab"
	"monami/internal/testenv"
)

// Test topology (lab names and everything else start with "mdp"):
//
//	s (sender) --mdp0-- a (tunnel entry) ==mdp1== b (tunnel exit, service 2001:db8:b::1)
//	2001:db8:5::2    5::1 | 1::1            1::2
//
// a tunnels 2001:db8:b::/64 to b; b tunnels 2001:db8:5::/64 and a's own
// 2001:db8:a::/64 back to a and accepts only those inner sources from a.
var (
	addrS     = netip.MustParseAddr("2001:db8:5::2")
	addrA     = netip.MustParseAddr("2001:db8:1::1")
	addrB     = netip.MustParseAddr("2001:db8:1::2")
	addrAHome = netip.MustParseAddr("2001:db8:a::1")
	addrSvc   = netip.MustParseAddr("2001:db8:b::1")
	addrEvil  = netip.MustParseAddr("2001:db8:1::66")
	prefS     = netip.MustParsePrefix("2001:db8:5::/64")
	prefAHome = netip.MustParsePrefix("2001:db8:a::/64")
	prefSvc   = netip.MustParsePrefix("2001:db8:b::/64")
)

const (
	testTable = 4242
	testPref  = 4242
	testNFT   = "mdpdp"
	testTun   = "mdptun0"
)

type testNet struct {
	lab     *lab.Lab
	s, a, b *lab.NodeNS
	name    string
}

func upTestNet(t *testing.T, name string) *testNet {
	t.Helper()
	topo := &lab.Topology{
		Name: name,
		Nodes: []lab.Node{
			{Name: "s", Routes: []lab.Route{{Dst: "default6", Via: "2001:db8:5::1"}}},
			{Name: "a", Kind: lab.KindRouter},
			{Name: "b", Kind: lab.KindRouter},
		},
		Links: []lab.Link{
			{A: lab.End{Node: "s", If: "mdp0", Addrs: []string{"2001:db8:5::2/64"}},
				B: lab.End{Node: "a", If: "mdp0", Addrs: []string{"2001:db8:5::1/64"}}},
			{A: lab.End{Node: "a", If: "mdp1", Addrs: []string{"2001:db8:1::1/64", "2001:db8:1::66/64"}},
				B: lab.End{Node: "b", If: "mdp1", Addrs: []string{"2001:db8:1::2/64"}}},
		},
	}
	_ = lab.Teardown(name) // a crashed earlier run
	l, err := lab.Up(context.Background(), topo)
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
		for _, n := range []string{"s", "a", "b"} {
			if _, err := os.Stat("/run/netns/" + lab.NsName(name, n)); err == nil {
				t.Errorf("namespace %s left behind", lab.NsName(name, n))
			}
		}
	})
	n := &testNet{lab: l, s: l.MustNode("s"), a: l.MustNode("a"), b: l.MustNode("b"), name: name}
	n.addLo(t, n.a, addrAHome)
	n.addLo(t, n.b, addrSvc)
	return n
}

func (n *testNet) addLo(t *testing.T, node *lab.NodeNS, a netip.Addr) {
	t.Helper()
	h, err := node.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddrAdd(lo, &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(128, 128)}, Flags: unix.IFA_F_NODAD}); err != nil {
		t.Fatalf("add %v on %s: %v", a, node.Name(), err)
	}
}

func nsHandle(t *testing.T, node *lab.NodeNS) netns.NsHandle {
	t.Helper()
	h, err := netns.GetFromPath(node.NetnsPath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

type backendCase struct {
	name    string
	backend Backend
	encap   Encapsulation
	mtu     int // expected inner MTU on a 1500 link
	noBPF   bool
}

var backendCases = []backendCase{
	{"kernel", BackendKernel, EncapIPv6, 1460, false},
	{"kernel-nobpf", BackendKernel, EncapIPv6, 1460, true}, // the veth detour, without BPF
	{"userspace-ipv6", BackendUserspace, EncapIPv6, 1460, false},
	{"userspace-udp", BackendUserspace, EncapUDP, 1452, false},
}

// setupTunnel starts data planes on a and b and connects them.
func setupTunnel(t *testing.T, n *testNet, bc backendCase) (dpA, dpB DataPlane) {
	t.Helper()
	newDP := func(node *lab.NodeNS) DataPlane {
		dp, err := New(Config{Backend: bc.backend, Table: testTable, RulePriority: testPref, NetNS: nsHandle(t, node),
			NFTable: testNFT, TunName: testTun, NoBPF: bc.noBPF})
		if err != nil {
			t.Fatalf("%s: new %s data plane: %v", node.Name(), bc.backend, err)
		}
		t.Cleanup(func() { dp.Close() })
		if dp.Backend() != bc.backend {
			t.Fatalf("backend %s, want %s", dp.Backend(), bc.backend)
		}
		if k, ok := dp.(*kernelDP); ok && (k.encap == nil) != bc.noBPF {
			t.Fatalf("BPF encapsulation in use: %v, want %v", k.encap != nil, !bc.noBPF)
		}
		return dp
	}
	dpA, dpB = newDP(n.a), newDP(n.b)
	if bc.backend == BackendKernel {
		// The far end of what packets cross (the MTU detour, or with BPF
		// the segmentation veth) forwards even on a non-router.
		far := testTun + "x"
		if !bc.noBPF {
			far = testTun + "r"
		}
		err := n.a.Do(func() error {
			b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + far + "/force_forwarding")
			if err == nil && strings.TrimSpace(string(b)) != "1" {
				err = fmt.Errorf("force_forwarding is %q", b)
			}
			return err
		})
		if err != nil {
			t.Fatalf("forwarding veth end: %v", err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(dpA.AddRoute(Route{Selector: Selector{Dst: prefSvc}, Tunnel: Tunnel{Local: addrA, Remote: addrB, Encap: bc.encap}}))
	must(dpA.AddEndpoint(Endpoint{Local: addrA, Peer: addrB, Encap: bc.encap}))
	for _, p := range []netip.Prefix{prefS, prefAHome} {
		must(dpB.AddRoute(Route{Selector: Selector{Dst: p}, Tunnel: Tunnel{Local: addrB, Remote: addrA, Encap: bc.encap}}))
	}
	must(dpB.AddEndpoint(Endpoint{Local: addrB, Peer: addrA, Encap: bc.encap, InnerSrc: []netip.Prefix{prefS, prefAHome}}))
	return dpA, dpB
}

func TestTunnelIntegration(t *testing.T) {
	testenv.RequireRoot(t)
	for i, bc := range backendCases {
		t.Run(bc.name, func(t *testing.T) {
			name := fmt.Sprintf("mdpit%d", i)
			n := upTestNet(t, name)
			dpA, dpB := setupTunnel(t, n, bc)
			t.Run("tcp-both-ways", func(t *testing.T) {
				tcpEcho(t, n.s, addrS, n.b, addrSvc, 2<<20)     // s -> b, forwarded through a
				tcpEcho(t, n.b, addrSvc, n.a, addrAHome, 1<<20) // b -> a's home address
				tcpEcho(t, n.a, addrAHome, n.b, addrSvc, 1<<20) // a (local) -> b
			})
			t.Run("reverse-tunnel-by-source", func(t *testing.T) {
				// A mobile node's reverse tunnel: everything from the home
				// prefix, whatever the destination (RFC 6275 section 11.3.1).
				// The outer packets (from 2001:db8:1::1) must not loop.
				sel := Selector{Dst: netip.MustParsePrefix("::/0"), Src: prefAHome}
				if err := dpA.AddRoute(Route{Selector: sel, Tunnel: Tunnel{Local: addrA, Remote: addrB, Encap: bc.encap}}); err != nil {
					t.Fatal(err)
				}
				if err := dpA.DelRoute(Selector{Dst: prefSvc}); err != nil {
					t.Fatal(err)
				}
				tcpEcho(t, n.a, addrAHome, n.b, addrSvc, 1<<20)
				// Put the destination route back: s is not in the home prefix.
				if err := dpA.AddRoute(Route{Selector: Selector{Dst: prefSvc}, Tunnel: Tunnel{Local: addrA, Remote: addrB, Encap: bc.encap}}); err != nil {
					t.Fatal(err)
				}
				if err := dpA.DelRoute(sel); err != nil {
					t.Fatal(err)
				}
				if err := dpA.DelRoute(sel); !errors.Is(err, ErrNotFound) {
					t.Errorf("second DelRoute: %v, want ErrNotFound", err)
				}
			})
			if k, ok := dpA.(*kernelDP); ok && k.encap != nil {
				t.Run("bpf-outer-header", func(t *testing.T) { testOuterHeader(t, n) })
				t.Run("bpf-gso-fallback", func(t *testing.T) { testGSOFallback(t, n, k) })
				t.Run("bpf-gso-restore", func(t *testing.T) { testGSORestore(t, n) })
			}
			t.Run("udp-both-ways", func(t *testing.T) {
				udpEcho(t, n.s, addrS, n.b, addrSvc)
				udpEcho(t, n.b, addrSvc, n.s, addrS)
			})
			t.Run("ingress-check", func(t *testing.T) {
				before, _ := dpB.Counters()
				ln := listenUDP(t, n.b, addrSvc)
				// Wrong outer source: nothing arrives, the counter moves.
				sendTunnelled(t, n.a, addrEvil, addrB, bc.encap, addrS, addrSvc, ln.port, "evil-outer")
				// Right outer source, inner source not the peer's.
				sendTunnelled(t, n.a, addrA, addrB, bc.encap, netip.MustParseAddr("2001:db8:99::1"), addrSvc, ln.port, "evil-inner")
				// Control: the same hand-made packet from the right sources is delivered.
				sendTunnelled(t, n.a, addrA, addrB, bc.encap, addrS, addrSvc, ln.port, "good")
				got := ln.collect(500 * time.Millisecond)
				if len(got) != 1 || got[0] != "good" {
					t.Fatalf("delivered %q, want only \"good\"", got)
				}
				after, err := dpB.Counters()
				if err != nil {
					t.Fatal(err)
				}
				if d := after.Drops[DropOuterSource] - before.Drops[DropOuterSource]; d != 1 {
					t.Errorf("outer-source drops +%d, want +1 (%v)", d, after)
				}
				if d := after.Drops[DropInnerSource] - before.Drops[DropInnerSource]; d != 1 {
					t.Errorf("inner-source drops +%d, want +1 (%v)", d, after)
				}
			})
			t.Run("mtu", func(t *testing.T) {
				mtu := packetTooBigFor(t, n.s, addrS, addrSvc, 1500)
				if mtu != bc.mtu {
					t.Errorf("Packet Too Big MTU %d, want %d", mtu, bc.mtu)
				}
				// A packet exactly at the MTU goes through.
				udpEchoSize(t, n.s, addrS, n.b, addrSvc, bc.mtu-ipv6HeaderLen-udpHeaderLen)
				// TCP from a 1500-byte link learns the path MTU and completes.
				tcpEcho(t, n.s, addrS, n.b, addrSvc, 4<<20)
			})
			ca, _ := dpA.Counters()
			cb, _ := dpB.Counters()
			t.Logf("a: %v", ca)
			t.Logf("b: %v", cb)
			if ca.PacketsOut == 0 || cb.PacketsIn == 0 || cb.PacketsOut == 0 || ca.PacketsIn == 0 {
				t.Errorf("counters did not move: a %v, b %v", ca, cb)
			}
			if k, ok := dpA.(*kernelDP); ok && k.encap != nil {
				// Packets took the BPF path, without errors; only the GSO
				// test's was segmented first.
				c, err := k.encap.counters()
				if err != nil || c.packets == 0 || c.errors != 0 || c.fallback != 1 {
					t.Errorf("BPF egress counters: %+v, %v", c, err)
				}
			}
			t.Run("cleanup", func(t *testing.T) {
				for _, c := range []struct {
					node *lab.NodeNS
					dp   DataPlane
				}{{n.a, dpA}, {n.b, dpB}} {
					if err := c.dp.Close(); err != nil {
						t.Errorf("%s: close: %v", c.node.Name(), err)
					}
					assertClean(t, c.node)
				}
			})
		})
	}
}

// assertClean lists what a data plane may install and fails on leftovers.
func assertClean(t *testing.T, node *lab.NodeNS) {
	t.Helper()
	h, err := node.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	routes, err := h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Table: testTable}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != 0 {
		t.Errorf("%s: %d routes left in table %d: %v", node.Name(), len(routes), testTable, routes)
	}
	// With BPF the routes go in the local table, where all else is the
	// kernel's own.
	local, err := h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Table: unix.RT_TABLE_LOCAL}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range local {
		if r.Protocol != unix.RTPROT_KERNEL {
			t.Errorf("%s: route left in the local table: %v", node.Name(), r)
		}
	}
	rules, err := h.RuleList(unix.AF_INET6)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.Table == testTable || r.Table == testTable+1 || r.Priority == testPref || r.Priority == testPref-1 {
			t.Errorf("%s: rule left: %v", node.Name(), r)
		}
	}
	for _, name := range []string{testTun, testTun + "x", testTun + "s", testTun + "r"} {
		if _, err := h.LinkByName(name); err == nil {
			t.Errorf("%s: interface %s left", node.Name(), name)
		}
	}
	err = node.Do(func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		tables, err := c.ListTables()
		if err != nil {
			return err
		}
		for _, tb := range tables {
			if tb.Name == testNFT {
				t.Errorf("%s: nftables table %s left", node.Name(), tb.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// seg6 tunsrc must be back to ::.
	err = node.Do(func() error {
		a, err := getTunsrc()
		if err == nil && !a.IsUnspecified() {
			t.Errorf("%s: seg6 tunsrc left at %v", node.Name(), a)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func tcpEcho(t *testing.T, client *lab.NodeNS, from netip.Addr, server *lab.NodeNS, at netip.Addr, size int) {
	t.Helper()
	tcpEchoMSS(t, client, from, server, at, size, 0)
}

// tcpEchoMSS is tcpEcho with the client's MSS clamped to mss (TCP_MAXSEG)
// when it is not 0.
func tcpEchoMSS(t *testing.T, client *lab.NodeNS, from netip.Addr, server *lab.NodeNS, at netip.Addr, size, mss int) {
	t.Helper()
	var ln net.Listener
	if err := server.Do(func() (err error) {
		ln, err = net.Listen("tcp6", net.JoinHostPort(at.String(), "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	var conn net.Conn
	if err := client.Do(func() (err error) {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: from.AsSlice()}, Control: clampMSS(mss)}
		conn, err = d.Dial("tcp6", ln.Addr().String())
		return err
	}); err != nil {
		t.Fatalf("tcp %v -> %v: %v", from, at, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := conn.Write(data)
		conn.(*net.TCPConn).CloseWrite()
		errc <- err
	}()
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("tcp %v -> %v: read: %v (got %d of %d)", from, at, err, len(got), size)
	}
	if err := <-errc; err != nil {
		t.Fatalf("tcp %v -> %v: write: %v", from, at, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("tcp %v -> %v: echo differs (%d bytes back)", from, at, len(got))
	}
}

func udpEcho(t *testing.T, client *lab.NodeNS, from netip.Addr, server *lab.NodeNS, at netip.Addr) {
	udpEchoSize(t, client, from, server, at, 1000)
}

func udpEchoSize(t *testing.T, client *lab.NodeNS, from netip.Addr, server *lab.NodeNS, at netip.Addr, size int) {
	t.Helper()
	var srv, cl net.PacketConn
	if err := server.Do(func() (err error) {
		srv, err = net.ListenPacket("udp6", net.JoinHostPort(at.String(), "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, a, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			srv.WriteTo(buf[:n], a)
		}
	}()
	if err := client.Do(func() (err error) {
		cl, err = net.ListenPacket("udp6", net.JoinHostPort(from.String(), "0"))
		if err == nil {
			err = setDontFrag(cl)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	msg := bytes.Repeat([]byte{0xa5}, size)
	buf := make([]byte, 65536)
	for try := 0; try < 5; try++ {
		if _, err := cl.WriteTo(msg, srv.LocalAddr()); err != nil {
			t.Fatalf("udp %v -> %v (%d bytes): %v", from, at, size, err)
		}
		cl.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := cl.ReadFrom(buf)
		if err == nil && n == size {
			return
		}
	}
	t.Fatalf("udp %v -> %v (%d bytes): no echo", from, at, size)
}

func setDontFrag(c net.PacketConn) error {
	sc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = sc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG, 1)
	})
	return errors.Join(err, serr)
}

// packetTooBigFor sends a size-byte UDP packet with "don't fragment" from
// node and returns the MTU of the ICMPv6 Packet Too Big that comes back.
func packetTooBigFor(t *testing.T, node *lab.NodeNS, from, to netip.Addr, size int) int {
	t.Helper()
	var ic *icmp.PacketConn
	var cl net.PacketConn
	if err := node.Do(func() (err error) {
		if ic, err = icmp.ListenPacket("ip6:ipv6-icmp", from.String()); err != nil {
			return err
		}
		if cl, err = net.ListenPacket("udp6", net.JoinHostPort(from.String(), "0")); err != nil {
			return err
		}
		return setDontFrag(cl)
	}); err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	defer cl.Close()
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypePacketTooBig)
	if err := ic.IPv6PacketConn().SetICMPFilter(&f); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, size-ipv6HeaderLen-udpHeaderLen)
	dst := &net.UDPAddr{IP: to.AsSlice(), Port: 9}
	buf := make([]byte, 1500)
	for try := 0; try < 3; try++ {
		if _, err := cl.WriteTo(payload, dst); err != nil {
			t.Fatalf("send %d bytes: %v", size, err)
		}
		ic.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := ic.ReadFrom(buf)
		if err != nil {
			continue
		}
		m, err := icmp.ParseMessage(58, buf[:n])
		if err != nil {
			t.Fatalf("parse ICMPv6: %v", err)
		}
		ptb, ok := m.Body.(*icmp.PacketTooBig)
		if !ok {
			t.Fatalf("got %v, want Packet Too Big", m.Type)
		}
		return ptb.MTU
	}
	t.Fatal("no ICMPv6 Packet Too Big")
	return 0
}

type udpListener struct {
	c    net.PacketConn
	port int
}

func listenUDP(t *testing.T, node *lab.NodeNS, at netip.Addr) *udpListener {
	t.Helper()
	var c net.PacketConn
	if err := node.Do(func() (err error) {
		c, err = net.ListenPacket("udp6", net.JoinHostPort(at.String(), "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpListener{c: c, port: c.LocalAddr().(*net.UDPAddr).Port}
}

func (l *udpListener) collect(d time.Duration) []string {
	var got []string
	buf := make([]byte, 2000)
	deadline := time.Now().Add(d)
	for {
		l.c.SetReadDeadline(deadline)
		n, _, err := l.c.ReadFrom(buf)
		if err != nil {
			return got
		}
		got = append(got, string(buf[:n]))
	}
}

// sendTunnelled hand-builds an inner IPv6/UDP packet and sends it
// encapsulated from outerSrc to outerDst, as a misbehaving peer would.
func sendTunnelled(t *testing.T, node *lab.NodeNS, outerSrc, outerDst netip.Addr, encap Encapsulation, innerSrc, innerDst netip.Addr, port int, payload string) {
	t.Helper()
	inner := buildUDP6(innerSrc, innerDst, 40000, uint16(port), []byte(payload))
	err := node.Do(func() error {
		var c net.PacketConn
		var err error
		var dst net.Addr
		if encap == EncapUDP {
			c, err = net.ListenPacket("udp6", net.JoinHostPort(outerSrc.String(), "0"))
			dst = &net.UDPAddr{IP: outerDst.AsSlice(), Port: UDPPort}
		} else {
			c, err = net.ListenPacket("ip6:41", outerSrc.String())
			dst = &net.IPAddr{IP: outerDst.AsSlice()}
		}
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.WriteTo(inner, dst)
		return err
	})
	if err != nil {
		t.Fatalf("send tunnelled %s: %v", payload, err)
	}
}

func buildUDP6(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	p := make([]byte, ipv6HeaderLen+udpHeaderLen+len(payload))
	p[0] = 6 << 4
	binary.BigEndian.PutUint16(p[4:], uint16(udpHeaderLen+len(payload)))
	p[6] = unix.IPPROTO_UDP
	p[7] = 64
	s, d := src.As16(), dst.As16()
	copy(p[offSrc:], s[:])
	copy(p[offDst:], d[:])
	u := p[ipv6HeaderLen:]
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(udpHeaderLen+len(payload)))
	copy(u[8:], payload)
	binary.BigEndian.PutUint16(u[6:], pseudoHeaderChecksum(s, d, unix.IPPROTO_UDP, u, 6))
	return p
}

// clampMSS sets TCP_MAXSEG before connect; nil for 0.
func clampMSS(mss int) func(string, string, syscall.RawConn) error {
	if mss == 0 {
		return nil
	}
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG, mss) }); err != nil {
			return err
		}
		return serr
	}
}
