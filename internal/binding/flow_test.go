package binding

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"monami/wire"
)

var (
	tsVoice = wire.IPv6TrafficSelector{Flags: wire.IPv6TSStartDestinationPort | wire.IPv6TSStartNextHeader,
		StartDestinationPort: 5060, StartNextHeader: 17}
	tsBulk = wire.IPv6TrafficSelector{Flags: wire.IPv6TSStartNextHeader, StartNextHeader: 6}
)

// bidsOf makes the has function of a home address with bindings bids.
func bidsOf(bids ...uint16) func(uint16) bool {
	return func(b uint16) bool {
		for _, x := range bids {
			if x == b {
				return true
			}
		}
		return false
	}
}

func statuses(rs []FlowResult) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprintf("%d:%d", r.FID, r.Status))
	}
	return strings.Join(s, " ")
}

func kinds(cs []FlowChange) string {
	var s []string
	for _, c := range cs {
		s = append(s, fmt.Sprintf("%d:%s/%s", c.Flow.FID, c.Kind, c.Cause))
	}
	return strings.Join(s, " ")
}

func addVoiceAndBulk(t *testing.T, ft *FlowTable) {
	t.Helper()
	d := ft.Process(t0, hoa1, &FlowRequest{Options: []FlowOption{
		{FID: 1, Priority: 10, BIDs: []uint16{2}, Selector: tsVoice},
		{FID: 2, Priority: 20, BIDs: []uint16{1, 2}, Selector: tsBulk},
	}}, bidsOf(1, 2))
	if got := statuses(d.Results); got != "1:0 2:0" {
		t.Fatalf("add: statuses %q", got)
	}
	if got := kinds(d.Changes); got != "1:added/signalled 2:added/signalled" {
		t.Fatalf("add: changes %q", got)
	}
}

// RFC 6089 section 5: add, modify, refresh by Flow Summary, remove by
// omission, each with the per-flow status of section 4.1.
func TestFlowAddModifyRefreshRemove(t *testing.T) {
	ft := NewFlowTable(FlowConfig{})
	addVoiceAndBulk(t, ft)
	if fs := ft.Lookup(hoa1); len(fs) != 2 || fs[0].FID != 1 || fs[1].FID != 2 || fs[1].Selector != tsBulk {
		t.Fatalf("lookup %+v", fs)
	}

	// Modify FID 1 (BIDs only: its selector is kept), refresh FID 2 by
	// Flow Summary: one change, FID 2's Refreshed moves.
	t1 := t0.Add(time.Minute)
	d := ft.Process(t1, hoa1, &FlowRequest{Options: []FlowOption{{FID: 1, Priority: 10, BIDs: []uint16{1}}},
		Summary: []uint16{2}}, bidsOf(1, 2))
	if got, ch := statuses(d.Results), kinds(d.Changes); got != "1:0" || ch != "1:modified/signalled" {
		t.Fatalf("modify: %q %q", got, ch)
	}
	fs := ft.Lookup(hoa1)
	if fs[0].Selector != tsVoice || fs[0].BIDs[0] != 1 || fs[1].Refreshed != t1 || fs[1].Registered != t0 {
		t.Fatalf("after modify %+v", fs)
	}

	// A Flow Identification option with nothing new is a refresh: success,
	// no data-plane change.
	d = ft.Process(t1, hoa1, &FlowRequest{Options: []FlowOption{{FID: 1, Priority: 10}}, Summary: []uint16{2}}, bidsOf(1, 2))
	if got, ch := statuses(d.Results), kinds(d.Changes); got != "1:0" || ch != "" {
		t.Fatalf("refresh: %q %q", got, ch)
	}

	// FID 2 omitted from an update that carries flow options: removed.
	d = ft.Process(t1, hoa1, &FlowRequest{Summary: []uint16{1}}, bidsOf(1, 2))
	if got, ch := statuses(d.Results), kinds(d.Changes); got != "" || ch != "2:removed/omitted" {
		t.Fatalf("omission: %q %q", got, ch)
	}
	// An update with no flow option leaves the flows alone.
	if d = ft.Process(t1, hoa1, &FlowRequest{}, bidsOf(1, 2)); len(d.Changes) != 0 || ft.Len() != 1 {
		t.Fatalf("plain BU: %+v, %d flows", d, ft.Len())
	}
}

