package mn

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"monami/internal/ctlapi"
	"monami/internal/lab"
)

func TestMobileNodeKernelDataPlane(t *testing.T) { testMobileNode(t, "mmnk", "kernel", "native", true) }
func TestMobileNodeUserspaceDataPlane(t *testing.T) {
	testMobileNode(t, "mmnu", "userspace", "native", true)
}

// RFC 5555: signalling and tunnel in UDP port 4191 (userspace data planes).
// Registration over UDP with the F flag, UDP-encapsulated data both ways
// (the home agent shares port 4191 between signalling and data), failover,
// return and deregistration.
func TestMobileNodeUDP(t *testing.T) {
	testMobileNode(t, "mmnp", "userspace", "udp", true)
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
	t.Logf("FAILOVER (%s): %s", backend, fig)
	checkFailoverGaps(t, fig)
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

// Bounds of the failover gaps, counted from the link-down event. The
// downstream floor is one signalling trip up the 40 ms lte link and one data
// trip down it; the upstream one, one data trip up; both less the 10 ms wlan
// trip, as datagrams already in flight on wlan still arrive just after the
// event (this test takes the mobile node's own interface down, the far end
// stays up). The upper bound is
// loose (the machine is shared and the flow's reader is a goroutine):
// it catches a failover that does not happen or waits for a timer, while
// the demo test holds the 100 ms bound (BenchmarkFailover has the figures).
const (
	downGapFloor = (40 + 40 - 10) * time.Millisecond
	upGapFloor   = (40 - 10) * time.Millisecond
	gapBound     = 500 * time.Millisecond
)

func checkFailoverGaps(t testing.TB, fig failoverFigures) {
	t.Helper()
	if fig.gap < downGapFloor || fig.gap > gapBound {
		t.Errorf("downstream failover gap %v, want %v..%v", fig.gap, downGapFloor, gapBound)
	}
	if fig.upGap < upGapFloor || fig.upGap > gapBound {
		t.Errorf("upstream failover gap %v, want %v..%v", fig.upGap, upGapFloor, gapBound)
	}
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
	x.mnKey = "hex:ff0102030405060708090a0b0c0d0e0f"
	rec := newRecorder(t)
	m, _, _ := x.startMN(t, "kernel", "native", rec)

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
