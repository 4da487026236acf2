package ha

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"monami/internal/config"
	"monami/internal/transport"
	"monami/wire"
)

var (
	voiceTS = wire.IPv6TrafficSelector{Flags: wire.IPv6TSStartTrafficClass | wire.IPv6TSStartNextHeader,
		StartTrafficClass: 184, StartNextHeader: 17}
	bulkTS = wire.IPv6TrafficSelector{Flags: wire.IPv6TSStartNextHeader, StartNextHeader: 6}
)

// startExtra is start with extra ha.yaml text appended.
func startExtra(t *testing.T, extra string) *harness {
	t.Helper()
	return startConfig(t, haYAML+extra, nil)
}

// flowBU is an authenticated Binding Update from coa1 registering BIDs 1
// (coa1) and 2 (coa2), with the given flow options.
func flowBU(seq, lifetime uint16, flows ...wire.Option) wire.BindingUpdate {
	bu := wire.BindingUpdate{Sequence: seq, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: lifetime,
		Options: []wire.Option{
			wire.BindingIdentifier{BindingID: 1, Priority: 10, CareOfAddress: coa1},
			wire.BindingIdentifier{BindingID: 2, Priority: 20, CareOfAddress: coa2},
		}}
	bu.Options = append(bu.Options, flows...)
	bu.Options = append(bu.Options, wire.NAI("mn1@example.org"),
		wire.MobilityMessageReplayProtection{Timestamp: wire.NTPTimestamp(time.Now())})
	return bu
}

// sendMH hands a Binding Update's Mobility Header to the agent and returns
// the answer.
func (x *harness) sendMH(mh []byte) wire.BindingAcknowledgement {
	x.t.Helper()
	x.tp.in <- transport.Signal{Via: transport.ViaMH, Src: coa1, Dst: haAddr, Ext: transport.ExtHAO, HomeAddress: hoa, MH: mh}
	select {
	case <-x.tp.cond:
	case <-time.After(5 * time.Second):
		x.t.Fatal("no Binding Acknowledgement")
	}
	x.tp.mu.Lock()
	s := x.tp.sent[len(x.tp.sent)-1]
	x.tp.mu.Unlock()
	m, err := wire.Parser{ChecksumVerified: true}.Parse(s.MH, haAddr, hoa)
	if err != nil {
		x.t.Fatal(err)
	}
	return m.(wire.BindingAcknowledgement)
}

func (x *harness) sendFlows(lifetime uint16, flows ...wire.Option) wire.BindingAcknowledgement {
	x.t.Helper()
	x.seq++
	mh, err := wire.NewAuthenticator(key).AppendMessage(nil, flowBU(x.seq, lifetime, flows...), 300, coa1, hoa, hoa, haAddr)
	if err != nil {
		x.t.Fatal(err)
	}
	return x.sendMH(mh)
}

func flowStatuses(ba wire.BindingAcknowledgement) string {
	var s []string
	for _, o := range ba.Options {
		if f, ok := o.(wire.FlowIdentification); ok {
			s = append(s, fmt.Sprintf("%d:%d", f.FID, f.Status))
		}
	}
	return strings.Join(s, " ")
}

func fid(id, prio uint16, bids []uint16, ts wire.TrafficSelector) wire.FlowIdentification {
	o := wire.FlowIdentification{FID: id, Priority: prio}
	if bids != nil {
		o.SubOptions = append(o.SubOptions, wire.BindingReferenceSubOption{BIDs: bids})
	}
	if ts != nil {
		o.SubOptions = append(o.SubOptions, wire.TrafficSelectorSubOption{Selector: ts})
	}
	return o
}

