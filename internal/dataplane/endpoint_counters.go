package dataplane

import (
	"fmt"
	"net/netip"
	"sync/atomic"
)

// EndpointKey names a decapsulating endpoint regardless of encapsulation:
// the local outer destination and the peer (outer source).
type EndpointKey struct{ Local, Peer netip.Addr }

// EndpointCounter is implemented by backends that count, per endpoint, the
// packets admitted by the ingress check. Path liveness (internal/paths)
// takes an increase as proof of life of the path from Peer to Local.
type EndpointCounter interface {
	// EndpointCounters returns the packets admitted per installed endpoint
	// since it was installed (replacing an endpoint keeps its count).
	EndpointCounters() (map[EndpointKey]uint64, error)
}

// EndpointCounters implements EndpointCounter from the per-element
// counters of the ingress check's accepting sets (kernel_nft.go).
func (k *kernelDP) EndpointCounters() (map[EndpointKey]uint64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, ErrClosed
	}
	return k.nft.endpointCounters()
}

func (s *nftState) endpointCounters() (map[EndpointKey]uint64, error) {
	out := map[EndpointKey]uint64{}
	for _, name := range []string{setAllowed, setAllowedPfx, setAnyInner} {
		els, err := s.conn.GetSetElements(s.sets[name])
		if err != nil {
			return nil, fmt.Errorf("nftables: read set %s: %w", name, err)
		}
		for _, e := range els {
			if e.IntervalEnd || len(e.Key) < 32 {
				continue
			}
			k := EndpointKey{netip.AddrFrom16([16]byte(e.Key[:16])), netip.AddrFrom16([16]byte(e.Key[16:32]))}
			n := uint64(0)
			if e.Counter != nil {
				n = e.Counter.Packets
			}
			out[k] += n
		}
	}
	return out, nil
}

// EndpointCounters implements EndpointCounter from the accept table.
func (u *userDP) EndpointCounters() (map[EndpointKey]uint64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil, ErrClosed
	}
	out := map[EndpointKey]uint64{}
	u.accept.mu.RLock()
	defer u.accept.mu.RUnlock()
	for k, e := range u.accept.m {
		out[EndpointKey{k.local, k.peer}] += e.arrivals.Load()
	}
	return out, nil
}

// arrivals returns the counter of k's entry, or a new one.
func (a *acceptTable) arrivals(k endpointKey) *atomic.Uint64 {
	if e := a.get(k); e != nil && e.arrivals != nil {
		return e.arrivals
	}
	return new(atomic.Uint64)
}
