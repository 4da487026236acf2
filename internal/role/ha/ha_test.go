package ha

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"monami/internal/config"
	"monami/internal/dataplane"
	"monami/internal/forwarding"
	"monami/internal/store"
	"monami/internal/transport"
	"monami/wire"
)

// memTransport is an in-memory signalling transport: the tests play the
// mobile node on the other side of it.
type memTransport struct {
	in   chan transport.Signal
	mu   sync.Mutex
	sent []transport.Signal
	cond chan struct{}
}

func newMemTransport() *memTransport {
	return &memTransport{in: make(chan transport.Signal, 16), cond: make(chan struct{}, 64)}
}

func (m *memTransport) Send(_ context.Context, s transport.Signal) error {
	s.MH = append([]byte(nil), s.MH...)
	m.mu.Lock()
	m.sent = append(m.sent, s)
	m.mu.Unlock()
	m.cond <- struct{}{}
	return nil
}

func (m *memTransport) Recv(ctx context.Context) (transport.Signal, error) {
	select {
	case s := <-m.in:
		return s, nil
	case <-ctx.Done():
		return transport.Signal{}, ctx.Err()
	}
}

func (m *memTransport) Close() error { return nil }

// recordingDP records the data plane state the home agent asks for.
type recordingDP struct {
	mu        sync.Mutex
	routes    map[dataplane.Selector]dataplane.Tunnel
	endpoints map[netip.Addr]dataplane.Endpoint
	dedups    map[forwarding.Match]dataplane.Dedup
	closed    bool
	// failRoute and failEndpoint make the next installations fail, as a
	// full kernel table or a netlink error would.
	failRoute, failEndpoint error
}

func newRecordingDP() *recordingDP {
	return &recordingDP{routes: map[dataplane.Selector]dataplane.Tunnel{}, endpoints: map[netip.Addr]dataplane.Endpoint{}}
}

func (d *recordingDP) Backend() dataplane.Backend { return "recording" }
func (d *recordingDP) AddRoute(r dataplane.Route) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failRoute != nil {
		return d.failRoute
	}
	d.routes[r.Selector] = r.Tunnel
	return nil
}
func (d *recordingDP) DelRoute(s dataplane.Selector) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.routes[s]; !ok {
		return dataplane.ErrNotFound
	}
	delete(d.routes, s)
	return nil
}
func (d *recordingDP) AddEndpoint(e dataplane.Endpoint) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failEndpoint != nil {
		return d.failEndpoint
	}
	d.endpoints[e.Peer] = e
	return nil
}
func (d *recordingDP) DelEndpoint(_, peer netip.Addr, encap dataplane.Encapsulation) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Endpoints are keyed by peer and encapsulation, as in the real ones.
	if e, ok := d.endpoints[peer]; ok && e.Encap == encap {
		delete(d.endpoints, peer)
	}
	return nil
}

// Apply makes recordingDP a dataplane.Batcher that keeps the Dedups of
// bicast flows (ApplyEach refuses them) and does the rest one by one.
func (d *recordingDP) Apply(ops []dataplane.Op) error {
	rest := make([]dataplane.Op, 0, len(ops))
	for _, o := range ops {
		switch o.Kind {
		case dataplane.OpAddDedup:
			d.mu.Lock()
			if d.dedups == nil {
				d.dedups = map[forwarding.Match]dataplane.Dedup{}
			}
			d.dedups[o.Dedup.Match] = o.Dedup
			d.mu.Unlock()
		case dataplane.OpDelDedup:
			d.mu.Lock()
			delete(d.dedups, o.Dedup.Match)
			d.mu.Unlock()
		default:
			rest = append(rest, o)
		}
	}
	return dataplane.ApplyEach(d, rest)
}

func (d *recordingDP) Counters() (dataplane.Counters, error) { return dataplane.Counters{}, nil }
func (d *recordingDP) Close() error                          { d.closed = true; return nil }

var (
	haAddr = netip.MustParseAddr("2001:db8:1::1")
	hoa    = netip.MustParseAddr("2001:db8:1::10")
	coa1   = netip.MustParseAddr("2001:db8:a::10")
	coa2   = netip.MustParseAddr("2001:db8:b::10")
	key    = []byte("0123456789abcdef0123")
)

