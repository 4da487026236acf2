package reconcile

import (
	"net/netip"
	"reflect"
	"slices"

	"monami/internal/dataplane"
	"monami/internal/forwarding"
)

// plan computes the ops that take the homes in want from what is
// installed to what they want, and the installed state that results.
// Order: endpoints and dedups first (what returns must be accepted before
// traffic is sent), then routes (new and changed, then removed), then
// the removal of endpoints and dedups no longer wanted.
func (r *Reconciler) plan(want map[netip.Addr]Home) ([]dataplane.Op, map[netip.Addr]*installed) {
	var adds, routes, dels []dataplane.Op
	next := make(map[netip.Addr]*installed, len(want))
	touched := map[epKey]bool{}
	for hoa, w := range want {
		old := r.homes[hoa]
		if old == nil {
			old = &installed{}
		}
		in := build(w)
		next[hoa] = in
		routes = appendRouteOps(routes, old, in)
		adds, dels = appendDedupOps(adds, dels, old, in)
		r.contribute(hoa, old, in, touched)
	}
	for k := range touched {
		if set := r.union(k); len(set) > 0 {
			e := dataplane.Endpoint{Local: k.local, Peer: k.peer, Encap: k.encap, InnerSrc: set}
			adds = append(adds, dataplane.Op{Kind: dataplane.OpAddEndpoint, Endpoint: e})
		} else {
			e := dataplane.Endpoint{Local: k.local, Peer: k.peer, Encap: k.encap}
			dels = append(dels, dataplane.Op{Kind: dataplane.OpDelEndpoint, Endpoint: e})
			delete(r.contrib, k)
		}
	}
	return append(append(adds, routes...), dels...), next
}

func build(w Home) *installed {
	in := &installed{routes: make(map[dataplane.Selector]dataplane.Route, len(w.Routes)),
		endpoints: make(map[epKey][]netip.Prefix, len(w.Endpoints)),
		dedups:    make(map[forwarding.Match]dataplane.Dedup, len(w.Dedups))}
	for _, rt := range w.Routes {
		in.routes[rt.Selector] = rt
	}
	for i := range w.Endpoints {
		k := keyOf(&w.Endpoints[i])
		in.endpoints[k] = append(in.endpoints[k], w.Endpoints[i].InnerSrc...)
	}
	for _, d := range w.Dedups {
		in.dedups[d.Match] = d
	}
	return in
}

func appendRouteOps(ops []dataplane.Op, old, in *installed) []dataplane.Op {
	for s, rt := range in.routes {
		if prev, ok := old.routes[s]; !ok || old.unsure || !sameRoute(&prev, &rt) {
			ops = append(ops, dataplane.Op{Kind: dataplane.OpAddRoute, Route: rt})
		}
	}
	for s := range old.routes {
		if _, ok := in.routes[s]; !ok {
			ops = append(ops, dataplane.Op{Kind: dataplane.OpDelRoute, Selector: s})
		}
	}
	return ops
}

func appendDedupOps(adds, dels []dataplane.Op, old, in *installed) ([]dataplane.Op, []dataplane.Op) {
	for m, d := range in.dedups {
		if prev, ok := old.dedups[m]; !ok || old.unsure || prev != d {
			adds = append(adds, dataplane.Op{Kind: dataplane.OpAddDedup, Dedup: d})
		}
	}
	for m, d := range old.dedups {
		if _, ok := in.dedups[m]; !ok {
			dels = append(dels, dataplane.Op{Kind: dataplane.OpDelDedup, Dedup: d})
		}
	}
	return adds, dels
}

// contribute replaces hoa's inner sources in each endpoint it used or
// uses, and marks the endpoints whose union may have changed.
func (r *Reconciler) contribute(hoa netip.Addr, old, in *installed, touched map[epKey]bool) {
	for k := range old.endpoints {
		if _, ok := in.endpoints[k]; !ok {
			delete(r.contrib[k], hoa)
			touched[k] = true
		}
	}
	for k, p := range in.endpoints {
		prev, ok := old.endpoints[k]
		if ok && !old.unsure && slices.Equal(prev, p) {
			continue
		}
		if r.contrib[k] == nil {
			r.contrib[k] = map[netip.Addr][]netip.Prefix{}
		}
		r.contrib[k][hoa] = p
		touched[k] = true
	}
}

// union is the sorted, deduplicated inner sources of an endpoint.
func (r *Reconciler) union(k epKey) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range r.contrib[k] {
		out = append(out, p...)
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return slices.Compact(out)
}

func sameRoute(a, b *dataplane.Route) bool { return reflect.DeepEqual(a, b) }