// RFC 6089 sections 4.1 and 5 through the home agent: flows added with the
// bindings they reference, answered per flow, shown in the flows topic,
// refreshed by Flow Summary, following a deregistered BID, removed by
// omission and with the last binding.
func TestHomeAgentFlowBindings(t *testing.T) {
	x := start(t)
	ba := x.sendFlows(15, fid(1, 10, []uint16{2}, voiceTS), fid(2, 20, []uint16{1, 2}, bulkTS))
	if ba.Status != wire.StatusAccepted || flowStatuses(ba) != "1:0 2:0" {
		t.Fatalf("BA %v, flows %q", ba.Status, flowStatuses(ba))
	}
	v, err := x.h.Snapshot(context.Background(), "flows")
	if err != nil {
		t.Fatal(err)
	}
	fs := v.([]FlowView)
	if len(fs) != 2 || fs[0].FID != 1 || fs[0].Mode != "single" || fs[0].Bindings[0].CareOfAddress != coa2.String() ||
		fs[1].Mode != "bicast" || len(fs[1].Bindings) != 2 || !strings.Contains(fs[1].Selector, "6") {
		t.Fatalf("flows %+v", fs)
	}

	// Flow Summary refresh: no flow option in the answer, flows kept.
	ba = x.sendFlows(15, wire.FlowSummary{FIDs: []uint16{1, 2}})
	if flowStatuses(ba) != "" || len(x.h.flowsNow(t)) != 2 {
		t.Fatalf("refresh: %q, %+v", flowStatuses(ba), x.h.flowsNow(t))
	}

	// BID 2 deregistered: FID 1 falls back to the regular bindings, FID 2
	// keeps BID 1 (RFC 6089 section 5).
	x.seq++
	bu := wire.BindingUpdate{Sequence: x.seq, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: 0, Options: []wire.Option{
		wire.BindingIdentifier{BindingID: 2, CareOfAddress: coa2}, wire.NAI("mn1@example.org"),
		wire.MobilityMessageReplayProtection{Timestamp: wire.NTPTimestamp(time.Now())}}}
	mh, err := wire.NewAuthenticator(key).AppendMessage(nil, bu, 300, coa1, hoa, hoa, haAddr)
	if err != nil {
		t.Fatal(err)
	}
	if ba = x.sendMH(mh); ba.Status != wire.StatusAccepted {
		t.Fatalf("deregistration of BID 2: %v", ba.Status)
	}
	fs = x.h.flowsNow(t)
	if len(fs) != 2 || fs[0].Mode != "regular" || fs[1].Mode != "single" || fs[1].Bindings[0].BID != 1 {
		t.Fatalf("after BID 2 went: %+v", fs)
	}

	// Omission: FID 1 named alone, FID 2 goes.
	if ba = x.sendFlows(15, wire.FlowSummary{FIDs: []uint16{1}}); len(x.h.flowsNow(t)) != 1 {
		t.Fatalf("omission: %+v", x.h.flowsNow(t))
	}
	// The last binding goes: so do the flows.
	x.seq++
	bu = wire.BindingUpdate{Sequence: x.seq, Flags: wire.BUFlagA | wire.BUFlagH, Options: []wire.Option{
		wire.NAI("mn1@example.org"), wire.MobilityMessageReplayProtection{Timestamp: wire.NTPTimestamp(time.Now())}}}
	mh, _ = wire.NewAuthenticator(key).AppendMessage(nil, bu, 300, coa1, hoa, hoa, haAddr)
	if ba = x.sendMH(mh); ba.Status != wire.StatusAccepted || len(x.h.flowsNow(t)) != 0 {
		t.Fatalf("deregistration: %v, flows %+v", ba.Status, x.h.flowsNow(t))
	}
}

func (h *HomeAgent) flowsNow(t *testing.T) []FlowView {
	t.Helper()
	v, err := h.Snapshot(context.Background(), "flows")
	if err != nil {
		t.Fatal(err)
	}
	return v.([]FlowView)
}

