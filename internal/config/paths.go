package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Paths is the path quality section of mn.yaml and ha.yaml
// (docs/paths.md): each end judges its paths by ICMPv6 Echo probes.
type Paths struct {
	// MaxLoss: a path whose measured loss is above it is degraded: it
	// ranks after every healthy path in the failover order and is left
	// out of sharing. "10%" or "0.1"; default 10%.
	MaxLoss string `yaml:"max_loss"`

	maxLoss float64
}

// DefaultMaxLoss is paths.max_loss when left out.
const DefaultMaxLoss = 0.10

// MaxLossRatio is paths.max_loss as a share (0..1).
func (p *Paths) MaxLossRatio() float64 {
	if p.maxLoss == 0 {
		return DefaultMaxLoss
	}
	return p.maxLoss
}

func (p *Paths) validate(e *errs) {
	if p.MaxLoss == "" {
		p.maxLoss = DefaultMaxLoss
		return
	}
	v, err := parseShare(p.MaxLoss)
	if err != nil {
		e.add("paths.max_loss: %v", err)
		return
	}
	// At 1% a window of 40 probes may lose none; at 100% nothing would
	// ever be degraded.
	if !(v >= 0.01 && v < 1) { // NaN too
		e.add("paths.max_loss: %s is outside 1%%..99%%", p.MaxLoss)
		return
	}
	p.maxLoss = v
}

// parseShare reads "10%" or "0.1".
func parseShare(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a share (\"10%%\" or \"0.1\")", s)
	}
	if pct {
		v /= 100
	}
	return v, nil
}
