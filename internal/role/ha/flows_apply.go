package ha

import "monami/internal/binding"

// applyFlows is where flow binding changes reach the data plane: called
// after the flow table accepted them (a Binding Update's flow options, or
// bindings that came or went under existing flows). A no-op for now: the
// data plane's flow-aware routes (path sets, modes, RFC 6088 matches) come
// with the forwarding reconcile loop, which will derive them from
// h.flows and the binding cache rather than from these changes alone.
func (h *HomeAgent) applyFlows(changes []binding.FlowChange) {}
