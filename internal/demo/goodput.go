package demo

import (
	"time"
)

// Goodput after failover: how soon the TCP stream uses the link it failed
// over to. The reference is that link's goodput measured in the same run:
// before the daemons start, one TCP connection with the same congestion
// control runs from the correspondent straight to the mobile node's lte
// care-of address (no monami, no tunnel) for calibrationDuration, counted
// after calibrationWarmup. See docs/failover-goodput.md.
const (
	calibrationDuration = 4 * time.Second
	calibrationWarmup   = 2 * time.Second
	// goodputWindow is the span over which goodput is averaged (2 s: it
	// smooths the burst a receiver reads when a retransmission fills a
	// hole), goodputHold how long the window's start must keep reaching
	// the mark (a BBR sender starts on the new link at the old link's
	// pacing rate, then falls: a first good window is not "reached"), and
	// goodputStep how finely the start is searched.
	goodputWindow = 2 * time.Second
	goodputHold   = time.Second
	goodputStep   = 50 * time.Millisecond
	// reachFraction of the reference counts as having reached the link.
	reachFraction = 0.8
)

// FailoverGoodput is the goodput of the TCP stream on the new link, from
// the failure of the active link until it comes back.
type FailoverGoodput struct {
	// Congestion is the sender's congestion control, read from its socket.
	Congestion string `json:"congestion_control"`
	// LinkMbps is the new link's goodput measured in this run (Reference).
	LinkMbps  float64 `json:"new_link_goodput_mbit_s"`
	Reference string  `json:"reference"`
	// TimeTo80Ms is the time from the failure to the first moment t at
	// which the application reads at least 80% of LinkMbps: over the timeline
	// slot that starts at t, and over every window of WindowMs that starts
	// between t and t+HoldMs; null when the phase held no such t.
	TimeTo80Ms *float64 `json:"time_to_80pct_ms"`
	WindowMs   float64  `json:"window_ms"`
	HoldMs     float64  `json:"hold_ms"`
	// PhaseMs is the time the new link carried the stream alone (failure
	// to restore), MeanMbps the application's goodput over it.
	PhaseMs  float64 `json:"phase_ms"`
	MeanMbps float64 `json:"mean_goodput_mbit_s"`
	// PercentBySecond is the goodput in each whole second after the
	// failure, in percent of LinkMbps.
	PercentBySecond []float64 `json:"percent_by_second"`
}

const calibrationReference = "single TCP, same congestion control, correspondent to the lte care-of address without monami (no tunnel header), measured before the daemons start"

// failoverGoodput computes FailoverGoodput from the application's reads.
func failoverGoodput(reads []arrival, fail, restore time.Time, linkMbps float64) FailoverGoodput {
	g := FailoverGoodput{LinkMbps: linkMbps, Reference: calibrationReference, WindowMs: ms(goodputWindow), HoldMs: ms(goodputHold), PhaseMs: ms(restore.Sub(fail))}
	mbps := func(from, to time.Time) float64 {
		var b int64
		for _, r := range reads {
			if !r.at.Before(from) && r.at.Before(to) {
				b += int64(r.bytes)
			}
		}
		return float64(b) * 8 / to.Sub(from).Seconds() / 1e6
	}
	if !restore.After(fail) {
		return g
	}
	g.MeanMbps = mbps(fail, restore)
	for t := fail; !t.Add(time.Second).After(restore); t = t.Add(time.Second) {
		g.PercentBySecond = append(g.PercentBySecond, round1(100*mbps(t, t.Add(time.Second))/linkMbps))
	}
	if linkMbps <= 0 {
		return g
	}
	// from is the start of the current run of windows at the mark; a run
	// starts only where the rate itself (one slot) is at the mark, so that
	// a window's average does not hide the stall at its start.
	mark := reachFraction * linkMbps
	var from time.Time
	for t := fail; !t.Add(goodputWindow).After(restore); t = t.Add(goodputStep) {
		if mbps(t, t.Add(goodputWindow)) < mark {
			from = time.Time{}
			continue
		}
		if from.IsZero() {
			if mbps(t, t.Add(slot)) < mark {
				continue
			}
			from = t
		}
		if t.Sub(from) >= goodputHold {
			v := ms(from.Sub(fail))
			g.TimeTo80Ms = &v
			break
		}
	}
	return g
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
