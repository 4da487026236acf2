package paths

import (
	"math/rand/v2"
	"testing"
	"time"
)

// failWithDrain runs a busy path, then stops its probe replies while its
// data still arrives for drain (the queue ahead of the failure), and
// returns when the path went down after the failure (0: not within 1 s).
func failWithDrain(t *testing.T, drain time.Duration) (*sim, time.Duration) {
	s := newSim(t, busyCfg, kA, kB)
	s.run(3*time.Second, kA)
	s.states = nil
	s.answer[kA] = false
	fail := s.now
	var down time.Duration
	for s.now.Sub(fail) < time.Second {
		if s.now.Sub(fail) < drain {
			s.run(time.Millisecond, kA)
		} else {
			s.run(time.Millisecond)
		}
		if down == 0 && s.tb.State(kA) == Down {
			down = s.now.Sub(fail)
		}
	}
	return s, down
}

// The data a failed access link's queue still delivers does not hold the
// path up: its probes stop being answered, and it is down as soon as
// without the queue.
func TestDrainingQueueDoesNotHoldAFailedPathUp(t *testing.T) {
	_, without := failWithDrain(t, 0)
	s, with := failWithDrain(t, 150*time.Millisecond)
	if with == 0 {
		t.Fatalf("not down within 1 s; transitions %+v", s.states)
	}
	// Three probes 25 ms apart, their RTO and SuspectAfter, then DownAfter.
	if with > 200*time.Millisecond {
		t.Errorf("down %v after the failure with 150 ms of queue draining, want under 200 ms (%v without)", with, without)
	}
	if s.tb.State(kA) != Down {
		t.Errorf("path %v at the end: the draining queue revived it", s.tb.State(kA))
	}
	if len(s.states) != 2 || s.states[0].Reason != "busy probes unanswered" {
		t.Errorf("transitions %+v, want suspect (busy probes unanswered) then down", s.states)
	}
}

// Once the queue has drained, the data's silence agrees with the
// unanswered probes: down SuspectAfter after the last of it, without
// DownAfter more.
func TestDrainedPathIsDownWhenItsDataStops(t *testing.T) {
	s, down := failWithDrain(t, 100*time.Millisecond)
	want := 100*time.Millisecond + DefaultSuspectAfter
	if down < want || down > want+5*time.Millisecond {
		t.Errorf("down %v after the failure with 100 ms of queue draining, want %v; transitions %+v", down, want, s.states)
	}
}

// A busy path that loses 20% of its probes' round trips, as the lab's 20%
// loss on one direction, is not taken for dead while its data flows.
func TestLossyBusyPathIsNotDown(t *testing.T) {
	s := newSim(t, busyCfg, kA)
	s.loss[kA] = 0.2
	s.run(60*time.Second, kA)
	suspect := 0
	for _, a := range s.states {
		if a.State == Down {
			t.Fatalf("lossy busy path down: %+v", a)
		}
		if a.State == Suspect {
			suspect++
		}
	}
	if suspect > 30 {
		t.Errorf("suspect %d times in 60 s", suspect)
	}
}

// A peer that stops answering Echo while data still flows: the path is
// judged down, and the data takes it up again after ActiveWindow (a queue
// drains within it).
func TestDataRevivesAPathWhoseProbesStopAfterActiveWindow(t *testing.T) {
	s := newSim(t, busyCfg, kA)
	s.run(3*time.Second, kA)
	s.answer[kA] = false
	s.states = nil
	s.run(500*time.Millisecond, kA)
	if s.tb.State(kA) != Down {
		t.Fatalf("path %v with its probes unanswered for 500 ms", s.tb.State(kA))
	}
	s.run(700*time.Millisecond, kA)
	if s.tb.State(kA) != Up {
		t.Fatalf("path %v after 1.2 s of data", s.tb.State(kA))
	}
	s.states = nil
	s.run(3*time.Second, kA)
	if len(s.states) != 0 {
		t.Errorf("path with data and no Echo replies changed state again: %+v", s.states)
	}
}

