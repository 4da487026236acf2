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
	// ProbeBusy: probe a path that carries traffic (data arrived within
	// ActiveWindow) at BusyProbeInterval, for a loss figure within a
	// second. Both roles do; an idle path keeps ProbeInterval.
	ProbeBusy bool
	// BusyProbeInterval is the probe period of a busy or degraded path
	// (default 25 ms: 40 probes a second, 40 samples in the loss window
	// of one second).
	BusyProbeInterval time.Duration
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
	// LossTimeout: a probe unanswered this long counts as lost (default
	// 1 s). A probe is counted lost sooner when a later probe of the same
	// path is answered: a path delivers in order.
	LossTimeout time.Duration
	// LossWindow is the number of last probe outcomes the loss is taken
	// over (default 40: one second of a busy path's probes).
	LossWindow int
	// MaxLoss: a path whose loss is above it is degraded (default 0.10).
	// The count is taken over a full window, lost > MaxLoss*LossWindow, so
	// a few early samples cannot degrade a path.
	MaxLoss float64
	// RecoverWindow: a degraded path is good again when the last
	// RecoverWindow outcomes, all taken since it degraded, lost at most
	// MaxLoss/2 of them (default 80: two seconds of probes). The longer
	// window and the lower bar are the hysteresis.
	RecoverWindow int
}

// Defaults: a silent failure of a path carrying traffic is declared after
// SuspectAfter + DownAfter = 140 ms, which leaves the other path's one-way
// delay (40 ms in the lab's lte) and the roles' polling within the 300 ms
// failover bound; an idle path costs one probe and one reply per second;
// a busy path with 20% loss is degraded within about a second.
const (
	DefaultProbeInterval        = time.Second
	DefaultBusyProbeInterval    = 25 * time.Millisecond
	DefaultActiveWindow         = time.Second
	DefaultSuspectAfter         = 40 * time.Millisecond
	DefaultProbeTimeout         = 500 * time.Millisecond
	DefaultSuspectProbeInterval = 25 * time.Millisecond
	DefaultDownAfter            = 100 * time.Millisecond
	DefaultLossTimeout          = time.Second
	DefaultLossWindow           = 40
	DefaultMaxLoss              = 0.10
	DefaultRecoverWindow        = 80
)

// rttWindow is how many RTT samples the lowest round trip is taken over,
// at most one per ProbeInterval, and none from the fast probes of a busy
// path: they wait in the queue its traffic builds (three times 100 ms
// behind the lab's bulk TCP on wlan), which would stretch DownAfter and
// slow the silent failover past its bound.
const rttWindow = 20

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ProbeInterval, DefaultProbeInterval)
	def(&c.BusyProbeInterval, DefaultBusyProbeInterval)
	def(&c.ActiveWindow, DefaultActiveWindow)
	def(&c.SuspectAfter, DefaultSuspectAfter)
	def(&c.ProbeTimeout, DefaultProbeTimeout)
	def(&c.SuspectProbeInterval, DefaultSuspectProbeInterval)
	def(&c.DownAfter, DefaultDownAfter)
	def(&c.LossTimeout, DefaultLossTimeout)
	if c.LossWindow <= 0 {
		c.LossWindow = DefaultLossWindow
	}
	if c.MaxLoss <= 0 {
		c.MaxLoss = DefaultMaxLoss
	}
	if c.RecoverWindow <= 0 {
		c.RecoverWindow = DefaultRecoverWindow
	}
	return c
}
