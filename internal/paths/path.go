package paths

import (
	"time"
)

// path is one path's liveness and quality.
type path struct {
	state State
	since time.Time // of the state

	counted  bool
	rx       uint64    // receive counter at the last Received
	lastData time.Time // last increase of rx
	lastAny  time.Time // last proof of life: data or probe reply

	nextProbe   time.Time
	outstanding map[uint16]time.Time // probe sequence -> sent
	sent        uint64

	// srtt and rttvar as in RFC 6298 section 2 (alpha 1/8, beta 1/4).
	srtt, rttvar time.Duration
	lastRTT      time.Duration
	// rtts: the last samples (a ring), for the minimum: the propagation
	// delay, without the queueing that a loaded path adds to srtt.
	rtts    []time.Duration
	rttNext int
	// outcomes: the last probes, true when answered (a ring).
	outcomes []bool
	next     int
}

func (p *path) rtt(r time.Duration, window int) {
	p.lastRTT = r
	if len(p.rtts) < window {
		p.rtts = append(p.rtts, r)
	} else {
		p.rtts[p.rttNext] = r
		p.rttNext = (p.rttNext + 1) % window
	}
	if p.srtt == 0 {
		p.srtt, p.rttvar = r, r/2
		return
	}
	d := p.srtt - r
	if d < 0 {
		d = -d
	}
	p.rttvar = (3*p.rttvar + d) / 4
	p.srtt = (7*p.srtt + r) / 8
}

// minRTT is the lowest of the last samples (0: none).
func (p *path) minRTT() time.Duration {
	var m time.Duration
	for i, r := range p.rtts {
		if i == 0 || r < m {
			m = r
		}
	}
	return m
}

func (p *path) outcome(ok bool, window int) {
	if len(p.outcomes) < window {
		p.outcomes = append(p.outcomes, ok)
		return
	}
	p.outcomes[p.next] = ok
	p.next = (p.next + 1) % window
}

// expire counts probes unanswered for timeout as lost.
func (p *path) expire(now time.Time, timeout time.Duration, window int) {
	for seq, sent := range p.outstanding {
		if now.Sub(sent) >= timeout {
			delete(p.outstanding, seq)
			p.outcome(false, window)
		}
	}
}

func (p *path) oldest() (time.Time, bool) {
	var o time.Time
	for _, sent := range p.outstanding {
		if o.IsZero() || sent.Before(o) {
			o = sent
		}
	}
	return o, !o.IsZero()
}

func (p *path) loss() (float64, int) {
	if len(p.outcomes) == 0 {
		return 0, 0
	}
	lost := 0
	for _, ok := range p.outcomes {
		if !ok {
			lost++
		}
	}
	return float64(lost) / float64(len(p.outcomes)), len(p.outcomes)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
