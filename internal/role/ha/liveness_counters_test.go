package ha

import (
	"testing"
	"time"

	"monami/internal/dataplane"
)

// stuckCountersDP is a recording data plane whose counter reading blocks
// until released, as a dump of thousands of set elements takes its time.
type stuckCountersDP struct {
	*recordingDP
	reading chan struct{} // one value when a reading has started
	release chan struct{}
}

func (d *stuckCountersDP) EndpointCounters() (map[dataplane.EndpointKey]uint64, error) {
	select {
	case d.reading <- struct{}{}:
	default:
	}
	<-d.release
	return d.recordingDP.EndpointCounters()
}

// The counters are read off the event loop: while a reading is under way
// the home agent still answers Binding Updates, and the reading then
// reaches the path state machines.
func TestBindingUpdatesAnsweredWhileCountersRead(t *testing.T) {
	dp := &stuckCountersDP{recordingDP: newRecordingDP(), reading: make(chan struct{}, 1), release: make(chan struct{})}
	x := startWith(t, func(o *Options) { o.DataPlane = dp })
	released := false
	defer func() {
		if !released {
			close(dp.release)
		}
	}()
	select {
	case <-dp.reading:
	case <-time.After(5 * time.Second):
		t.Fatal("the counters were never read")
	}
	if ba := x.sendBU(coa1, 60, key, bid{1, coa1, 10}); ba.Status != 0 {
		t.Fatalf("status %v while the counters are read, want accepted", ba.Status)
	}
	close(dp.release)
	released = true
	// The next reading follows: the first reached the loop.
	select {
	case <-dp.reading:
	case <-time.After(5 * time.Second):
		t.Fatal("no reading after the first was released")
	}
	if v, err := x.h.Snapshot(t.Context(), "paths"); err != nil || len(v.([]PathView)) != 1 {
		t.Errorf("paths topic %v %v, want coa1's path", v, err)
	}
}

// A round that costs more than pathShare of pathPoll delays the next; the
// cost taken is the lower of the last two rounds' (reading and loop), so
// one round descheduled on a busy machine does not stop the rounds.
func TestNextReadingPace(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, c := range []struct {
		cost, last, want time.Duration
	}{
		{time.Millisecond, 0, pathPoll},
		{5 * time.Millisecond, 0, 50 * time.Millisecond},
		{6 * time.Millisecond, 7 * time.Millisecond, 60 * time.Millisecond},
		{140 * time.Millisecond, 4 * time.Millisecond, 40 * time.Millisecond},
		{3 * time.Millisecond, 140 * time.Millisecond, 30 * time.Millisecond},
	} {
		if got := nextReading(t0, c.cost, c.last).Sub(t0); got != c.want {
			t.Errorf("cost %v last %v: next after %v, want %v", c.cost, c.last, got, c.want)
		}
	}
}
