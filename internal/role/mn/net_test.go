package mn

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"monami/internal/config"
	"monami/internal/lab"
	"monami/internal/role/ha"
	"monami/internal/testenv"
)

// The test network: the mobile node has two access links to one access
// router (wlan 10 ms and lte 40 ms one way, the acceptance scenario), the
// access router reaches the home agent, which routes the home prefix and
// the correspondent's link. The access router filters ingress: nothing
// sourced from the home prefix may arrive natively from the access links,
// so only reverse-tunnelled traffic from the home address gets through.
const topoYAML = `
name: %s
nodes:
  - name: mn
    routes:
      - {dst: default, via: "2001:db8:a::1", dev: wlan0}
      - {dst: default, via: "2001:db8:b::1", dev: lte0, metric: 200}
  - name: ar
    kind: router
    routes:
      - {dst: "2001:db8:1::/64", via: "2001:db8:c::2"}
      - {dst: "2001:db8:d::/64", via: "2001:db8:c::2"}
  - name: ha
    kind: router
    routes:
      - {dst: "2001:db8:a::/64", via: "2001:db8:c::1"}
      - {dst: "2001:db8:b::/64", via: "2001:db8:c::1"}
  - name: cn
    routes:
      - {dst: default, via: "2001:db8:d::1"}
links:
  - name: wlan
    a: {node: mn, if: wlan0, addrs: ["2001:db8:a::10/64"]}
    b: {node: ar, if: wlan0, addrs: ["2001:db8:a::1/64"]}
    impair: {delay: 10ms}
  - name: lte
    a: {node: mn, if: lte0, addrs: ["2001:db8:b::10/64"]}
    b: {node: ar, if: lte0, addrs: ["2001:db8:b::1/64"]}
    impair: {delay: 40ms}
  - name: core
    a: {node: ar, if: core0, addrs: ["2001:db8:c::1/64"]}
    b: {node: ha, if: core0, addrs: ["2001:db8:c::2/64"]}
  - name: home
    a: {node: ha, if: eth1, addrs: ["2001:db8:d::1/64"]}
    b: {node: cn, if: eth0, addrs: ["2001:db8:d::10/64"]}
`

const haYAML = `
address: 2001:db8:c::2
home_prefixes: [2001:db8:1::/64]
dataplane: {backend: %s, table: 4190}
binding: {max_lifetime: 5m, refresh_fraction: 0.8}
store: {backend: memory}
mobile_nodes:
  - id: mn1@example.org
    home_addresses: [2001:db8:1::10]
    spi: 256
    key: hex:000102030405060708090a0b0c0d0e0f
`

const mnYAML = `
control_socket: %s
id: mn1@example.org
lifetime: 60s
home_addresses:
  - address: 2001:db8:1::10
    home_agent: 2001:db8:c::2
    spi: 256
    key: hex:000102030405060708090a0b0c0d0e0f
interfaces:
  - {name: wlan0, bid: 1, priority: 1, transport: %[3]s}
  - {name: lte0, bid: 2, priority: 2, transport: %[3]s}
dataplane: {backend: %[2]s, table: 4190}
`

var (
	hoa   = netip.MustParseAddr("2001:db8:1::10")
	cnIP  = netip.MustParseAddr("2001:db8:d::10")
	coa1  = netip.MustParseAddr("2001:db8:a::10")
	coa2  = netip.MustParseAddr("2001:db8:b::10")
	haIP  = netip.MustParseAddr("2001:db8:c::2")
	cnTCP = "[2001:db8:d::10]:5001"
)

type testNet struct {
	lab            *lab.Lab
	mnNode, cnNode *lab.NodeNS
	arNode         *lab.NodeNS
	mnNS           netns.NsHandle
	ha             *ha.HomeAgent
	haDone         chan error
	cancelHA       context.CancelFunc
	mnLifetime     string // instead of 60s
	mnKey          string // instead of the home agent's key
}

