package reconcile

import (
	"net/netip"
	"slices"

	"monami/internal/dataplane"
)

// plan computes the ops that take the homes in want from what is
// installed to what they want, and the installed state that results.
// Order: endpoints and dedups first (what returns must be accepted before
// traffic is sent), then routes (new and changed, then removed), then
// the removal of endpoints and dedups no longer wanted. An Op is large
// (most of a kilobyte), so the ops go into one slice sized up front.
func (r *Reconciler) plan(want map[netip.Addr]Home) ([]dataplane.Op, map[netip.Addr]*installed) {
	next := make(map[netip.Addr]*installed, len(want))
	var touched []epKey
	n := 0
	for hoa, w := range want {
		old := r.oldOf(hoa)
		in := build(w)
		next[hoa] = in
		touched = r.contribute(hoa, old, in, touched)
		n += len(in.routes) + len(old.routes) + len(in.dedups) + len(old.dedups)
	}
	ops := make([]dataplane.Op, 0, n+len(touched))
	for _, k := range touched {
		if hs := r.contrib[k]; len(hs) > 0 {
			e := dataplane.Endpoint{Local: k.local, Peer: k.peer, Encap: k.encap, InnerSrc: union(hs)}
			ops = append(ops, dataplane.Op{Kind: dataplane.OpAddEndpoint, Endpoint: e})
		}
	}
	for hoa, in := range next {
		ops = appendDedupAdds(ops, r.oldOf(hoa), in)
	}
	for hoa, in := range next {
		ops = appendRouteOps(ops, r.oldOf(hoa), in)
	}
	for hoa, in := range next {
		ops = appendDedupDels(ops, r.oldOf(hoa), in)
	}
	for _, k := range touched {
		if len(r.contrib[k]) == 0 {
			e := dataplane.Endpoint{Local: k.local, Peer: k.peer, Encap: k.encap}
			ops = append(ops, dataplane.Op{Kind: dataplane.OpDelEndpoint, Endpoint: e})
			delete(r.contrib, k)
		}
	}
	return ops, next
}

var nothing = &installed{}

func (r *Reconciler) oldOf(hoa netip.Addr) *installed {
	if old := r.homes[hoa]; old != nil {
		return old
	}
	return nothing
}

// build keeps the wanted state; the slices are the caller's (a Home is
// not changed after Set), so nothing is copied but endpoint keys.
func build(w Home) *installed {
	in := &installed{routes: w.Routes, dedups: w.Dedups}
	if len(w.Endpoints) > 0 {
		in.endpoints = make([]contribution, 0, len(w.Endpoints))
	}
	for i := range w.Endpoints {
		e := &w.Endpoints[i]
		k := keyOf(e)
		if j := slices.IndexFunc(in.endpoints, func(c contribution) bool { return c.k == k }); j >= 0 {
			in.endpoints[j].p = append(slices.Clip(in.endpoints[j].p), e.InnerSrc...)
			continue
		}
		in.endpoints = append(in.endpoints, contribution{k: k, p: e.InnerSrc})
	}
	return in
}

func appendRouteOps(ops []dataplane.Op, old, in *installed) []dataplane.Op {
	oldIdx, newIdx := indexRoutes(old.routes), indexRoutes(in.routes)
	for i := range in.routes {
		rt := &in.routes[i]
		j, ok := oldIdx.find(old.routes, rt.Selector)
		if !ok || old.unsure || !sameRoute(&old.routes[j], rt) {
			ops = append(ops, dataplane.Op{Kind: dataplane.OpAddRoute, Route: *rt})
		}
	}
	for i := range old.routes {
		if _, ok := newIdx.find(in.routes, old.routes[i].Selector); !ok {
			ops = append(ops, dataplane.Op{Kind: dataplane.OpDelRoute, Selector: old.routes[i].Selector})
		}
	}
	return ops
}

// routeIndex finds routes by selector: a scan for the usual handful, a
// map for a home with many flow routes.
type routeIndex map[dataplane.Selector]int

