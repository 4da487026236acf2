package paths

import "time"

// Status is a path's figures, for ctl and the forwarding policy.
type Status struct {
	Key   Key
	State State
	Since time.Time
	// Loss is the share of the last Samples probes left unanswered.
	Loss    float64
	Samples int
	// Degraded: Loss went above MaxLoss at DegradedSince (and the path has
	// not been good since; DegradedSince is then when it recovered).
	Degraded      bool
	DegradedSince time.Time
	// SRTT and RTTVar are the smoothed round trip of the probes (RFC 6298
	// section 2); LastRTT the latest. Zero: no reply yet.
	SRTT, RTTVar, LastRTT time.Duration
	// LastArrival is the last proof of life; ProbesSent counts the probes.
	LastArrival time.Time
	ProbesSent  uint64
}

// Snapshot returns every path's figures, ordered by key.
func (t *Table) Snapshot() []Status {
	out := make([]Status, 0, len(t.paths))
	for _, k := range t.keys() {
		out = append(out, t.status(k, t.paths[k]))
	}
	return out
}

// Status returns k's figures.
func (t *Table) Status(k Key) (Status, bool) {
	p := t.paths[k]
	if p == nil {
		return Status{}, false
	}
	return t.status(k, p), true
}

func (t *Table) status(k Key, p *path) Status {
	loss, n := p.q.loss(t.cfg.LossWindow)
	return Status{Key: k, State: p.state, Since: p.since, Loss: loss, Samples: n, Degraded: p.q.degraded,
		DegradedSince: p.q.degradedSince, SRTT: p.srtt, RTTVar: p.rttvar,
		LastRTT: p.lastRTT, LastArrival: p.lastAny, ProbesSent: p.sent}
}
