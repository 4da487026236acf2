package dataplane

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// apply is every change of the kernel backend: the endpoints' set
// elements in one nftables transaction, the routes' messages in one
// netlink send (with BPF; without, one route at a time). strict makes a
// deletion of what is not installed ErrNotFound, as the single calls
// promise.
func (k *kernelDP) apply(ops []Op, strict bool) error {
	for _, o := range ops {
		if err := o.validate(); err != nil {
			return err
		}
		if o.Kind == OpAddRoute {
			for i, p := range o.Route.PathList() {
				if p.Tunnel.Encap != EncapIPv6 {
					return fmt.Errorf("route %v: path %d: %s encapsulation: %w", o.Route.Selector, i, p.Tunnel.Encap, ErrUnsupported)
				}
			}
		}
		if o.Kind == OpAddEndpoint && o.Endpoint.Encap != EncapIPv6 {
			return fmt.Errorf("endpoint %v: %w", o.Endpoint, ErrUnsupported)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	return k.applyLocked(ops, strict)
}

// applyLocked is apply on validated ops with k.mu held.
func (k *kernelDP) applyLocked(ops []Op, strict bool) error {
	errs := k.applyEndpoints(ops, strict)
	// Plain routes of parents without flow routes take the batched path;
	// a flow op is applied on its own, in its place in the batch.
	var plain []Op
	flushPlain := func() {
		if len(plain) == 0 {
			return
		}
		if k.encap != nil {
			errs = append(errs, k.applyBPFRoutes(plain, strict)...)
		} else {
			errs = append(errs, k.applySeg6Routes(plain, strict)...)
		}
		plain = plain[:0]
	}
	var run []Op
	flushRun := func() {
		if len(run) > 0 {
			errs = append(errs, k.applyFlowRun(run, strict)...)
			run = run[:0]
		}
	}
	for _, o := range ops {
		switch {
		case o.Kind == OpAddEndpoint || o.Kind == OpDelEndpoint:
		case k.isFlowOp(o) || runHasParent(run, o):
			// Also a plain route of a parent an earlier op of the run
			// makes: the run is applied after this loop sees it.
			flushPlain()
			run = append(run, o)
		default:
			flushRun()
			if o.Kind == OpAddRoute {
				// A plain route may name its one tunnel as a path.
				o.Route.Tunnel = o.Route.PathList()[0].Tunnel
			}
			plain = append(plain, o)
		}
	}
	flushRun()
	flushPlain()
	return errors.Join(errs...)
}

// applyEndpoints stages the endpoint ops against a view of the endpoints
// as the earlier ops of the batch leave them, and commits them at once.
func (k *kernelDP) applyEndpoints(ops []Op, strict bool) []error {
	t := k.nft.tx()
	view := map[endpointKey]*Endpoint{} // nil: deleted by the batch
	cur := func(key endpointKey) (Endpoint, bool) {
		if e, ok := view[key]; ok {
			if e == nil {
				return Endpoint{}, false
			}
			return *e, true
		}
		e, ok := k.endpoints[key]
		return e, ok
	}
	refs := map[netip.Addr]int{} // change of each local address's endpoint count
	var created []netip.Addr     // decapsulation routes this batch made
	var errs []error
	for _, o := range ops {
		switch o.Kind {
		case OpAddEndpoint:
			e := o.Endpoint
			e.InnerSrc = append([]netip.Prefix(nil), e.InnerSrc...)
			decap, isNew, err := k.holdDecap(e)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if isNew {
				created = append(created, e.Local)
			}
			prev, had := cur(e.key())
			var prevp *Endpoint
			if had {
				prevp = &prev
			} else {
				refs[e.Local]++
			}
			t.putEndpoint(prevp, e, decap, !had && k.nft.localRefs[e.Local]+refs[e.Local] == 1)
			view[e.key()] = &e
		case OpDelEndpoint:
			e, had := cur(o.delKey())
			if !had {
				if strict {
					errs = append(errs, fmt.Errorf("endpoint %v<-%v: %w", o.Endpoint.Local, o.Endpoint.Peer, ErrNotFound))
				}
				continue
			}
			refs[e.Local]--
			t.delEndpoint(e, k.nft.localRefs[e.Local]+refs[e.Local] == 0)
			view[e.key()] = nil
		}
	}
	if !t.empty() {
		if err := t.commit(); err != nil {
			for _, l := range created {
				k.removeDecap(l)
			}
			return append(errs, fmt.Errorf("%d endpoint changes: %w", len(view), err))
		}
	}
	for key, e := range view {
		if e == nil {
			delete(k.endpoints, key)
		} else {
			k.endpoints[key] = *e
		}
	}
	for l, d := range refs {
		if n := k.nft.localRefs[l] + d; n > 0 {
			k.nft.localRefs[l] = n
			continue
		}
		delete(k.nft.localRefs, l)
		if err := k.removeDecap(l); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// stagedRoute is one route message of a batch.
type stagedRoute struct {
	sel Selector
	add bool
	kr  kernelRoute // the route an add installs
	req *nl.NetlinkRequest
}

// applyBPFRoutes points each route's map entry at its tunnel, then sends
// the routes' messages at once (none for a route already in place: a
// binding moving to another care-of address is a map update). Deleted
// routes leave the map after the kernel removed them.
func (k *kernelDP) applyBPFRoutes(ops []Op, strict bool) []error {
	view := map[Selector]*kernelRoute{}
	cur := func(s Selector) (kernelRoute, bool) {
		if r, ok := view[s]; ok {
			if r == nil {
				return kernelRoute{}, false
			}
			return *r, true
		}
		r, ok := k.routes[s]
		return r, ok
	}
	var staged []stagedRoute
	var errs []error
	for _, o := range ops {
		switch o.Kind {
		case OpAddRoute:
			r := o.Route
			link, mtu, err := k.routeMTU(r)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			k.holdGSO(link, r.Tunnel.Local)
			kr := kernelRoute{r: r, rt: rtRoute{table: k.routeTable(), dst: r.Dst, src: r.Src, oif: k.detour.Attrs().Index,
				gw: detourGateway, mtu: mtu + lwtHeadroom, encap: k.encap.encap}}
			prev, had := cur(r.Selector)
			if err := k.encap.put(r.Selector, r.Tunnel, had, &k.bpfGone); err != nil {
				errs = append(errs, err)
				continue
			}
			view[r.Selector] = &kr
			if had && prev.rt.equal(kr.rt) {
				continue
			}
			staged = append(staged, stagedRoute{sel: r.Selector, add: true, kr: kr,
				req: kr.rt.msg(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE)})
		case OpDelRoute:
			prev, had := cur(o.Selector)
			if !had {
				if strict {
					errs = append(errs, fmt.Errorf("route %v: %w", o.Selector, ErrNotFound))
				}
				continue
			}
			view[o.Selector] = nil
			staged = append(staged, stagedRoute{sel: o.Selector, req: prev.rt.msg(unix.RTM_DELROUTE, 0)})
		}
	}
	reqs := make([]*nl.NetlinkRequest, len(staged))
	for i := range staged {
		reqs[i] = staged[i].req
	}
	results := k.rt.execBatch(reqs)
	failed := map[Selector]bool{}
	for i, st := range staged {
		err := results[i]
		if st.add && errors.Is(err, unix.ENOMEM) {
			err = k.rt.replace(st.kr.rt) // see routeSock.replace: a passing per-CPU shortage
		}
		if !st.add && (errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT)) {
			err = nil // already gone
		}
		if err != nil {
			failed[st.sel] = true
			errs = append(errs, fmt.Errorf("route %v: %w", st.sel, err))
		}
	}
	for s, r := range view {
		if failed[s] {
			k.restoreMapEntry(s)
			continue
		}
		if r == nil {
			delete(k.routes, s)
			if err := k.encap.remove(s, &k.bpfGone); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		k.routes[s] = *r
	}
	return errs
}

// restoreMapEntry puts back the map entry of what k.routes says is
// installed for s, after its route change failed.
func (k *kernelDP) restoreMapEntry(s Selector) {
	if r, ok := k.routes[s]; ok {
		_ = k.encap.put(s, r.r.Tunnel, true, &k.bpfGone)
		return
	}
	_ = k.encap.remove(s, &k.bpfGone)
}

// applySeg6Routes is the route ops without BPF, one at a time: each needs
// its outer source checked and a postrouting counter element.
func (k *kernelDP) applySeg6Routes(ops []Op, strict bool) []error {
	var errs []error
	for _, o := range ops {
		switch o.Kind {
		case OpAddRoute:
			r := o.Route
			link, mtu, err := k.routeMTU(r)
			if err == nil {
				prev, had := k.routes[r.Selector]
				var kr kernelRoute
				if kr, err = k.addSeg6Route(r, link, mtu, prev, had); err == nil {
					k.routes[r.Selector] = kr
				}
			}
			if err != nil {
				errs = append(errs, err)
			}
		case OpDelRoute:
			kr, ok := k.routes[o.Selector]
			if !ok {
				if strict {
					errs = append(errs, fmt.Errorf("route %v: %w", o.Selector, ErrNotFound))
				}
				continue
			}
			if err := kr.delete(k.rt); err != nil {
				errs = append(errs, err)
				continue
			}
			delete(k.routes, o.Selector)
			if err := k.nft.releaseTunnel(tunnelKey{kr.r.Tunnel.Local, kr.r.Tunnel.Remote}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}
