package mn

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"monami/internal/config"
	"monami/internal/ctlapi"
	"monami/internal/dataplane"
	"monami/internal/lab"
	"monami/internal/role/ha"
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
	requireRoot(t)
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
	haNS := nsOf(t, haNode)
	hlog := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		hlog = slog.New(&prefixHandler{t: t, prefix: "HA"})
	}
	dp, err := dataplane.New(dataplane.Config{Backend: dataplane.Backend(haBackend), Table: 4190, NetNS: haNS, Logger: hlog})
	if err != nil {
		t.Fatal(err)
	}
	if err := haNode.Do(func() error {
		x.ha, err = ha.New(haCfg, ha.Options{Logger: hlog, DataPlane: dp, NoControlSocket: true})
		return err
	}); err != nil {
		dp.Close()
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
	attrs  []slog.Attr
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

// downstream sends numbered UDP datagrams from the correspondent to the
// home address every interval and records when each arrives at the mobile
// node.
type downstream struct {
	mu      sync.Mutex
	arrived []time.Time
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startDownstream(t testing.TB, x *testNet, interval time.Duration) *downstream {
	return startFlow(t, x.cnNode, x.mnNode, netip.AddrPortFrom(hoa, 6000), interval)
}

// startUpstream: the same from an unbound socket on the mobile node to the
// correspondent (through the reverse tunnel).
func startUpstream(t testing.TB, x *testNet, interval time.Duration) *downstream {
	return startFlow(t, x.mnNode, x.cnNode, netip.AddrPortFrom(cnIP, 6001), interval)
}

// startFlow sends numbered UDP datagrams from node from to dst (bound on
// node to) every interval and records when each arrives.
func startFlow(t testing.TB, from, to *lab.NodeNS, dst netip.AddrPort, interval time.Duration) *downstream {
	d := &downstream{stop: make(chan struct{})}
	var rx, tx *net.UDPConn
	if err := to.Do(func() (err error) {
		rx, err = net.ListenUDP("udp6", net.UDPAddrFromAddrPort(dst))
		return
	}); err != nil {
		t.Fatal(err)
	}
	if err := from.Do(func() (err error) {
		tx, err = net.DialUDP("udp6", nil, net.UDPAddrFromAddrPort(dst))
		return
	}); err != nil {
		rx.Close()
		t.Fatal(err)
	}
	d.wg.Add(2)
	go func() {
		defer d.wg.Done()
		buf := make([]byte, 64)
		for {
			n, err := rx.Read(buf)
			if err != nil {
				return
			}
			if n >= 8 {
				d.mu.Lock()
				d.arrived = append(d.arrived, time.Now())
				d.mu.Unlock()
			}
		}
	}()
	go func() {
		defer d.wg.Done()
		tk := time.NewTicker(interval)
		defer tk.Stop()
		var seq uint64
		b := make([]byte, 8)
		for {
			select {
			case <-d.stop:
				return
			case <-tk.C:
				seq++
				binary.BigEndian.PutUint64(b, seq)
				tx.Write(b)
			}
		}
	}()
	t.Cleanup(func() { d.halt(); rx.Close(); tx.Close(); d.wg.Wait() })
	return d
}

func (d *downstream) halt() {
	select {
	case <-d.stop:
	default:
		close(d.stop)
	}
}

// gaps lists the silences longer than min in [from, to], as offsets from
// from, for the log.
func (d *downstream) gaps(from, to time.Time, min time.Duration) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var b strings.Builder
	prev := time.Time{}
	for _, a := range d.arrived {
		if a.After(to) {
			break
		}
		if !a.Before(from) && !prev.IsZero() && a.Sub(prev) > min {
			fmt.Fprintf(&b, " [%v..%v]", prev.Sub(from).Round(100*time.Microsecond), a.Sub(from).Round(100*time.Microsecond))
		}
		prev = a
	}
	return b.String()
}

// firstAfter is the arrival time of the first datagram after t.
func (d *downstream) firstAfter(t time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.arrived {
		if a.After(t) {
			return a
		}
	}
	return time.Time{}
}

// gapAfter is the longest time without a datagram in [from, to].
func (d *downstream) gapAfter(from, to time.Time) (time.Duration, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	prev := from
	var gap time.Duration
	n := 0
	for _, a := range d.arrived {
		if a.Before(from) {
			prev = a
			continue
		}
		if a.After(to) {
			break
		}
		n++
		gap = max(gap, a.Sub(prev))
		prev = a
	}
	return gap, n
}

func TestMobileNodeKernelDataPlane(t *testing.T) { testMobileNode(t, "mmnk", "kernel", "native", true) }
func TestMobileNodeUserspaceDataPlane(t *testing.T) {
	testMobileNode(t, "mmnu", "userspace", "native", true)
}

// RFC 5555: signalling and tunnel in UDP port 4191 (userspace data planes).
// The mobile node's side works (registration over UDP with the F flag, UDP
// tunnel endpoints), but the home agent role cannot yet open its UDP tunnel
// sockets on port 4191 next to its UDP signalling socket ("address already
// in use"), so the data path is only checked with MONAMI_MN_UDP=1; the
// signalling (registration, failover, return, deregistration) always is.
func TestMobileNodeUDP(t *testing.T) {
	testMobileNode(t, "mmnp", "userspace", "udp", os.Getenv("MONAMI_MN_UDP") == "1")
}

func testMobileNode(t testing.TB, labName, backend, signalling string, dataPath bool) {
	haBackend := "kernel"
	if signalling == "udp" {
		haBackend = "userspace"
	}
	x := upNet(t, labName, haBackend)
	if !dataPath {
		x.mnLifetime = "8s" // also watch a refresh (RFC 6275 section 11.7.1)
	}
	rec := newRecorder(t)
	dump := startCapture(t, x.lab.MustNode("ha"), "core0")
	m, cancel, done := x.startMN(t, backend, signalling, rec)

	// Two care-of addresses, each its own binding, both accepted.
	waitRegistered(t, x, m, 1, 2)
	waitTunnel(t, m, "wlan0")
	// What went over the wire decodes cleanly: a bulk registration with
	// both BIDs and the RFC 4285 options, and a signed acknowledgement.
	checkSignalling(t, dump.stop(t))
	b := bul(t, m)
	if b[1].CareOfAddress != coa1 || b[2].CareOfAddress != coa2 {
		t.Errorf("care-of addresses %+v", b)
	}
	hb := haBindings(t, x.ha)
	if hb[1].CareOfAddress != coa1.String() || hb[2].CareOfAddress != coa2.String() || !hb[1].Primary {
		t.Errorf("home agent bindings %+v", hb)
	}

	// The control API on its unix socket, as `monami ctl` reads it.
	cl := ctlapi.NewClient(m.cfg.ControlSocket)
	cctx, ccl := context.WithTimeout(context.Background(), 2*time.Second)
	resp, raw, err := cl.Get(cctx, "paths")
	ccl()
	if err != nil {
		t.Fatal(err)
	}
	var paths []Path
	if err := json.Unmarshal(raw, &paths); err != nil {
		t.Fatalf("paths %s: %v", raw, err)
	}
	if resp.Role != "mn" || len(paths) != 2 || paths[0].CareOfAddress != coa1 || len(paths[0].Active) != 1 ||
		len(paths[1].Registered) != 1 || len(paths[1].Active) != 0 {
		t.Errorf("control API paths: %s", raw)
	}

	// Source address selection: an unbound socket gets the home address and
	// the route into the home interface; the care-of addresses keep theirs.
	rg := ipOut(t, x.mnNode, "-6", "route", "get", cnIP.String())
	if !strings.Contains(rg, "src "+hoa.String()) || !strings.Contains(rg, "dev monami0") {
		t.Errorf("ip -6 route get %v: %s", cnIP, rg)
	}
	t.Logf("ip -6 route get %v: %s", cnIP, strings.TrimSpace(rg))
	rg = ipOut(t, x.mnNode, "-6", "route", "get", haIP.String(), "from", coa2.String())
	if !strings.Contains(rg, "dev lte0") {
		t.Errorf("route from the lte care-of address: %s", rg)
	}

	if dataPath {
		checkDataPath(t, x, m, rec, backend)
	} else {
		// Signalling only: the bindings are refreshed before they expire,
		// then one moves and comes back.
		before := counter(t, m, "binding_updates_sent")
		time.Sleep(9 * time.Second)
		waitRegistered(t, x, m, 1, 2)
		if after := counter(t, m, "binding_updates_sent"); after <= before {
			t.Errorf("no refresh within 9s of an 8s lifetime (%d BUs before, %d after)", before, after)
		}
		if n := counter(t, m, "expired"); n != 0 {
			t.Errorf("%d bindings expired", n)
		}
		nh, wlan := wlanLink(t, x)
		if err := nh.LinkSetDown(wlan); err != nil {
			t.Fatal(err)
		}
		waitRegistered(t, x, m, 2)
		waitTunnel(t, m, "lte0")
		linkUp(t, x)
		waitRegistered(t, x, m, 1, 2)
		waitTunnel(t, m, "wlan0")
	}

	// Counters through the control API.
	ctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
	c, err := m.Snapshot(ctx, "counters")
	ccancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("counters: %+v", c)

	// Shutdown: every binding deregistered at the home agent, and nothing
	// of ours left in the namespace.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("mobile node did not stop")
	}
	if _, ok := rec.find(time.Time{}, "all bindings deregistered"); !ok {
		t.Error("shutdown did not confirm the deregistration")
	}
	if hb := haBindings(t, x.ha); len(hb) != 0 {
		t.Errorf("home agent still has bindings after shutdown: %+v", hb)
	}
	assertClean(t, x.mnNode)
}

