package mn

import (
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"monami/internal/binding"
	"monami/internal/config"
	"monami/internal/dataplane"
	"monami/internal/dataplane/dptest"
	"monami/internal/forwarding"
	"monami/internal/linkmon"
	"monami/internal/policy"
	"monami/internal/transport"
	"monami/wire"
)

const uplinkPolicy = `
interfaces:
  - name: wlan0
    weight: 3
rules:
  - name: voice
    match: {next_header: udp, dst_port: 5060-5061}
    interfaces: [wwan0, wlan0]
  - name: wlan-only
    match: {next_header: udp, dst_port: 9000}
    interfaces: [wlan0]
  - name: bulk
    match: {next_header: tcp}
    share: [wlan0, wwan0]
  - name: control
    match: {traffic_class: 184, dst: "2001:db8:99::/48"}
    bicast: [wlan0, wwan0]
  - name: telnet
    match: {dst_port: 23}
    drop: true
`

var testLinks = []policy.Link{{Name: "wlan0", BID: 1, Priority: 1}, {Name: "wwan0", BID: 2, Priority: 2}}

func parsePolicy(t *testing.T, text string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("mn.yaml", []byte(text), testLinks)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// policyNode is a mobile node without kernel state on a fake data plane:
// wlan0 (BID 1) and wwan0 (BID 2) registered, the policy running.
func policyNode(t *testing.T, text string) (*MobileNode, *dptest.Fake, *sinkTransport) {
	t.Helper()
	dp := dptest.New()
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
	}{{"wlan0", coa1}, {"wwan0", coa2}} {
		f := newAccessInterface(config.InterfaceEntry{Name: c.name, BID: uint16(i + 1), Priority: uint8(i + 1), Transport: config.TransportNative})
		f.index, f.coa, f.usable[c.coa] = 10+i, c.coa, true
		m.ifs = append(m.ifs, f)
		m.bul.SetCareOfAddress(m.now(), binding.CareOfBinding{HA: haIP, HoA: hoa, BID: f.cfg.BID, CoA: c.coa, Priority: f.cfg.Priority})
	}
	if _, err := m.setPolicy(parsePolicy(t, text), nil); err != nil {
		t.Fatal(err)
	}
	m.pump(m.now(), false)
	ack(t, m, sink)
	return m, dp, sink
}

// ack answers the last Binding Update.
func ack(t *testing.T, m *MobileNode, sink *sinkTransport) {
	t.Helper()
	bu := lastBU(t, sink)
	m.do(m.bul.HandleBA(m.now(), &binding.BindingAck{HA: haIP, HoA: hoa, Sequence: bu.Sequence, Lifetime: 15,
		BIDs: []binding.BIDStatus{{BID: 1, CoA: coa1}, {BID: 2, CoA: coa2}}}))
}

func ruleSel(t *testing.T, m *MobileNode, name string) dataplane.Selector {
	t.Helper()
	for _, r := range m.rules {
		if r.Name == name {
			return dataplane.Selector{Dst: defaultRoute, Src: netip.PrefixFrom(hoa, 128), Flow: r.Selector.Canonical()}
		}
	}
	t.Fatalf("no rule %s in %+v", name, m.rules)
	return dataplane.Selector{}
}

func route(t *testing.T, dp *dptest.Fake, sel dataplane.Selector) dataplane.Route {
	t.Helper()
	r, ok := dp.Route(sel)
	if !ok {
		t.Fatalf("no route %v; have %v", sel, dp.Routes)
	}
	return r
}

func locals(r dataplane.Route) []netip.Addr {
	var out []netip.Addr
	for _, p := range r.PathList() {
		out = append(out, p.Tunnel.Local)
	}
	return out
}

// flowsSignalled: FID -> BIDs of the last Binding Update.
func flowsSignalled(t *testing.T, sink *sinkTransport) map[uint16][]uint16 {
	t.Helper()
	msg, err := wire.Parser{ChecksumVerified: true}.Parse(sink.sent[len(sink.sent)-1].MH, hoa, haIP)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint16][]uint16{}
	for _, o := range msg.MobilityOptions() {
		if f, ok := o.(wire.FlowIdentification); ok {
			r, _ := f.BindingReference()
			out[f.FID] = r.BIDs
		}
	}
	return out
}

