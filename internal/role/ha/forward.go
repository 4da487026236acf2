package ha

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"monami/internal/binding"
	"monami/internal/config"
	"monami/internal/dataplane"
	"monami/internal/forwarding"
	"monami/internal/paths"
	"monami/internal/reconcile"
)

// Forwarding as derived state (docs/forwarding.md): whatever changed the
// inputs of a home address (a Binding Update, an expiry, a path judged
// down or up, flow bindings, a restore or a takeover) marks it dirty with
// touch; commit then computes each dirty home address's desired
// forwarding from the binding cache, the flow bindings and the operator
// rules, and hands the reconciler all of them at once: one data plane
// batch. The home agent keeps no copy of what is installed.

// touch marks a home address whose forwarding inputs changed.
func (h *HomeAgent) touch(hoa netip.Addr) {
	if hoa.IsValid() {
		h.dirty[hoa] = struct{}{}
	}
}

// commit installs the desired forwarding of every dirty home address in
// one batch. A home address whose batch failed is kept for a retry
// (retryFailed), unless a later commit settles it first.
func (h *HomeAgent) commit() error {
	if len(h.dirty) == 0 {
		return nil
	}
	want := make(map[netip.Addr]reconcile.Home, len(h.dirty))
	for hoa := range h.dirty {
		want[hoa] = h.desired(hoa)
	}
	clear(h.dirty)
	if h.plainOnly {
		plain(want)
	}
	start := time.Now()
	err := h.rec.Set(want)
	if h.log.Enabled(context.Background(), slog.LevelDebug) { // the per-update path: no boxing when off
		h.log.Debug("forwarding committed", "home_addresses", len(want), "took", time.Since(start), "err", err)
	}
	if err != nil && !h.plainOnly && errors.Is(err, dataplane.ErrUnsupported) && plain(want) {
		// A backend without flow routes refuses the whole batch: the
		// bindings are served without their flows rather than refused.
		if err = h.rec.Set(want); err == nil {
			h.plainOnly = true
			h.log.Warn("the data plane cannot forward by flow: flow bindings and operator rules follow each home address's default route",
				"backend", h.dp.Backend())
		}
	}
	for hoa := range want {
		if err != nil {
			h.retry[hoa] = struct{}{}
		} else {
			delete(h.retry, hoa)
		}
	}
	return err
}

// plain keeps only the plain routes of each home (one tunnel per home
// address) and no Dedup; it reports whether it removed anything.
func plain(want map[netip.Addr]reconcile.Home) bool {
	removed := false
	for hoa, w := range want {
		n := len(w.Routes) + len(w.Dedups)
		w.Routes = slices.DeleteFunc(w.Routes, func(r dataplane.Route) bool { return !r.Plain() })
		w.Dedups = nil
		removed = removed || len(w.Routes) != n
		want[hoa] = w
	}
	return removed
}

// commitLogged commits where no one waits for the outcome (expiry, path
// liveness, undo): a failure is logged, counted and retried later.
func (h *HomeAgent) commitLogged(what string) {
	if err := h.commit(); err != nil {
		h.dpError(what, err)
	}
}

// retryFailed commits again the home addresses whose last batch failed
// (the reconciler then re-sends all they want).
func (h *HomeAgent) retryFailed() {
	if len(h.retry) == 0 {
		return
	}
	for hoa := range h.retry {
		h.touch(hoa)
	}
	h.commitLogged("installing forwarding again after a failure")
}

// desired is what hoa asks of the data plane now: its routes from the
// forwarding entries, and one tunnel endpoint per care-of address of its
// bindings accepting the home address as inner source (RFC 6275 section
// 10.4.5). It also updates the care-of address index of path liveness.
func (h *HomeAgent) desired(hoa netip.Addr) reconcile.Home {
	h.fwdBS = h.cache.AppendLookup(h.fwdBS[:0], hoa)
	bs := h.fwdBS
	var home reconcile.Home
	var coas []netip.Addr
	if len(bs) > 0 {
		in := h.forwardingInput(hoa, bs)
		t := forwarding.Compute(h.now(), in)
		home.Routes, home.Dedups = reconcile.Routes(hoa, t.Entries(hoa), haMapper{h.addr, h})
		inner := []netip.Prefix{netip.PrefixFrom(hoa, 128)}
		for _, b := range bs {
			if !tunnelled(&b) {
				continue
			}
			e := dataplane.Endpoint{Local: h.addr, Peer: b.CoA, Encap: h.encap[bindingKey{hoa, b.BID}], InnerSrc: inner}
			if b.CoA.Is4() {
				// Path liveness watches IPv6 paths; an IPv4 one is held by
				// the mobile node's NAT keepalives (RFC 5555 section 4.1).
				if e4, ok := h.ipv4Endpoint(&b, inner); ok && !hasEndpoint(home.Endpoints, &e4) {
					home.Endpoints = append(home.Endpoints, e4)
				}
				continue
			}
			if !hasEndpoint(home.Endpoints, &e) {
				home.Endpoints = append(home.Endpoints, e)
				coas = append(coas, b.CoA)
			}
		}
	}
	h.indexCoAs(hoa, coas)
	return home
}

func hasEndpoint(es []dataplane.Endpoint, e *dataplane.Endpoint) bool {
	for i := range es {
		if es[i].Peer == e.Peer && es[i].Encap == e.Encap {
			return true
		}
	}
	return false
}

// tunnelled reports whether a binding is a tunnel destination: a binding
// at home (RFC 5648 section 5.6) is served on the home link.
func tunnelled(b *binding.Binding) bool {
	return b.CoA.IsValid() && b.Flags&binding.FlagAtHome == 0
}

