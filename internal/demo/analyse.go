package demo

import (
	"encoding/json"
	"time"
)

// Event is something that happened during the run, at its offset from the
// start of the stream.
type Event struct {
	At   time.Duration `json:"at_ms"`
	What string        `json:"what"`
}

// MarshalJSON writes At in milliseconds.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		At   float64 `json:"at_ms"`
		What string  `json:"what"`
	}{ms(e.At), e.What})
}

// TCPResult says whether the application's connection survived.
type TCPResult struct {
	Sent     int64  `json:"bytes_sent"`
	Received int64  `json:"bytes_received"`
	Intact   bool   `json:"intact"`
	Error    string `json:"error,omitempty"`
}

// Sample is one slot of the timeline.
type Sample struct {
	At      time.Duration      `json:"-"`
	AtMs    float64            `json:"at_ms"`
	LinkBps map[string]float64 `json:"link_mbit_s"`
	AppBps  float64            `json:"app_mbit_s"`
}

// ProbeResult counts the 1 kHz UDP probe stream.
type ProbeResult struct {
	IntervalMs float64 `json:"interval_ms"`
	Sent       uint64  `json:"sent"`
	Received   uint64  `json:"received"`
	// SenderStallMs is the longest pause of the probe sender around the
	// failure: a busy machine, not the network. Gaps shorter than it are
	// not resolved.
	SenderStallMs float64 `json:"sender_stall_ms"`
}

// Summary is what the demo measured. The gaps are the longest time the
// mobile node received nothing of a 1 kHz UDP probe stream from the
// correspondent to the home address, from the event to 3 s after it: the
// interruption of the path. AppStallMs is the same for the TCP stream's
// reads, which adds TCP's own loss recovery.
type Summary struct {
	// Congestion is the TCP sender's congestion control, read from its socket.
	Congestion string `json:"congestion_control"`
	// Silent: the access router dropped the active link's traffic, the
	// link stayed up (issue 14's bound then: silentBoundMs each way).
	Silent        bool    `json:"silent,omitempty"`
	FailoverGapMs float64 `json:"failover_gap_ms"`
	RestoreGapMs  float64 `json:"restore_gap_ms"`
	// UplinkFailoverGapMs is the failover gap of the same probe sent the
	// other way, from the home address to the correspondent (UplinkProbe).
	UplinkFailoverGapMs float64     `json:"uplink_failover_gap_ms"`
	UplinkProbe         ProbeResult `json:"uplink_probe"`
	AppStallMs          float64     `json:"tcp_stall_ms"`
	// Goodput is the stream's goodput on the new link after the failure,
	// when the run measured that link's goodput as its reference.
	Goodput      *FailoverGoodput `json:"failover_goodput,omitempty"`
	Probe        ProbeResult      `json:"probe"`
	BytesPerLink map[string]int64 `json:"bytes_per_link"`
	BindingsSeen []string         `json:"bindings_seen"`
	TCP          TCPResult        `json:"tcp"`
	Events       []Event          `json:"events"`
	Timeline     []Sample         `json:"timeline"`
	SlotMs       float64          `json:"timeline_slot_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

const slot = 250 * time.Millisecond

func analyse(t0, fail, restore time.Time, opt Options, meters map[string]*meter, reads []arrival) *Summary {
	s := &Summary{BytesPerLink: map[string]int64{}, SlotMs: ms(slot), Silent: opt.Silent}
	nslots := int(opt.Duration/slot) + 1
	s.Timeline = make([]Sample, nslots)
	for i := range s.Timeline {
		s.Timeline[i] = Sample{At: time.Duration(i) * slot, AtMs: ms(time.Duration(i) * slot), LinkBps: map[string]float64{}}
	}
	for name, m := range meters {
		for _, a := range m.arrivals() {
			s.BytesPerLink[name] += int64(a.bytes)
			if i := int(a.at.Sub(t0) / slot); i >= 0 && i < nslots {
				s.Timeline[i].LinkBps[name] += float64(a.bytes)
			}
		}
	}
	for _, r := range reads {
		if i := int(r.at.Sub(t0) / slot); i >= 0 && i < nslots {
			s.Timeline[i].AppBps += float64(r.bytes)
		}
	}
	perSec := 8 / slot.Seconds() / 1e6
	for i := range s.Timeline {
		for k := range s.Timeline[i].LinkBps {
			s.Timeline[i].LinkBps[k] *= perSec
		}
		s.Timeline[i].AppBps *= perSec
	}
	s.AppStallMs = ms(longestGap(reads, fail, earlier(fail.Add(3*time.Second), restore)))
	return s
}

// longestGap is the longest time in [from, to] without an arrival,
// counted from the event at from (not from the last arrival before it: a
// stall that began before the event is not the event's gap); with no
// arrival at all in the window, the whole window.
func longestGap(as []arrival, from, to time.Time) time.Duration {
	var longest time.Duration
	prev := from
	for _, a := range as {
		if a.at.Before(from) {
			continue
		}
		if a.at.After(to) {
			break
		}
		longest = max(longest, a.at.Sub(prev))
		prev = a.at
	}
	return max(longest, to.Sub(prev))
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
