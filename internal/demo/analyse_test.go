package demo

import (
	"testing"
	"time"
)

func TestLongestGap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms ...int) []arrival {
		var as []arrival
		for _, m := range ms {
			as = append(as, arrival{at: t0.Add(time.Duration(m) * time.Millisecond), bytes: 1})
		}
		return as
	}
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	for _, tc := range []struct {
		name     string
		as       []arrival
		from, to time.Time
		want     time.Duration
	}{
		{"steady", at(100, 101, 102, 103, 104, 105), ms(100), ms(105), time.Millisecond},
		{"failover gap counted from the event", at(99, 100, 185, 186, 187), ms(100), ms(187), 85 * time.Millisecond},
		// A stall that began before the event is not the event's gap.
		{"stall before the event", at(0, 1, 900, 901, 902, 903), ms(900), ms(903), time.Millisecond},
		{"nothing after the event", at(0, 1), ms(100), ms(400), 300 * time.Millisecond},
		{"tail up to the end of the window", at(100, 101), ms(100), ms(200), 99 * time.Millisecond},
	} {
		if got := longestGap(tc.as, tc.from, tc.to); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestJudgeGap: only a gap shorter than the sender's own pause excuses
// another attempt; a gap under the physical floor is a broken measurement.
func TestJudgeGap(t *testing.T) {
	for _, tc := range []struct {
		name       string
		gap, stall float64
		want       Verdict
	}{
		{"within the bound", 92, 3, Pass},
		{"at the bound", 100, 3, Pass},
		{"at the floor", 80, 0, Pass},
		{"below the floor", 79.9, 0, Fail},
		{"no gap at all", 0, 500, Fail},
		// The old rule retried any gap over 100 ms once the sender paused
		// more than 20 ms, which made the bound "pass once in three".
		{"400 ms gap, 25 ms pause", 400, 25, Fail},
		{"over the bound, sender steady", 101, 1, Fail},
		{"gap equal to the pause", 150, 150, Fail},
		{"gap below the pause", 150, 200, Unresolved},
	} {
		if got, why := judgeGap(tc.gap, tc.stall, failoverFloorMs, failoverBoundMs); got != tc.want {
			t.Errorf("%s: %v (%s), want %v", tc.name, got, why, tc.want)
		}
	}
}
