package ha

import (
	"context"
	"sync/atomic"
	"time"

	"monami/internal/dataplane"
)

// pathPoll is how often, at most, the home agent reads its per-endpoint
// receive counters and runs the path state machines (internal/paths).
const pathPoll = 20 * time.Millisecond

// pathShare bounds what path rounds cost: a reading of every endpoint's
// counter takes milliseconds at thousands of mobile nodes (one nftables
// dump), and so does the round on the event loop. The next reading waits
// long enough that both together take at most this share of the time.
// Detection then slows with the number of endpoints (docs/paths.md)
// instead of taking the CPU the Binding Updates need on a small machine.
const pathShare = 0.1

// counterReading is one reading of the data plane's per-endpoint receive
// counters (nil without an EndpointCounter: the round still ticks).
type counterReading struct {
	counts map[dataplane.EndpointKey]uint64
	err    error
}

// readCounters reads the counters off the event loop, so the loop keeps
// answering Binding Updates while a dump runs, and hands each reading to
// the loop. The hand-over waits for the loop: readings never queue, and
// the one the loop takes is at most one loop turn old. loopCost is what
// the loop's last round took (pathsRound).
func readCounters(ctx context.Context, ec dataplane.EndpointCounter, loopCost *atomic.Int64, out chan<- counterReading) {
	var last time.Duration
	for {
		start := time.Now()
		var r counterReading
		if ec != nil {
			r.counts, r.err = ec.EndpointCounters()
		}
		spent := time.Since(start)
		select {
		case out <- r:
		case <-ctx.Done():
			return
		}
		cost := spent + time.Duration(loopCost.Load())
		wait := time.Until(nextReading(start, cost, last))
		last = cost
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
}

// nextReading is when the reading after one that started at start may
// begin: pathPoll later, or later still so that rounds (the reading here
// and the round on the loop) take at most pathShare of the time. The
// cost taken is the lower of the last two rounds': on a busy machine a
// reader or loop descheduled for 140 ms (seen at a load average of 13 on
// 2 cores) would otherwise stop the rounds for 1.4 s, and a silent
// failure then went unnoticed that long; a home agent whose rounds are
// all slow still waits in proportion.
func nextReading(start time.Time, cost, last time.Duration) time.Time {
	if last > 0 {
		cost = min(cost, last)
	}
	return start.Add(max(pathPoll, time.Duration(float64(cost)/pathShare)))
}