const scanLimit = 16

func indexRoutes(rs []dataplane.Route) routeIndex {
	if len(rs) <= scanLimit {
		return nil
	}
	m := make(routeIndex, len(rs))
	for i := range rs {
		m[rs[i].Selector] = i
	}
	return m
}

func (x routeIndex) find(rs []dataplane.Route, s dataplane.Selector) (int, bool) {
	if x != nil {
		i, ok := x[s]
		return i, ok
	}
	for i := range rs {
		if rs[i].Selector == s {
			return i, true
		}
	}
	return 0, false
}

func appendDedupAdds(ops []dataplane.Op, old, in *installed) []dataplane.Op {
	for _, d := range in.dedups {
		i := slices.IndexFunc(old.dedups, func(x dataplane.Dedup) bool { return x.Match == d.Match })
		if i < 0 || old.unsure || old.dedups[i] != d {
			ops = append(ops, dataplane.Op{Kind: dataplane.OpAddDedup, Dedup: d})
		}
	}
	return ops
}

func appendDedupDels(ops []dataplane.Op, old, in *installed) []dataplane.Op {
	for _, d := range old.dedups {
		if !slices.ContainsFunc(in.dedups, func(x dataplane.Dedup) bool { return x.Match == d.Match }) {
			ops = append(ops, dataplane.Op{Kind: dataplane.OpDelDedup, Dedup: d})
		}
	}
	return ops
}

// contribute replaces hoa's inner sources in each endpoint it used or
// uses, and appends the endpoints whose union may have changed.
func (r *Reconciler) contribute(hoa netip.Addr, old, in *installed, touched []epKey) []epKey {
	for _, c := range old.endpoints {
		if !slices.ContainsFunc(in.endpoints, func(x contribution) bool { return x.k == c.k }) {
			r.release(c.k, hoa)
			touched = appendKey(touched, c.k)
		}
	}
	for _, c := range in.endpoints {
		i := slices.IndexFunc(old.endpoints, func(x contribution) bool { return x.k == c.k })
		if i >= 0 && !old.unsure && slices.Equal(old.endpoints[i].p, c.p) {
			continue
		}
		r.hold(c.k, hoa, c.p)
		touched = appendKey(touched, c.k)
	}
	return touched
}

func appendKey(ks []epKey, k epKey) []epKey {
	if slices.Contains(ks, k) {
		return ks
	}
	return append(ks, k)
}

func (r *Reconciler) hold(k epKey, hoa netip.Addr, p []netip.Prefix) {
	hs := r.contrib[k]
	if i := slices.IndexFunc(hs, func(h holder) bool { return h.hoa == hoa }); i >= 0 {
		hs[i].p = p
		return
	}
	r.contrib[k] = append(hs, holder{hoa: hoa, p: p})
}

func (r *Reconciler) release(k epKey, hoa netip.Addr) {
	hs := r.contrib[k]
	if i := slices.IndexFunc(hs, func(h holder) bool { return h.hoa == hoa }); i >= 0 {
		r.contrib[k] = slices.Delete(hs, i, i+1)
	}
}

// union is the sorted, deduplicated inner sources of an endpoint; nil
// (any inner source) when a home that uses it names none: a mobile node
// takes tunnelled packets from any correspondent.
func union(hs []holder) []netip.Prefix {
	if len(hs) == 1 {
		return hs[0].p
	}
	var out []netip.Prefix
	for _, h := range hs {
		if len(h.p) == 0 {
			return nil
		}
		out = append(out, h.p...)
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return slices.Compact(out)
}

// sameRoute compares two routes field by field (Paths by value).
func sameRoute(a, b *dataplane.Route) bool {
	return a.Selector == b.Selector && a.Tunnel == b.Tunnel && a.Mode == b.Mode && a.Order == b.Order &&
		slices.Equal(a.Paths, b.Paths)
}