// The policy's rules become routes of ::/0 from the home address, each
// narrowed by its selector: interfaces in order, share with the weights,
// bicast with a Dedup of the answers (to the home address), drop; the
// default stays the plain route.
func TestPolicyBecomesRoutes(t *testing.T) {
	m, dp, _ := policyNode(t, uplinkPolicy)
	if r := route(t, dp, ruleSel(t, m, "voice")); r.Mode != dataplane.ModeSingle || !slices.Equal(locals(r), []netip.Addr{coa2}) {
		t.Errorf("voice %+v, want wwan0 (%v) alone", r, coa2)
	}
	bulk := route(t, dp, ruleSel(t, m, "bulk"))
	if bulk.Mode != dataplane.ModeShare || !slices.Equal(locals(bulk), []netip.Addr{coa1, coa2}) ||
		bulk.Paths[0].Weight != 3 || bulk.Paths[1].Weight != 1 {
		t.Errorf("bulk %+v, want share over wlan0 (weight 3) and wwan0 (1)", bulk)
	}
	ctl := route(t, dp, ruleSel(t, m, "control"))
	if ctl.Mode != dataplane.ModeReplicate || !slices.Equal(locals(ctl), []netip.Addr{coa1, coa2}) {
		t.Errorf("control %+v, want bicast over both", ctl)
	}
	if r := route(t, dp, ruleSel(t, m, "telnet")); r.Mode != dataplane.ModeDrop {
		t.Errorf("telnet %+v, want drop", r)
	}
	if r := uplink(t, dp); r.Tunnel.Local != coa1 || r.Tunnel.Remote != haIP {
		t.Errorf("default %+v, want the plain tunnel from wlan0", r)
	}
	if !(route(t, dp, ruleSel(t, m, "voice")).Order < bulk.Order && bulk.Order < uplink(t, dp).Order) {
		t.Error("routes not ordered as the rules")
	}
	if len(dp.Dedups) != 1 {
		t.Fatalf("dedups %+v, want the control rule's", dp.Dedups)
	}
	for mt := range dp.Dedups {
		if mt.Dst != forwarding.AddrExact(hoa) || mt.Src != forwarding.PrefixRange(netip.MustParsePrefix("2001:db8:99::/48")) ||
			mt.TrafficClass != forwarding.Exact[uint8](184) {
			t.Errorf("dedup %v, want the answers from 2001:db8:99::/48 to the home address", mt)
		}
	}
	if n, eps, _ := dp.Len(); n != 6 || eps != 2 {
		t.Errorf("%d routes, %d endpoints; want 6 and 2", n, eps)
	}
}

// An interface failing moves only the routes that used it, in one batch.
func TestPolicyFailoverMovesOnlyAffectedRoutes(t *testing.T) {
	m, dp, _ := policyNode(t, uplinkPolicy)
	var added []dataplane.Selector
	dp.Fail = func(o dataplane.Op) error {
		if o.Kind == dataplane.OpAddRoute {
			added = append(added, o.Route.Selector)
		}
		return nil
	}
	applies := dp.Applies
	m.careOfAddressDown(linkmon.Event{Kind: linkmon.CareOfAddressDown, Interface: "wwan0", Address: coa2, Reason: "link down"})
	if dp.Applies != applies+1 {
		t.Errorf("%d batches, want 1", dp.Applies-applies)
	}
	for _, name := range []string{"voice", "bulk", "control"} {
		if !slices.Contains(added, ruleSel(t, m, name)) {
			t.Errorf("%s not moved", name)
		}
	}
	for _, name := range []string{"wlan-only", "telnet"} {
		if slices.Contains(added, ruleSel(t, m, name)) {
			t.Errorf("%s re-sent though it never used wwan0", name)
		}
	}
	if slices.Contains(added, (dataplane.Selector{Dst: defaultRoute, Src: netip.PrefixFrom(hoa, 128)})) {
		t.Error("default route re-sent though it is on wlan0")
	}
	if r := route(t, dp, ruleSel(t, m, "voice")); !slices.Equal(locals(r), []netip.Addr{coa1}) {
		t.Errorf("voice %+v, want wlan0", r)
	}
	if r := route(t, dp, ruleSel(t, m, "control")); !slices.Equal(locals(r), []netip.Addr{coa1}) {
		t.Errorf("control %+v, want wlan0 alone", r)
	}
	if _, eps, _ := dp.Len(); eps != 1 {
		t.Errorf("%d endpoints, want wlan0's only", eps)
	}
}