// NextChange names the times of the changes of a silent failure, and
// Tick makes them there: while the queue drains (data, no replies), the
// suspicion; once it has drained, the path is down.
func TestNextChangeIsWhenTickActs(t *testing.T) {
	s := newSim(t, busyCfg, kA)
	s.run(3*time.Second, kA)
	s.answer[kA] = false
	for _, tc := range []struct {
		want State
		data []Key
	}{{Suspect, []Key{kA}}, {Down, nil}} {
		var at time.Time
		for {
			s.run(time.Millisecond, tc.data...)
			if a, ok := s.tb.NextChange(); ok {
				at = a
				break
			}
		}
		for s.now.Before(at) {
			if s.tb.State(kA) == tc.want {
				t.Fatalf("%v at %v, before NextChange %v", tc.want, s.now.Sub(t0), at.Sub(t0))
			}
			s.run(time.Millisecond, tc.data...)
		}
		if st := s.tb.State(kA); st != tc.want {
			t.Fatalf("%v at NextChange, want %v", st, tc.want)
		}
	}
	if _, ok := s.tb.NextChange(); ok {
		t.Error("a change pending on a down path")
	}
}

// Behind one FIFO the probes' replies wait in the data's queue (a 120 ms
// round trip) and drain with it: the data stops a queue after the
// failure. Once the path is silent and its busy probes are past their
// timeout too, it is down without DownAfter more.
func TestSilentPathWithUnansweredProbesIsDownAtOnce(t *testing.T) {
	s := newSim(t, busyCfg, kA)
	s.rtt = 120 * time.Millisecond
	s.run(3*time.Second, kA)
	s.states = nil
	s.loss[kA] = 1 // probes sent from now on; replies on the way still come
	fail := s.now
	s.run(100*time.Millisecond, kA) // the queue drains
	var suspect, down time.Duration
	for s.now.Sub(fail) < time.Second && down == 0 {
		s.run(time.Millisecond)
		switch st := s.tb.State(kA); {
		case st == Suspect && suspect == 0:
			suspect = s.now.Sub(fail)
		case st == Down:
			down = s.now.Sub(fail)
		}
	}
	t.Logf("suspect %v, down %v after the failure", suspect, down)
	if down == 0 || down-suspect >= DefaultDownAfter {
		t.Errorf("suspect at %v, down at %v after the failure: want down sooner than DownAfter after suspect (%+v)", suspect, down, s.states)
	}
	if len(s.states) != 2 || s.states[1].Reason != "nothing arrived, busy probes unanswered" {
		t.Errorf("transitions %+v", s.states)
	}
}

// A Tick at a NextChange already due acts on it: after at most one more
// Tick at the same instant (a path can change once per Tick: up to
// suspect, then down), NextChange is later than now, so a role's timer on
// it cannot spin. Random traffic, loss, replies and failures.
func TestNextChangeNeverDueAfterTick(t *testing.T) {
	reasons := map[string]int{}
	for seed := range uint64(20) {
		s := newSim(t, busyCfg, kA, kB)
		s.rng = rand.New(rand.NewPCG(seed, 3))
		dataA := true
		for range 4000 {
			if s.rng.Float64() < 0.003 {
				s.answer[kA] = !s.answer[kA]
			}
			if s.rng.Float64() < 0.005 {
				s.loss[kB] = s.rng.Float64() * 0.5
			}
			if s.rng.Float64() < 0.004 {
				dataA = !dataA
			}
			var flowing []Key
			if dataA && s.rng.Float64() < 0.9 {
				flowing = append(flowing, kA)
			}
			if s.rng.Float64() < 0.5 {
				flowing = append(flowing, kB)
			}
			s.run(time.Millisecond, flowing...)
			if at, ok := s.tb.NextChange(); ok && !at.After(s.now) {
				s.act(s.tb.Tick(s.now))
			}
			if at, ok := s.tb.NextChange(); ok && !at.After(s.now) {
				t.Fatalf("seed %d at %v: NextChange %v after Tick; paths %+v", seed, s.now.Sub(t0), at.Sub(t0), s.tb.Snapshot())
			}
		}
		for _, a := range s.states {
			reasons[a.Reason]++
		}
	}
	t.Logf("transitions by reason: %v", reasons)
	for _, r := range []string{"busy probes unanswered", "nothing arrived, busy probes unanswered"} {
		if reasons[r] == 0 {
			t.Errorf("no %q in the random runs: the test misses the rule", r)
		}
	}
}