// Every Flow Identification status the home agent sends (RFC 6089 section
// 4.1, IANA "Flow Identification Mobility Option Status Codes"), each
// provoked by a real Binding Update.
func TestHomeAgentFlowStatuses(t *testing.T) {
	refuse := `
flow_bindings:
  max_per_home_address: 2
  rules:
    - name: voice
      match: {traffic_class: "184"}
      mode: bicast
      refuse_mobile_node_flows: true
`
	unknownTS := wire.UnknownTrafficSelector{Format: 9, Data: []byte{0, 0}}
	backwards := wire.IPv6TrafficSelector{Flags: wire.IPv6TSStartDestinationPort | wire.IPv6TSEndDestinationPort,
		StartDestinationPort: 9000, EndDestinationPort: 80}
	for _, c := range []struct {
		name  string
		yaml  string
		flows []wire.Option
		raw   []byte // a raw option appended instead, for what the encoder refuses
		flags wire.BUFlags
		want  string
		ba    wire.Status
	}{
		{name: "0 success", flows: []wire.Option{fid(1, 10, []uint16{1}, bulkTS)}, want: "1:0"},
		{name: "128 flow bindings off", yaml: "\nflow_bindings: {accept: false}\n",
			flows: []wire.Option{fid(1, 10, []uint16{1}, bulkTS)}, want: "1:128"},
		{name: "128 operator rule", yaml: refuse, flows: []wire.Option{fid(1, 10, []uint16{1}, voiceTS)}, want: "1:128"},
		{name: "129 too many flows", yaml: "\nflow_bindings: {max_per_home_address: 2}\n", flows: []wire.Option{fid(1, 10, []uint16{1}, bulkTS),
			fid(2, 20, []uint16{1}, bulkTS), fid(3, 30, []uint16{2}, bulkTS)}, want: "1:0 2:0 3:129"},
		// The R flag of a mobile router not permitted here: 140.
		{name: "129 binding update rejected", flows: []wire.Option{fid(1, 10, []uint16{1}, bulkTS)},
			flags: wire.BUFlagR, want: "1:129", ba: wire.StatusMobileRouterNotPermitted},
		// FID 7, FID-PRI 7, reserved, status, then a BID Reference
		// sub-option whose length (3) is odd.
		{name: "130 malformed option", raw: []byte{45, 11, 0, 7, 0, 7, 0, 0, 2, 3, 0, 1, 0}, want: "7:130"},
		{name: "130 selector range backwards", flows: []wire.Option{fid(1, 10, []uint16{1}, backwards)}, want: "1:130"},
		{name: "131 BID not found", flows: []wire.Option{fid(1, 10, []uint16{9}, bulkTS)}, want: "1:131"},
		{name: "132 FID not found", flows: []wire.Option{fid(4, 10, nil, nil), wire.FlowSummary{FIDs: []uint16{5}}}, want: "4:132 5:132"},
		{name: "133 traffic selector format", flows: []wire.Option{fid(1, 10, []uint16{1}, unknownTS)}, want: "1:133"},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := startExtra(t, c.yaml)
			x.seq++
			bu := flowBU(x.seq, 15, c.flows...)
			bu.Flags |= c.flags
			if c.raw != nil {
				bu.Options = append(bu.Options[:2], wire.UnknownOption{Type: wire.OptionType(c.raw[0]), Data: c.raw[2:]})
				bu.Options = append(bu.Options, wire.NAI("mn1@example.org"),
					wire.MobilityMessageReplayProtection{Timestamp: wire.NTPTimestamp(time.Now())})
			}
			mh, err := wire.NewAuthenticator(key).AppendMessage(nil, bu, 300, coa1, hoa, hoa, haAddr)
			if err != nil {
				t.Fatal(err)
			}
			ba := x.sendMH(mh)
			if got := flowStatuses(ba); got != c.want || ba.Status != c.ba {
				t.Fatalf("BA status %v, flows %q; want %v, %q", ba.Status, got, c.ba, c.want)
			}
		})
	}
}

// Flows go with the bindings when they expire, not only on deregistration
// (binding.FlowTable.BindingsChanged from the expiry path). The agent's
// clock is a fake one and the event loop is driven by hand.
func TestHomeAgentFlowsExpireWithBindings(t *testing.T) {
	cfg, err := config.ParseHomeAgent("ha.yaml", []byte(haYAML))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tp := newMemTransport()
	h, err := New(cfg, Options{Transports: []transport.Transport{tp}, DataPlane: newRecordingDP(), NoControlSocket: true,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	mh, err := wire.NewAuthenticator(key).AppendMessage(nil, flowBU(1, 2, fid(1, 10, []uint16{1}, bulkTS)), 300, coa1, hoa, hoa, haAddr)
	if err != nil {
		t.Fatal(err)
	}
	h.handle(context.Background(), received{sig: transport.Signal{Via: transport.ViaMH, Src: coa1, Dst: haAddr,
		Ext: transport.ExtHAO, HomeAddress: hoa, MH: mh}, tp: tp, at: now})
	if h.flows.Len() != 1 {
		t.Fatalf("flows %+v", h.Flows())
	}
	now = now.Add(9 * time.Second) // lifetime 2 units of 4 s
	h.expire()
	if h.cache.Len() != 0 || h.flows.Len() != 0 {
		t.Fatalf("after expiry: %d bindings, flows %+v", h.cache.Len(), h.Flows())
	}
}
