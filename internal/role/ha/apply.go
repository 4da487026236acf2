package ha

import (
	"context"
	"log/slog"
	"slices"

	"monami/internal/binding"
)

// follow takes note of the binding cache's decisions: each home address
// they touch gets its forwarding derived again at the next commit
// (forward.go), and each binding keeps the encapsulation of the Binding
// Update that created it: RFC 5555's F flag belongs to the Binding Update,
// so it covers every binding the update registers (a refresh that changes
// it is reconcileEncap's).
// Proxy Neighbor Discovery follows too.
func (h *HomeAgent) follow(changes []binding.Change) {
	defer h.defendHomeAddresses(changes)
	for _, c := range changes {
		b := c.Binding
		key := bindingKey{b.HoA, b.BID}
		h.touch(b.HoA)
		switch c.Kind {
		case binding.BindingAdded, binding.BindingUpdated:
			if _, had := h.encap[key]; !had || c.Kind == binding.BindingAdded {
				h.encap[key] = h.pendingEncap
			}
			h.noteUDPPath(&b)
			// Every refresh passes here: the line's arguments (a formatted
			// time, boxed addresses) are built only when it is logged.
			if h.log.Enabled(context.Background(), slog.LevelInfo) {
				h.log.Info("binding "+c.Kind.String(), "hoa", b.HoA, "bid", b.BID, "coa", b.CoA, "priority", b.Priority,
					"expires", b.Expires.Format("15:04:05"), "cause", cause(c.Cause))
			}
		case binding.BindingRemoved:
			delete(h.encap, key)
			delete(h.udpPaths, key)
			h.log.Info("binding removed", "hoa", b.HoA, "bid", b.BID, "coa", b.CoA, "cause", cause(c.Cause))
		case binding.PrimaryChanged:
			if !tunnelled(&b) {
				h.log.Info("home address has no tunnel", "hoa", b.HoA, "cause", cause(c.Cause))
			} else {
				h.log.Info("home address tunnelled", "hoa", b.HoA, "bid", b.BID, "coa", b.CoA, "cause", cause(c.Cause))
			}
		}
	}
}

func (h *HomeAgent) dpError(what string, err error, kv ...any) {
	h.cnt.inc(&h.cnt.dataplaneErrors)
	h.log.Error(what, append(kv, "err", err)...)
}

func cause(c binding.Cause) string {
	switch c {
	case binding.CauseRegistration:
		return "registration"
	case binding.CauseDeregistration:
		return "deregistration"
	case binding.CauseReturnHome:
		return "returned home"
	case binding.CauseOverwrite:
		return "overwritten"
	case binding.CauseExpired:
		return "expired"
	}
	return "unknown"
}

// defendHomeAddresses starts or stops proxy Neighbor Discovery for the home
// addresses the changes touch, as the binding cache says (RFC 6275 section
// 10.4.1; RFC 5648 section 5.6: not while one interface is at home).
func (h *HomeAgent) defendHomeAddresses(changes []binding.Change) {
	if h.proxy == nil {
		return
	}
	for i, c := range changes {
		hoa := c.Binding.HoA
		if !hoa.IsValid() || slices.ContainsFunc(changes[:i], func(p binding.Change) bool { return p.Binding.HoA == hoa }) {
			continue
		}
		want := h.cache.DefendHomeAddress(hoa)
		if want == h.defended[hoa] {
			continue
		}
		var err error
		if want {
			err = h.proxy.Defend(hoa)
		} else {
			err = h.proxy.Release(hoa)
		}
		if err != nil {
			h.log.Error("proxy neighbor discovery", "hoa", hoa, "defend", want, "err", err)
			continue
		}
		if want {
			h.defended[hoa] = true
		} else {
			delete(h.defended, hoa)
		}
		h.log.Info("home address on the home link", "hoa", hoa, "proxy_nd", want)
	}
}
