package mn

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"monami/internal/binding"
	"monami/internal/policy"
	"monami/wire"
)

const flowPolicy = `
rules:
  - name: voice
    match: {next_header: udp, dst_port: 5060-5061}
    interfaces: [wwan0, wlan0]
  - name: shared
    match: {next_header: tcp}
    share: [wlan0, wwan0]
  - name: control
    match: {traffic_class: 184, dst: "2001:db8:99::/48"}
    bicast: [wlan0, wwan0]
  - match: {dst_port: 23}
    drop: true
`

func testFlows(t *testing.T) []signalledFlow {
	t.Helper()
	p, err := policy.Parse("mn.yaml", []byte(flowPolicy),
		[]policy.Link{{Name: "wlan0", BID: 1, Priority: 10}, {Name: "wwan0", BID: 2, Priority: 20}})
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := p.Forwarding()
	flows, skipped := flowsFromPolicy(rules)
	if len(skipped) != 2 || skipped["shared"] == "" || skipped["rules[3]"] == "" {
		t.Fatalf("skipped %v, want shared and the drop rule", skipped)
	}
	return flows
}

// Rules naming interfaces become flow bindings: the preferred interface's
// BID for a preference list, every BID for bicast, the selector mirrored
// for the downlink the home agent classifies.
func TestFlowsFromPolicy(t *testing.T) {
	fs := testFlows(t)
	if len(fs) != 2 {
		t.Fatalf("flows %+v", fs)
	}
	voice, ctl := fs[0], fs[1]
	v6, ok := voice.Selector.(wire.IPv6TrafficSelector)
	if voice.FID != 1 || voice.Priority != 1 || len(voice.BIDs) != 1 || voice.BIDs[0] != 2 || !ok ||
		v6.Flags != wire.IPv6TSStartSourcePort|wire.IPv6TSEndSourcePort|wire.IPv6TSStartNextHeader ||
		v6.StartSourcePort != 5060 || v6.EndSourcePort != 5061 || v6.StartNextHeader != 17 {
		t.Errorf("voice %+v", voice)
	}
	c6 := ctl.Selector.(wire.IPv6TrafficSelector)
	if ctl.FID != 3 || len(ctl.BIDs) != 2 || c6.Flags&wire.IPv6TSStartSourceAddress == 0 ||
		c6.StartSourceAddress.String() != "2001:db8:99::" || c6.StartTrafficClass != 184 {
		t.Errorf("control %+v", ctl)
	}
}

// The options go with every registration, not with a deregistration, and
// the home agent's per-flow answers are kept and shown.
func TestFlowBindingSignalling(t *testing.T) {
	m := signalNode(false)
	var logs bytes.Buffer
	m.log = slog.New(slog.NewTextHandler(&logs, nil))
	m.flows = testFlows(t)
	bu := &binding.OutgoingBindingUpdate{HA: haIP, HoA: hoa, Source: coa1, Sequence: 7, Ack: true, Home: true, Lifetime: 15,
		BIDs: []binding.BIDOption{{BID: 1, CoA: coa1}, {BID: 2, CoA: coa2}}}
	for _, lifetime := range []uint16{15, 0} {
		bu.Lifetime = lifetime
		mh, err := m.encodeBindingUpdate(nil, m.homes[0], bu, false)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := wire.Parser{ChecksumVerified: true}.Parse(mh, hoa, haIP)
		if err != nil {
			t.Fatal(err)
		}
		var fids []uint16
		for _, o := range msg.MobilityOptions() {
			if f, ok := o.(wire.FlowIdentification); ok {
				if r, _ := f.BindingReference(); f.TrafficSelector() == nil || len(r.BIDs) == 0 {
					t.Errorf("FID %d without its sub-options", f.FID)
				}
				fids = append(fids, f.FID)
			}
		}
		if want := map[uint16]int{15: 2, 0: 0}[lifetime]; len(fids) != want {
			t.Errorf("lifetime %d: FIDs %v, want %d", lifetime, fids, want)
		}
	}

	ba := wire.BindingAcknowledgement{Status: wire.StatusAccepted, Sequence: 7, Lifetime: 15, Options: []wire.Option{
		wire.FlowIdentification{FID: 1, Priority: 1, Status: wire.FIDStatusSuccess},
		wire.FlowIdentification{FID: 3, Priority: 3, Status: wire.FIDStatusBIDNotFound},
	}}
	sig := ackSignal(t, testKey, 300, ba)
	if _, _, err := m.decodeBindingAck(&sig); err != nil {
		t.Fatal(err)
	}
	m.now = time.Now
	v := m.snapshot("flow_bindings").data.([]FlowBindingView)
	if len(v) != 2 || v[0].Status != "Flow binding successful" || v[1].Status != "BID not found" || v[1].Rule != "control" {
		t.Fatalf("flow_bindings %+v", v)
	}
	if !bytes.Contains(logs.Bytes(), []byte(`msg="flow binding refused"`)) {
		t.Errorf("no log line for the refused flow:\n%s", logs.String())
	}
	// An answer that fails authentication changes nothing.
	ba.Options[0] = wire.FlowIdentification{FID: 1, Priority: 1, Status: wire.FIDStatusRejected}
	bad := ackSignal(t, []byte("another key 0123"), 300, ba)
	if _, _, err := m.decodeBindingAck(&bad); err == nil {
		t.Fatal("forged answer accepted")
	}
	if s := m.homes[0].flowStatus[1]; s != wire.FIDStatusSuccess {
		t.Errorf("forged answer changed FID 1 to %v", s)
	}
}
