package paths

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// busyCfg is the mobile node's configuration: every path probed, busy
// ones fast.
var busyCfg = Config{ProbeUp: true, ProbeDown: true, ProbeBusy: true}

// degradedAfter runs a busy path with loss from +3 s and returns how long
// it took to be judged degraded (0: not within limit).
func degradedAfter(t *testing.T, seed uint64, loss float64, limit time.Duration) time.Duration {
	s := newSim(t, busyCfg, kA, kB)
	s.rng = rand.New(rand.NewPCG(seed, 7))
	s.run(3*time.Second, kA)
	if s.tb.Degraded(kA) {
		t.Fatal("degraded before any loss")
	}
	s.loss[kA] = loss
	start := s.now
	for s.now.Sub(start) < limit {
		s.run(5*time.Millisecond, kA)
		if s.tb.Degraded(kA) {
			return s.now.Sub(start)
		}
	}
	return 0
}

// The acceptance's 2 s leave the roles' poll, the route change and the
// flow's move. The lab's 20% loss on a link drops each direction's
// packets, so 36% of the probes' round trips: judged within a second.
// Loss of 20% of the round trips (one direction at 20%) takes longer: 40
// samples hold fewer than five losses one time in twelve.
func TestBusyPathWith20PercentLossDegrades(t *testing.T) {
	for _, tc := range []struct {
		loss  float64
		bound time.Duration
	}{{0.36, time.Second}, {0.20, 2 * time.Second}} {
		var took []time.Duration
		for seed := range uint64(100) {
			d := degradedAfter(t, seed, tc.loss, 3*time.Second)
			if d == 0 {
				t.Fatalf("loss %v, seed %d: not degraded within 3 s", tc.loss, seed)
			}
			took = append(took, d)
		}
		slices.Sort(took)
		t.Logf("round-trip loss %.0f%%: degraded after median %v, 99th %v, max %v (100 runs)",
			100*tc.loss, took[len(took)/2], took[len(took)*99/100], took[len(took)-1])
		if worst := took[len(took)-1]; worst > tc.bound {
			t.Errorf("round-trip loss %.0f%%: slowest of 100 runs degraded after %v, want at most %v", 100*tc.loss, worst, tc.bound)
		}
	}
}

func TestSmallLossDoesNotDegrade(t *testing.T) {
	for seed := range uint64(5) {
		if d := degradedAfter(t, seed, 0.01, 60*time.Second); d != 0 {
			t.Errorf("seed %d: 1%% loss degraded the path after %v", seed, d)
		}
	}
}

// Hysteresis: a path kept at 20% loss stays degraded (no flapping),
// whether traffic left it or not, and comes back within about two seconds
// of probes once it is good again.
func TestDegradedPathHoldsThenRecovers(t *testing.T) {
	s := newSim(t, busyCfg, kA, kB)
	s.run(2*time.Second, kA)
	s.loss[kA] = 0.2
	s.run(2*time.Second, kA)
	if !s.tb.Degraded(kA) {
		t.Fatal("not degraded after 2 s at 20% loss")
	}
	// Traffic moves away (what forwarding does); the path stays probed.
	n := s.probes[kA]
	s.run(60 * time.Second)
	if len(s.quality) != 1 || !s.tb.Degraded(kA) {
		t.Fatalf("quality changes over a minute at 20%% loss: %+v", s.quality)
	}
	if got := s.probes[kA] - n; got < 60*30 {
		t.Errorf("a degraded idle path got %d probes in 60 s; it must be probed fast to show it recovered", got)
	}
	if st, _ := s.tb.Status(kA); st.Loss < 0.05 || st.Loss > 0.4 || st.Samples != DefaultLossWindow {
		t.Errorf("figures %+v", st)
	}
	s.loss[kA] = 0
	good := s.now
	for s.tb.Degraded(kA) && s.now.Sub(good) < 10*time.Second {
		s.run(5 * time.Millisecond)
	}
	// The last 80 outcomes (2 s at 25 ms) may lose 4: the old losses
	// leave the window within 2 s.
	if d := s.now.Sub(good); s.tb.Degraded(kA) || d > 2*time.Second {
		t.Errorf("recovered after %v (degraded %v), want within 2 s (80 probes at 25 ms)", d, s.tb.Degraded(kA))
	}
	// Good and idle again: back to one probe a second.
	s.run(2 * time.Second)
	n = s.probes[kA]
	s.run(10 * time.Second)
	if got := s.probes[kA] - n; got < 9 || got > 11 {
		t.Errorf("recovered idle path: %d probes in 10 s, want 10", got)
	}
}