const haYAML = `
address: 2001:db8:1::1
home_prefixes: [2001:db8:1::/64]
binding: {max_lifetime: 60s}
store: {backend: memory}
mobile_nodes:
  - id: mn1@example.org
    home_addresses: [2001:db8:1::10]
    spi: 300
    key: text:0123456789abcdef0123
`

type harness struct {
	t   *testing.T
	tp  *memTransport
	dp  *recordingDP
	h   *HomeAgent
	seq uint16
	// stop ends the home agent and waits for it; idempotent.
	stop func()
}

func start(t *testing.T) *harness { t.Helper(); return startWith(t, nil) }

// startOn runs a home agent on st and dp (a restart reuses a store).
func startOn(t *testing.T, st store.Store, dp *recordingDP) *harness {
	t.Helper()
	return startWith(t, func(o *Options) { o.Store, o.DataPlane = st, dp })
}

// startWith lets a test change the options (fakes) before New; the
// defaults are a memory store and a recording data plane.
func startWith(t *testing.T, change func(*Options)) *harness {
	t.Helper()
	return startConfig(t, haYAML, change)
}

func startConfig(t *testing.T, yaml string, change func(*Options)) *harness {
	t.Helper()
	cfg, err := config.ParseHomeAgent("ha.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	x := &harness{t: t, tp: newMemTransport(), seq: 100}
	opt := Options{Transports: []transport.Transport{x.tp}, DataPlane: newRecordingDP(), NoControlSocket: true, Store: store.NewMemory()}
	if change != nil {
		change(&opt)
	}
	x.dp, _ = opt.DataPlane.(*recordingDP) // nil for other fakes (dptest)
	x.h, err = New(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { x.h.Run(ctx); close(done) }()
	var once sync.Once
	x.stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(func() {
		x.stop()
		if x.dp != nil && !x.dp.closed {
			t.Error("data plane not closed on shutdown")
		}
	})
	return x
}

type bid struct {
	id   uint16
	coa  netip.Addr
	prio uint8
}

// sendBU plays the mobile node: an authenticated home registration from
// src with the given BIDs, signed with k.
func (x *harness) sendBU(src netip.Addr, lifetime uint16, k []byte, bids ...bid) wire.BindingAcknowledgement {
	x.t.Helper()
	x.seq++
	bu := wire.BindingUpdate{Sequence: x.seq, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: lifetime}
	for _, b := range bids {
		bu.Options = append(bu.Options, wire.BindingIdentifier{BindingID: b.id, Priority: b.prio, CareOfAddress: b.coa})
	}
	bu.Options = append(bu.Options, wire.NAI("mn1@example.org"),
		wire.MobilityMessageReplayProtection{Timestamp: wire.NTPTimestamp(time.Now())})
	mh, err := wire.NewAuthenticator(k).AppendMessage(nil, bu, 300, src, hoa, hoa, haAddr)
	if err != nil {
		x.t.Fatal(err)
	}
	x.tp.in <- transport.Signal{Via: transport.ViaMH, Src: src, Dst: haAddr, Ext: transport.ExtHAO, HomeAddress: hoa, MH: mh}
	select {
	case <-x.tp.cond:
	case <-time.After(5 * time.Second):
		x.t.Fatal("no Binding Acknowledgement")
	}
	x.tp.mu.Lock()
	s := x.tp.sent[len(x.tp.sent)-1]
	x.tp.mu.Unlock()
	if s.Dst != src || s.Ext != transport.ExtRH2 || s.HomeAddress != hoa || s.Src != haAddr {
		x.t.Fatalf("BA addressed %v -> %v %v %v", s.Src, s.Dst, s.Ext, s.HomeAddress)
	}
	m, err := wire.Parser{ChecksumVerified: true}.Parse(s.MH, haAddr, hoa)
	if err != nil {
		x.t.Fatal(err)
	}
	return m.(wire.BindingAcknowledgement)
}

// snapshot asks the event loop, as the control API does.
func (x *harness) bindings() []BindingView {
	v, err := x.h.Snapshot(context.Background(), "bindings")
	if err != nil {
		x.t.Fatal(err)
	}
	return v.([]BindingView)
}

func (x *harness) route() (dataplane.Tunnel, bool) {
	x.dp.mu.Lock()
	defer x.dp.mu.Unlock()
	t, ok := x.dp.routes[dataplane.Selector{Dst: netip.PrefixFrom(hoa, 128)}]
	return t, ok
}

func bidStatuses(ba wire.BindingAcknowledgement) string {
	s := ""
	for _, o := range ba.Options {
		if b, ok := o.(wire.BindingIdentifier); ok {
			s += fmt.Sprintf("%d:%d ", b.BindingID, b.Status)
		}
	}
	return s
}

func TestRegisterTwoCareOfAddressesAndFailover(t *testing.T) {
	x := start(t)
	ba := x.sendBU(coa1, 15, key, bid{1, coa1, 10}, bid{2, coa2, 20})
	if ba.Status != wire.StatusAccepted || ba.Sequence != x.seq || ba.Lifetime != 15 {
		t.Fatalf("BA %+v", ba)
	}
	if got := bidStatuses(ba); got != "1:0 2:0 " {
		t.Fatalf("BID statuses %q", got)
	}
	if len(x.bindings()) != 2 {
		t.Fatalf("bindings %+v", x.bindings())
	}
	if tun, ok := x.route(); !ok || tun.Remote != coa1 || tun.Local != haAddr {
		t.Fatalf("route %+v %v: want the priority-10 binding", tun, ok)
	}
	x.dp.mu.Lock()
	ep, ok := x.dp.endpoints[coa2]
	x.dp.mu.Unlock()
	if !ok || len(ep.InnerSrc) != 1 || ep.InnerSrc[0] != netip.PrefixFrom(hoa, 128) {
		t.Fatalf("endpoint for coa2 %+v %v", ep, ok)
	}

	// Deregister BID 1 (its link failed) from the other care-of address:
	// traffic falls over to BID 2 and BID 1's endpoint goes away.
	ba = x.sendBU(coa2, 0, key, bid{1, coa1, 10})
	if ba.Status != wire.StatusAccepted {
		t.Fatalf("deregistration BA %+v", ba)
	}
	if tun, ok := x.route(); !ok || tun.Remote != coa2 {
		t.Fatalf("after failover route %+v %v", tun, ok)
	}
	x.dp.mu.Lock()
	_, still := x.dp.endpoints[coa1]
	x.dp.mu.Unlock()
	if still {
		t.Fatal("endpoint of deregistered binding kept")
	}
	// Deregister all: no tunnel left.
	x.sendBU(coa2, 0, key)
	if _, ok := x.route(); ok || len(x.bindings()) != 0 {
		t.Fatalf("after full deregistration: route %v bindings %+v", ok, x.bindings())
	}
}

func TestWrongKeyRejected(t *testing.T) {
	x := start(t)
	ba := x.sendBU(coa1, 15, []byte("not the right key!!!"), bid{1, coa1, 10})
	if ba.Status != wire.StatusMIPv6AuthFail {
		t.Fatalf("status %v, want MIPV6-AUTH-FAIL", ba.Status)
	}
	for _, o := range ba.Options {
		if _, ok := o.(wire.MobilityMessageAuthentication); ok {
			t.Fatal("a BA to an unauthenticated BU must not be signed with the real key")
		}
	}
	if _, ok := x.route(); ok || len(x.bindings()) != 0 {
		t.Fatal("binding made despite the wrong key")
	}
	v, _ := x.h.Snapshot(context.Background(), "counters")
	if c := v.(struct {
		Signalling Counters `json:"signalling"`
		Dataplane  any      `json:"dataplane"`
	}).Signalling; c.AuthFailures != 1 {
		t.Fatalf("counters %+v", c)
	}
}

func TestExpiryRemovesDataPlaneState(t *testing.T) {
	x := start(t)
	// Lifetime 1 unit = 4 s; the agent's real clock expires it.
	x.sendBU(coa1, 1, key, bid{1, coa1, 10})
	if _, ok := x.route(); !ok {
		t.Fatal("no route after registration")
	}
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := x.route(); !ok && len(x.bindings()) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("binding did not expire")
}
