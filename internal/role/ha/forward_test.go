package ha

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"monami/internal/config"
	"monami/internal/dataplane"
	"monami/internal/dataplane/dptest"
	"monami/internal/forwarding"
	"monami/internal/store"
	"monami/internal/transport"
	"monami/wire"
)

// countingFake is the fake data plane with per-route counters, as the
// backends report them (dataplane.FlowCounterReader).
type countingFake struct {
	*dptest.Fake
	counters []dataplane.RouteCounter
}

func (c *countingFake) RouteCounters() ([]dataplane.RouteCounter, error) { return c.counters, nil }

// startFake runs a home agent with extra ha.yaml text on a dptest fake.
func startFake(t *testing.T, extra string) (*harness, *countingFake) {
	t.Helper()
	f := &countingFake{Fake: dptest.New()}
	x := startConfig(t, haYAML+extra, func(o *Options) { o.DataPlane = f })
	return x, f
}

var hoaRoute = dataplane.Selector{Dst: netip.PrefixFrom(hoa, 128)}

// flowRoute is the route of a flow selector of hoa.
func flowRoute(f *countingFake, ts wire.TrafficSelector) (dataplane.Route, bool) {
	m, err := forwarding.FromTrafficSelector(ts)
	if err != nil {
		panic(err)
	}
	return f.Route(dataplane.Selector{Dst: netip.PrefixFrom(hoa, 128), Flow: m.Canonical()})
}

func remotes(r dataplane.Route) []netip.Addr {
	var out []netip.Addr
	for _, p := range r.PathList() {
		out = append(out, p.Tunnel.Remote)
	}
	return out
}

// A flow binding with one BID sends its downlink to that binding, one
// with several replicates it (RFC 6089 section 4.1.1.3) with a Dedup for
// the mirrored selector from the home address; the rest of the home
// address follows the preferred binding on a plain route. When a
// referenced BID goes, its flow follows the default.
func TestFlowBindingsSteerTheDownlink(t *testing.T) {
	x, f := startFake(t, "")
	ba := x.sendFlows(15, fid(1, 10, []uint16{2}, voiceTS), fid(2, 20, []uint16{1, 2}, bulkTS))
	if ba.Status != wire.StatusAccepted || flowStatuses(ba) != "1:0 2:0" {
		t.Fatalf("BA %v, flows %q", ba.Status, flowStatuses(ba))
	}
	if r, ok := f.Route(hoaRoute); !ok || !r.Plain() || r.Tunnel.Remote != coa1 {
		t.Fatalf("default route %+v %v, want a plain route to the preferred %v", r, ok, coa1)
	}
	voice, ok := flowRoute(f, voiceTS)
	if !ok || voice.Mode != dataplane.ModeSingle || !reflect.DeepEqual(remotes(voice), []netip.Addr{coa2}) {
		t.Fatalf("voice flow route %+v %v, want single to BID 2 at %v", voice, ok, coa2)
	}
	bulk, ok := flowRoute(f, bulkTS)
	if !ok || bulk.Mode != dataplane.ModeReplicate || !reflect.DeepEqual(remotes(bulk), []netip.Addr{coa1, coa2}) {
		t.Fatalf("bulk flow route %+v %v, want replicate to %v and %v", bulk, ok, coa1, coa2)
	}
	if voice.Order >= uint32(forwarding.FromDefault)<<16 || bulk.Order <= voice.Order {
		t.Errorf("orders voice %#x bulk %#x: flow bindings by FID-PRI, before the default", voice.Order, bulk.Order)
	}
	mirror, _ := forwarding.FromTrafficSelector(bulkTS)
	mirror = mirror.Canonical().Mirror()
	mirror.Src = forwarding.AddrExact(hoa)
	if _, ok := f.Dedups[mirror]; !ok || len(f.Dedups) != 1 {
		t.Fatalf("dedups %v, want one for %v", f.Dedups, mirror)
	}

	// BID 2 deregistered: the voice flow's route goes, its traffic
	// follows the default; the bulk flow keeps BID 1.
	x.sendBU(coa1, 0, key, bid{2, coa2, 20})
	if r, ok := flowRoute(f, voiceTS); ok {
		t.Errorf("voice flow still routed after its BID went: %+v", r)
	}
	if r, ok := f.Route(hoaRoute); !ok || r.Tunnel.Remote != coa1 {
		t.Errorf("default route %+v %v, want to %v", r, ok, coa1)
	}
	if r, ok := flowRoute(f, bulkTS); !ok || !reflect.DeepEqual(remotes(r), []netip.Addr{coa1}) {
		t.Errorf("bulk flow route %+v %v, want to %v alone", r, ok, coa1)
	}
	if _, ok := f.Endpoints[dptest.EndpointKey{Local: haAddr, Peer: coa2}]; ok {
		t.Error("endpoint of the deregistered binding kept")
	}
	// BID 2 back: the voice flow follows it again (RFC 6089 section 5).
	x.sendBU(coa1, 15, key, bid{1, coa1, 10}, bid{2, coa2, 20})
	if r, ok := flowRoute(f, voiceTS); !ok || !reflect.DeepEqual(remotes(r), []netip.Addr{coa2}) {
		t.Errorf("voice flow route %+v %v after BID 2 returned, want to %v", r, ok, coa2)
	}
}

