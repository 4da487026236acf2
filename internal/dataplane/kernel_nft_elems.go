package dataplane

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
)

// nftTx collects the set element changes of one transaction: the kernel
// applies all of them or none, so the ingress check is never half updated.
type nftTx struct {
	s        *nftState
	add, del map[string][]nftables.SetElement
}

func (s *nftState) tx() *nftTx {
	return &nftTx{s: s, add: map[string][]nftables.SetElement{}, del: map[string][]nftables.SetElement{}}
}

// commit sends the transaction; on error the kernel has applied nothing.
// Deletions go first so that a replaced element may be added back.
func (t *nftTx) commit() error {
	c := t.s.conn
	for name, els := range t.del {
		if err := c.SetDeleteElements(t.s.sets[name], els); err != nil {
			return err
		}
	}
	for name, els := range t.add {
		if err := c.SetAddElements(t.s.sets[name], els); err != nil {
			return err
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: update sets: %w", err)
	}
	return nil
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

// putEndpoint admits e (replacing prev, when there was one, in the same
// transaction). decap is the internal address of e.Local.
func (s *nftState) putEndpoint(prev *Endpoint, e Endpoint, decap netip.Addr) error {
	t := s.tx()
	want := endpointElems(e)
	if prev != nil {
		t.del = minus(endpointElems(*prev), want)
	}
	for name, els := range want {
		t.add[name] = els
	}
	newLocal := prev == nil && s.localRefs[e.Local] == 0
	if newLocal {
		t.add[setLocals] = []nftables.SetElement{{Key: key(e.Local)}}
		t.add[mapDecap] = []nftables.SetElement{{Key: key(e.Local), Val: key(decap)}}
	}
	if err := t.commit(); err != nil {
		return fmt.Errorf("endpoint %v: %w", e, err)
	}
	if prev == nil {
		s.localRefs[e.Local]++
	}
	return nil
}

// delEndpoint stops admitting what e accepted.
func (s *nftState) delEndpoint(e Endpoint) error {
	t := s.tx()
	t.del = endpointElems(e)
	lastLocal := s.localRefs[e.Local] == 1
	if lastLocal {
		t.del[setLocals] = []nftables.SetElement{{Key: key(e.Local)}}
		t.del[mapDecap] = []nftables.SetElement{{Key: key(e.Local)}}
	}
	if err := t.commit(); err != nil {
		return fmt.Errorf("endpoint %v: %w", e, err)
	}
	if lastLocal {
		delete(s.localRefs, e.Local)
	} else {
		s.localRefs[e.Local]--
	}
	return nil
}

// holdTunnel and releaseTunnel keep the postrouting counter's set (only
// without BPF, where there is that chain) in step with the tunnels in use.
func (s *nftState) holdTunnel(k tunnelKey) error {
	if s.post == nil {
		return nil
	}
	if s.tunnelRefs[k] == 0 {
		t := s.tx()
		t.add[setTunnels] = []nftables.SetElement{{Key: key(k.local, k.remote)}}
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
	t.del[setTunnels] = []nftables.SetElement{{Key: key(k.local, k.remote)}}
	if err := t.commit(); err != nil {
		return err
	}
	delete(s.tunnelRefs, k)
	return nil
}