// Without a policy the mobile node installs what it always did: one plain
// route per home address and an endpoint per care-of address.
func TestNoPolicyPlainRoute(t *testing.T) {
	m, dp, _ := policyNode(t, "")
	if n, eps, dd := dp.Len(); n != 1 || eps != 2 || dd != 0 {
		t.Fatalf("%d routes, %d endpoints, %d dedups", n, eps, dd)
	}
	if r := uplink(t, dp); r.Tunnel != (dataplane.Tunnel{Local: coa1, Remote: haIP}) || r.Order != 0 && !r.Plain() {
		t.Errorf("route %+v", r)
	}
	if m.homes[0].active != m.ifs[0] {
		t.Errorf("status shows %v", m.homes[0].activeCoA)
	}
}

// monami ctl flow move: an override goes first and is signalled to the
// home agent in a Binding Update at once; a rule's override changes its
// interfaces; clear drops both. No binding is dropped.
func TestFlowMoveAndClear(t *testing.T) {
	m, dp, sink := policyNode(t, uplinkPolicy)
	sent := len(sink.sent)
	v, err := m.moveFlow(FlowMove{Match: "{next_header: tcp, dst_port: 5201}", To: []string{"wwan0"}})
	if err != nil {
		t.Fatal(err)
	}
	if v[0].Rule != "moved{nh=6 dport=5201}" || !v[0].Override || !slices.Equal(v[0].Interfaces, []string{"wwan0"}) || v[0].FID != 1 {
		t.Errorf("flows %+v", v[0])
	}
	sel := ruleSel(t, m, v[0].Rule)
	if r := route(t, dp, sel); !slices.Equal(locals(r), []netip.Addr{coa2}) || r.Order >= route(t, dp, ruleSel(t, m, "bulk")).Order {
		t.Errorf("moved flow %+v, want wwan0 before the bulk rule", r)
	}
	if len(sink.sent) != sent+1 {
		t.Fatalf("%d Binding Updates after the move, want 1 at once", len(sink.sent)-sent)
	}
	if fs := flowsSignalled(t, sink); !slices.Equal(fs[1], []uint16{2}) || len(fs) != 4 {
		t.Errorf("signalled %v, want FID 1 on BID 2 and the three rules", fs)
	}
	ack(t, m, sink)

	// The voice rule moves to wlan0.
	if _, err := m.moveFlow(FlowMove{Rule: "voice", To: []string{"wlan0"}}); err != nil {
		t.Fatal(err)
	}
	if r := route(t, dp, ruleSel(t, m, "voice")); !slices.Equal(locals(r), []netip.Addr{coa1}) {
		t.Errorf("voice %+v, want wlan0", r)
	}
	if fs := flowsSignalled(t, sink); !slices.Equal(fs[2], []uint16{1}) {
		t.Errorf("signalled %v, want voice (FID 2) on BID 1", fs)
	}
	ack(t, m, sink)

	// Bad input changes nothing and sends nothing.
	sent = len(sink.sent)
	for req, want := range map[*FlowMove]string{
		{Match: "{next_header: tcp, dport: 5201}", To: []string{"wwan0"}}: "match.dport: unknown key",
		{Match: "{dst_port: 5201}", To: []string{"eth9"}}:                 `to[0]: "eth9" is not one of the interfaces`,
		{Rule: "nope", To: []string{"wlan0"}}:                             `rule: no rule named "nope"`,
		{Rule: "voice", To: []string{"wlan0"}, Mode: "spray"}:             `mode: "spray"`,
	} {
		if _, err := m.moveFlow(*req); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", req, err, want)
		}
	}
	if len(sink.sent) != sent || len(m.overrides) != 2 {
		t.Errorf("bad requests sent %d BUs, overrides %d", len(sink.sent)-sent, len(m.overrides))
	}

	if _, err := m.clearFlows(); err != nil {
		t.Fatal(err)
	}
	if _, ok := dp.Route(sel); ok {
		t.Error("moved flow's route kept after clear")
	}
	if r := route(t, dp, ruleSel(t, m, "voice")); !slices.Equal(locals(r), []netip.Addr{coa2}) {
		t.Errorf("voice %+v after clear, want wwan0 again", r)
	}
	if fs := flowsSignalled(t, sink); len(fs) != 3 || !slices.Equal(fs[1], []uint16{2}) {
		t.Errorf("signalled after clear %v, want the policy's three", fs)
	}
	for _, e := range m.bul.Entries() {
		if e.State == binding.StateDeregistering {
			t.Errorf("binding %d deregistering", e.BID)
		}
	}
}

