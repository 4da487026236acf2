package ha

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"monami/internal/binding"
	"monami/internal/config"
	"monami/internal/dataplane"
	"monami/internal/store"
	"monami/internal/store/bolt"
)

// openStore opens the configured store (issue 13: bolt by default).
func openStore(cfg config.Store) (store.Store, error) {
	switch cfg.Backend {
	case "memory":
		return store.NewMemory(), nil
	case "bolt", "":
		return bolt.Open(cfg.Path)
	case "etcd":
		return nil, fmt.Errorf("store.backend: etcd needs the cluster section")
	}
	return nil, fmt.Errorf("store.backend: %q is not bolt, memory or etcd", cfg.Backend)
}

// appendRecords adds to b what an accepted Binding Update left of its
// home address: every binding it holds now, with the encapsulation the
// update asks for and the replay state (one record per binding, all with
// the same replay state), and deletions of the bindings it held before
// that are gone. It runs before the acknowledgement: a binding the store
// does not hold is never acknowledged.
func (h *HomeAgent) appendRecords(b *store.Batch, p *decided) {
	h.cur = h.cache.AppendLookup(h.cur[:0], p.req.HoA)
	replay, _ := h.cache.Replay(p.req.HoA)
	for _, x := range h.cur {
		encap := h.encap[bindingKey{x.HoA, x.BID}] // reconcileEncap's already
		u := h.udpPaths[bindingKey{x.HoA, x.BID}]
		b.Put = append(b.Put, store.Record{Binding: x, Encap: uint8(encap), Replay: replay, UDPLocal: u.local, UDPPeer: u.peer})
	}
	for _, old := range p.prev {
		if !slices.ContainsFunc(h.cur, func(x binding.Binding) bool { return x.BID == old.BID }) {
			b.Delete = append(b.Delete, store.Key{HoA: old.HoA, BID: old.BID})
		}
	}
}

// forget deletes the records of bindings that went away without a Binding
// Update (expiry). A failure leaves records that restore drops as expired,
// so it is logged and counted, not returned.
func (h *HomeAgent) forget(changes []binding.Change) {
	var b store.Batch
	for _, c := range changes {
		if c.Kind == binding.BindingRemoved {
			b.Delete = append(b.Delete, store.Key{HoA: c.Binding.HoA, BID: c.Binding.BID})
		}
	}
	if b.Empty() {
		return
	}
	if err := h.store.Apply(b); err != nil {
		h.cnt.inc(&h.cnt.storeErrors)
		h.log.Error("deleting expired bindings from the store", "err", err)
	}
}

// restore reads the store at start, before the home agent answers anything:
// expired records are dropped (and deleted), the others go back into the
// binding cache with their times and replay state, and the data plane gets
// their forwarding again (routes and endpoints replace what a killed
// predecessor left). A record the cache refuses (its home address is
// no longer served) is deleted, with a warning.
func (h *HomeAgent) restore() error {
	now := h.now()
	type node struct {
		bs     []binding.Binding
		encap  map[uint16]dataplane.Encapsulation
		udp    map[uint16]udpPath
		replay binding.ReplayState
	}
	nodes := map[[16]byte]*node{}
	var order [][16]byte
	var drop store.Batch
	var bad int
	for r, err := range h.store.Load() {
		if err != nil && !errors.Is(err, store.ErrRecord) {
			// The store itself cannot be read (etcd out of reach): serving
			// without the bindings would forget replay state.
			return fmt.Errorf("store: loading bindings: %w", err)
		}
		if err != nil {
			bad++
			h.log.Warn("store: unreadable record skipped", "err", err)
			continue
		}
		b := r.Binding
		if !b.Expires.After(now) {
			drop.Delete = append(drop.Delete, r.Key())
			continue
		}
		k := b.HoA.As16()
		n := nodes[k]
		if n == nil {
			n = &node{encap: map[uint16]dataplane.Encapsulation{}, udp: map[uint16]udpPath{}, replay: r.Replay}
			nodes[k] = n
			order = append(order, k)
		}
		n.bs = append(n.bs, b)
		n.encap[b.BID] = dataplane.Encapsulation(r.Encap)
		if r.UDPPeer.IsValid() {
			n.udp[b.BID] = udpPath{local: r.UDPLocal, peer: r.UDPPeer}
		}
	}
	var restored []netip.Addr
	for _, k := range order {
		n := nodes[k]
		hoa := n.bs[0].HoA
		changes, err := h.cache.Reinstate(now, hoa, n.bs, n.replay)
		if err != nil {
			h.log.Warn("store: bindings not restored", "hoa", hoa, "err", err)
			for _, b := range n.bs {
				drop.Delete = append(drop.Delete, store.Key{HoA: hoa, BID: b.BID})
			}
			continue
		}
		h.follow(changes)
		for bid, e := range n.encap {
			h.encap[bindingKey{hoa, bid}] = e
		}
		for bid, u := range n.udp {
			h.udpPaths[bindingKey{hoa, bid}] = u // where the NAT mapping was: the downlink works at once
		}
		restored = append(restored, hoa)
	}
	h.installRestored(restored)
	h.pendingEncap = 0
	if !drop.Empty() {
		if err := h.store.Apply(drop); err != nil {
			return fmt.Errorf("store: deleting expired records: %w", err)
		}
	}
	h.log.Info("bindings restored from the store", "bindings", h.cache.Len(), "home_addresses", h.cache.NodeCount(),
		"dropped", len(drop.Delete), "unreadable", bad)
	return nil
}

// installRestored installs the forwarding of every restored home address
// in one batch (a takeover of thousands of mobile nodes is one data plane
// transaction). When the data plane refuses it, they are installed one by
// one, and those it still refuses are removed from the cache: the mobile
// node's next refresh registers them again.
func (h *HomeAgent) installRestored(hoas []netip.Addr) {
	if h.commit() == nil {
		return
	}
	for _, hoa := range hoas {
		h.touch(hoa)
		err := h.commit()
		if err == nil {
			continue
		}
		h.log.Error("store: bindings not restored: the data plane refused them", "hoa", hoa, "err", err)
		changes := h.cache.Remove(hoa)
		h.follow(changes)
		h.bindingsGone(changes)
		h.commitLogged("removing bindings the data plane refused")
	}
}
