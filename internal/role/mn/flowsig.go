package mn

import (
	"net/netip"
	"slices"

	"monami/internal/forwarding"
	"monami/wire"
)

// Flow bindings signalled to the home agent (RFC 6089), derived from the
// policy: section of mn.yaml, so that downlink traffic follows the same
// rules as uplink. Only rules whose action names interfaces become flow
// bindings: interfaces in preference order reference the first (the mobile
// node's preferred path; RFC 6089 section 4.1.1.3 sends to every BID
// referenced), bicast references all. share and drop have no RFC 6089
// form and stay local.

// signalledFlow is one flow binding the mobile node asks for.
type signalledFlow struct {
	Rule     string
	FID      uint16
	Priority uint16 // FID-PRI: the rule's position, so the first rule wins
	BIDs     []uint16
	Selector wire.TrafficSelector
}

// flowsFromPolicy turns policy rules into flow bindings. FID is the rule's
// position plus one, stable while the policy is. The selector is mirrored:
// rules describe the mobile node's outgoing packets, while the home agent
// classifies the packets it sends to the home address. Rules it cannot
// express are returned with the reason, for the log.
func flowsFromPolicy(rules []forwarding.Rule) (flows []signalledFlow, skipped map[string]string) {
	skipped = map[string]string{}
	for i, r := range rules {
		var bids []uint16
		switch {
		case len(r.Action.Paths) == 0:
			skipped[r.Name] = "names no interface"
			continue
		case r.Action.Mode == forwarding.Single:
			bids = []uint16{uint16(r.Action.Paths[0].ID)}
		case r.Action.Mode == forwarding.Replicate:
			for _, p := range r.Action.Paths {
				bids = append(bids, uint16(p.ID))
			}
		default:
			skipped[r.Name] = r.Action.Mode.String() + " has no flow binding form (RFC 6089)"
			continue
		}
		ts, err := mirror(r.Selector).TrafficSelector()
		if err != nil {
			skipped[r.Name] = err.Error()
			continue
		}
		flows = append(flows, signalledFlow{Rule: r.Name, FID: uint16(i + 1), Priority: r.Priority, BIDs: bids, Selector: ts})
	}
	return flows, skipped
}

// mirror swaps source and destination: the same flow seen the other way.
func mirror(m forwarding.Match) forwarding.Match {
	m.Src, m.Dst = m.Dst, m.Src
	m.SrcPort, m.DstPort = m.DstPort, m.SrcPort
	return m
}

// flowOptions are the Flow Identification options of a registration: the
// whole list every time, since the home agent removes the flows a Binding
// Update with flow options leaves out (RFC 6089 section 5).
func (m *MobileNode) flowOptions() []wire.Option {
	var out []wire.Option
	for _, f := range m.flows {
		out = append(out, wire.FlowIdentification{FID: f.FID, Priority: f.Priority, SubOptions: []wire.FlowSubOption{
			wire.BindingReferenceSubOption{BIDs: f.BIDs},
			wire.TrafficSelectorSubOption{Selector: f.Selector},
		}})
	}
	return out
}

// noteFlowStatuses keeps the home agent's per-flow answers of an
// authenticated Binding Acknowledgement, logging each change.
func (m *MobileNode) noteFlowStatuses(h *homeRegistration, fids []wire.FlowIdentification) {
	if len(fids) == 0 {
		return
	}
	if h.flowStatus == nil {
		h.flowStatus = map[uint16]wire.FIDStatus{}
	}
	for _, f := range fids {
		old, seen := h.flowStatus[f.FID]
		h.flowStatus[f.FID] = f.Status
		if seen && old == f.Status {
			continue
		}
		if f.Status.Accepted() {
			m.log.Info("flow binding accepted", "hoa", h.hoa, "ha", h.ha, "fid", f.FID, "status", f.Status)
		} else {
			m.log.Warn("flow binding refused", "hoa", h.hoa, "ha", h.ha, "fid", f.FID, "status", f.Status)
		}
	}
}

// FlowBindingView is one signalled flow binding in the "flow_bindings"
// topic.
type FlowBindingView struct {
	HomeAddress netip.Addr `json:"home_address"`
	Rule        string     `json:"rule"`
	FID         uint16     `json:"fid"`
	Priority    uint16     `json:"fid_pri"`
	BIDs        []uint16   `json:"bids"`
	Selector    string     `json:"selector"`
	// Status is the home agent's last answer; empty before one came.
	Status string `json:"status,omitempty"`
}

func (m *MobileNode) flowBindings() []FlowBindingView {
	out := []FlowBindingView{}
	for _, h := range m.homes {
		for _, f := range m.flows {
			v := FlowBindingView{HomeAddress: h.hoa, Rule: f.Rule, FID: f.FID, Priority: f.Priority,
				BIDs: slices.Clone(f.BIDs)}
			if sel, err := forwarding.FromTrafficSelector(f.Selector); err == nil {
				v.Selector = sel.String()
			}
			if s, ok := h.flowStatus[f.FID]; ok {
				v.Status = s.String()
			}
			out = append(out, v)
		}
	}
	return out
}