// failoverFigures are the timings of one failover.
type failoverFigures struct {
	eventDelay   time.Duration // link down -> the mobile node handled the netlink event
	eventToBU    time.Duration // event -> Binding Update (deregistration of BID 1) sent
	eventToBA    time.Duration // event -> its Binding Acknowledgement processed
	firstOverLTE time.Duration // link down -> first downstream datagram over the remaining link
	gap          time.Duration // longest downstream silence after link down
	upFirst      time.Duration // link down -> first upstream datagram (reverse tunnel) after it
	upGap        time.Duration // longest upstream silence after link down
	silences     string
}

func (f failoverFigures) String() string {
	return fmt.Sprintf("link down->event %v, event->BU sent %v, event->BA %v, link down->first downstream datagram over lte %v, downstream gap %v; upstream: link down->first datagram %v, gap %v; downstream silences >5ms:%s",
		f.eventDelay.Round(10*time.Microsecond), f.eventToBU.Round(10*time.Microsecond), f.eventToBA.Round(10*time.Microsecond),
		f.firstOverLTE.Round(100*time.Microsecond), f.gap.Round(100*time.Microsecond),
		f.upFirst.Round(100*time.Microsecond), f.upGap.Round(100*time.Microsecond), f.silences)
}

func wlanLink(t testing.TB, x *testNet) (*netlink.Handle, netlink.Link) {
	nh, err := x.mnNode.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	wlan, err := nh.LinkByName("wlan0")
	if err != nil {
		t.Fatal(err)
	}
	return nh, wlan
}

