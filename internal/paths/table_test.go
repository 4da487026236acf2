package paths

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

var (
	t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	kA = Key{netip.MustParseAddr("2001:db8:a::1"), netip.MustParseAddr("2001:db8:1::ffff")}
	kB = Key{netip.MustParseAddr("2001:db8:b::1"), netip.MustParseAddr("2001:db8:1::ffff")}
)

// sim drives a table with a fake clock in steps of 5 ms.
type sim struct {
	t      *testing.T
	tb     *Table
	now    time.Time
	rx     map[Key]uint64
	probes map[Key]int
	states []Action
	// quality: the QualityChanged actions, with when.
	quality []Action
	// answer: probes on these paths are answered after rtt.
	answer  map[Key]bool
	rtt     time.Duration
	pending []reply
	// loss: probes on these paths are lost with this probability.
	loss map[Key]float64
	rng  *rand.Rand
}

type reply struct {
	at  time.Time
	k   Key
	seq uint16
}

func newSim(t *testing.T, cfg Config, keys ...Key) *sim {
	s := &sim{t: t, tb: New(cfg), now: t0, rx: map[Key]uint64{}, probes: map[Key]int{}, answer: map[Key]bool{},
		rtt: 10 * time.Millisecond, loss: map[Key]float64{}, rng: rand.New(rand.NewPCG(1, 2))}
	for _, k := range keys {
		s.tb.Add(t0, k)
		s.answer[k] = true
		s.tb.Received(t0, k, 0)
	}
	return s
}

func (s *sim) act(as []Action) {
	for _, a := range as {
		switch a.Kind {
		case SendProbe:
			s.probes[a.Key]++
			if s.answer[a.Key] && s.rng.Float64() >= s.loss[a.Key] {
				s.pending = append(s.pending, reply{s.now.Add(s.rtt), a.Key, a.Seq})
			}
		case StateChanged:
			s.states = append(s.states, a)
		case QualityChanged:
			s.quality = append(s.quality, a)
		}
	}
}

// run advances d; traffic on the keys in flowing arrives every 1 ms.
func (s *sim) run(d time.Duration, flowing ...Key) {
	end := s.now.Add(d)
	for s.now.Before(end) {
		s.now = s.now.Add(time.Millisecond)
		for _, k := range flowing {
			s.rx[k]++
			s.act(s.tb.Received(s.now, k, s.rx[k]))
		}
		var keep []reply
		for _, r := range s.pending {
			if r.at.After(s.now) {
				keep = append(keep, r)
				continue
			}
			if s.answer[r.k] {
				s.act(s.tb.ProbeReply(s.now, r.k, r.seq))
			}
		}
		s.pending = keep
		s.act(s.tb.Tick(s.now))
	}
}

func (s *sim) changedTo(k Key, st State) (time.Time, bool) {
	for _, a := range s.states {
		if a.Key == k && a.State == st {
			return t0, true
		}
	}
	return time.Time{}, false
}

func TestSilentFailureOfABusyPathIsDownWithin300ms(t *testing.T) {
	s := newSim(t, Config{ProbeUp: true, ProbeDown: true}, kA, kB)
	s.run(2*time.Second, kA)
	if st := s.tb.State(kA); st != Up {
		t.Fatalf("busy path %v before the failure", st)
	}
	s.states = nil
	s.answer[kA] = false
	fail := s.now
	var downAt time.Time
	for i := 0; i < 400 && downAt.IsZero(); i++ {
		s.run(time.Millisecond)
		if s.tb.State(kA) == Down {
			downAt = s.now
		}
	}
	if downAt.IsZero() {
		t.Fatal("silent failure not detected within 400 ms")
	}
	gap := downAt.Sub(fail)
	if gap > 160*time.Millisecond || gap < 140*time.Millisecond {
		t.Errorf("declared down %v after the failure, want 150 ms (50 ms quiet + 100 ms suspect)", gap)
	}
	if s.tb.State(kB) != Up {
		t.Errorf("the other path is %v", s.tb.State(kB))
	}
	if len(s.states) != 2 || s.states[0].State != Suspect || s.states[1].State != Down {
		t.Errorf("transitions %+v, want suspect then down", s.states)
	}
}

func TestIdlePathCostsOneProbePerSecond(t *testing.T) {
	s := newSim(t, Config{ProbeUp: true, ProbeDown: true}, kA, kB)
	s.run(10*time.Second, kA)
	if n := s.probes[kB]; n < 10 || n > 11 {
		t.Errorf("idle path: %d probes in 10 s, want 10 (one per second)", n)
	}
	if n := s.probes[kA]; n > 11 {
		t.Errorf("busy path: %d probes in 10 s", n)
	}
	if s.tb.State(kB) != Up {
		t.Errorf("idle answered path is %v", s.tb.State(kB))
	}
	st, _ := s.tb.Status(kB)
	if st.SRTT != 10*time.Millisecond || st.Loss != 0 || st.Samples < 9 {
		t.Errorf("idle path figures %+v", st)
	}
}

