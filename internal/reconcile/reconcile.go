package reconcile

import (
	"net/netip"
	"slices"
	"sync"

	"monami/internal/dataplane"
	"monami/internal/forwarding"
)

// Home is what one home address asks of the data plane.
type Home struct {
	Routes []dataplane.Route
	// Endpoints are the tunnel endpoints its bindings need, InnerSrc
	// holding this home's prefixes only: endpoints shared by several home
	// addresses (one care-of address serving two) are installed with the
	// union.
	Endpoints []dataplane.Endpoint
	Dedups    []dataplane.Dedup
}

// Empty reports whether the home asks for nothing.
func (h *Home) Empty() bool {
	return len(h.Routes) == 0 && len(h.Endpoints) == 0 && len(h.Dedups) == 0
}

type epKey struct {
	local, peer netip.Addr
	encap       dataplane.Encapsulation
}

func keyOf(e *dataplane.Endpoint) epKey { return epKey{e.Local, e.Peer, e.Encap} }

// installed is what a home holds in the data plane, as last applied.
type installed struct {
	routes    map[dataplane.Selector]dataplane.Route
	endpoints map[epKey][]netip.Prefix
	dedups    map[forwarding.Match]dataplane.Dedup
	unsure    bool // a batch with this home failed: some ops may be missing
}

// Reconciler applies desired homes to a data plane. Safe for concurrent
// use; one Set at a time.
type Reconciler struct {
	mu    sync.Mutex
	dp    dataplane.DataPlane
	homes map[netip.Addr]*installed
	// contrib lists, per endpoint, the inner source prefixes each home
	// contributes; the endpoint is installed with their union.
	contrib map[epKey]map[netip.Addr][]netip.Prefix
}

// New returns a Reconciler for dp with nothing installed.
func New(dp dataplane.DataPlane) *Reconciler {
	return &Reconciler{dp: dp, homes: map[netip.Addr]*installed{},
		contrib: map[epKey]map[netip.Addr][]netip.Prefix{}}
}

// DataPlane returns the data plane it drives.
func (r *Reconciler) DataPlane() dataplane.DataPlane { return r.dp }

// Set makes the data plane hold want for each home address in it (an
// empty Home removes everything of that home) and leaves other homes
// alone. The changes go in one batch. On error the homes are marked
// unsure and the error is returned; the caller may Set them again (to
// the same or to an older state) and the difference is recomputed from
// both.
func (r *Reconciler) Set(want map[netip.Addr]Home) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops, next := r.plan(want)
	if len(ops) == 0 {
		return nil
	}
	err := dataplane.Apply(r.dp, ops)
	for hoa, in := range next {
		in.unsure = err != nil
		if err != nil {
			in.merge(r.homes[hoa])
		}
		if in.empty() && !in.unsure {
			delete(r.homes, hoa)
		} else {
			r.homes[hoa] = in
		}
	}
	return err
}

// Routes returns the routes installed for a home address, in no order.
func (r *Reconciler) Routes(hoa netip.Addr) []dataplane.Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := r.homes[hoa]
	if in == nil {
		return nil
	}
	out := make([]dataplane.Route, 0, len(in.routes))
	for _, rt := range in.routes {
		out = append(out, rt)
	}
	return out
}

// Homes returns the home addresses holding state, sorted.
func (r *Reconciler) Homes() []netip.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]netip.Addr, 0, len(r.homes))
	for a := range r.homes {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

func (in *installed) empty() bool {
	return len(in.routes) == 0 && len(in.endpoints) == 0 && len(in.dedups) == 0
}

// merge adds what old held and in does not: after a failed batch either
// may be in the data plane, so both are deleted when no longer wanted.
// Only deletions use the merged state; a kept route may have failed to
// install, which is why unsure homes re-send all they want.
func (in *installed) merge(old *installed) {
	if old == nil {
		return
	}
	for s, rt := range old.routes {
		if _, ok := in.routes[s]; !ok {
			in.routes[s] = rt
		}
	}
	for k, p := range old.endpoints {
		if _, ok := in.endpoints[k]; !ok {
			in.endpoints[k] = p
		}
	}
	for m, d := range old.dedups {
		if _, ok := in.dedups[m]; !ok {
			in.dedups[m] = d
		}
	}
}
