package forwarding

import "testing"

func setDegraded(bs []Binding, id PathID) []Binding {
	out := append([]Binding(nil), bs...)
	for i := range out {
		if out[i].ID == id {
			out[i].Degraded = true
		}
	}
	return out
}

// A degraded path ranks after a healthy one of lower preference, and
// still carries when nothing healthy can.
func TestDegradedPathRanksLast(t *testing.T) {
	bs := setDegraded(twoPaths(), 1)
	mustRoute(t, Compute(t0, Input{Bindings: bs}), udpKey(1, 2), ids(2))
	mustRoute(t, Compute(t0, Input{Bindings: setUsable(bs, 2, false)}), udpKey(1, 2), ids(1))
	mustRoute(t, Compute(t0, Input{Bindings: setDegraded(bs, 2)}), udpKey(1, 2), ids(1))
	// A rule's own failover order too.
	rule := Rule{Name: "bulk", Priority: 1, Selector: Match{NextHeader: Exact[uint8](17)},
		Action: Action{Mode: Single, Paths: []PathRef{{ID: 1}, {ID: 2}}}}
	mustRoute(t, Compute(t0, Input{Bindings: bs, Rules: []Rule{rule}}), udpKey(1, 2), ids(2))
}

// Sharing leaves a degraded path out while a healthy one is usable;
// bicast keeps its copy.
func TestDegradedPathLeftOutOfSharing(t *testing.T) {
	bs := twoPaths()
	share := &Action{Mode: Share}
	on := map[PathID]int{}
	for p := range uint16(200) {
		for _, id := range Compute(t0, Input{Bindings: bs, Default: share}).Route(hoa, udpKey(p, 9), nil) {
			on[id]++
		}
	}
	if on[1] == 0 || on[2] == 0 {
		t.Fatalf("healthy share %v", on)
	}
	deg := Compute(t0, Input{Bindings: setDegraded(bs, 1), Default: share})
	for p := range uint16(200) {
		mustRoute(t, deg, udpKey(p, 9), ids(2))
	}
	both := setDegraded(setDegraded(bs, 1), 2)
	if got := Compute(t0, Input{Bindings: both, Default: share}).Route(hoa, udpKey(1, 9), nil); len(got) != 1 {
		t.Errorf("every path degraded: %v, want the share over them", got)
	}
	mustRoute(t, Compute(t0, Input{Bindings: setDegraded(bs, 1), Default: &Action{Mode: Replicate}}), udpKey(1, 2), ids(2, 1))
}