// An operator bicast rule (ha.yaml flow_bindings.rules) replicates what it
// matches to every binding, whatever the mobile node asked.
func TestOperatorBicastRule(t *testing.T) {
	x, f := startFake(t, `
flow_bindings:
  rules:
    - name: voice
      match: {traffic_class: "184"}
      mode: bicast
`)
	x.sendBU(coa1, 15, key, bid{1, coa1, 10}, bid{2, coa2, 20})
	m := forwarding.Match{TrafficClass: forwarding.Exact[uint8](184)}
	r, ok := f.Route(dataplane.Selector{Dst: netip.PrefixFrom(hoa, 128), Flow: m})
	if !ok || r.Mode != dataplane.ModeReplicate || !reflect.DeepEqual(remotes(r), []netip.Addr{coa1, coa2}) {
		t.Fatalf("rule route %+v %v, want replicate to both bindings", r, ok)
	}
	if r.Order != 1 {
		t.Errorf("rule order %#x, want 1 (rules first, rule 0 has priority 1)", r.Order)
	}
	if len(f.Dedups) != 1 {
		t.Errorf("dedups %v, want one for the rule", f.Dedups)
	}
	if r, ok := f.Route(hoaRoute); !ok || r.Tunnel.Remote != coa1 {
		t.Errorf("default route %+v %v", r, ok)
	}
}

// fakeState is a copy of what a fake data plane holds.
type fakeState struct {
	routes    map[dataplane.Selector]dataplane.Route
	endpoints map[dptest.EndpointKey]dataplane.Endpoint
	dedups    map[forwarding.Match]dataplane.Dedup
}

func stateOf(f *dptest.Fake) fakeState {
	return fakeState{maps.Clone(f.Routes), maps.Clone(f.Endpoints), maps.Clone(f.Dedups)}
}

