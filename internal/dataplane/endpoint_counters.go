package dataplane

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/google/nftables"
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
// counters of the ingress check's accepting sets (kernel_nft.go). The
// dump (one element per endpoint: milliseconds at thousands of mobile
// nodes) runs on a connection of its own, without the data plane's lock,
// so a role may read the counters on another goroutine while its event
// loop keeps installing bindings.
func (k *kernelDP) EndpointCounters() (map[EndpointKey]uint64, error) {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil, ErrClosed
	}
	sets := k.nft.counterSets()
	k.mu.Unlock()
	return k.counters.read(k.nft.opts, sets)
}

// counterSets are the accepting sets whose elements count arrivals.
func (s *nftState) counterSets() []*nftables.Set {
	return []*nftables.Set{s.sets[setAllowed], s.sets[setAllowedPfx], s.sets[setAnyInner]}
}

// counterReader is the nftables connection that reads the counters,
// apart from the one that stages transactions (its own socket: a dump's
// answers never mix with a transaction's).
type counterReader struct {
	mu     sync.Mutex
	conn   *nftables.Conn
	closed bool
}

func (r *counterReader) read(opts []nftables.ConnOption, sets []*nftables.Set) (map[EndpointKey]uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if r.conn == nil {
		c, err := nftables.New(opts...)
		if err != nil {
			return nil, fmt.Errorf("nftables: counter connection: %w", err)
		}
		r.conn = c
	}
	out, err := endpointCounters(r.conn, sets)
	if err != nil {
		// Its socket may still hold the failed dump's answers.
		_ = r.conn.CloseLasting()
		r.conn = nil
	}
	return out, err
}

func (r *counterReader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.conn != nil {
		_ = r.conn.CloseLasting()
		r.conn = nil
	}
}

func endpointCounters(c *nftables.Conn, sets []*nftables.Set) (map[EndpointKey]uint64, error) {
	out := map[EndpointKey]uint64{}
	for _, set := range sets {
		els, err := c.GetSetElements(set)
		if err != nil {
			return nil, fmt.Errorf("nftables: read set %s: %w", set.Name, err)
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