// forwardingInput is the input of hoa's forwarding: each binding a path
// (usable while its path is not judged down; when every path is, the
// cache's preference stands rather than dropping everything; degraded,
// so after the healthy ones, while its loss is above paths.max_loss), its flow
// bindings (RFC 6089; several BIDs replicate, section 4.1.1.3) and the
// operator rules.
func (h *HomeAgent) forwardingInput(hoa netip.Addr, bs []binding.Binding) forwarding.Input {
	in := forwarding.Input{Rules: h.rules, Bindings: make([]forwarding.Binding, 0, len(bs))}
	alive := false
	for i := range bs {
		b := &bs[i]
		usable := tunnelled(b) && h.pathAlive(b.CoA)
		alive = alive || usable
		in.Bindings = append(in.Bindings, forwarding.Binding{HoA: hoa, ID: forwarding.PathID(b.BID), CoA: b.CoA,
			Encap: fwdEncap(h.encap[bindingKey{hoa, b.BID}]), Priority: b.Priority, Usable: usable,
			Degraded: h.pathDegraded(b.CoA)})
	}
	if !alive {
		for i := range in.Bindings {
			in.Bindings[i].Usable = tunnelled(&bs[i])
		}
	}
	h.flows.Range(hoa, func(f *binding.FlowBinding) {
		m, err := forwarding.FromTrafficSelector(f.Selector)
		if err != nil {
			return // refused when signalled (CheckSelector); never here
		}
		ids := make([]forwarding.PathID, len(f.BIDs))
		for i, id := range f.BIDs {
			ids[i] = forwarding.PathID(id)
		}
		in.FlowBindings = append(in.FlowBindings, forwarding.FlowBinding{HoA: hoa, FID: f.FID, Priority: f.Priority,
			BIDs: ids, Selector: m})
	})
	return in
}

func (h *HomeAgent) pathAlive(coa netip.Addr) bool {
	return h.pw == nil || h.pw.live.State(h.pathKey(coa)) != paths.Down
}

// pathDegraded: the path to coa loses more than paths.max_loss.
func (h *HomeAgent) pathDegraded(coa netip.Addr) bool {
	return h.pw != nil && h.pw.live.Degraded(h.pathKey(coa))
}

// indexCoAs records the care-of addresses hoa has endpoints at, for path
// liveness (which home addresses a path's state concerns).
func (h *HomeAgent) indexCoAs(hoa netip.Addr, coas []netip.Addr) {
	for _, c := range h.homeCoAs[hoa] {
		// A care-of address usually serves one home address: a short
		// slice costs far less than a map per care-of address.
		set := slices.DeleteFunc(h.coaHomes[c], func(a netip.Addr) bool { return a == hoa })
		if len(set) == 0 {
			delete(h.coaHomes, c)
		} else {
			h.coaHomes[c] = set
		}
	}
	if len(coas) == 0 {
		delete(h.homeCoAs, hoa)
		return
	}
	h.homeCoAs[hoa] = coas
	for _, c := range coas {
		h.coaHomes[c] = append(h.coaHomes[c], hoa)
	}
}

func fwdEncap(e dataplane.Encapsulation) forwarding.Encap {
	if e == dataplane.EncapUDP {
		return forwarding.EncapUDP
	}
	return forwarding.EncapIPv6
}

func dpEncap(e forwarding.Encap) dataplane.Encapsulation {
	if e == forwarding.EncapUDP {
		return dataplane.EncapUDP
	}
	return dataplane.EncapIPv6
}

// haMapper turns forwarding paths into the home agent's tunnels: downlink
// to the home address, from the home agent address to a care-of address.
type haMapper struct {
	local netip.Addr
	h     *HomeAgent
}

func (m haMapper) Parent(hoa netip.Addr) dataplane.Selector {
	return dataplane.Selector{Dst: netip.PrefixFrom(hoa, 128)}
}

func (m haMapper) Tunnel(hoa netip.Addr, p *forwarding.Path) (dataplane.Tunnel, bool) {
	if !p.CoA.IsValid() {
		return dataplane.Tunnel{}, false
	}
	if p.CoA.Is4() {
		return m.h.ipv4Tunnel(hoa, uint16(p.ID))
	}
	return dataplane.Tunnel{Local: m.local, Remote: p.CoA, Encap: dpEncap(p.Encap)}, true
}

// Inbound narrows a mirrored selector to packets from the home address:
// the uplink copies a bicasting mobile node sends (RFC 6089 section
// 4.1.1.3), which the home agent's Dedup drops.
func (m haMapper) Inbound(hoa netip.Addr, sel forwarding.Match) forwarding.Match {
	sel.Src = forwarding.AddrExact(hoa)
	return sel
}

// operatorRules are ha.yaml's flow_bindings.rules as forwarding rules for
// every home address, in order (rule i has priority i+1: the first match
// wins). They come before the mobile nodes' flow bindings.
func operatorRules(cfg *config.HomeAgent) []forwarding.Rule {
	var out []forwarding.Rule
	for i, r := range cfg.FlowBindings.Rules {
		a := forwarding.Action{Mode: forwarding.Single} // failover: the preferred binding, then the next
		switch r.Mode {
		case "bicast":
			a.Mode = forwarding.Replicate
		case "share":
			a.Mode = forwarding.Share
		}
		out = append(out, forwarding.Rule{Name: r.Name, Priority: uint16(i + 1), Selector: r.Selector(), Action: a})
	}
	return out
}
