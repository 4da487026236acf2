package dataplane

import (
	"fmt"
	"maps"

	"monami/internal/forwarding"
)

// applyParentBatch applies several route ops of one parent with one
// nftables transaction instead of one each: a Binding Update that moves
// eight flow bindings changes eight routes of its home address, and each
// transaction rebuilds the parent's chain. On failure the parent is put
// back as it was and every op of the batch fails. Called with k.mu held.
func (k *kernelDP) applyParentBatch(ps Selector, ops []Op, strict bool) []error {
	p0 := k.flow.parents[ps]
	var saved map[forwarding.Match]*flowRoute
	if p0 != nil {
		saved = maps.Clone(p0.routes)
	}
	plain0, hadPlain := k.routes[ps]
	k.flow.deferring, k.flow.gone, k.flow.release = true, nil, nil
	var errs []error
	for _, o := range ops {
		if err := k.applyFlowOp(o, strict); err != nil {
			errs = append(errs, err)
		}
	}
	k.flow.deferring = false
	gone, release := k.flow.gone, k.flow.release
	k.flow.gone, k.flow.release = nil, nil
	p := k.flow.parents[ps]
	if p == nil {
		return errs // nothing became a flow parent
	}
	var last *flowRoute
	if len(gone) > 0 {
		last = gone[len(gone)-1]
		k.flow.goneMore = gone[:len(gone)-1]
	}
	if err := k.syncParent(ps, p, last); err != nil {
		k.flow.goneMore = nil
		k.undoParentBatch(ps, p, p0, saved, plain0, hadPlain)
		return []error{fmt.Errorf("%d route changes of %v: %w", len(ops), ps, err)}
	}
	for _, fr := range release {
		k.releaseIndexes(fr)
	}
	return errs
}

// undoParentBatch restores a parent after its batch's sync failed: the
// routes it had, and the indexes the new routes held let go.
func (k *kernelDP) undoParentBatch(ps Selector, p, p0 *flowParent, saved map[forwarding.Match]*flowRoute, plain0 kernelRoute, hadPlain bool) {
	for m, fr := range p.routes {
		if saved[m] != fr {
			k.releaseIndexes(fr)
		}
	}
	if p0 == nil {
		delete(k.flow.parents, ps)
	} else {
		p0.routes = saved
	}
	restorePlain(k, ps, plain0, hadPlain)
}

// maxParentBatch bounds the ops of one parent synced together: a
// transaction of a thousand routes overflows the netlink socket's buffer
// with its acknowledgements (ENOBUFS), so a bigger run goes one by one.
const maxParentBatch = 32

// applyFlowRun applies a run of consecutive flow ops: the route ops of a
// parent with several in the run together (applyParentBatch), the others
// one by one, each parent's in their order.
func (k *kernelDP) applyFlowRun(run []Op, strict bool) []error {
	var order []Selector
	byParent := map[Selector][]Op{}
	var errs []error
	for _, o := range run {
		if o.Kind != OpAddRoute && o.Kind != OpDelRoute {
			if err := k.applyFlowOp(o, strict); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		ps, _ := opParent(o)
		if _, ok := byParent[ps]; !ok {
			order = append(order, ps)
		}
		byParent[ps] = append(byParent[ps], o)
	}
	for _, ps := range order {
		ops := byParent[ps]
		if len(ops) == 1 || len(ops) > maxParentBatch || k.encap == nil {
			for _, o := range ops {
				if err := k.applyFlowOp(o, strict); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		errs = append(errs, k.applyParentBatch(ps, ops, strict)...)
	}
	return errs
}

// runHasParent reports whether a route op of run has o's parent.
func runHasParent(run []Op, o Op) bool {
	ps, ok := opParent(o)
	if !ok {
		return false
	}
	for _, r := range run {
		if rp, ok := opParent(r); ok && rp == ps {
			return true
		}
	}
	return false
}

func opParent(o Op) (Selector, bool) {
	switch o.Kind {
	case OpAddRoute:
		return o.Route.parent(), true
	case OpDelRoute:
		return o.Selector.parent(), true
	}
	return Selector{}, false
}
