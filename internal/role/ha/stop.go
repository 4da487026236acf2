package ha

import (
	"monami/internal/dataplane"
)

// StopMode is what a stop leaves behind (docs/ha-persistence.md, "Stopping
// the home agent").
type StopMode int32

const (
	// StopDrain removes everything the home agent installed: routes, BPF
	// program, nftables table, decapsulation routes, the home prefixes'
	// unreachable routes. Traffic to the mobile nodes stops with it.
	StopDrain StopMode = iota
	// StopUpgrade leaves the kernel data plane forwarding for the next
	// start, which restores the bindings from the store and adopts it.
	// It applies only to a single node with a durable store (bolt) and
	// the kernel backend: without the store the next start knows no
	// bindings to adopt, the userspace backend forwards only while its
	// process runs, and a cluster node's stop ends its term, after which
	// it must not forward (the standby takes over). Otherwise the stop
	// drains.
	StopUpgrade
)

func (m StopMode) String() string {
	if m == StopUpgrade {
		return "upgrade"
	}
	return "drain"
}

// SetStopMode chooses what the coming stop leaves behind; call it before
// Run's context ends. The default is StopDrain.
func (h *HomeAgent) SetStopMode(m StopMode) { h.stopMode.Store(int32(m)) }

// keepsForwarding reports whether the stop leaves the data plane in place.
func (h *HomeAgent) keepsForwarding() bool {
	return StopMode(h.stopMode.Load()) == StopUpgrade && h.durable
}

// closeDataPlane detaches or closes the data plane (and the home prefix
// routes with it) as the stop mode says.
func (h *HomeAgent) closeDataPlane() {
	if h.dp == nil {
		return
	}
	if !h.keepsForwarding() {
		h.prefixes.close()
		if err := h.dp.Close(); err != nil {
			h.log.Warn("closing data plane", "err", err)
		}
		return
	}
	kept, err := dataplane.Detach(h.dp)
	if err != nil {
		h.log.Warn("detaching data plane", "err", err)
	}
	if !kept {
		// The userspace backend's forwarding is its process.
		h.log.Warn("upgrade stop: the userspace data plane cannot forward without its process; its state is removed",
			"backend", h.dp.Backend())
		h.prefixes.close()
		return
	}
	// The unreachable routes stay with the tunnel routes they complete
	// (a home address without a binding must not loop meanwhile).
	h.prefixes.detach()
	h.log.Info("upgrade stop: the data plane keeps forwarding for the next start", "bindings", h.cache.Len())
}
