package paths

import "time"

// Config sets the timings. The zero value of a field takes its default.
type Config struct {
	// ProbeInterval is the probe period of an up path: the idle cost, one
	// Echo Request out and one Echo Reply back per interval (default 1 s).
	ProbeInterval time.Duration
	// ProbeUp: probe up paths at ProbeInterval (the mobile node does; the
	// home agent leaves that to it and probes only suspect paths).
	ProbeUp bool
	// ProbeDown: probe down paths at ProbeInterval to see them come back.
	ProbeDown bool
	// ActiveWindow: a path that received data within this window carries
	// traffic, and a gap of SuspectAfter in its arrivals makes it suspect
	// (default 1 s).
	ActiveWindow time.Duration
	// SuspectAfter: silence on an active path before it is suspect
	// (default 50 ms, a few packets of any interactive or bulk flow).
	SuspectAfter time.Duration
	// ProbeTimeout: an unanswered probe of a quiet path makes it suspect
	// (default 500 ms).
	ProbeTimeout time.Duration
	// SuspectProbeInterval is the probe period of a suspect path (default
	// 25 ms).
	SuspectProbeInterval time.Duration
	// DownAfter: a suspect path with nothing arriving for this long is down
	// (default 100 ms, four suspect probes; at least 3 times the lowest
	// recent RTT).
	DownAfter time.Duration
	// LossTimeout: a probe unanswered this long counts as lost (default 1 s).
	LossTimeout time.Duration
	// LossWindow is the number of last probe outcomes the loss is taken
	// over (default 20).
	LossWindow int
}

// Defaults: a silent failure of a path carrying traffic is declared after
// SuspectAfter + DownAfter = 150 ms, which leaves the other path's one-way
// delay (40 ms in the lab's lte) and the roles' polling within the 300 ms
// failover bound; an idle path costs one probe and one reply per second.
const (
	DefaultProbeInterval        = time.Second
	DefaultActiveWindow         = time.Second
	DefaultSuspectAfter         = 40 * time.Millisecond
	DefaultProbeTimeout         = 500 * time.Millisecond
	DefaultSuspectProbeInterval = 25 * time.Millisecond
	DefaultDownAfter            = 100 * time.Millisecond
	DefaultLossTimeout          = time.Second
	DefaultLossWindow           = 20
)

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ProbeInterval, DefaultProbeInterval)
	def(&c.ActiveWindow, DefaultActiveWindow)
	def(&c.SuspectAfter, DefaultSuspectAfter)
	def(&c.ProbeTimeout, DefaultProbeTimeout)
	def(&c.SuspectProbeInterval, DefaultSuspectProbeInterval)
	def(&c.DownAfter, DefaultDownAfter)
	def(&c.LossTimeout, DefaultLossTimeout)
	if c.LossWindow <= 0 {
		c.LossWindow = DefaultLossWindow
	}
	return c
}