// failover takes the mobile node's active interface down (its own
// interface: the lab's SetLink first cuts the far end, up to 100 ms
// earlier, which would count against the failover) and checks that the
// binding is deregistered and traffic moves to the other link.
func failover(t testing.TB, x *testNet, m *MobileNode, rec *recorder, ds, us *downstream) failoverFigures {
	t.Helper()
	nh, wlan := wlanLink(t, x)
	time.Sleep(300 * time.Millisecond)
	tDown := time.Now()
	if err := nh.LinkSetDown(wlan); err != nil {
		t.Fatal(err)
	}
	waitRegistered(t, x, m, 2)
	waitTunnel(t, m, "lte0")
	time.Sleep(300 * time.Millisecond)
	end := time.Now()
	gap, n := ds.gapAfter(tDown, end)
	if n == 0 {
		t.Fatal("no downstream traffic after the failover")
	}
	upGap, un := us.gapAfter(tDown, end)
	if un == 0 {
		t.Fatal("no upstream traffic after the failover")
	}
	ev, ok1 := rec.find(tDown, "care-of address event", "coa", coa1.String(), "kind", "down")
	bu, ok2 := rec.find(tDown, "binding update sent", "from", coa2.String())
	ba, ok3 := rec.find(tDown, "binding deregistered", "bid", "1")
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf("failover log: down %v, BU %v, dereg %v", ok1, ok2, ok3)
	}
	return failoverFigures{eventDelay: ev.at.Sub(tDown), eventToBU: bu.at.Sub(ev.at), eventToBA: ba.at.Sub(ev.at),
		firstOverLTE: ds.firstAfter(tDown.Add(15 * time.Millisecond)).Sub(tDown), // past what was in flight on wlan
		gap:          gap, silences: ds.gaps(tDown, end, 5*time.Millisecond),
		upFirst: us.firstAfter(tDown.Add(15 * time.Millisecond)).Sub(tDown), upGap: upGap}
}

