package forwarding

import "time"

// Affinity remembers which path each shared flow was placed on, for
// entries whose ReturnPolicy is Stay: when a path returns, flows that
// moved away keep their new path and only new flows use it. A userspace
// data path holds one per table generation chain; the kernel backend
// keeps the same state in an LRU map. It is pure: callers pass the time.
type Affinity struct {
	idle  time.Duration
	max   int
	flows map[affinityKey]*placement
}

type affinityKey struct {
	entry Key
	flow  FlowKey
}

type placement struct {
	path PathID
	last time.Time
}

// NewAffinity makes a table that forgets a flow idle for longer than idle
// and holds at most max flows (0: unbounded); past max, a new flow is
// placed without being remembered, as under Return.
func NewAffinity(idle time.Duration, max int) *Affinity {
	return &Affinity{idle: idle, max: max, flows: map[affinityKey]*placement{}}
}

// Len is the number of remembered flows.
func (a *Affinity) Len() int { return len(a.flows) }

// Pick is the package Pick, except that under Share with Stay a flow keeps
// the path it was first given for as long as that path stays usable.
func (a *Affinity) Pick(now time.Time, e *Entry, k *FlowKey) []PathID {
	if e.Mode != Share || e.Return != Stay {
		return Pick(e, k)
	}
	key := affinityKey{entry: e.Key(), flow: *k}
	if p := a.flows[key]; p != nil && now.Sub(p.last) <= a.idle && usable(e, p.path) {
		p.last = now
		return []PathID{p.path}
	}
	id, ok := share(e.Paths, FlowHash(k))
	if !ok {
		delete(a.flows, key)
		return nil
	}
	if p := a.flows[key]; p != nil {
		p.path, p.last = id, now
	} else if a.max == 0 || len(a.flows) < a.max {
		a.flows[key] = &placement{path: id, last: now}
	}
	return []PathID{id}
}

// Expire forgets flows idle for longer than the idle timeout and returns
// how many it forgot.
func (a *Affinity) Expire(now time.Time) int {
	n := 0
	for k, p := range a.flows {
		if now.Sub(p.last) > a.idle {
			delete(a.flows, k)
			n++
		}
	}
	return n
}

func usable(e *Entry, id PathID) bool {
	for i := range e.Paths {
		if e.Paths[i].ID == id {
			return e.Paths[i].Usable && e.Paths[i].Weight > 0
		}
	}
	return false
}
