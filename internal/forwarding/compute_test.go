package forwarding

import (
	"testing"
	"time"
)

func TestDefaultIsFailover(t *testing.T) {
	bs := twoPaths()
	tb := Compute(t0, Input{Bindings: bs})
	if tb.Len() != 1 {
		t.Fatalf("%d entries, want the default only", tb.Len())
	}
	mustRoute(t, tb, udpKey(1, 2), ids(1))
	mustRoute(t, Compute(t0, Input{Bindings: setUsable(bs, 1, false)}), udpKey(1, 2), ids(2))
	mustRoute(t, Compute(t0, Input{Bindings: setUsable(setUsable(bs, 1, false), 2, false)}), udpKey(1, 2), nil)
}

func TestHealthOrdersEqualPriority(t *testing.T) {
	bs := twoPaths()
	bs[1].Priority = bs[0].Priority
	bs[0].Loss, bs[1].Loss = 0.05, 0.01
	mustRoute(t, Compute(t0, Input{Bindings: bs}), udpKey(1, 2), ids(2))
	bs[0].Loss, bs[1].Loss = 0, 0
	bs[0].RTT, bs[1].RTT = 80*time.Millisecond, 20*time.Millisecond
	mustRoute(t, Compute(t0, Input{Bindings: bs}), udpKey(1, 2), ids(2))
	bs[1].RTT = 0
	bs[1].Loss = 0.5
	mustRoute(t, Compute(t0, Input{Bindings: bs, MaxLoss: 0.2}), udpKey(1, 2), ids(1))
	bs[0].Loss = 0.3
	mustRoute(t, Compute(t0, Input{Bindings: bs, MaxLoss: 0.2}), udpKey(1, 2), nil)
}

// TestExpiryWithClock drives binding lifetimes with a fake clock.
func TestExpiryWithClock(t *testing.T) {
	bs := twoPaths()
	bs[0].Expires = t0.Add(30 * time.Second)
	bs[1].Expires = t0.Add(60 * time.Second)
	tb := Compute(t0, Input{Bindings: bs})
	if got := tb.NextChange(); !got.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("NextChange %v, want t0+30s", got)
	}
	mustRoute(t, Compute(t0.Add(29*time.Second), Input{Bindings: bs}), udpKey(1, 2), ids(1))
	tb = Compute(t0.Add(30*time.Second), Input{Bindings: bs})
	mustRoute(t, tb, udpKey(1, 2), ids(2))
	if got := tb.NextChange(); !got.Equal(t0.Add(60 * time.Second)) {
		t.Errorf("NextChange %v, want t0+60s", got)
	}
	tb = Compute(t0.Add(61*time.Second), Input{Bindings: bs})
	mustRoute(t, tb, udpKey(1, 2), nil)
	if !tb.NextChange().IsZero() {
		t.Errorf("NextChange %v after every expiry", tb.NextChange())
	}
}

// TestPrecedence: rules beat flow bindings; among flow bindings the lower
// FID-PRI wins (RFC 6089 section 4.1); at equal priority the more
// specific selector wins.
func TestPrecedence(t *testing.T) {
	voice := Match{NextHeader: Exact[uint8](17), DstPort: Exact[uint16](5060)}
	udp := Match{NextHeader: Exact[uint8](17)}
	in := Input{Bindings: twoPaths(), FlowBindings: []FlowBinding{
		{HoA: hoa, FID: 1, Priority: 20, BIDs: ids(1), Selector: voice},
		{HoA: hoa, FID: 2, Priority: 10, BIDs: ids(2), Selector: udp},
	}}
	mustRoute(t, Compute(t0, in), udpKey(1, 5060), ids(2))
	in.FlowBindings[0].Priority = 5
	mustRoute(t, Compute(t0, in), udpKey(1, 5060), ids(1))
	in.FlowBindings[0].Priority = 10
	mustRoute(t, Compute(t0, in), udpKey(1, 5060), ids(1)) // tie: more specific
	mustRoute(t, Compute(t0, in), udpKey(1, 53), ids(2))
	in.Rules = []Rule{{Name: "all-udp-lte", Priority: 100, Selector: udp, Action: Action{Mode: Single, Paths: []PathRef{{ID: 2}}}}}
	mustRoute(t, Compute(t0, in), udpKey(1, 5060), ids(2))
}

