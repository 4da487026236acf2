package dataplane

import (
	"net/netip"
	"slices"
	"sync"
)

// routeTable is the userspace backend's fast-path index of its routes
// (one userParent per kernel route into the TUN device), in
// the order the kernel picks them (longest destination, then longest
// source: IPv6 subtree routes). Host routes without a source, a home
// agent's home addresses, sit in a map, so adding or finding one costs
// the same whatever the number installed; the other routes (a mobile
// node's few, mobile network prefixes) in a short sorted list. The send
// loop holds the read lock for a batch; changes take the write lock for a
// map or list update.
type routeTable struct {
	mu    sync.RWMutex
	host  map[netip.Addr]*userParent
	other []*userParent
}

func newRouteTable() *routeTable { return &routeTable{host: map[netip.Addr]*userParent{}} }

func isHostRoute(s Selector) bool { return !s.Src.IsValid() && s.Dst.Bits() == 128 }

// put adds r, replacing the parent with the same selector.
func (t *routeTable) put(r *userParent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if isHostRoute(r.sel) {
		t.host[r.sel.Dst.Addr()] = r
		return
	}
	t.other = slices.DeleteFunc(t.other, func(o *userParent) bool { return o.sel == r.sel })
	i, _ := slices.BinarySearchFunc(t.other, r, func(a, b *userParent) int { return moreSpecific(a.sel, b.sel) })
	t.other = slices.Insert(t.other, i, r)
}

// moreSpecific orders a before b (negative) when the kernel would try a
// first.
func moreSpecific(a, b Selector) int {
	if a.Dst.Bits() != b.Dst.Bits() {
		return b.Dst.Bits() - a.Dst.Bits()
	}
	return srcBits(b) - srcBits(a)
}

func srcBits(s Selector) int {
	if !s.Src.IsValid() {
		return -1
	}
	return s.Src.Bits()
}

func (t *routeTable) del(s Selector) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if isHostRoute(s) {
		delete(t.host, s.Dst.Addr())
		return
	}
	t.other = slices.DeleteFunc(t.other, func(o *userParent) bool { return o.sel == s })
}

func (t *routeTable) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.host)
	t.other = nil
}

// lookup finds the parent for a packet; the caller holds t.mu for
// reading. A host route loses only to a /128 route with a matching source.
func (t *routeTable) lookup(src, dst netip.Addr) *userParent {
	var o *userParent
	for _, r := range t.other {
		if r.sel.Dst.Contains(dst) && (!r.sel.Src.IsValid() || r.sel.Src.Contains(src)) {
			o = r
			break
		}
	}
	if o != nil && o.sel.Dst.Bits() == 128 {
		return o
	}
	if h := t.host[dst]; h != nil {
		return h
	}
	return o
}

// acceptTable is the ingress check's index: endpoint to the inner sources
// it accepts. Entries are never changed in place, so a receive loop may
// keep one after the lock is released.
type acceptTable struct {
	mu sync.RWMutex
	m  map[endpointKey]*acceptEntry
}

func (a *acceptTable) get(k endpointKey) *acceptEntry {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.m[k]
}

func (a *acceptTable) put(k endpointKey, e *acceptEntry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m[k] = e
}

func (a *acceptTable) del(k endpointKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.m, k)
}
