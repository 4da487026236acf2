package ha

import (
	"fmt"
	"time"

	"monami/internal/binding"
	"monami/internal/forwarding"
)

// FlowView is one flow binding for `monami ctl flows`.
type FlowView struct {
	HomeAddress string `json:"home_address"`
	FID         uint16 `json:"fid"`
	Priority    uint16 `json:"fid_pri"`
	// Selector is the RFC 6088 traffic selector in forwarding's notation.
	Selector string `json:"selector"`
	// BIDs are the referenced bindings; Bindings those of them registered
	// now, each with its care-of address. With none, the flow follows the
	// regular bindings of the home address (RFC 6089 section 5).
	BIDs     []uint16         `json:"bids"`
	Bindings []FlowBindingRef `json:"bindings"`
	// Mode is single for one BID, bicast for several (RFC 6089 section
	// 4.1.1.3), regular when no referenced binding is left.
	Mode       string    `json:"mode"`
	Registered time.Time `json:"registered"`
	Refreshed  time.Time `json:"refreshed"`
	// TODO(dataplane): per-flow counters come with the flow-aware data
	// plane; zero until then.
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// FlowBindingRef is a binding a flow uses.
type FlowBindingRef struct {
	BID           uint16 `json:"bid"`
	CareOfAddress string `json:"care_of_address"`
	// TODO(dataplane): per-binding counters of this flow.
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Flows lists the flow bindings, home address by home address, lowest
// FID-PRI first. Only for the event loop (or tests that own the agent).
func (h *HomeAgent) Flows() []FlowView {
	out := []FlowView{}
	h.flows.All(func(f binding.FlowBinding) bool {
		v := FlowView{HomeAddress: f.HoA.String(), FID: f.FID, Priority: f.Priority, BIDs: f.BIDs,
			Bindings: []FlowBindingRef{}, Registered: f.Registered, Refreshed: f.Refreshed}
		if m, err := forwarding.FromTrafficSelector(f.Selector); err == nil {
			v.Selector = m.String()
		} else {
			v.Selector = fmt.Sprintf("unreadable: %v", err)
		}
		bs := h.cache.Lookup(f.HoA)
		for _, bid := range f.Active {
			for _, b := range bs {
				if b.BID == bid {
					v.Bindings = append(v.Bindings, FlowBindingRef{BID: bid, CareOfAddress: b.CoA.String()})
				}
			}
		}
		switch {
		case len(v.Bindings) == 0:
			v.Mode = "regular"
		case len(v.Bindings) == 1:
			v.Mode = "single"
		default:
			v.Mode = "bicast"
		}
		out = append(out, v)
		return true
	})
	return out
}
