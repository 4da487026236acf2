package paths

import "time"

// View is a path's figures as ctl shows them (the "paths" topic of both
// roles): JSON with milliseconds and percentages.
type View struct {
	State   string    `json:"state"`
	Since   time.Time `json:"since"`
	LossPct float64   `json:"loss_percent"`
	Samples int       `json:"loss_samples"`
	// Degraded: loss above paths.max_loss (since DegradedSince).
	Degraded      bool      `json:"degraded"`
	DegradedSince time.Time `json:"degraded_since,omitzero"`
	SRTTms        float64   `json:"srtt_ms"`
	RTTVarms      float64   `json:"rttvar_ms"`
	LastRTTms     float64   `json:"last_rtt_ms"`
	ProbesSent    uint64    `json:"probes_sent"`
}

// View returns s as ctl shows it.
func (s Status) View() View {
	v := View{State: s.State.String(), Since: s.Since, LossPct: 100 * s.Loss, Samples: s.Samples,
		Degraded: s.Degraded, SRTTms: ms(s.SRTT), RTTVarms: ms(s.RTTVar), LastRTTms: ms(s.LastRTT),
		ProbesSent: s.ProbesSent}
	if s.Degraded {
		v.DegradedSince = s.DegradedSince
	}
	return v
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
