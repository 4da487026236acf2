package ha

import (
	"fmt"
	"net/netip"
	"time"

	"monami/internal/binding"
	"monami/internal/dataplane"
	"monami/internal/forwarding"
)

// FlowView is one flow binding for `monami ctl flows`.
type FlowView struct {
	HomeAddress string `json:"home_address"`
	FID         uint16 `json:"fid"`
	Priority    uint16 `json:"fid_pri"`
	// Selector is the RFC 6088 traffic selector in forwarding's notation.
	Selector string `json:"selector"`
	// BIDs are the referenced bindings; Bindings those the flow's packets
	// go to now: the first usable one for one BID, every usable one for
	// several (RFC 6089 section 4.1.1.3), each with its care-of address.
	// With none (every referenced binding gone, or its path down) the flow
	// follows the home address's regular bindings (RFC 6089 section 5).
	BIDs     []uint16         `json:"bids"`
	Bindings []FlowBindingRef `json:"bindings"`
	// Mode is single for one binding used, bicast for several, regular
	// when the flow follows the home address's default (also when the
	// data plane cannot forward by flow), or "rule NAME" when an operator
	// rule with the same selector takes its traffic.
	Mode       string    `json:"mode"`
	Registered time.Time `json:"registered"`
	Refreshed  time.Time `json:"refreshed"`
	// Packets and Bytes are what the flow's own route sent since it was
	// installed, from the data plane; a flow in regular mode is counted
	// with the home address's default route, not here.
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// Counters says where the figures come from: "data plane", or why
	// they are unavailable (then they read 0).
	Counters string `json:"counters"`
}

// FlowBindingRef is a binding a flow uses, with what the flow sent on it.
type FlowBindingRef struct {
	BID           uint16 `json:"bid"`
	CareOfAddress string `json:"care_of_address"`
	Packets       uint64 `json:"packets"`
	Bytes         uint64 `json:"bytes"`
}

// Flows lists the flow bindings, home address by home address, lowest
// FID-PRI first, with the bindings each uses now (the forwarding derived
// as commit does) and its counters. Only for the event loop (or tests
// that own the agent).
func (h *HomeAgent) Flows() []FlowView {
	out := []FlowView{}
	counters, why := h.routeCounters()
	tables := map[netip.Addr]*forwarding.Table{}
	h.flows.All(func(f binding.FlowBinding) bool {
		v := FlowView{HomeAddress: f.HoA.String(), FID: f.FID, Priority: f.Priority, BIDs: f.BIDs,
			Bindings: []FlowBindingRef{}, Registered: f.Registered, Refreshed: f.Refreshed, Mode: "regular", Counters: why}
		m, err := forwarding.FromTrafficSelector(f.Selector)
		if err != nil {
			v.Selector = fmt.Sprintf("unreadable: %v", err)
			out = append(out, v)
			return true
		}
		v.Selector = m.String()
		t := tables[f.HoA]
		if t == nil {
			h.fwdBS = h.cache.AppendLookup(h.fwdBS[:0], f.HoA)
			t = forwarding.Compute(h.now(), h.forwardingInput(f.HoA, h.fwdBS))
			tables[f.HoA] = t
		}
		e, ok := t.Get(forwarding.Key{HoA: f.HoA, Selector: m.Canonical()})
		if h.plainOnly {
			v.Mode = "regular (the data plane does not forward by flow)"
		} else if ok && e.Origin == forwarding.FromRule {
			v.Mode = "rule " + e.Rule
		} else if ok && e.Origin == forwarding.FromFlowBinding && e.FID == f.FID {
			h.flowUses(&v, e, counters)
		}
		out = append(out, v)
		return true
	})
	return out
}

// flowUses fills in the bindings a flow's entry uses and their counters.
func (h *HomeAgent) flowUses(v *FlowView, e *forwarding.Entry, counters map[dataplane.Selector]*dataplane.RouteCounter) {
	rc := counters[dataplane.Selector{Dst: netip.PrefixFrom(e.HoA, 128), Flow: e.Selector}]
	for i := range e.Paths {
		p := &e.Paths[i]
		if !p.Usable || !p.CoA.IsValid() {
			continue
		}
		ref := FlowBindingRef{BID: uint16(p.ID), CareOfAddress: p.CoA.String()}
		if rc != nil {
			for _, pc := range rc.Paths {
				if pc.Tunnel.Remote == p.CoA && pc.Tunnel.Encap == dpEncap(p.Encap) {
					ref.Packets, ref.Bytes = pc.Packets, pc.Octets
				}
			}
		}
		v.Packets, v.Bytes = v.Packets+ref.Packets, v.Bytes+ref.Bytes
		v.Bindings = append(v.Bindings, ref)
		if e.Mode == forwarding.Single {
			break
		}
	}
	switch len(v.Bindings) {
	case 0:
		v.Mode = "regular"
	case 1:
		v.Mode = "single"
	default:
		v.Mode = "bicast"
	}
}

// routeCounters reads the per-route counters of the data plane, by
// selector, with what the view's Counters field says.
func (h *HomeAgent) routeCounters() (map[dataplane.Selector]*dataplane.RouteCounter, string) {
	r, ok := h.dp.(dataplane.FlowCounterReader)
	if !ok {
		return nil, fmt.Sprintf("unavailable: the %s data plane does not count per route", h.dp.Backend())
	}
	cs, err := r.RouteCounters()
	if err != nil {
		return nil, fmt.Sprintf("unavailable: %v", err)
	}
	out := make(map[dataplane.Selector]*dataplane.RouteCounter, len(cs))
	for i := range cs {
		out[cs[i].Selector] = &cs[i]
	}
	return out, "data plane"
}