// A batch the data plane refuses is answered 130 for every update (and
// 129 for their flows), and the data plane is left as it was: the home
// address's bindings, flows and forwarding before the batch.
func TestFailedBatchLeavesTheDataPlane(t *testing.T) {
	cfg, err := config.ParseHomeAgent("ha.yaml", []byte(haYAML))
	if err != nil {
		t.Fatal(err)
	}
	f := dptest.New()
	x := &harness{t: t, tp: newMemTransport(), seq: 100}
	x.h, err = New(cfg, Options{Transports: []transport.Transport{x.tp}, DataPlane: f, NoControlSocket: true, Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	signal := func(bu wire.BindingUpdate) received {
		mh, err := wire.NewAuthenticator(key).AppendMessage(nil, bu, 300, coa1, hoa, hoa, haAddr)
		if err != nil {
			t.Fatal(err)
		}
		return received{sig: transport.Signal{Via: transport.ViaMH, Src: coa1, Dst: haAddr, Ext: transport.ExtHAO,
			HomeAddress: hoa, MH: mh}, tp: x.tp, at: time.Now()}
	}
	x.h.handleQueued(ctx, signal(flowBU(1, 15, fid(1, 10, []uint16{2}, voiceTS))))
	before := stateOf(f)
	flowsBefore := x.h.Flows()
	if len(before.routes) != 2 || len(flowsBefore) != 1 {
		t.Fatalf("before: routes %v, flows %+v", before.routes, flowsBefore)
	}
	// Two updates in one batch: FID 1 moves to bicast, FID 2 comes; the
	// data plane refuses every replicated route.
	f.Fail = func(o dataplane.Op) error {
		if o.Kind == dataplane.OpAddRoute && o.Route.Mode == dataplane.ModeReplicate {
			return errors.New("table full")
		}
		return nil
	}
	first := signal(flowBU(2, 15, fid(1, 10, []uint16{1, 2}, voiceTS))) // timestamps in order (RFC 4285)
	x.h.in <- signal(flowBU(3, 15, fid(1, 10, []uint16{1, 2}, voiceTS), fid(2, 20, []uint16{1}, bulkTS)))
	x.h.handleQueued(ctx, first)
	as := x.answers()
	if len(as) != 3 || as[1].Status != wire.StatusInsufficientResources || as[2].Status != wire.StatusInsufficientResources {
		t.Fatalf("answers %+v, want 130 for both updates of the batch", as)
	}
	if got := flowStatuses(as[2]); got != "1:129 2:129" {
		t.Errorf("flows of a refused update answered %q, want 129 each", got)
	}
	if after := stateOf(f); !reflect.DeepEqual(after, before) {
		t.Errorf("data plane after the refused batch:\n%+v\nwant as before:\n%+v", after, before)
	}
	if fs := x.h.Flows(); !reflect.DeepEqual(fs, flowsBefore) {
		t.Errorf("flows after the refused batch %+v, want %+v", fs, flowsBefore)
	}
}

// `monami ctl --role ha flows` shows the bindings each flow uses now and
// what it sent on each, from the data plane's route counters; without
// them the figures read 0 and say so.
func TestFlowsViewCounters(t *testing.T) {
	x, f := startFake(t, "")
	x.sendFlows(15, fid(1, 10, []uint16{2}, voiceTS), fid(2, 20, []uint16{1, 2}, bulkTS))
	voice, _ := flowRoute(f, voiceTS)
	bulk, _ := flowRoute(f, bulkTS)
	f.counters = []dataplane.RouteCounter{
		{Selector: voice.Selector, Paths: []dataplane.PathCounter{{Tunnel: voice.Paths[0].Tunnel, Packets: 7, Octets: 700}}},
		{Selector: bulk.Selector, Paths: []dataplane.PathCounter{
			{Tunnel: bulk.Paths[0].Tunnel, Packets: 3, Octets: 300}, {Tunnel: bulk.Paths[1].Tunnel, Packets: 3, Octets: 300}}},
		{Selector: hoaRoute, Paths: []dataplane.PathCounter{{Tunnel: bulk.Paths[0].Tunnel, Packets: 1000, Octets: 1e6}}},
	}
	fs := x.h.flowsNow(t)
	if len(fs) != 2 || fs[0].Counters != "data plane" {
		t.Fatalf("flows %+v", fs)
	}
	if v := fs[0]; v.Mode != "single" || v.Packets != 7 || v.Bytes != 700 || len(v.Bindings) != 1 ||
		v.Bindings[0] != (FlowBindingRef{BID: 2, CareOfAddress: coa2.String(), Packets: 7, Bytes: 700}) {
		t.Errorf("voice flow %+v", v)
	}
	if v := fs[1]; v.Mode != "bicast" || v.Packets != 6 || v.Bytes != 600 || len(v.Bindings) != 2 ||
		v.Bindings[0] != (FlowBindingRef{BID: 1, CareOfAddress: coa1.String(), Packets: 3, Bytes: 300}) ||
		v.Bindings[1] != (FlowBindingRef{BID: 2, CareOfAddress: coa2.String(), Packets: 3, Bytes: 300}) {
		t.Errorf("bulk flow %+v", v)
	}
	// The recording data plane has no route counters.
	y := start(t)
	y.sendFlows(15, fid(1, 10, []uint16{2}, voiceTS))
	if fs := y.h.flowsNow(t); len(fs) != 1 || fs[0].Packets != 0 || fs[0].Counters != "unavailable: the recording data plane does not count per route" {
		t.Errorf("flows without counters %+v", fs)
	}
}

// A data plane without flow routes (ErrUnsupported) still serves the
// bindings: their flows follow the default route, and the flows view says
// so, rather than every Binding Update with a flow being refused.
func TestFlowsWithoutFlowRoutes(t *testing.T) {
	x, f := startFake(t, "")
	f.Fail = func(o dataplane.Op) error {
		if o.Kind == dataplane.OpAddRoute && !o.Route.Plain() || o.Kind == dataplane.OpAddDedup {
			return dataplane.ErrUnsupported
		}
		return nil
	}
	ba := x.sendFlows(15, fid(1, 10, []uint16{2}, voiceTS), fid(2, 20, []uint16{1, 2}, bulkTS))
	if ba.Status != wire.StatusAccepted || flowStatuses(ba) != "1:0 2:0" {
		t.Fatalf("BA %v, flows %q", ba.Status, flowStatuses(ba))
	}
	if r, ok := f.Route(hoaRoute); !ok || r.Tunnel.Remote != coa1 {
		t.Fatalf("default route %+v %v", r, ok)
	}
	if n, _, d := f.Len(); n != 1 || d != 0 {
		t.Errorf("%d routes and %d dedups, want the default route alone", n, d)
	}
	if fs := x.h.flowsNow(t); len(fs) != 2 || fs[0].Mode != "regular (the data plane does not forward by flow)" || len(fs[0].Bindings) != 0 {
		t.Errorf("flows %+v", fs)
	}
	// Later updates go straight to plain routes.
	if ba := x.sendFlows(15, fid(1, 10, []uint16{1}, voiceTS)); ba.Status != wire.StatusAccepted {
		t.Errorf("next update %v", ba.Status)
	}
}
