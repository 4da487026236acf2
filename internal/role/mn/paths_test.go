package mn

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"monami/internal/binding"
	"monami/internal/config"
	"monami/internal/dataplane"
	"monami/internal/dataplane/dptest"
	"monami/internal/linkmon"
	"monami/internal/paths"
	"monami/internal/transport"
)

// stubDP records what the role asks of the data plane.
type stubDP struct {
	routes map[dataplane.Selector]dataplane.Tunnel
	eps    map[netip.Addr]bool
	log    []string
}

func (d *stubDP) Backend() dataplane.Backend { return "stub" }
func (d *stubDP) AddRoute(r dataplane.Route) error {
	d.routes[r.Selector] = r.Tunnel
	d.log = append(d.log, "route "+r.Tunnel.String())
	return nil
}
func (d *stubDP) DelRoute(s dataplane.Selector) error {
	delete(d.routes, s)
	d.log = append(d.log, "delroute")
	return nil
}
func (d *stubDP) AddEndpoint(e dataplane.Endpoint) error { d.eps[e.Local] = true; return nil }
func (d *stubDP) DelEndpoint(l, _ netip.Addr, _ dataplane.Encapsulation) error {
	delete(d.eps, l)
	return nil
}
func (d *stubDP) Counters() (dataplane.Counters, error) { return dataplane.Counters{}, nil }
func (d *stubDP) Close() error                          { return nil }

// sinkTransport records the Binding Updates sent.
type sinkTransport struct{ sent []transport.Signal }

func (s *sinkTransport) Send(_ context.Context, sig transport.Signal) error {
	sig.MH = append([]byte(nil), sig.MH...)
	s.sent = append(s.sent, sig)
	return nil
}

// pathNode is a mobile node without kernel state: two registered care-of
// addresses, the tunnel on wlan0.
func pathNode(t *testing.T) (*MobileNode, *stubDP, *sinkTransport) {
	dp := &stubDP{routes: map[dataplane.Selector]dataplane.Tunnel{}, eps: map[netip.Addr]bool{}}
	sink := &sinkTransport{}
	m := &MobileNode{
		cfg: &config.MobileNode{ID: "mn1@example.org"}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		now: time.Now, ns: netns.None(), dp: dp, tps: map[config.Transport]transport.Transport{config.TransportNative: sink},
		bul:         binding.NewBindingUpdateList(binding.BULConfig{}),
		homes:       []*homeRegistration{{hoa: hoa, ha: haIP}},
		outstanding: map[groupKey]uint16{},
	}
	m.rt = newRouter(m, 4192, 1010)
	for i, c := range []struct {
		name string
		coa  netip.Addr
	}{{"wlan0", coa1}, {"lte0", coa2}} {
		f := newAccessInterface(config.InterfaceEntry{Name: c.name, BID: uint16(i + 1), Priority: uint8(i + 1), Transport: config.TransportNative})
		f.index, f.coa, f.usable[c.coa] = 10+i, c.coa, true
		m.ifs = append(m.ifs, f)
		m.bul.SetCareOfAddress(m.now(), binding.CareOfBinding{HA: haIP, HoA: hoa, BID: f.cfg.BID, CoA: c.coa, Priority: f.cfg.Priority})
	}
	m.pump(m.now(), false)
	if len(sink.sent) != 1 {
		t.Fatalf("bulk registration: %d BUs sent", len(sink.sent))
	}
	bu := lastBU(t, sink)
	m.do(m.bul.HandleBA(m.now(), &binding.BindingAck{HA: haIP, HoA: hoa, Sequence: bu.Sequence, Lifetime: 15}))
	if a := m.homes[0].active; a == nil || a.cfg.Name != "wlan0" || !a.registered[hoa] {
		t.Fatalf("active after registration: %+v", a)
	}
	return m, dp, sink
}

func lastBU(t *testing.T, s *sinkTransport) *binding.OutgoingBindingUpdate {
	t.Helper()
	sig := s.sent[len(s.sent)-1]
	// Sequence number and source are all the tests need.
	return &binding.OutgoingBindingUpdate{Source: sig.Src, Sequence: uint16(sig.MH[6])<<8 | uint16(sig.MH[7])}
}