func TestSameSelectorKeepsHigherPrecedence(t *testing.T) {
	sel := Match{DstPort: Exact[uint16](80)}
	in := Input{Bindings: twoPaths(), FlowBindings: []FlowBinding{
		{HoA: hoa, FID: 1, Priority: 9, BIDs: ids(1), Selector: sel},
		{HoA: hoa, FID: 2, Priority: 3, BIDs: ids(2), Selector: sel},
	}}
	tb := Compute(t0, in)
	e, ok := tb.Get(Key{HoA: hoa, Selector: sel})
	if tb.Len() != 2 || !ok || e.FID != 2 {
		t.Fatalf("entries %d, entry %+v", tb.Len(), e)
	}
}

// TestFallThrough: a flow binding whose bindings are all gone stops
// taking traffic, which then follows the default.
func TestFallThrough(t *testing.T) {
	in := Input{Bindings: twoPaths(), FlowBindings: []FlowBinding{
		{HoA: hoa, FID: 1, Priority: 1, BIDs: ids(2), Selector: Match{DstPort: Exact[uint16](5060)}},
		{HoA: hoa, FID: 2, Priority: 2, BIDs: ids(7), Selector: Match{DstPort: Exact[uint16](80)}},
	}}
	mustRoute(t, Compute(t0, in), udpKey(1, 5060), ids(2))
	mustRoute(t, Compute(t0, in), udpKey(1, 80), ids(1))
	in.Bindings = setUsable(in.Bindings, 2, false)
	tb := Compute(t0, in)
	mustRoute(t, tb, udpKey(1, 5060), ids(1))
	e, _ := tb.Get(Key{HoA: hoa, Selector: Match{DstPort: Exact[uint16](80)}})
	if e == nil || e.Paths[0].ID != 7 || e.Paths[0].Usable || e.Paths[0].CoA.IsValid() {
		t.Errorf("entry naming a missing BID: %+v", e)
	}
}

func TestModes(t *testing.T) {
	tc := Match{TrafficClass: Exact[uint8](184)}
	in := Input{Bindings: twoPaths(), Rules: []Rule{
		{Name: "bicast", Priority: 1, Selector: tc, Action: Action{Mode: Replicate}},
		{Name: "telnet", Priority: 2, Selector: Match{DstPort: Exact[uint16](23)}, Action: Action{Mode: Drop}},
	}}
	k := udpKey(1, 2)
	k.TrafficClass = 184
	tb := Compute(t0, in)
	mustRoute(t, tb, k, ids(1, 2))
	if e := tb.Lookup(hoa, udpKey(1, 23)); e == nil || e.Mode != Drop || len(Pick(e, udpKey(1, 23))) != 0 {
		t.Errorf("drop entry: %+v", e)
	}
	in.Bindings = setUsable(in.Bindings, 1, false)
	mustRoute(t, Compute(t0, in), k, ids(2))
	// Two BIDs in a flow binding replicate (RFC 6089 section 4.1.1.3).
	in = Input{Bindings: twoPaths(), FlowBindings: []FlowBinding{{HoA: hoa, FID: 1, Priority: 1, BIDs: ids(2, 1)}}}
	mustRoute(t, Compute(t0, in), k, ids(2, 1))
}