// A reload takes the new policy (valid) or keeps the running one
// (invalid), without touching the bindings.
func TestReloadPolicy(t *testing.T) {
	m, dp, sink := policyNode(t, uplinkPolicy)
	if _, err := m.moveFlow(FlowMove{Rule: "bulk", To: []string{"wwan0"}}); err != nil {
		t.Fatal(err)
	}
	ack(t, m, sink)
	voice := ruleSel(t, m, "voice")
	sent := len(sink.sent)
	if err := m.reloadPolicy(parsePolicy(t, `
rules:
  - name: voice
    match: {next_header: udp, dst_port: 5060-5061}
    interfaces: [wlan0]
`)); err != nil {
		t.Fatal(err)
	}
	if r := route(t, dp, voice); !slices.Equal(locals(r), []netip.Addr{coa1}) {
		t.Errorf("voice %+v after the reload, want wlan0", r)
	}
	if n, _, _ := dp.Len(); n != 2 || len(m.overrides) != 0 {
		t.Errorf("%d routes, %d overrides after the reload: want voice and the default, the bulk override dropped", n, len(m.overrides))
	}
	if len(sink.sent) != sent+1 || len(flowsSignalled(t, sink)) != 1 {
		t.Errorf("reload sent %d BUs, signalled %v", len(sink.sent)-sent, flowsSignalled(t, sink))
	}
	ack(t, m, sink)

	bad := &policy.Policy{Rules: []policy.Rule{{Name: "x", Match: policy.Match{DstPort: "80"}, Action: policy.Action{Interfaces: []string{"eth9"}}}}}
	sent = len(sink.sent)
	err := m.reloadPolicy(bad)
	if err == nil || !strings.Contains(err.Error(), `policy.rules[0].interfaces[0]: "eth9"`) {
		t.Fatalf("invalid reload: %v, want the key named", err)
	}
	if r := route(t, dp, voice); !slices.Equal(locals(r), []netip.Addr{coa1}) || len(m.rules) != 1 || m.rules[0].Name != "voice" {
		t.Errorf("running policy changed by an invalid reload: %+v", m.rules)
	}
	if len(sink.sent) != sent {
		t.Error("invalid reload sent a Binding Update")
	}
	for _, e := range m.bul.Entries() {
		if e.State != binding.StateRegistered {
			t.Errorf("binding %d %v after reloads", e.BID, e.State)
		}
	}
}

// A data plane without flow routes (ErrUnsupported) still gets each home
// address's default as one plain tunnel, even for a shared default.
func TestPolicyOnPlainDataPlane(t *testing.T) {
	dp := dptest.New()
	dp.Fail = func(o dataplane.Op) error {
		if o.Kind == dataplane.OpAddRoute && !o.Route.Plain() || o.Kind == dataplane.OpAddDedup {
			return dataplane.ErrUnsupported
		}
		return nil
	}
	m, _, _ := policyNode(t, uplinkPolicy+"default:\n  share: [wwan0, wlan0]\n")
	m.dp, m.rec = dp, nil
	m.forward()
	if r := uplink(t, dp); r.Tunnel.Local != coa2 {
		t.Errorf("default %+v, want the shared default's first interface", r)
	}
	if n, eps, _ := dp.Len(); n != 1 || eps != 2 || m.fwdFailed {
		t.Errorf("%d routes %d endpoints (failed %v), want the default and both endpoints", n, eps, m.fwdFailed)
	}
}