// The care-of address of the active interface goes: the deregistration
// leaves at once from the other care-of address, and the reverse tunnel
// moves before any answer.
func TestCareOfAddressDownMovesTunnelAtOnce(t *testing.T) {
	m, dp, sink := pathNode(t)
	n := len(sink.sent)
	m.careOfAddressDown(linkmon.Event{Kind: linkmon.CareOfAddressDown, Interface: "wlan0", Address: coa1, Reason: "link down"})
	if len(sink.sent) != n+1 || sink.sent[n].Src != coa2 {
		t.Fatalf("deregistration: %d BUs, last %+v", len(sink.sent)-n, sink.sent[len(sink.sent)-1])
	}
	sel := dataplane.Selector{Dst: defaultRoute, Src: netip.PrefixFrom(hoa, 128)}
	if tun := dp.routes[sel]; tun.Local != coa2 || tun.Remote != haIP {
		t.Errorf("reverse tunnel %v, want from %v", tun, coa2)
	}
	if dp.eps[coa1] {
		t.Errorf("endpoint of the lost care-of address kept: %v", dp.eps)
	}
	for _, e := range m.bul.Entries() {
		if e.BID == 1 && e.State != binding.StateDeregistering {
			t.Errorf("BID 1 %v, want deregistering", e.State)
		}
	}
	// Its answer completes the deregistration.
	bu := lastBU(t, sink)
	m.do(m.bul.HandleBA(m.now(), &binding.BindingAck{HA: haIP, HoA: hoa, Sequence: bu.Sequence}))
	if len(m.bul.Entries()) != 1 {
		t.Errorf("entries after the answer: %+v", m.bul.Entries())
	}
}

// A monitor restart found an address gone without a notification.
func TestReconcileDropsVanishedCareOfAddress(t *testing.T) {
	m, dp, _ := pathNode(t)
	m.reconcile(map[string][]netip.Addr{"lte0": {coa2}})
	if m.ifs[0].coa.IsValid() {
		t.Errorf("wlan0 keeps %v", m.ifs[0].coa)
	}
	if tun := dp.routes[dataplane.Selector{Dst: defaultRoute, Src: netip.PrefixFrom(hoa, 128)}]; tun.Local != coa2 {
		t.Errorf("reverse tunnel %v", tun)
	}
	// Nothing gone: nothing changes.
	before := len(dp.log)
	m.reconcile(map[string][]netip.Addr{"lte0": {coa2}})
	if len(dp.log) != before {
		t.Errorf("reconcile without change touched the data plane: %v", dp.log[before:])
	}
}

// fwdNode is a mobile node without kernel state on a fake data plane, its
// interfaces with care-of addresses but not registered, and no policy.
func fwdNode(names ...string) (*MobileNode, *dptest.Fake) {
	dp := dptest.New()
	m := &MobileNode{
		cfg: &config.MobileNode{ID: "mn1@example.org"}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		now: time.Now, ns: netns.None(), dp: dp, tps: map[config.Transport]transport.Transport{config.TransportNative: &sinkTransport{}},
		bul:         binding.NewBindingUpdateList(binding.BULConfig{}),
		homes:       []*homeRegistration{{hoa: hoa, ha: haIP}},
		outstanding: map[groupKey]uint16{},
	}
	for i, n := range names {
		f := newAccessInterface(config.InterfaceEntry{Name: n, BID: uint16(i + 1), Priority: uint8(i + 1), Transport: config.TransportNative})
		f.coa = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xa0 + byte(i), 15: 1})
		m.ifs = append(m.ifs, f)
	}
	return m, dp
}

// uplink is the plain reverse tunnel route of hoa.
func uplink(t *testing.T, dp *dptest.Fake) dataplane.Route {
	t.Helper()
	r, ok := dp.Route(dataplane.Selector{Dst: defaultRoute, Src: netip.PrefixFrom(hoa, 128)})
	if !ok {
		t.Fatalf("no reverse tunnel route; routes %v", dp.Routes)
	}
	if !r.Plain() {
		t.Fatalf("reverse tunnel %+v is not a plain route", r)
	}
	return r
}