func TestIdlePathFailureAndRecovery(t *testing.T) {
	s := newSim(t, Config{ProbeUp: true, ProbeDown: true}, kA, kB)
	s.run(3*time.Second, kA)
	s.answer[kB] = false
	s.run(2*time.Second, kA)
	if st := s.tb.State(kB); st != Down {
		t.Fatalf("idle path unanswered for 2 s is %v", st)
	}
	if _, ok := s.changedTo(kB, Suspect); !ok {
		t.Error("no suspect state before down")
	}
	s.answer[kB] = true
	s.run(1100*time.Millisecond, kA)
	if st := s.tb.State(kB); st != Up {
		t.Fatalf("answered again, still %v", st)
	}
	st, _ := s.tb.Status(kB)
	if st.Loss == 0 {
		t.Errorf("loss not counted: %+v", st)
	}
}

func TestTrafficRevivesADownPathWithoutProbes(t *testing.T) {
	// The home agent's settings: probes only when suspect.
	s := newSim(t, Config{}, kA)
	s.run(time.Second, kA)
	s.answer[kA] = false
	s.run(time.Second)
	if st := s.tb.State(kA); st != Down {
		t.Fatalf("silent path is %v", st)
	}
	n := s.probes[kA]
	s.run(5 * time.Second)
	if s.probes[kA] != n {
		t.Errorf("down path probed %d times without ProbeDown", s.probes[kA]-n)
	}
	s.run(2*time.Millisecond, kA)
	if st := s.tb.State(kA); st != Up {
		t.Errorf("traffic arrived, still %v", st)
	}
}

func TestPauseInTrafficIsNotAFailure(t *testing.T) {
	s := newSim(t, Config{}, kA)
	for range 5 {
		s.run(300*time.Millisecond, kA)
		s.run(400 * time.Millisecond)
	}
	if _, ok := s.changedTo(kA, Down); ok {
		t.Error("answered path declared down during pauses")
	}
	if s.tb.State(kA) != Up {
		t.Errorf("state %v", s.tb.State(kA))
	}
}

func TestLateOrForgedReplyIgnored(t *testing.T) {
	tb := New(Config{ProbeUp: true})
	tb.Add(t0, kA)
	if a := tb.ProbeReply(t0, kA, 77); a != nil {
		t.Errorf("reply to no probe: %+v", a)
	}
	if st, _ := tb.Status(kA); st.Samples != 0 || st.SRTT != 0 {
		t.Errorf("forged reply counted: %+v", st)
	}
}

func TestDeadlineCoversTheNextStep(t *testing.T) {
	tb := New(Config{ProbeUp: true})
	if !tb.Deadline(t0).IsZero() {
		t.Fatal("deadline with no path")
	}
	tb.Add(t0, kA)
	if d := tb.Deadline(t0); !d.Equal(t0) {
		t.Errorf("first probe due %v, want at once", d.Sub(t0))
	}
	tb.Tick(t0)
	if d := tb.Deadline(t0); d.Sub(t0) != DefaultProbeTimeout {
		t.Errorf("next deadline after %v, want the probe timeout", d.Sub(t0))
	}
}

// A flow that stops on a live path costs one suspect episode, not one per
// SuspectAfter while it is still within the active window.
func TestStoppedFlowSuspectedOnce(t *testing.T) {
	s := newSim(t, Config{}, kA)
	s.run(time.Second, kA)
	s.states = nil
	s.run(2 * time.Second)
	suspects := 0
	for _, a := range s.states {
		if a.State == Suspect {
			suspects++
		}
	}
	if suspects != 1 || s.tb.State(kA) != Up {
		t.Errorf("%d suspect episodes after the flow stopped (state %v), want 1: %+v", suspects, s.tb.State(kA), s.states)
	}
}

// A long round trip stretches the time to down (three round trips), but
// queueing on a loaded path, which raises srtt, does not.
func TestDownAfterFollowsTheLowestRoundTrip(t *testing.T) {
	s := newSim(t, Config{ProbeUp: true}, kA)
	s.rtt = 100 * time.Millisecond
	s.run(3 * time.Second)
	s.answer[kA] = false
	s.run(2 * time.Second)
	if st, _ := s.tb.Status(kA); st.State != Down {
		t.Fatalf("state %v", st.State)
	}
	if d := s.tb.downAfter(s.tb.paths[kA]); d != 300*time.Millisecond {
		t.Errorf("down after %v with a 100 ms round trip, want 300 ms", d)
	}
	// Queueing: a few slow samples among fast ones leave the minimum.
	p := s.tb.paths[kA]
	for _, r := range []time.Duration{20, 90, 120, 150} {
		p.rtt(s.now, r*time.Millisecond, 0, true)
	}
	p.rtts = p.rtts[len(p.rtts)-4:]
	if d := s.tb.downAfter(p); d != DefaultDownAfter {
		t.Errorf("down after %v with a 20 ms lowest round trip and srtt %v, want %v", d, p.srtt, DefaultDownAfter)
	}
}