func TestRuleScopedToHomeAddress(t *testing.T) {
	other := coa(200)
	bs := append(twoPaths(), Binding{HoA: other, ID: 1, CoA: coa(9), Usable: true})
	in := Input{Bindings: bs, Rules: []Rule{{HoA: other, Priority: 1, Selector: Match{DstPort: Exact[uint16](23)}, Action: Action{Mode: Drop}}}}
	tb := Compute(t0, in)
	if len(tb.Entries(hoa)) != 1 || len(tb.Entries(other)) != 2 || len(tb.HomeAddresses()) != 2 {
		t.Errorf("entries: hoa %d other %d", len(tb.Entries(hoa)), len(tb.Entries(other)))
	}
	// A rule matching everything takes the default's key and place.
	in.Rules[0].Selector = Match{}
	tb = Compute(t0, in)
	if es := tb.Entries(other); len(es) != 1 || es[0].Origin != FromRule || es[0].Mode != Drop {
		t.Errorf("catch-all rule: %+v", es)
	}
}

// TestLookupOrderAcrossIndex: the port index must not change which rule
// wins; an earlier rule on a port range beats a later exact-port rule.
func TestLookupOrderAcrossIndex(t *testing.T) {
	in := Input{Bindings: twoPaths(), Rules: []Rule{
		{Priority: 1, Selector: Match{DstPort: Between[uint16](5000, 5100)}, Action: Action{Paths: []PathRef{{ID: 2}}}},
		{Priority: 2, Selector: Match{DstPort: Exact[uint16](5060)}, Action: Action{Paths: []PathRef{{ID: 1}}}},
		{Priority: 3, Selector: Match{DstPort: Exact[uint16](80)}, Action: Action{Paths: []PathRef{{ID: 2}}}},
		{Priority: 4, Selector: Match{DstPort: Between[uint16](1, 100)}, Action: Action{Paths: []PathRef{{ID: 1}}}},
	}}
	tb := Compute(t0, in)
	mustRoute(t, tb, udpKey(1, 5060), ids(2))
	mustRoute(t, tb, udpKey(1, 80), ids(2))
	mustRoute(t, tb, udpKey(1, 81), ids(1))
	in.Rules[0].Priority = 9
	mustRoute(t, Compute(t0, in), udpKey(1, 5060), ids(1))
	// A range covering more segments than the index lists an entry in
	// is tested for every packet, in its place.
	in.Rules = nil
	for i := range 200 {
		in.Rules = append(in.Rules, Rule{Priority: uint16(10 + i), Selector: Match{DstPort: Exact(uint16(2 * i))},
			Action: Action{Paths: []PathRef{{ID: 1}}}})
	}
	in.Rules = append(in.Rules, Rule{Priority: 100, Selector: Match{DstPort: Between[uint16](0, 1000)},
		Action: Action{Paths: []PathRef{{ID: 2}}}})
	tb = Compute(t0, in)
	mustRoute(t, tb, udpKey(1, 2*89), ids(1))
	mustRoute(t, tb, udpKey(1, 2*90), ids(1)) // equal priority: the exact port is more specific
	mustRoute(t, tb, udpKey(1, 2*91), ids(2))
	mustRoute(t, tb, udpKey(1, 2*90+1), ids(2))
	mustRoute(t, tb, udpKey(1, 1001), ids(1)) // default
	k := udpKey(1, 2)
	k.HasPorts = false
	mustRoute(t, tb, k, ids(1))
}

func TestComputeDeterministic(t *testing.T) {
	in := Input{Bindings: twoPaths()}
	for i := range 50 {
		in.FlowBindings = append(in.FlowBindings, FlowBinding{HoA: hoa, FID: uint16(i + 1), Priority: 7, BIDs: ids(PathID(i%2 + 1)),
			Selector: Match{DstPort: Exact[uint16](uint16(i))}})
	}
	a, b := Compute(t0, in), Compute(t0, in)
	ea, eb := a.Entries(hoa), b.Entries(hoa)
	for i := range ea {
		if ea[i].Key() != eb[i].Key() {
			t.Fatalf("order differs at %d: %s vs %s", i, ea[i].Selector, eb[i].Selector)
		}
	}
	if d := Diff(a, b); len(d) != 0 {
		t.Fatalf("Diff of equal tables: %d changes", len(d))
	}
}