// A registered binding is preferred over a better priority still
// registering; among equals the lower BID-PRI wins, and an unset one (0)
// comes last.
func TestForwardPrefersRegistered(t *testing.T) {
	m, dp := fwdNode("a0", "b0", "z0")
	a, b, z := m.ifs[0], m.ifs[1], m.ifs[2]
	z.cfg.Priority = 0
	m.forward()
	if r := uplink(t, dp); r.Tunnel.Local != a.coa {
		t.Errorf("nothing registered: tunnel from %v, want the best priority %v", r.Tunnel.Local, a.coa)
	}
	b.registered[hoa] = true
	m.forward()
	if r := uplink(t, dp); r.Tunnel.Local != b.coa {
		t.Errorf("tunnel from %v, want the registered %v", r.Tunnel.Local, b.coa)
	}
	a.registered[hoa], z.registered[hoa] = true, true
	m.forward()
	if r := uplink(t, dp); r.Tunnel.Local != a.coa {
		t.Errorf("tunnel from %v, want the lower priority value %v", r.Tunnel.Local, a.coa)
	}
	a.registered[hoa], b.registered[hoa] = false, false
	z.cfg.Priority, b.cfg.Priority = 0, 100
	b.registered[hoa] = true
	m.forward()
	if r := uplink(t, dp); r.Tunnel.Local != b.coa {
		t.Errorf("tunnel from %v: priority 0 (none given) preferred over a given one", r.Tunnel.Local)
	}
	if n, eps, dd := dp.Len(); n != 1 || eps != 3 || dd != 0 {
		t.Errorf("%d routes, %d endpoints, %d dedups; want 1 plain route and an endpoint per care-of address", n, eps, dd)
	}
}

// A registered binding whose path is judged down (internal/paths) loses
// to one whose path is alive, whatever their priorities.
func TestForwardAvoidsADeadPath(t *testing.T) {
	m, dp := fwdNode("a0", "b0")
	a, b := m.ifs[0], m.ifs[1]
	a.registered[hoa], b.registered[hoa] = true, true
	m.live = paths.New(pathConfig())
	t0 := time.Unix(1000, 0)
	for _, f := range []*accessInterface{a, b} {
		m.live.Add(t0, paths.Key{Local: f.coa, Peer: haIP})
	}
	m.forward()
	if r := uplink(t, dp); r.Tunnel.Local != a.coa {
		t.Fatal("lower priority value not preferred while both paths are up")
	}
	// Probes of a go unanswered, b's are answered: a goes down.
	for now := t0; now.Before(t0.Add(2 * time.Second)); now = now.Add(10 * time.Millisecond) {
		for _, act := range m.live.Tick(now) {
			if act.Kind == paths.SendProbe && act.Key.Local == b.coa {
				m.live.ProbeReply(now, act.Key, act.Seq)
			}
		}
	}
	if st := m.live.State(paths.Key{Local: a.coa, Peer: haIP}); st != paths.Down {
		t.Fatalf("unanswered path is %v", st)
	}
	m.forward()
	if r := uplink(t, dp); r.Tunnel.Local != b.coa {
		t.Error("a registered binding on a dead path preferred")
	}
}

func (s *sinkTransport) Recv(ctx context.Context) (transport.Signal, error) {
	<-ctx.Done()
	return transport.Signal{}, ctx.Err()
}
func (s *sinkTransport) Close() error { return nil }

// A busy path losing a third of its probes is degraded (internal/paths)
// and the uplink moves to the healthy path of lower preference.
func TestForwardLeavesADegradedPath(t *testing.T) {
	m, dp := fwdNode("a0", "b0")
	a, b := m.ifs[0], m.ifs[1]
	a.registered[hoa], b.registered[hoa] = true, true
	m.live = paths.New(pathConfig())
	t0 := time.Unix(1000, 0)
	ka, kb := paths.Key{Local: a.coa, Peer: haIP}, paths.Key{Local: b.coa, Peer: haIP}
	m.live.Add(t0, ka)
	m.live.Add(t0, kb)
	m.forward()
	if r := uplink(t, dp); r.Tunnel.Local != a.coa {
		t.Fatal("lower priority value not preferred while both paths are good")
	}
	rx, n := uint64(0), 0
	for now := t0; now.Before(t0.Add(3 * time.Second)); now = now.Add(10 * time.Millisecond) {
		rx++
		m.live.Received(now, ka, rx) // a carries traffic: probed fast
		for _, act := range m.live.Tick(now) {
			if act.Kind != paths.SendProbe {
				continue
			}
			if n++; act.Key == kb || n%3 != 0 {
				m.live.ProbeReply(now.Add(time.Millisecond), act.Key, act.Seq)
			}
		}
	}
	if !m.live.Degraded(ka) || m.live.State(ka) != paths.Up {
		t.Fatalf("a: degraded %v, %v; want degraded and up", m.live.Degraded(ka), m.live.State(ka))
	}
	m.forward()
	if r := uplink(t, dp); r.Tunnel.Local != b.coa {
		t.Error("the uplink stays on a degraded path")
	}
	lv := m.liveness(a)
	if len(lv) != 1 || !lv[0].Degraded || lv[0].LossPct < 20 || lv[0].DegradedSince.IsZero() {
		t.Errorf("paths topic %+v, want a degraded with its loss", lv)
	}
}
