package ha

import (
	"errors"
	"net/netip"
	"slices"

	"monami/internal/binding"
	"monami/internal/dataplane"
)

// apply programs the data plane for the binding cache's decisions:
//   - every binding gets a reverse-tunnel endpoint at the home agent that
//     accepts only its care-of address as outer source and its home address
//     as inner source (RFC 6275 section 10.4.5);
//   - each home address's traffic is tunnelled to the care-of address of its
//     preferred binding (until flow bindings exist), and follows it when the
//     preferred binding changes or goes away.
//
// The route of a home address moves first: it is what downstream traffic
// waits for at failover; endpoint bookkeeping follows. apply stops at the
// first installation that fails and returns its error, with the
// bookkeeping matching what is installed: the caller then restores the
// cache and applies the changes that undo the decision (see handle).
// Removals that fail are logged and counted, never returned: what they
// leave behind forwards nothing the cache does not hold.
func (h *HomeAgent) apply(changes []binding.Change) error {
	defer h.defendHomeAddresses(changes)
	for _, c := range changes {
		if c.Kind == binding.PrimaryChanged {
			if err := h.movePrimary(c); err != nil {
				return err
			}
		}
	}
	for _, c := range changes {
		b := c.Binding
		key := bindingKey{b.HoA, b.BID}
		switch c.Kind {
		case binding.BindingAdded, binding.BindingUpdated:
			old, had := h.installed[key]
			want := endpointKey{b.CoA, h.encapOf(b)}
			if had {
				want.encap = old.encap
			}
			if b.CoA.IsValid() && b.Flags&binding.FlagAtHome == 0 {
				if err := h.holdEndpoint(want, b.HoA); err != nil {
					return err
				}
			}
			if had && old.coa.IsValid() && old != want {
				h.releaseEndpoint(old, b.HoA)
			}
			h.installed[key] = want
			h.log.Info("binding "+c.Kind.String(), "hoa", b.HoA, "bid", b.BID, "coa", b.CoA, "priority", b.Priority,
				"expires", b.Expires.Format("15:04:05"), "cause", cause(c.Cause))
		case binding.BindingRemoved:
			if old, ok := h.installed[key]; ok {
				h.releaseEndpoint(old, b.HoA)
				delete(h.installed, key)
			}
			h.log.Info("binding removed", "hoa", b.HoA, "bid", b.BID, "coa", b.CoA, "cause", cause(c.Cause))
		}
	}
	return nil
}

// movePrimary points a home address's traffic at its new preferred binding
// (or removes it when none is left).
func (h *HomeAgent) movePrimary(c binding.Change) error {
	b := c.Binding
	sel := dataplane.Selector{Dst: netip.PrefixFrom(b.HoA, 128)}
	if !b.CoA.IsValid() || b.Flags&binding.FlagAtHome != 0 {
		if err := h.dp.DelRoute(sel); err != nil && !errors.Is(err, dataplane.ErrNotFound) {
			h.dpError("removing home address route", err, "hoa", b.HoA)
		}
		h.log.Info("home address has no tunnel", "hoa", b.HoA, "cause", cause(c.Cause))
		return nil
	}
	encap := h.encapOf(b)
	if k, ok := h.installed[bindingKey{b.HoA, b.BID}]; ok {
		encap = k.encap
	}
	r := dataplane.Route{Selector: sel, Tunnel: dataplane.Tunnel{Local: h.addr, Remote: b.CoA, Encap: encap}}
	if err := h.dp.AddRoute(r); err != nil {
		h.dpError("tunnelling home address", err, "hoa", b.HoA, "coa", b.CoA)
		return err
	}
	h.log.Info("home address tunnelled", "hoa", b.HoA, "bid", b.BID, "coa", b.CoA, "cause", cause(c.Cause))
	return nil
}

// encapOf is the encapsulation for a binding made by the Binding Update
// being processed. RFC 5555's F flag belongs to the Binding Update, so it
// covers every binding the update registers, also the other care-of
// addresses of a bulk registration (a mobile node whose interfaces need
// different encapsulations registers them in separate updates).
func (h *HomeAgent) encapOf(binding.Binding) dataplane.Encapsulation {
	return h.pendingEncap
}

// holdEndpoint adds hoa to the inner sources accepted from a care-of
// address, creating the endpoint when it is the first. A care-of address
// usually serves one home address, so the set is a short slice.
func (h *HomeAgent) holdEndpoint(k endpointKey, hoa netip.Addr) error {
	set := h.endpoints[k]
	if slices.Contains(set, hoa) {
		return nil
	}
	set = append(slices.Clip(set), hoa)
	if err := h.programEndpoint(k, set); err != nil {
		return err
	}
	h.endpoints[k] = set
	return nil
}

func (h *HomeAgent) releaseEndpoint(k endpointKey, hoa netip.Addr) {
	set := h.endpoints[k]
	i := slices.Index(set, hoa)
	if i < 0 {
		return
	}
	set = slices.Delete(set, i, i+1)
	if len(set) > 0 {
		h.endpoints[k] = set
		_ = h.programEndpoint(k, set) // logged; a narrower set cannot forward more
		return
	}
	delete(h.endpoints, k)
	if err := h.dp.DelEndpoint(h.addr, k.coa, k.encap); err != nil && !errors.Is(err, dataplane.ErrNotFound) {
		h.dpError("removing tunnel endpoint", err, "coa", k.coa)
	}
}

func (h *HomeAgent) programEndpoint(k endpointKey, set []netip.Addr) error {
	e := dataplane.Endpoint{Local: h.addr, Peer: k.coa, Encap: k.encap, InnerSrc: make([]netip.Prefix, len(set))}
	for i, a := range set {
		e.InnerSrc[i] = netip.PrefixFrom(a, 128)
	}
	if err := h.dp.AddEndpoint(e); err != nil {
		h.dpError("accepting tunnelled packets", err, "coa", k.coa)
		return err
	}
	return nil
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
