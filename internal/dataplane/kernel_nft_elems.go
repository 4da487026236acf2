package dataplane

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
)

// nftTx collects set element changes, in order, for one transaction: the
// kernel applies all of them or none, so the ingress check is never half
// updated.
type nftTx struct {
	s     *nftState
	steps []nftStep
}

type nftStep struct {
	set  string
	add  bool
	elem []nftables.SetElement
}

func (s *nftState) tx() *nftTx { return &nftTx{s: s} }

func (t *nftTx) add(set string, els ...nftables.SetElement) {
	if len(els) > 0 {
		t.steps = append(t.steps, nftStep{set, true, els})
	}
}

func (t *nftTx) del(set string, els ...nftables.SetElement) {
	if len(els) > 0 {
		t.steps = append(t.steps, nftStep{set, false, els})
	}
}

func (t *nftTx) empty() bool { return len(t.steps) == 0 }

// maxElemsPerMessage keeps each netlink message, and the acknowledgements
// of a transaction, well within what one socket buffer holds.
const maxElemsPerMessage = 256

// commit sends the transaction; on error the kernel has applied nothing.
// The staged steps are reduced to their net effect (an element added and
// removed again in the batch is left alone), then sent as one deletion
// and one addition message per set, in chunks.
func (t *nftTx) commit() error {
	c := t.s.conn
	dels, adds := t.net()
	for _, m := range []struct {
		els map[string][]nftables.SetElement
		add bool
	}{{dels, false}, {adds, true}} {
		for _, set := range allSets {
			els := m.els[set]
			for len(els) > 0 {
				n := min(len(els), maxElemsPerMessage)
				var err error
				if m.add {
					err = c.SetAddElements(t.s.sets[set], els[:n])
				} else {
					err = c.SetDeleteElements(t.s.sets[set], els[:n])
				}
				if err != nil {
					return err
				}
				els = els[n:]
			}
		}
	}
	if err := t.s.flush(); err != nil {
		return fmt.Errorf("nftables: update sets: %w", err)
	}
	return nil
}

// net is what the steps change: an element's first step says whether it
// was there before the batch, its last whether it is there after.
func (t *nftTx) net() (dels, adds map[string][]nftables.SetElement) {
	type fate struct {
		first, last bool // added?
		e           nftables.SetElement
		order       int
	}
	fates := map[string]map[string]*fate{}
	n := 0
	for _, st := range t.steps {
		m := fates[st.set]
		if m == nil {
			m = map[string]*fate{}
			fates[st.set] = m
		}
		for _, e := range st.elem {
			id := elemID(e)
			if f := m[id]; f != nil {
				f.last, f.e = st.add, e
				continue
			}
			m[id] = &fate{first: st.add, last: st.add, e: e, order: n}
			n++
		}
	}
	dels, adds = map[string][]nftables.SetElement{}, map[string][]nftables.SetElement{}
	for set, m := range fates {
		fs := make([]*fate, 0, len(m))
		for _, f := range m {
			fs = append(fs, f)
		}
		slices.SortFunc(fs, func(a, b *fate) int { return a.order - b.order })
		for _, f := range fs {
			switch {
			case f.first && f.last:
				adds[set] = append(adds[set], f.e)
			case !f.first && !f.last:
				dels[set] = append(dels[set], f.e)
			}
		}
	}
	return dels, adds
}

func key(addrs ...netip.Addr) []byte {
	b := make([]byte, 0, 16*len(addrs))
	for _, a := range addrs {
		s := a.As16()
		b = append(b, s[:]...)
	}
	return b
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As16()
	for i := p.Bits(); i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(b)
}

// endpointElems are the elements that admit what e accepts.
func endpointElems(e Endpoint) map[string][]nftables.SetElement {
	m := map[string][]nftables.SetElement{}
	if len(e.InnerSrc) == 0 {
		m[setAnyInner] = []nftables.SetElement{{Key: key(e.Local, e.Peer)}}
		return m
	}
	m[setPeers] = []nftables.SetElement{{Key: key(e.Local, e.Peer)}}
	for _, p := range e.InnerSrc {
		p = p.Masked()
		if p.Bits() == 128 {
			m[setAllowed] = append(m[setAllowed], nftables.SetElement{Key: key(e.Local, e.Peer, p.Addr())})
			continue
		}
		m[setAllowedPfx] = append(m[setAllowedPfx], nftables.SetElement{
			Key: key(e.Local, e.Peer, p.Addr()), KeyEnd: key(e.Local, e.Peer, lastAddr(p))})
	}
	return m
}

func elemID(e nftables.SetElement) string { return string(e.Key) + "/" + string(e.KeyEnd) }

// minus is the elements of a that are not in b.
func minus(a, b map[string][]nftables.SetElement) map[string][]nftables.SetElement {
	out := map[string][]nftables.SetElement{}
	for name, els := range a {
		in := map[string]bool{}
		for _, e := range b[name] {
			in[elemID(e)] = true
		}
		for _, e := range els {
			if !in[elemID(e)] {
				out[name] = append(out[name], e)
			}
		}
	}
	return out
}

// Sets in a fixed order, so that a transaction is the same every time.
var (
	endpointSets = []string{setPeers, setAnyInner, setAllowed, setAllowedPfx}
	allSets      = append([]string{setLocals, mapDecap, setTunnels}, endpointSets...)
)

// putEndpoint stages admitting e (replacing prev, when there was one);
// newLocal adds e.Local and its internal decapsulation address decap.
func (t *nftTx) putEndpoint(prev *Endpoint, e Endpoint, decap netip.Addr, newLocal bool) {
	want, had := endpointElems(e), map[string][]nftables.SetElement{}
	if prev != nil {
		had = endpointElems(*prev)
		gone := minus(had, want)
		for _, set := range endpointSets {
			t.del(set, gone[set]...)
		}
	}
	if newLocal {
		t.add(setLocals, nftables.SetElement{Key: key(e.Local)})
		t.add(mapDecap, nftables.SetElement{Key: key(e.Local), Val: key(decap)})
	}
	added := minus(want, had)
	for _, set := range endpointSets {
		t.add(set, added[set]...)
	}
}

// delEndpoint stages no longer admitting what e accepted; lastLocal
// removes e.Local too.
func (t *nftTx) delEndpoint(e Endpoint, lastLocal bool) {
	els := endpointElems(e)
	for _, set := range endpointSets {
		t.del(set, els[set]...)
	}
	if lastLocal {
		t.del(setLocals, nftables.SetElement{Key: key(e.Local)})
		t.del(mapDecap, nftables.SetElement{Key: key(e.Local)})
	}
}

// holdTunnel and releaseTunnel keep the postrouting counter's set (only
// without BPF, where there is that chain) in step with the tunnels in use.
func (s *nftState) holdTunnel(k tunnelKey) error {
	if s.post == nil {
		return nil
	}
	if s.tunnelRefs[k] == 0 {
		t := s.tx()
		t.add(setTunnels, nftables.SetElement{Key: key(k.local, k.remote)})
		if err := t.commit(); err != nil {
			return err
		}
	}
	s.tunnelRefs[k]++
	return nil
}

func (s *nftState) releaseTunnel(k tunnelKey) error {
	if s.post == nil || s.tunnelRefs[k] == 0 {
		return nil
	}
	if s.tunnelRefs[k] > 1 {
		s.tunnelRefs[k]--
		return nil
	}
	t := s.tx()
	t.del(setTunnels, nftables.SetElement{Key: key(k.local, k.remote)})
	if err := t.commit(); err != nil {
		return err
	}
	delete(s.tunnelRefs, k)
	return nil
}