func nsOf(t testing.TB, n *lab.NodeNS) netns.NsHandle {
	t.Helper()
	h, err := netns.GetFromPath(n.NetnsPath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// upNet builds the lab, the ingress filter and a running home agent (the
// real ha role).
func upNet(t testing.TB, name, haBackend string) *testNet {
	testenv.RequireRoot(t)
	ctx := context.Background()
	topo, err := lab.Parse([]byte(fmt.Sprintf(topoYAML, name)))
	if err != nil {
		t.Fatal(err)
	}
	_ = lab.Teardown(name) // a lab left by a killed run
	l, err := lab.Up(ctx, topo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	x := &testNet{lab: l, mnNode: l.MustNode("mn"), cnNode: l.MustNode("cn"), arNode: l.MustNode("ar")}
	x.mnNS = nsOf(t, x.mnNode)
	// RFC 2827-style ingress filtering on the access router.
	for _, args := range [][]string{
		{"add", "table", "ip6", "mmnfilter"},
		{"add", "chain", "ip6", "mmnfilter", "chk", "{ type filter hook forward priority 0; }"},
		{"add", "rule", "ip6", "mmnfilter", "chk", "iifname", "{ wlan0, lte0 }", "ip6", "saddr", "2001:db8:1::/64", "counter", "drop"},
	} {
		if out, err := x.arNode.Exec(ctx, "nft", args...); err != nil {
			t.Fatalf("nft %v: %v %s", args, err, out)
		}
	}

	haCfg, err := config.ParseHomeAgent("ha.yaml", []byte(fmt.Sprintf(haYAML, haBackend)))
	if err != nil {
		t.Fatal(err)
	}
	haNode := l.MustNode("ha")
	hlog := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		hlog = slog.New(&prefixHandler{t: t, prefix: "HA"})
	}
	// The home agent opens its transports and data plane itself, in its
	// namespace, as the daemon does (its UDP transport lends port 4191 to
	// the data plane).
	if err := haNode.Do(func() error {
		x.ha, err = ha.New(haCfg, ha.Options{Logger: hlog, NoControlSocket: true, NetNS: nsOf(t, haNode)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	hctx, cancel := context.WithCancel(ctx)
	x.cancelHA, x.haDone = cancel, make(chan error, 1)
	go func() { x.haDone <- x.ha.Run(hctx) }()
	t.Cleanup(func() { cancel(); <-x.haDone })
	return x
}

type prefixHandler struct {
	t      testing.TB
	prefix string
}

func (p *prefixHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (p *prefixHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.Key + "=" + a.Value.String()); return true })
	p.t.Logf("%s %s %s %s%s", p.prefix, r.Time.Format("15:04:05.000"), r.Level, r.Message, b.String())
	return nil
}
func (p *prefixHandler) WithAttrs(as []slog.Attr) slog.Handler { return p }
func (p *prefixHandler) WithGroup(string) slog.Handler         { return p }

// startMN runs the mobile node role in the mn namespace.
func (x *testNet) startMN(t testing.TB, backend, signalling string, rec *recorder) (*MobileNode, context.CancelFunc, chan error) {
	sock := filepath.Join(t.TempDir(), "mn.sock")
	y := fmt.Sprintf(mnYAML, sock, backend, signalling)
	if x.mnLifetime != "" {
		y = strings.Replace(y, "lifetime: 60s", "lifetime: "+x.mnLifetime, 1)
	}
	if x.mnKey != "" {
		y = strings.Replace(y, "hex:000102030405060708090a0b0c0d0e0f", x.mnKey, 1)
	}
	cfg, err := config.ParseMobileNode("mn.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, Options{Logger: slog.New(rec), NetNS: x.mnNS})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("mobile node did not stop")
		}
	})
	return m, cancel, done
}

func bul(t testing.TB, m *MobileNode) map[uint16]BULEntry {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := m.Snapshot(ctx, "bul")
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint16]BULEntry{}
	for _, e := range v.([]BULEntry) {
		out[e.BindingID] = e
	}
	return out
}

func status(t testing.TB, m *MobileNode) Status {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := m.Snapshot(ctx, "status")
	if err != nil {
		t.Fatal(err)
	}
	return v.(Status)
}

func haBindings(t testing.TB, h *ha.HomeAgent) map[uint16]ha.BindingView {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := h.Snapshot(ctx, "bindings")
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint16]ha.BindingView{}
	for _, b := range v.([]ha.BindingView) {
		out[b.BindingID] = b
	}
	return out
}

// waitRegistered waits until exactly the given BIDs are registered at the
// mobile node and present in the home agent's binding cache.
func waitRegistered(t testing.TB, x *testNet, m *MobileNode, bids ...uint16) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("BIDs %v registered", bids), func() error {
		b, hb := bul(t, m), haBindings(t, x.ha)
		for _, id := range bids {
			if e, ok := b[id]; !ok || e.State != "registered" {
				return fmt.Errorf("mn BUL %+v", b)
			}
			if _, ok := hb[id]; !ok {
				return fmt.Errorf("ha bindings %+v", hb)
			}
		}
		if len(b) != len(bids) || len(hb) != len(bids) {
			return fmt.Errorf("mn BUL %+v, ha %+v", b, hb)
		}
		return nil
	})
}

func waitTunnel(t testing.TB, m *MobileNode, ifname string) {
	t.Helper()
	eventually(t, 5*time.Second, "reverse tunnel on "+ifname, func() error {
		s := status(t, m)
		if len(s.Homes) != 1 || s.Homes[0].TunnelIf != ifname {
			return fmt.Errorf("status %+v", s)
		}
		return nil
	})
}

// tcpEcho has the correspondent node accept TCP connections and report the
// peer address of each, echoing what it reads.
func tcpEcho(t testing.TB, cn *lab.NodeNS) <-chan netip.Addr {
	var ln net.Listener
	if err := cn.Do(func() (err error) { ln, err = net.Listen("tcp6", "[::]:5001"); return }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	peers := make(chan netip.Addr, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			peers <- c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return peers
}

// dialUnbound connects from the mobile node without choosing a source
// address, as an unmodified application does, and checks an echo.
func dialUnbound(t testing.TB, mn *lab.NodeNS) netip.Addr {
	t.Helper()
	var c net.Conn
	if err := mn.Do(func() (err error) { c, err = net.DialTimeout("tcp6", cnTCP, 3*time.Second); return }); err != nil {
		t.Fatalf("unbound TCP connect to the correspondent: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	msg := []byte("hello through the reverse tunnel")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("echo: %v", err)
	}
	return c.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
}

func ipOut(t testing.TB, n *lab.NodeNS, args ...string) string {
	t.Helper()
	out, err := n.Exec(context.Background(), "ip", args...)
	if err != nil {
		t.Fatalf("ip %v: %v", args, err)
	}
	return string(out)
}
