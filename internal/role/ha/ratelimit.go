package ha

import "time"

// limiter is a token bucket: at most burst events at once, refilled at rate
// per second. It bounds what a flood of bad packets can cost: log lines and
// answers to unauthenticated senders.
type limiter struct {
	rate, burst float64
	tokens      float64
	last        time.Time
	suppressed  uint64
}

func newLimiter(rate, burst float64) *limiter {
	return &limiter{rate: rate, burst: burst, tokens: burst}
}

// allow reports whether one more event fits now.
func (l *limiter) allow(now time.Time) bool {
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens >= 1 {
		l.tokens--
		return true
	}
	l.suppressed++
	return false
}
