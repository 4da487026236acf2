package binding

import "time"

// Retransmission timers of the mobile node (RFC 6275 sections 11.8, 12, 13).
const (
	// InitialBindackTimeout: first retransmission timeout of a Binding
	// Update (RFC 6275 section 12, INITIAL_BINDACK_TIMEOUT).
	InitialBindackTimeout = 1 * time.Second
	// InitialBindackTimeoutFirstReg: the same for the first home
	// registration, which waits for the home agent's DAD (RFC 6275 sections
	// 11.8 and 13, default 1.5 seconds).
	InitialBindackTimeoutFirstReg = 1500 * time.Millisecond
	// MaxBindackTimeout: the timeout doubles on each retransmission until
	// it reaches this value (RFC 6275 section 12, MAX_BINDACK_TIMEOUT).
	MaxBindackTimeout = 32 * time.Second
)

// nextBackoff returns the timeout for the next retransmission after one
// that waited d, and false when d already reached MaxBindackTimeout: the
// mobile node then stops retransmitting (RFC 6275 section 11.8: "until ...
// the timeout period reaches the value MAX_BINDACK_TIMEOUT").
func nextBackoff(d time.Duration) (time.Duration, bool) {
	if d >= MaxBindackTimeout {
		return 0, false
	}
	return min(2*d, MaxBindackTimeout), true
}

// BackoffSchedule lists the timeouts a Binding Update transaction waits,
// one per transmission, before the mobile node gives up.
func BackoffSchedule(firstReg bool) []time.Duration {
	d := InitialBindackTimeout
	if firstReg {
		d = InitialBindackTimeoutFirstReg
	}
	out := []time.Duration{d}
	for {
		n, ok := nextBackoff(d)
		if !ok {
			return out
		}
		d = n
		out = append(out, d)
	}
}
