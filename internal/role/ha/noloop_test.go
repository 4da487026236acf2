package ha

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"monami/internal/config"
	"monami/internal/lab"
	"monami/internal/testenv"
)

// The issue 13 loop: the access router routes the home prefix to the home
// agent, whose default route points back at the router.
const loopTopo = `
name: mhaloop
nodes:
  - name: cn
    routes: [{dst: default, via: "2001:db8:c::1"}]
  - name: ar
    kind: router
    routes: [{dst: "2001:db8:1::/64", via: "2001:db8:f::2"}]
  - name: ha
    kind: router
    routes: [{dst: default, via: "2001:db8:f::1"}]
links:
  - name: core
    a: {node: ar, if: cn0, addrs: ["2001:db8:c::1/64"]}
    b: {node: cn, if: eth0, addrs: ["2001:db8:c::10/64"]}
  - name: home
    a: {node: ar, if: ha0, addrs: ["2001:db8:f::1/64"]}
    b: {node: ha, if: eth0, addrs: ["2001:db8:f::2/64"]}
`

const loopHA = `
address: 2001:db8:f::2
home_prefixes: [2001:db8:1::/64]
store: {backend: memory}
mobile_nodes:
  - {id: mn@loop, home_addresses: [2001:db8:1::10], spi: 256, key: "hex:000102030405060708090a0b0c0d0e0f"}
`

// homeLinkCount is what the home agent's home-link interface saw.
type homeLinkCount struct {
	probesIn, probesOut, unreachOut, other int
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// countHomeLink counts IPv6 packets on ifname (both directions) until stop.
// It must be opened inside the namespace.
func countHomeLink(t *testing.T, ifname string, hoa netip.Addr) (func() homeLinkCount, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	// ETH_P_ALL: only such sockets see outgoing packets too.
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifc.Index}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	tv := unix.Timeval{Usec: 50_000}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	stop, done := make(chan struct{}), make(chan homeLinkCount)
	go func() {
		var c homeLinkCount
		buf := make([]byte, 128)
		for {
			select {
			case <-stop:
				unix.Close(fd)
				done <- c
				return
			default:
			}
			n, from, err := unix.Recvfrom(fd, buf, unix.MSG_TRUNC)
			if err != nil || n < 41 {
				continue
			}
			ll := from.(*unix.SockaddrLinklayer)
			if ll.Protocol != htons(unix.ETH_P_IPV6) {
				continue
			}
			out := ll.Pkttype == unix.PACKET_OUTGOING
			dst, _ := netip.AddrFromSlice(buf[24:40])
			switch {
			case buf[6] == unix.IPPROTO_UDP && dst == hoa && !out:
				c.probesIn++
			case buf[6] == unix.IPPROTO_UDP && dst == hoa:
				c.probesOut++ // routed back toward the network: the loop
			case buf[6] == unix.IPPROTO_ICMPV6 && buf[40] == 1 && out:
				c.unreachOut++
			default:
				c.other++
			}
		}
	}()
	return func() homeLinkCount { close(stop); return <-done }, nil
}

// TestNoLoopWithoutBinding: with no binding for a home address, a 1 kHz
// probe to it crosses the home link once per packet, and the home agent
// answers with rate-limited ICMPv6 Destination Unreachable instead of
// routing it back to the router.
func TestNoLoopWithoutBinding(t *testing.T) {
	testenv.RequireRoot(t)
	topo, err := lab.Parse([]byte(loopTopo))
	if err != nil {
		t.Fatal(err)
	}
	_ = lab.Teardown(topo.Name)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := lab.Up(ctx, topo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	cfg, err := config.ParseHomeAgent("ha.yaml", []byte(loopHA))
	if err != nil {
		t.Fatal(err)
	}
	haNode, cn := l.MustNode("ha"), l.MustNode("cn")
	ns, err := netns.GetFromPath(haNode.NetnsPath())
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	var h *HomeAgent
	if err := haNode.Do(func() error {
		h, err = New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NoControlSocket: true, NetNS: ns})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	hctx, stopHA := context.WithCancel(ctx)
	haDone := make(chan error, 1)
	go func() { haDone <- h.Run(hctx) }()
	stopped := false
	defer func() {
		if !stopped {
			stopHA()
			<-haDone
		}
	}()

	hoa := netip.MustParseAddr("2001:db8:1::10")
	var count func() homeLinkCount
	if err := haNode.Do(func() (err error) { count, err = countHomeLink(t, "eth0", hoa); return err }); err != nil {
		t.Fatal(err)
	}
	var conn *net.UDPConn
	if err := cn.Do(func() (err error) { conn, err = net.ListenUDP("udp6", nil); return err }); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(hoa, 9))
	const probes = 1000
	sent := 0
	tick := time.NewTicker(time.Millisecond) // 1 kHz
	for range probes {
		<-tick.C
		if _, err := conn.WriteToUDP([]byte("probe"), dst); err == nil {
			sent++
		}
	}
	tick.Stop()
	time.Sleep(300 * time.Millisecond) // let a loop, if any, drain
	c := count()
	total := c.probesIn + c.probesOut + c.unreachOut + c.other
	t.Logf("sent %d probes at 1 kHz; home link: %d probes in, %d routed back, %d unreachable out, %d other: %.3f packets per probe",
		sent, c.probesIn, c.probesOut, c.unreachOut, c.other, float64(total)/float64(sent))
	if sent < probes*9/10 || c.probesIn < sent*9/10 {
		t.Fatalf("probe did not reach the home agent: sent %d, arrived %d", sent, c.probesIn)
	}
	if c.probesOut != 0 {
		t.Errorf("%d probes routed back toward the network (a loop)", c.probesOut)
	}
	if c.unreachOut == 0 || c.unreachOut > sent/20 {
		t.Errorf("%d ICMPv6 Destination Unreachable for %d probes: want some, rate-limited (net.ipv6.icmp.ratelimit)", c.unreachOut, sent)
	}
	if c.probesIn+c.probesOut > sent {
		t.Errorf("%d probe copies on the home link for %d sent: more than one per packet", c.probesIn+c.probesOut, sent)
	}
	// Stopped, the home agent no longer answers for its prefixes.
	stopHA()
	<-haDone
	stopped = true
	if out, err := haNode.Exec(ctx, "ip", "-6", "route", "show", "type", "unreachable"); err != nil || len(out) != 0 {
		t.Errorf("unreachable routes left after stop: %v %s", err, out)
	}
}
