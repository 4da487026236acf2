package demo

import "fmt"

// The interface-down failover's bounds (README, failover_gap_ms): its
// floor is one signalling trip up the 40 ms lte link and one data trip
// down it; its acceptance bound is 100 ms.
const (
	failoverFloorMs = 2 * 40
	failoverBoundMs = 100
)

// The silent failure's bound (issue 14). Nothing reports the failure:
// both ends find it from missing arrivals and unanswered probes
// (internal/paths). It has no floor: the access router's queue toward the
// mobile node drains after the failure, and with one FIFO (--qdisc fifo)
// the downlink's last packets on wlan0 arrive up to 100 ms late, which
// shortens the measured gap by as much (57.7 ms was seen).
const silentBoundMs = 300

// GapVerdicts judges the failover gaps of each direction against the
// bound of the failure the run made.
func (s *Summary) GapVerdicts() (boundMs float64, down, up Verdict, why []string) {
	floor, bound := float64(failoverFloorMs), float64(failoverBoundMs)
	if s.Silent {
		floor, bound = 0, silentBoundMs
	}
	down, w := judgeGap(s.FailoverGapMs, s.Probe.SenderStallMs, floor, bound)
	if w != "" {
		why = append(why, "downlink: "+w)
	}
	// The uplink's signalling needs no trip down the slow link: no floor.
	up, w = judgeGap(s.UplinkFailoverGapMs, s.UplinkProbe.SenderStallMs, 0, bound)
	if w != "" {
		why = append(why, "uplink: "+w)
	}
	return bound, down, up, why
}

// Verdict is what one measured interruption says about a run.
type Verdict int

const (
	// Pass: the gap lies between its physical floor and its bound.
	Pass Verdict = iota
	// Unresolved: the gap exceeds its bound but is shorter than the probe
	// sender's own longest pause, so the busy machine, not the network,
	// may have made it; only such a gap excuses another attempt.
	Unresolved
	// Fail: the gap exceeds its bound although the sender kept sending, or
	// it is below the floor, which no working path can beat (the
	// measurement is broken).
	Fail
)

func (v Verdict) String() string {
	return [...]string{"pass", "unresolved", "fail"}[v]
}

// judgeGap applies the README's rule to an interruption of gapMs: gaps
// below the sender's pause (stallMs) are not resolved. floorMs is what
// physics allows at best: for the failover, one signalling trip up the slow
// link and one data trip down it.
func judgeGap(gapMs, stallMs, floorMs, boundMs float64) (Verdict, string) {
	switch {
	case gapMs < floorMs:
		return Fail, fmt.Sprintf("gap %.1f ms below its physical floor %.0f ms: the measurement is broken", gapMs, floorMs)
	case gapMs <= boundMs:
		return Pass, ""
	case gapMs < stallMs:
		return Unresolved, fmt.Sprintf("gap %.1f ms above %.0f ms but below the probe sender's pause %.1f ms (busy machine)", gapMs, boundMs, stallMs)
	default:
		return Fail, fmt.Sprintf("gap %.1f ms above %.0f ms while the probe sender paused at most %.1f ms", gapMs, boundMs, stallMs)
	}
}