// The idle cost holds with busy probing on: 1 probe a second on the idle
// path, and the busy path's rate is bounded by BusyProbeInterval.
func TestBusyProbingLeavesTheIdleCost(t *testing.T) {
	s := newSim(t, busyCfg, kA, kB)
	s.run(10*time.Second, kA)
	if n := s.probes[kB]; n < 10 || n > 11 {
		t.Errorf("idle path: %d probes in 10 s, want 10", n)
	}
	if n := s.probes[kA]; n < 380 || n > 401 {
		t.Errorf("busy path: %d probes in 10 s, want about 400 (one per 25 ms)", n)
	}
	st, _ := s.tb.Status(kA)
	if st.Loss != 0 || st.Samples != DefaultLossWindow || st.Degraded {
		t.Errorf("busy path figures %+v", st)
	}
}

// A coarse Tick (the roles poll every 20 ms) keeps the busy rate: probes
// are scheduled from their due time.
func TestBusyRateWithCoarseTicks(t *testing.T) {
	tb := New(busyCfg)
	tb.Add(t0, kA)
	tb.Received(t0, kA, 0)
	sent := 0
	for i := range 50 {
		now := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		tb.Received(now, kA, uint64(i+1))
		for _, a := range tb.Tick(now) {
			if a.Kind == SendProbe {
				sent++
				tb.ProbeReply(now.Add(time.Millisecond), kA, a.Seq)
			}
		}
	}
	if sent < 38 || sent > 41 {
		t.Errorf("%d probes in 1 s of 20 ms ticks, want 40 (25 ms interval)", sent)
	}
}

// A probe overtaken by a later answered one is lost at once, not after
// LossTimeout.
func TestOvertakenProbeCountsLostAtOnce(t *testing.T) {
	tb := New(busyCfg)
	tb.Add(t0, kA)
	var seqs []uint16
	for i := range 2 {
		now := t0.Add(time.Duration(i) * time.Second)
		for _, a := range tb.Tick(now) {
			if a.Kind == SendProbe {
				seqs = append(seqs, a.Seq)
			}
		}
	}
	if len(seqs) != 2 {
		t.Fatalf("probes %v", seqs)
	}
	tb.ProbeReply(t0.Add(time.Second+10*time.Millisecond), kA, seqs[1])
	if st, _ := tb.Status(kA); st.Samples != 2 || st.Loss != 0.5 {
		t.Errorf("figures %+v, want 2 samples, half lost", st)
	}
	if a := tb.ProbeReply(t0.Add(1100*time.Millisecond), kA, seqs[0]); a != nil {
		t.Errorf("late reply of a probe counted lost: %+v", a)
	}
}

// A busy path whose probes were never answered (Echo filtered) is judged
// by its data alone: not degraded.
func TestUnansweredProbesOfABusyPathDoNotDegrade(t *testing.T) {
	s := newSim(t, busyCfg, kA)
	s.answer[kA] = false
	s.run(5*time.Second, kA)
	if s.tb.Degraded(kA) || s.tb.State(kA) != Up {
		t.Errorf("busy path with Echo filtered: degraded %v, %v", s.tb.Degraded(kA), s.tb.State(kA))
	}
}

