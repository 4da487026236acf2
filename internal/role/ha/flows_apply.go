package ha

import "monami/internal/binding"

// applyFlows follows flow binding changes the flow table accepted (a
// Binding Update's flow options, or bindings that came or went under
// existing flows): their home addresses' forwarding is derived again, from
// h.flows and the binding cache, at the next commit (forward.go).
func (h *HomeAgent) applyFlows(changes []binding.FlowChange) {
	for i := range changes {
		h.touch(changes[i].Flow.HoA)
	}
}