// linkUp brings wlan0 back; BID 1 then registers again.
func linkUp(t testing.TB, x *testNet) {
	t.Helper()
	nh, wlan := wlanLink(t, x)
	if err := nh.LinkSetUp(wlan); err != nil {
		t.Fatal(err)
	}
}

// checkDataPath: unbound TCP through the reverse tunnel, failover under a
// downstream flow, return of the preferred interface.
func checkDataPath(t testing.TB, x *testNet, m *MobileNode, rec *recorder, backend string) {
	// A real unbound TCP connection uses the home address and crosses the
	// ingress-filtering access router, i.e. it is reverse-tunnelled.
	peers := tcpEcho(t, x.cnNode)
	if src := dialUnbound(t, x.mnNode); src != hoa {
		t.Errorf("unbound TCP source %v, want the home address %v", src, hoa)
	}
	if p := <-peers; p != hoa {
		t.Errorf("correspondent saw %v, want %v", p, hoa)
	}
	filtered := nftCounter(t, x.arNode)
	t.Logf("ingress filter drops at the access router: %s", filtered)

	// Failover: the active interface goes down under a 1 ms downstream flow.
	ds := startDownstream(t, x, time.Millisecond)
	us := startUpstream(t, x, time.Millisecond)
	fig := failover(t, x, m, rec, ds, us)
	t.Logf("FAILOVER (%s, figures only: the machine is shared, see BenchmarkFailover): %s", backend, fig)
	if src := dialUnbound(t, x.mnNode); src != hoa {
		t.Errorf("after failover: unbound TCP source %v", src)
	}
	<-peers

	// The interface comes back: registered again, the tunnel returns to the
	// preferred interface once the home agent accepted it.
	linkUp(t, x)
	waitRegistered(t, x, m, 1, 2)
	waitTunnel(t, m, "wlan0")
	if src := dialUnbound(t, x.mnNode); src != hoa {
		t.Errorf("after link up: unbound TCP source %v", src)
	}
	<-peers
	ds.halt()
	us.halt()
}

func counter(t testing.TB, m *MobileNode, name string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := m.Snapshot(ctx, "counters")
	if err != nil {
		t.Fatal(err)
	}
	return c.(map[string]any)[name].(uint64)
}

func nftCounter(t testing.TB, n *lab.NodeNS) string {
	out, err := n.Exec(context.Background(), "nft", "list", "chain", "ip6", "mmnfilter", "chk")
	if err != nil {
		return err.Error()
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "counter") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// assertClean lists rules, routes, addresses, links and nftables tables in
// the mobile node's namespace and fails on anything monami installed.
func assertClean(t testing.TB, n *lab.NodeNS) {
	t.Helper()
	rules := ipOut(t, n, "-6", "rule")
	for _, l := range strings.Split(rules, "\n") {
		if strings.Contains(l, "419") {
			t.Errorf("rule left: %s", l)
		}
	}
	for _, l := range strings.Split(ipOut(t, n, "-6", "route", "show", "table", "all"), "\n") {
		if strings.Contains(l, "table 419") {
			t.Errorf("route left: %s", l)
		}
	}
	if out := ipOut(t, n, "-6", "addr"); strings.Contains(out, hoa.String()) {
		t.Errorf("home address left: %s", out)
	}
	if out := ipOut(t, n, "link"); strings.Contains(out, "monami0") {
		t.Errorf("home interface left: %s", out)
	}
	out, err := n.Exec(context.Background(), "nft", "list", "tables")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(out)) != "" {
		t.Errorf("nftables tables left: %s", out)
	}
	if out := ipOut(t, n, "-6", "route", "show", "table", "all"); strings.Contains(out, "monami0") || strings.Contains(out, "fd6d:6f6e") {
		t.Errorf("routes left: %s", out)
	}
}