// Traffic that leaves a lossy path before it is degraded (the other end
// judged it first) leaves it probed fast until the window is clean or the
// path degraded: the home agent, which probes no idle path, still judges.
func TestLossyPathKeptUnderWatchAfterTrafficLeft(t *testing.T) {
	s := newSim(t, Config{ProbeBusy: true}, kA)
	s.run(2*time.Second, kA)
	s.loss[kA] = 0.36
	s.run(150*time.Millisecond, kA)
	s.run(3 * time.Second)
	if !s.tb.Degraded(kA) {
		t.Errorf("lossy path not degraded after its traffic left: %+v", s.quality)
	}
	s.loss[kA] = 0
	s.run(5 * time.Second)
	n := s.probes[kA]
	s.run(5 * time.Second)
	if s.tb.Degraded(kA) || s.probes[kA] != n {
		t.Errorf("good idle path: degraded %v, %d probes in 5 s (the home agent probes no idle path)", s.tb.Degraded(kA), s.probes[kA]-n)
	}
}

// A failure is not loss: a busy path that went down and came back is
// not degraded by the probes its failure swallowed.
func TestFailureDoesNotDegrade(t *testing.T) {
	s := newSim(t, busyCfg, kA, kB)
	s.run(2*time.Second, kA)
	s.answer[kA] = false
	s.run(3 * time.Second)
	if s.tb.State(kA) != Down {
		t.Fatalf("state %v", s.tb.State(kA))
	}
	s.answer[kA] = true
	s.run(2*time.Second, kA)
	if s.tb.State(kA) != Up || s.tb.Degraded(kA) {
		t.Errorf("back from a failure: %v, degraded %v", s.tb.State(kA), s.tb.Degraded(kA))
	}
}

// The fast probes of a busy path wait in its queue: their round trips
// leave the lowest round trip, and so DownAfter, alone, and a silent
// failure under load is still declared 140 ms after the last arrival.
func TestQueuedBusyProbesDoNotStretchDownAfter(t *testing.T) {
	s := newSim(t, busyCfg, kA)
	s.run(2 * time.Second) // idle: 10 ms round trips
	s.rtt = 100 * time.Millisecond
	s.run(3*time.Second, kA)
	if st, _ := s.tb.Status(kA); st.SRTT < 80*time.Millisecond {
		t.Fatalf("srtt %v, want the queue's", st.SRTT)
	}
	s.answer[kA] = false
	fail := s.now
	for s.tb.State(kA) != Down && s.now.Sub(fail) < time.Second {
		s.run(time.Millisecond)
	}
	if d := s.now.Sub(fail); d > 150*time.Millisecond {
		t.Errorf("down %v after a silent failure under load, want 140 ms", d)
	}
}

// A stalled caller (no Tick for 1.5 s, as a descheduled event loop) finds
// the probes of a failed path timed out while it still counts as up: a
// failure all the same, not loss.
func TestStalledTickAfterAFailureDoesNotDegrade(t *testing.T) {
	tb := New(busyCfg)
	tb.Add(t0, kA)
	rx := uint64(0)
	step := func(now time.Time, data, answer bool) {
		if data {
			rx++
			tb.Received(now, kA, rx)
		}
		for _, a := range tb.Tick(now) {
			if a.Kind == SendProbe && answer {
				tb.ProbeReply(now.Add(time.Millisecond), kA, a.Seq)
			}
		}
	}
	now := t0
	for ; now.Before(t0.Add(2 * time.Second)); now = now.Add(10 * time.Millisecond) {
		step(now, true, true)
	}
	// The failure: the replies stop first (the last data was queued),
	// then everything.
	for end := now.Add(150 * time.Millisecond); now.Before(end); now = now.Add(10 * time.Millisecond) {
		step(now, true, false)
	}
	now = now.Add(1500 * time.Millisecond) // the stall
	for end := now.Add(time.Second); now.Before(end); now = now.Add(10 * time.Millisecond) {
		step(now, false, false)
	}
	if tb.State(kA) != Down {
		t.Fatalf("state %v after the failure", tb.State(kA))
	}
	for end := now.Add(time.Second); now.Before(end); now = now.Add(10 * time.Millisecond) {
		step(now, true, true)
	}
	if tb.State(kA) != Up || tb.Degraded(kA) {
		t.Errorf("back: %v, degraded %v", tb.State(kA), tb.Degraded(kA))
	}
}
