package paths

import (
	"fmt"
	"net/netip"
	"sort"
	"time"
)

// Key names a path: the local and the peer outer address (care-of address
// and home agent at the mobile node, the reverse at the home agent).
type Key struct{ Local, Peer netip.Addr }

func (k Key) String() string { return fmt.Sprintf("%s-%s", k.Local, k.Peer) }

// State of a path: Up -> Suspect -> Down -> Up.
type State uint8

const (
	Up State = iota
	Suspect
	Down
)

func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Suspect:
		return "suspect"
	case Down:
		return "down"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// ActionKind says what Tick asks for.
type ActionKind uint8

const (
	// SendProbe: send an Echo Request with Seq on the path.
	SendProbe ActionKind = iota
	// StateChanged: the path's state is now State (was Was).
	StateChanged
	// QualityChanged: the path is now Degraded (its loss above MaxLoss)
	// or good again.
	QualityChanged
)

// Action is one thing for the role to do.
type Action struct {
	Kind       ActionKind
	Key        Key
	Seq        uint16
	State, Was State
	Degraded   bool
	Reason     string
}

// Table holds the paths.
type Table struct {
	cfg   Config
	paths map[Key]*path
	seq   uint16
}

// New returns an empty table.
func New(cfg Config) *Table {
	return &Table{cfg: cfg.withDefaults(), paths: map[Key]*path{}}
}

// Config returns the timings in force.
func (t *Table) Config() Config { return t.cfg }

// Add starts judging k as up (an address that just came is given the
// benefit of the doubt; a probe goes at the next Tick). Adding a known
// path does nothing.
func (t *Table) Add(now time.Time, k Key) {
	if t.paths[k] != nil {
		return
	}
	t.paths[k] = &path{since: now, lastAny: now, probeNow: true, outstanding: map[uint16]probe{}}
}

// Remove forgets k.
func (t *Table) Remove(k Key) { delete(t.paths, k) }

// Has reports whether k is judged.
func (t *Table) Has(k Key) bool { return t.paths[k] != nil }

// State returns k's state; an unknown path counts as up.
func (t *Table) State(k Key) State {
	if p := t.paths[k]; p != nil {
		return p.state
	}
	return Up
}

// Degraded reports whether k's loss is above MaxLoss (with hysteresis).
func (t *Table) Degraded(k Key) bool {
	p := t.paths[k]
	return p != nil && p.q.degraded
}

// Received records the receive counter of k (packets that came out of
// the tunnel from the peer, after the ingress check). An increase since the
// last call is proof of life.
func (t *Table) Received(now time.Time, k Key, total uint64) []Action {
	p := t.paths[k]
	if p == nil {
		return nil
	}
	if !p.counted {
		p.counted, p.rx = true, total
		return nil
	}
	if total <= p.rx {
		// A counter that went back (an endpoint reinstalled) is no proof.
		p.rx = total
		return nil
	}
	p.rx = total
	p.lastData, p.lastAny = now, now
	if p.unanswered {
		if now.Sub(p.unansweredSince) < t.cfg.ActiveWindow {
			// A queue filled before the failure is still draining
			// toward us: it says nothing of the other direction.
			return nil
		}
		// Data for longer than any queue holds: the peer stopped
		// answering Echo (or a filter took it). Its data decides, as
		// for a path never answered, until a probe is answered again.
		p.srtt, p.rttvar = 0, 0
	}
	return t.alive(now, k, p, "traffic")
}

// ProbeReply records an Echo Reply for seq on k. A reply to no
// outstanding probe is ignored (a late or forged one).
func (t *Table) ProbeReply(now time.Time, k Key, seq uint16) []Action {
	p := t.paths[k]
	if p == nil {
		return nil
	}
	pr, ok := p.outstanding[seq]
	if !ok {
		return nil
	}
	delete(p.outstanding, seq)
	p.rtt(now, now.Sub(pr.sent), t.cfg.ProbeInterval, !pr.fast)
	lost, sentUp := p.overtaken(pr.sent)
	acts := t.outcomes(now, k, p, lost-sentUp, false, true)
	acts = append(acts, t.outcomes(now, k, p, sentUp, true, false)...)
	p.lastAny, p.lastReply = now, now
	return append(acts, t.alive(now, k, p, "probe reply")...)
}

