package binding

import (
	"net/netip"
	"slices"
)

// Range calls f for each flow binding of hoa, in FID order, without
// copying; f must not keep or change it. A home agent reads them this way
// once per Binding Update to derive its forwarding.
func (t *FlowTable) Range(hoa netip.Addr, f func(*FlowBinding)) {
	for _, fb := range t.nodes[hoa] {
		f(fb)
	}
}

// Restore replaces the flow bindings of hoa with fs (as Lookup returned
// them): a home agent takes back the flow part of a Binding Update the
// data plane or the store could not follow, as BindingCache.Restore does
// for its bindings.
func (t *FlowTable) Restore(hoa netip.Addr, fs []FlowBinding) {
	t.n -= len(t.nodes[hoa])
	delete(t.nodes, hoa)
	t.forget(hoa)
	if len(fs) == 0 {
		return
	}
	out := make([]*FlowBinding, len(fs))
	for i := range fs {
		c := copyFlow(&fs[i])
		out[i] = &c
	}
	slices.SortFunc(out, func(a, b *FlowBinding) int { return cmpFID(a, b.FID) })
	t.nodes[hoa] = out
	t.n += len(out)
}
