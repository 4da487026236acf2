package paths

import (
	"fmt"
	"time"
)

// outcome is one probe's: answered, or lost, during a failure or not.
type outcome struct{ ok, failure bool }

// quality is a path's loss record and its degraded judgement.
type quality struct {
	// outcomes: the last probes (a ring of max(LossWindow,
	// RecoverWindow)).
	outcomes []outcome
	next     int
	// degraded: loss above MaxLoss, until RecoverWindow good outcomes.
	degraded      bool
	degradedSince time.Time
	sinceDegraded int // outcomes recorded since
}

func (q *quality) add(o outcome, size int) {
	if len(q.outcomes) < size {
		q.outcomes = append(q.outcomes, o)
	} else {
		q.outcomes[q.next] = o
		q.next = (q.next + 1) % size
	}
	q.sinceDegraded++
}

// last returns how many of the last n outcomes were lost, how many of
// those while the path was up, and how many outcomes there were (at most
// n).
func (q *quality) last(n int) (lost, lostUp, total int) {
	total = min(n, len(q.outcomes))
	size := len(q.outcomes)
	// Appended until full (next stays 0), then overwritten at next: the
	// newest is just before next either way.
	newest := (q.next - 1 + size) % max(size, 1)
	for i := 0; i < total; i++ {
		if o := q.outcomes[(newest-i+size)%size]; !o.ok {
			lost++
			if !o.failure {
				lostUp++
			}
		}
	}
	return lost, lostUp, total
}

// judge decides, after new outcomes, whether the path is degraded: lost
// above MaxLoss over a full LossWindow (fewer samples count as the
// window, so a short record cannot degrade a path), and good again when
// the last RecoverWindow outcomes, all since it degraded, lost at most
// half of MaxLoss.
func (q *quality) judge(now time.Time, c *Config) (changed bool, why string) {
	if !q.degraded {
		_, lost, _ := q.last(c.LossWindow)
		if float64(lost) > c.MaxLoss*float64(c.LossWindow) {
			q.degraded, q.degradedSince, q.sinceDegraded = true, now, 0
			return true, fmt.Sprintf("%d of the last %d probes lost", lost, c.LossWindow)
		}
		return false, ""
	}
	if q.sinceDegraded < c.RecoverWindow {
		return false, ""
	}
	_, lost, n := q.last(c.RecoverWindow)
	if float64(lost) <= c.MaxLoss/2*float64(n) {
		q.degraded, q.degradedSince = false, now
		return true, fmt.Sprintf("%d of the last %d probes lost", lost, n)
	}
	return false, ""
}

// loss is the share lost of the last LossWindow outcomes, and their
// number.
func (q *quality) loss(window int) (float64, int) {
	lost, _, n := q.last(window)
	if n == 0 {
		return 0, 0
	}
	return float64(lost) / float64(n), n
}
