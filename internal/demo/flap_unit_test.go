package demo

import (
	"strings"
	"testing"
	"time"
)

// The flap scenario's gaps are counted from each link change to the next,
// as the failover gap is counted from the failure: a silence that began
// before a change is not that change's gap.
func TestFlapGapPerChange(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Millisecond) }
	var as []arrival
	var sent []time.Time
	for m := 0; m < 1000; m++ {
		sent = append(sent, ms(m))
		// Nothing arrives in [180, 290) (a down at 200 costing 90 ms,
		// the silence starting 20 ms before it) nor in [600, 720).
		if (m >= 180 && m < 290) || (m >= 600 && m < 720) {
			continue
		}
		as = append(as, arrival{at: ms(m + 10), seq: uint64(m)})
	}
	changes := []flapChange{
		{Event: Event{At: 200 * time.Millisecond, What: "link wlan0 down"}, took: 5 * time.Millisecond},
		{Event: Event{At: 400 * time.Millisecond, What: "link wlan0 up"}, up: true, took: time.Millisecond},
		{Event: Event{At: 600 * time.Millisecond, What: "link wlan0 down"}, took: 30 * time.Millisecond},
	}
	g := flapGap(as, sent, changes, t0, 300*time.Millisecond, 100)
	// After the down at 200: the last arrival at 189 (probe 179), the
	// next at 300 (probe 290): 100 ms counted from the change, not 111.
	// After the down at 600: probe 599 at 609, then probe 720 at 730.
	if g.LongestMs != 121 || g.After != "link wlan0 down" || g.AtMs != 600 {
		t.Fatalf("longest gap %+v, want 121 ms after the down at 600 ms", g)
	}
	if g.OverBound != 1 || g.Verdict != Unresolved || !strings.Contains(g.Over[0], "reported the change after 30.0 ms") {
		t.Fatalf("%+v: want one change over the bound, unresolved by the kernel's 30 ms", g)
	}
	if g.Around != "last before: #599 10.0 ms, first after: #720 10.0 ms" {
		t.Fatalf("around %q", g.Around)
	}
}

func TestJudgeChange(t *testing.T) {
	for _, tc := range []struct {
		gap, stall, took float64
		want             Verdict
	}{
		{95, 0, 0, Pass},
		{130, 0, 10, Fail},
		{130, 140, 0, Unresolved},
		{130, 0, 30, Unresolved},
		{130, 0, -1, Fail},
	} {
		if v, why := judgeChange(tc.gap, tc.stall, tc.took, 100); v != tc.want {
			t.Errorf("judgeChange(%v, %v, %v) = %s (%s), want %s", tc.gap, tc.stall, tc.took, v, why, tc.want)
		}
	}
}