// A mobile node with the wrong key: the home agent refuses with
// MIPV6-AUTH-FAIL (RFC 4285 section 5.1) in an answer it cannot sign; the
// mobile node does not trust the unsigned answer, logs its status and keeps
// retransmitting with backoff. Nothing is registered.
func TestMobileNodeWrongKey(t *testing.T) {
	x := upNet(t, "mmnw", "kernel")
	rec := newRecorder(t)
	sock := filepath.Join(t.TempDir(), "mn.sock")
	y := strings.Replace(fmt.Sprintf(mnYAML, sock, "kernel", "native"), "hex:000102030405060708090a0b0c0d0e0f", "hex:ff0102030405060708090a0b0c0d0e0f", 1)
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
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()

	eventually(t, 5*time.Second, "unsigned MIPV6-AUTH-FAIL answer dropped", func() error {
		if r, ok := rec.find(time.Time{}, "binding acknowledgement dropped"); ok && strings.HasPrefix(r.attrs["status"], "MIPV6-AUTH-FAIL") {
			return nil
		}
		return errors.New("not yet")
	})
	eventually(t, 6*time.Second, "retransmission", func() error {
		c, err := m.Snapshot(context.Background(), "counters")
		if err != nil {
			return err
		}
		if n := c.(map[string]any)["retransmissions"].(uint64); n == 0 {
			return errors.New("no retransmission yet")
		}
		return nil
	})
	for _, e := range bul(t, m) {
		if e.State == "registered" {
			t.Errorf("registered with the wrong key: %+v", e)
		}
	}
	if hb := haBindings(t, x.ha); len(hb) != 0 {
		t.Errorf("home agent bindings %+v", hb)
	}
}

type capture struct {
	cmd    *exec.Cmd
	file   string
	stderr *lockedBuffer
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startCapture runs tcpdump on a node's interface until stop.
func startCapture(t testing.TB, n *lab.NodeNS, ifname string) *capture {
	t.Helper()
	c := &capture{file: filepath.Join(t.TempDir(), "signalling.pcap")}
	c.cmd = n.Command(context.Background(), "tcpdump", "-i", ifname, "--immediate-mode", "-U", "-n", "-w", c.file, "ip6")
	stderr := &lockedBuffer{}
	c.cmd.Stderr, c.stderr = stderr, stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	eventually(t, 5*time.Second, "tcpdump listening", func() error {
		if strings.Contains(stderr.String(), "listening on") {
			return nil
		}
		return errors.New(stderr.String())
	})
	return c
}

func (c *capture) stop(t testing.TB) string {
	t.Helper()
	time.Sleep(50 * time.Millisecond)
	c.cmd.Process.Signal(os.Interrupt)
	c.cmd.Wait()
	if st, err := os.Stat(c.file); err != nil || st.Size() <= 24 {
		t.Fatalf("capture %s: %v (%v)", c.file, err, c.stderr.String())
	}
	return c.file
}

// checkSignalling runs tshark on a capture of the registration: no frame
// may be malformed or carry an expert warning or error; there must be a
// Binding Update with BIDs 1 and 2, the MN Identifier (NAI), a replay
// protection timestamp and the MN-HA authentication option with SPI 256,
// and a Binding Acknowledgement with the authentication option.
func checkSignalling(t testing.TB, file string) {
	t.Helper()
	tshark := func(args ...string) string {
		// RFC 5555 signalling: the UDP payload is the IPv6 packet.
		cmd := exec.Command("tshark", append([]string{"-n", "-r", file, "-d", "udp.port==4191,ipv6"}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
		}
		return string(out)
	}
	if bad := strings.TrimSpace(tshark("-Y", `_ws.malformed || _ws.expert.severity >= "Warning"`)); bad != "" {
		t.Fatalf("tshark flags frames:\n%s\n%s", bad, tshark("-V"))
	}
	var bu, ba bool
	for _, l := range strings.Split(tshark("-Y", "mip6.mhtype", "-T", "fields", "-e", "mip6.mhtype",
		"-e", "mip6.bi.bid", "-e", "mip6.mnid.subtype", "-e", "mip6.mseg_id.timestamp", "-e", "mip6.auth.mobility_spi"), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 5 {
			continue
		}
		switch {
		case f[0] == "5" && f[1] == "1,2" && f[2] == "1" && f[3] != "" && f[4] == "256":
			bu = true
		case f[0] == "6" && f[4] == "256":
			ba = true
		}
	}
	if !bu || !ba {
		t.Errorf("capture: signed bulk BU %v, signed BA %v:\n%s", bu, ba, tshark("-V", "-Y", "mip6.mhtype"))
	}
}