// outcomes records lost probes, then an answered one if ok, and judges
// the path's quality. The probes a failure swallows (timed out, or lost
// while the path is suspect or down) count in the loss figure but not in
// the judgement: they are the failure's, and would hold a path that came
// back degraded. The judgement counts the probes that a later answered
// one overtook: loss among delivered packets.
func (t *Table) outcomes(now time.Time, k Key, p *path, lost int, ok, failure bool) []Action {
	size := max(t.cfg.LossWindow, t.cfg.RecoverWindow)
	for range lost {
		p.q.add(outcome{failure: failure || p.state != Up}, size)
	}
	if ok {
		p.q.add(outcome{ok: true}, size)
	}
	if p.state != Up {
		return nil
	}
	// A path that never answered a probe (Echo filtered on the way, or
	// no reply yet) is not judged by its probes' loss: its data decides.
	if lost == 0 && !ok || p.srtt == 0 {
		return nil
	}
	changed, why := p.q.judge(now, &t.cfg)
	if !changed {
		return nil
	}
	return []Action{{Kind: QualityChanged, Key: k, State: p.state, Was: p.state, Degraded: p.q.degraded, Reason: why}}
}

func (t *Table) alive(now time.Time, k Key, p *path, why string) []Action {
	if p.state == Up {
		return nil
	}
	return []Action{t.set(now, k, p, Up, why)}
}

func (t *Table) set(now time.Time, k Key, p *path, s State, why string) Action {
	a := Action{Kind: StateChanged, Key: k, State: s, Was: p.state, Reason: why}
	p.state, p.since = s, now
	if s == Suspect {
		p.probeNow = true
	}
	if s == Up {
		p.unanswered = false
	}
	return a
}

// Tick moves the state machines on and says which probes to send. Call
// it at Deadline (or more often).
func (t *Table) Tick(now time.Time) []Action {
	var acts []Action
	for _, k := range t.keys() {
		acts = append(acts, t.tick(now, k, t.paths[k])...)
	}
	return acts
}

func (t *Table) tick(now time.Time, k Key, p *path) []Action {
	// A probe lost by timeout had no answered probe after it for
	// LossTimeout: the path failed (or stalled) rather than lost it.
	acts := t.outcomes(now, k, p, p.expire(now, t.cfg.LossTimeout), false, true)
	switch p.state {
	case Up:
		if t.unansweredBusy(now, p) {
			p.unanswered, p.unansweredSince = true, now
			acts = append(acts, t.set(now, k, p, Suspect, "busy probes unanswered"))
		} else if why := t.quiet(now, p); why != "" {
			acts = append(acts, t.set(now, k, p, Suspect, why))
		}
	case Suspect:
		if !now.Before(t.downAt(p)) {
			acts = append(acts, t.set(now, k, p, Down, "nothing arrived"))
		} else if at, ok := t.bothSilentAt(p); ok && !now.Before(at) {
			acts = append(acts, t.set(now, k, p, Down, "nothing arrived, busy probes unanswered"))
		}
	}
	if due, ok := t.due(now, p); ok && !now.Before(due) {
		t.seq++
		p.outstanding[t.seq] = probe{sent: now, fast: p.state == Up && t.fast(now, p), up: p.state == Up}
		p.sent++
		// From the due time, not now: a Tick every 20 ms then keeps a
		// 25 ms schedule's average rate instead of probing every 40 ms.
		p.lastProbe, p.probeNow = due, false
		if now.Sub(due) >= t.interval(now, p) {
			p.lastProbe = now
		}
		acts = append(acts, Action{Kind: SendProbe, Key: k, Seq: t.seq})
	}
	return acts
}

// due is when p's next probe is, false when p is not probed now.
func (t *Table) due(now time.Time, p *path) (time.Time, bool) {
	if !t.probing(now, p) {
		return time.Time{}, false
	}
	if p.probeNow || p.lastProbe.IsZero() {
		return now, true
	}
	return p.lastProbe.Add(t.interval(now, p)), true
}

// busy: data arrived within ActiveWindow.
func (t *Table) busy(now time.Time, p *path) bool {
	return !p.lastData.IsZero() && now.Sub(p.lastData) < t.cfg.ActiveWindow
}

// fast: probed at BusyProbeInterval, for its loss figure: a busy path
// (ProbeBusy), or a degraded one, which must show it is good again. A
// path that carried traffic and lost a probe within the last LossWindow
// stays fast until the window is clean or the path degraded: its traffic
// may have left because the other end judged it first (the home agent
// sees the uplink leave when the mobile node degrades the path).
func (t *Table) fast(now time.Time, p *path) bool {
	if p.q.degraded {
		return true
	}
	if !t.cfg.ProbeBusy || p.lastData.IsZero() {
		return false
	}
	if t.busy(now, p) {
		return true
	}
	_, lost, _ := p.q.last(t.cfg.LossWindow)
	return lost > 0
}

// unansweredBusy: the last busyMisses fast probes of a busy path are past
// their retransmission timeout unanswered, the oldest by SuspectAfter,
// whatever data still arrives. The failure of an access link's forwarding
// leaves the queue it had built toward us to drain, up to its length (100
// ms behind the lab's bulk TCP); that data proves nothing of the path's
// other direction, which died with the failure. The probe replies, sparse,
// do not wait behind that queue where the access network queues per flow
// (as Wi-Fi and LTE do: the lab's fq), so they stop within a round trip
// (docs/paths.md).
func (t *Table) unansweredBusy(now time.Time, p *path) bool {
	at, ok := t.unansweredAt(p)
	return ok && !now.Before(at)
}

