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

// TestFailoverGoodput: the time to 80% of the new link is when the
// goodput reaches the mark and holds it, not a first good window followed
// by a collapse (a BBR sender with a stale min_rtt).
func TestFailoverGoodput(t *testing.T) {
	fail := time.Unix(1000, 0)
	restore := fail.Add(12 * time.Second)
	// rate gives the Mbit/s at each 10 ms after the failure.
	stream := func(rate func(at time.Duration) float64) []arrival {
		var as []arrival
		for d := time.Duration(0); d < 12*time.Second; d += 10 * time.Millisecond {
			as = append(as, arrival{at: fail.Add(d), bytes: int(rate(d) * 1e6 / 8 / 100)})
		}
		return as
	}
	const link = 20.0
	for _, tc := range []struct {
		name string
		rate func(time.Duration) float64
		want float64 // ms, -1 for not reached
	}{
		{"full at once after a 300 ms stall", func(d time.Duration) float64 {
			if d < 300*time.Millisecond {
				return 0
			}
			return 19
		}, 300},
		{"full for 2.5 s, 20% until 8 s, then full", func(d time.Duration) float64 {
			switch {
			case d < 2500*time.Millisecond:
				return 19
			case d < 8*time.Second:
				return 4
			}
			return 19
		}, 8000},
		{"never above 70%", func(time.Duration) float64 { return 14 }, -1},
	} {
		g := failoverGoodput(stream(tc.rate), fail, restore, link)
		got := -1.0
		if g.TimeTo80Ms != nil {
			got = *g.TimeTo80Ms
		}
		// One search step (50 ms) of slack: a slot straddling the change
		// may just reach the mark.
		if (got < 0) != (tc.want < 0) || got < tc.want-50 || got > tc.want {
			t.Errorf("%s: time to 80%% %v ms, want %v (-50)", tc.name, got, tc.want)
		}
		if len(g.PercentBySecond) != 12 || g.LinkMbps != link || g.WindowMs != 2000 {
			t.Errorf("%s: %+v", tc.name, g)
		}
	}
}

// GapVerdicts takes the failure's bound: 100 ms with the physical floor for
// an interface going down, 300 ms and no floor for a silent failure (a
// draining FIFO shortens the downlink's gap).
func TestGapVerdictsFollowTheFailure(t *testing.T) {
	for _, tc := range []struct {
		silent   bool
		down, up float64
		want     [2]Verdict
	}{
		{false, 85, 45, [2]Verdict{Pass, Pass}},
		{false, 57.7, 45, [2]Verdict{Fail, Pass}},
		{false, 150, 45, [2]Verdict{Fail, Pass}},
		{true, 57.7, 190, [2]Verdict{Pass, Pass}},
		{true, 190, 310, [2]Verdict{Pass, Fail}},
	} {
		s := &Summary{Silent: tc.silent, FailoverGapMs: tc.down, UplinkFailoverGapMs: tc.up,
			Probe: ProbeResult{SenderStallMs: 5}, UplinkProbe: ProbeResult{SenderStallMs: 5}}
		_, down, up, why := s.GapVerdicts()
		if down != tc.want[0] || up != tc.want[1] {
			t.Errorf("silent %v, gaps %.1f / %.1f ms: %v / %v, want %v (%v)", tc.silent, tc.down, tc.up, down, up, tc.want, why)
		}
	}
}
