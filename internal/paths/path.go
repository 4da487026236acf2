package paths

import (
	"slices"
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
	// lastReply is the last probe reply. unanswered: the path turned
	// suspect at unansweredSince because its busy probes went unanswered
	// (Table.unansweredBusy); only a probe reply then brings it back.
	lastReply       time.Time
	unanswered      bool
	unansweredSince time.Time

	outstanding map[uint16]probe // by sequence number
	sent        uint64

	// srtt and rttvar as in RFC 6298 section 2 (alpha 1/8, beta 1/4).
	srtt, rttvar time.Duration
	lastRTT      time.Duration
	// rtts: samples at most one per ProbeInterval (a ring), for the
	// minimum: the propagation delay, without the queueing that a loaded
	// path adds to srtt.
	rtts    []time.Duration
	rttNext int
	rttAt   time.Time // of the last sample taken into rtts

	q quality
	// lastProbe is when the probe schedule last fired (a due time, so
	// that a coarse Tick keeps the average rate); probeNow asks for one
	// at the next Tick.
	lastProbe time.Time
	probeNow  bool
}

// probe is an outstanding Echo Request: when it went, whether at the busy
// rate (its round trip then carries the queue of the path's traffic), and
// whether the path was up (the loss of a probe sent to a suspect or down
// path is the failure's).
type probe struct {
	sent time.Time
	fast bool
	up   bool // sent while the path was up
}

// rtt takes a round trip sample; floor says it may set the lowest round
// trip (not a busy path's: see rttWindow).
func (p *path) rtt(now time.Time, r, every time.Duration, floor bool) {
	p.lastRTT = r
	if floor && (p.rttAt.IsZero() || now.Sub(p.rttAt) >= every) {
		p.rttAt = now
		if len(p.rtts) < rttWindow {
			p.rtts = append(p.rtts, r)
		} else {
			p.rtts[p.rttNext] = r
			p.rttNext = (p.rttNext + 1) % rttWindow
		}
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

// expire counts probes unanswered for timeout as lost.
func (p *path) expire(now time.Time, timeout time.Duration) (lost int) {
	for seq, pr := range p.outstanding {
		if now.Sub(pr.sent) >= timeout {
			delete(p.outstanding, seq)
			lost++
		}
	}
	return lost
}

// overtaken counts as lost the probes sent before one just answered: the
// path delivers in order, so their replies are not coming (a late one is
// then ignored as unknown). sentUp of them went while the path was up.
func (p *path) overtaken(sent time.Time) (lost, sentUp int) {
	for seq, pr := range p.outstanding {
		if pr.sent.Before(sent) {
			delete(p.outstanding, seq)
			lost++
			if pr.up {
				sentUp++
			}
		}
	}
	return lost, sentUp
}

func (p *path) oldest() (time.Time, bool) {
	var o time.Time
	for _, pr := range p.outstanding {
		if o.IsZero() || pr.sent.Before(o) {
			o = pr.sent
		}
	}
	return o, !o.IsZero()
}

// fastSent is the send times of the outstanding fast probes, oldest
// first.
func (p *path) fastSent() []time.Time {
	var ts []time.Time
	for _, pr := range p.outstanding {
		if pr.fast {
			ts = append(ts, pr.sent)
		}
	}
	slices.SortFunc(ts, time.Time.Compare)
	return ts
}

// rto is when a probe's reply is late: srtt + 4 rttvar, RFC 6298 section
// 2.3's retransmission timeout without its 1 s floor (0: no reply yet).
func (p *path) rto() time.Duration {
	if p.srtt == 0 {
		return 0
	}
	return p.srtt + 4*p.rttvar
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
