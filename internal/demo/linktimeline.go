package demo

import (
	"fmt"
	"sync"
	"time"

	"monami/internal/lab"
)

// The per-link timeline of the lab scenarios: the mobile node's access
// interface counters (all traffic, both directions), read every
// counterPoll and reported per timelineStep.
const (
	counterPoll  = 5 * time.Millisecond
	timelineStep = 100 * time.Millisecond
)

// counterRead is one reading of an interface's byte counters.
type counterRead struct {
	at     time.Time
	rx, tx uint64
}

// counterSampler polls the mobile node's access interfaces.
type counterSampler struct {
	l     *lab.Lab
	mu    sync.Mutex
	reads map[string][]counterRead
	err   error
	stop  chan struct{}
	done  chan struct{}
}

func startCounters(l *lab.Lab) (*counterSampler, error) {
	c := &counterSampler{l: l, reads: map[string][]counterRead{}, stop: make(chan struct{}), done: make(chan struct{})}
	if err := c.poll(); err != nil {
		return nil, err
	}
	go c.run()
	return c, nil
}

func (c *counterSampler) run() {
	defer close(c.done)
	t := time.NewTicker(counterPoll)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if err := c.poll(); err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
	}
}

func (c *counterSampler) poll() error {
	h, err := c.l.MustNode("mn").Netlink()
	if err != nil {
		return err
	}
	for _, a := range accessLinks {
		ln, err := h.LinkByName(a.ifname)
		if err != nil {
			return fmt.Errorf("link counters %s: %w", a.ifname, err)
		}
		st := ln.Attrs().Statistics
		if st == nil {
			return fmt.Errorf("link counters %s: none", a.ifname)
		}
		r := counterRead{time.Now(), st.RxBytes, st.TxBytes}
		c.mu.Lock()
		c.reads[a.ifname] = append(c.reads[a.ifname], r)
		c.mu.Unlock()
	}
	return nil
}

// finish stops the polling and returns the readings.
func (c *counterSampler) finish() (map[string][]counterRead, error) {
	close(c.stop)
	<-c.done
	return c.reads, c.err
}

// LinkSlot is one step of the per-link timeline: the bytes each access
// link of the mobile node carried, down (received by the mobile node) and
// up (sent by it).
type LinkSlot struct {
	AtMs float64             `json:"at_ms"`
	Link map[string]Directed `json:"bytes"`
}

// Directed counts bytes or packets of one link, each way.
type Directed struct {
	Down uint64 `json:"down"`
	Up   uint64 `json:"up"`
}

// linkTimeline bins the readings into steps from t0 to end: the bytes of a
// step are the counter's growth between the last readings at or before its
// two edges.
func linkTimeline(reads map[string][]counterRead, t0, end time.Time, step time.Duration) []LinkSlot {
	var out []LinkSlot
	for at := t0; at.Before(end); at = at.Add(step) {
		s := LinkSlot{AtMs: ms(at.Sub(t0)), Link: map[string]Directed{}}
		for ifn, rs := range reads {
			a, okA := readingAt(rs, at)
			b, okB := readingAt(rs, at.Add(step))
			if okA && okB {
				s.Link[ifn] = Directed{Down: b.rx - a.rx, Up: b.tx - a.tx}
			}
		}
		out = append(out, s)
	}
	return out
}

// readingAt is the last reading at or before t.
func readingAt(rs []counterRead, t time.Time) (counterRead, bool) {
	var r counterRead
	ok := false
	for _, x := range rs {
		if x.at.After(t) {
			break
		}
		r, ok = x, true
	}
	return r, ok
}