// Every status the home agent sends for a flow, each provoked.
func TestFlowStatuses(t *testing.T) {
	unsupported := wire.UnknownTrafficSelector{Format: 7, Data: []byte{1, 2}}
	backwards := errors.New("start port above end port")
	for _, c := range []struct {
		name string
		cfg  FlowConfig
		opts []FlowOption
		sum  []uint16
		want string
	}{
		{"success", FlowConfig{}, []FlowOption{{FID: 5, Priority: 5, BIDs: []uint16{1}, Selector: tsVoice}}, nil, "5:0"},
		{"administratively prohibited: disabled", FlowConfig{Disabled: true},
			[]FlowOption{{FID: 5, Priority: 5, BIDs: []uint16{1}, Selector: tsVoice}}, nil, "5:128"},
		{"administratively prohibited: operator policy", FlowConfig{Prohibited: func(netip.Addr, *FlowOption) bool { return true }},
			[]FlowOption{{FID: 5, Priority: 5, BIDs: []uint16{1}, Selector: tsVoice}}, nil, "5:128"},
		{"rejected: FID-PRI held by another flow", FlowConfig{},
			[]FlowOption{{FID: 1, Priority: 10}, {FID: 2, Priority: 20}, {FID: 5, Priority: 10, BIDs: []uint16{1}, Selector: tsVoice}}, nil, "1:0 2:0 5:129"},
		{"rejected: too many flows", FlowConfig{MaxFlowsPerNode: 2},
			[]FlowOption{{FID: 1, Priority: 10}, {FID: 2, Priority: 20}, {FID: 5, Priority: 5, BIDs: []uint16{1}, Selector: tsVoice}}, nil, "1:0 2:0 5:129"},
		{"malformed: decoder", FlowConfig{}, []FlowOption{{FID: 5, Priority: 5, Malformed: "bad"}}, nil, "5:130"},
		{"malformed: new flow without BID Reference", FlowConfig{}, []FlowOption{{FID: 5, Priority: 5, Selector: tsVoice}}, nil, "5:130"},
		{"malformed: FID twice", FlowConfig{},
			[]FlowOption{{FID: 1, Priority: 10}, {FID: 1, Priority: 10}, {FID: 2, Priority: 20}}, nil, "1:0 1:130 2:0"},
		{"malformed: selector check", FlowConfig{CheckSelector: func(wire.TrafficSelector) error { return backwards }},
			[]FlowOption{{FID: 5, Priority: 5, BIDs: []uint16{1}, Selector: tsVoice}}, nil, "5:130"},
		{"BID not found", FlowConfig{}, []FlowOption{{FID: 5, Priority: 5, BIDs: []uint16{1, 9}, Selector: tsVoice}}, nil, "5:131"},
		{"FID not found: refresh", FlowConfig{}, []FlowOption{{FID: 5, Priority: 5}}, nil, "5:132"},
		{"FID not found: modify", FlowConfig{}, []FlowOption{{FID: 5, Priority: 5, BIDs: []uint16{1}}}, nil, "5:132"},
		{"FID not found: flow summary", FlowConfig{}, []FlowOption{{FID: 1, Priority: 10}}, []uint16{2, 6}, "1:0 6:132"},
		{"traffic selector format not supported", FlowConfig{},
			[]FlowOption{{FID: 5, Priority: 5, BIDs: []uint16{1}, Selector: unsupported}}, nil, "5:133"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ft := NewFlowTable(FlowConfig{})
			addVoiceAndBulk(t, ft)
			ft.cfg = c.cfg
			if ft.cfg.MaxFlowsPerNode == 0 {
				ft.cfg.MaxFlowsPerNode = DefaultMaxFlowsPerNode
			}
			d := ft.Process(t0, hoa1, &FlowRequest{Options: c.opts, Summary: c.sum}, bidsOf(1, 2))
			if got := statuses(d.Results); got != c.want {
				t.Fatalf("statuses %q, want %q (%+v)", got, c.want, d.Results)
			}
			if !strings.HasSuffix(c.want, ":0") && ft.find(hoa1, 5) != nil {
				t.Fatal("a refused flow was stored")
			}
		})
	}
}

// RFC 6089 section 5: a flow whose BID goes away stays; its traffic uses
// the BIDs that remain, or the regular bindings when none does. It follows
// its BID back, and it goes with the home address's last binding.
func TestFlowWhenItsBindingGoes(t *testing.T) {
	ft := NewFlowTable(FlowConfig{})
	addVoiceAndBulk(t, ft)
	ch := ft.BindingsChanged(hoa1, bidsOf(1), true) // BID 2 deregistered
	if got := kinds(ch); got != "1:paths/bindings 2:paths/bindings" {
		t.Fatalf("changes %q", got)
	}
	fs := ft.Lookup(hoa1)
	if !fs[0].Orphaned() || len(fs[1].Active) != 1 || fs[1].Active[0] != 1 || len(fs[1].BIDs) != 2 {
		t.Fatalf("after BID 2 went: %+v", fs)
	}
	if ch := ft.BindingsChanged(hoa1, bidsOf(1), true); len(ch) != 0 {
		t.Fatalf("no change, yet %q", kinds(ch))
	}
	if ch = ft.BindingsChanged(hoa1, bidsOf(1, 2), true); kinds(ch) != "1:paths/bindings 2:paths/bindings" || ft.Lookup(hoa1)[0].Orphaned() {
		t.Fatalf("BID 2 back: %q %+v", kinds(ch), ft.Lookup(hoa1))
	}
	if ch = ft.BindingsChanged(hoa1, bidsOf(), false); kinds(ch) != "1:removed/no-binding 2:removed/no-binding" || ft.Len() != 0 {
		t.Fatalf("last binding gone: %q, %d flows", kinds(ch), ft.Len())
	}
}

// A flow refused for a BU the cache did not accept changes nothing.
func TestFlowRejectWithBindingUpdate(t *testing.T) {
	ft := NewFlowTable(FlowConfig{})
	rs := ft.Reject(&FlowRequest{Options: []FlowOption{{FID: 3, Priority: 3, BIDs: []uint16{1}, Selector: tsBulk}}})
	if statuses(rs) != "3:129" || ft.Len() != 0 {
		t.Fatalf("%q, %d flows", statuses(rs), ft.Len())
	}
}

// Flows of one home address never touch another's.
func TestFlowHomeAddressesApart(t *testing.T) {
	ft := NewFlowTable(FlowConfig{})
	addVoiceAndBulk(t, ft)
	d := ft.Process(t0, hoa2, &FlowRequest{Options: []FlowOption{{FID: 1, Priority: 10, BIDs: []uint16{7}, Selector: tsBulk}}}, bidsOf(7))
	if statuses(d.Results) != "1:0" || ft.Len() != 3 || len(ft.Lookup(hoa1)) != 2 {
		t.Fatalf("%q, %d flows", statuses(d.Results), ft.Len())
	}
	var n int
	ft.All(func(f FlowBinding) bool { n++; return f.HoA == hoa1 })
	if n != 3 {
		t.Fatalf("All visited %d", n)
	}
}