// unansweredAt is when the fast probes outstanding make p suspect if none
// is answered first (false: too few outstanding, or no round trip yet).
func (t *Table) unansweredAt(p *path) (time.Time, bool) {
	if p.q.degraded {
		return time.Time{}, false // its traffic left; its probes' loss is known
	}
	rto := p.rto()
	sent := p.fastSent()
	if rto == 0 || len(sent) < busyMisses {
		return time.Time{}, false
	}
	return later(sent[0].Add(rto+t.cfg.SuspectAfter), sent[busyMisses-1].Add(rto)), true
}

// busyMisses: a lossy path (20% in issue 14's degraded case) misses three
// probes in a row 0.8% of the time, and is then suspect for one probe's
// round trip; a dead one misses them all. While its data flows, down takes
// another DownAfter of misses (seven in all at the busy rate: a 20% lossy
// path once in half an hour); bothSilentAt needs its data silent too.
const busyMisses = 3

// bothSilentAt is when a suspect path is down without DownAfter more:
// its data has been silent for SuspectAfter and its busy probes are past
// their timeout unanswered, both ways of knowing agree. The data stops a
// queue after the failure (the queue drains first); where one FIFO queues
// both, the probes' timeout holds that queue too, so waiting DownAfter
// more would add nothing but delay.
func (t *Table) bothSilentAt(p *path) (time.Time, bool) {
	at, ok := t.unansweredAt(p)
	if !ok {
		return time.Time{}, false
	}
	return later(at, p.lastData.Add(t.cfg.SuspectAfter)), true
}

// downAt is when a suspect path with nothing arriving is down.
func (t *Table) downAt(p *path) time.Time {
	return later(t.lastProof(p), p.since).Add(t.downAfter(p))
}

// lastProof is the last proof of life a suspect path is judged by: a probe
// reply alone if its probes went unanswered (unansweredBusy).
func (t *Table) lastProof(p *path) time.Time {
	if p.unanswered {
		return p.lastReply
	}
	return p.lastAny
}

// quiet says why an up path is suspect, or "".
func (t *Table) quiet(now time.Time, p *path) string {
	// Data since the path last became up: a flow that stopped and whose
	// path a probe then found alive is not suspected again until it resumes.
	if p.lastData.After(p.since) && now.Sub(p.lastData) < t.cfg.ActiveWindow+t.cfg.SuspectAfter &&
		now.Sub(p.lastAny) >= t.cfg.SuspectAfter {
		return "traffic stopped"
	}
	if old, ok := p.oldest(); ok && old.After(p.lastAny) && now.Sub(old) >= t.cfg.ProbeTimeout {
		return "probe unanswered"
	}
	return ""
}

// downAfter leaves a path whose round trip is long (a satellite, a
// cellular bearer) three of them to answer. It takes the lowest recent
// round trip, not srtt: the queueing of a loaded path inflates srtt, and a
// loaded path that still delivers never turns suspect anyway.
func (t *Table) downAfter(p *path) time.Duration {
	return max(t.cfg.DownAfter, 3*p.minRTT())
}

func (t *Table) probing(now time.Time, p *path) bool {
	switch p.state {
	case Up:
		return t.cfg.ProbeUp || t.fast(now, p)
	case Down:
		return t.cfg.ProbeDown
	}
	return true
}

func (t *Table) interval(now time.Time, p *path) time.Duration {
	switch {
	case p.state == Suspect:
		return t.cfg.SuspectProbeInterval
	case p.state == Up && t.fast(now, p):
		return t.cfg.BusyProbeInterval
	}
	return t.cfg.ProbeInterval
}

// Deadline is when Tick has something to do next (the zero time: no
// path), judged at now (a path's busy state ends with time).
func (t *Table) Deadline(now time.Time) time.Time {
	var d time.Time
	earlier := func(x time.Time) {
		if d.IsZero() || x.Before(d) {
			d = x
		}
	}
	for _, p := range t.paths {
		if due, ok := t.due(now, p); ok {
			earlier(due)
		}
		switch p.state {
		case Up:
			if p.lastData.After(p.since) {
				earlier(p.lastAny.Add(t.cfg.SuspectAfter))
			}
			if old, ok := p.oldest(); ok {
				earlier(old.Add(t.cfg.ProbeTimeout))
			}
		}
		if at, ok := t.nextChange(p); ok {
			earlier(at)
		}
	}
	return d
}

func (t *Table) keys() []Key {
	ks := make([]Key, 0, len(t.paths))
	for k := range t.paths {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].Local != ks[j].Local {
			return ks[i].Local.Less(ks[j].Local)
		}
		return ks[i].Peer.Less(ks[j].Peer)
	})
	return ks
}
