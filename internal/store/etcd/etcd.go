// Package etcd keeps the home agent's bindings in an etcd cluster (issue 13,
// item 3): every Apply is one etcd transaction, committed by a quorum of the
// members before it returns, so nothing is acknowledged that the cluster
// does not hold. Each record is attached to a lease that ends with its
// binding (rounded up to leaseStep), so etcd drops what nobody refreshes.
//
// A Fence makes every write conditional on the writer still holding its
// election key: a home agent that lost its leadership can no longer store,
// hence no longer accept, a binding (docs/ha-cluster.md).
package etcd

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"monami/internal/store"
)

// leaseStep groups bindings into one lease per leaseStep of expiry time,
// so a busy home agent grants a lease every few seconds, not per update.
// A record lives at most leaseStep+leaseGrace past its binding; restore
// drops expired records anyway.
const (
	leaseStep  = 5 * time.Second
	leaseGrace = 2 * time.Second
)

// DefaultTimeout bounds one etcd request.
const DefaultTimeout = 5 * time.Second

// ErrNotLeader is returned by Apply when the fence no longer holds: the
// home agent lost its election.
var ErrNotLeader = errors.New("etcd: this node no longer holds the election key")

// Store is a store.Store in etcd under a key prefix.
type Store struct {
	c       *clientv3.Client
	own     bool // Close closes c
	prefix  string
	timeout time.Duration
	now     func() time.Time

	mu    sync.Mutex
	fence []clientv3.Cmp
	// term bounds every request: a term that ends cancels the writes in
	// flight, so a node cut off from etcd does not wait out Timeout.
	term   context.Context
	leases map[int64]clientv3.LeaseID // by lease end, Unix seconds
}

var _ store.Store = (*Store)(nil)

// Config opens a Store.
type Config struct {
	// Endpoints are the etcd client URLs (when Client is nil).
	Endpoints []string
	// Client, when set, is shared (with the election); Close leaves it open.
	Client *clientv3.Client
	// Prefix is prepended to every key, e.g. "/monami/ha1/".
	Prefix string
	// Timeout bounds each request; default DefaultTimeout.
	Timeout time.Duration
}

// Open connects to etcd (unless given a client).
func Open(cfg Config) (*Store, error) {
	s := &Store{c: cfg.Client, prefix: cfg.Prefix + "bindings/", timeout: cfg.Timeout, now: time.Now, term: context.Background(),
		leases: map[int64]clientv3.LeaseID{}}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.c == nil {
		c, err := clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: s.timeout, Logger: zap.NewNop()})
		if err != nil {
			return nil, fmt.Errorf("etcd %v: %w", cfg.Endpoints, err)
		}
		s.c, s.own = c, true
	}
	return s, nil
}

// Fence makes every later Apply conditional on the key created at revision
// rev still existing unchanged (the election key of concurrency.Election:
// Key and Rev). Fence("", 0) lifts it.
func (s *Store) Fence(key string, rev int64) { s.fenceIn(context.Background(), key, rev) }

// fenceIn is Fence for a term that lasts as long as ctx.
func (s *Store) fenceIn(ctx context.Context, key string, rev int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fence, s.term = nil, ctx
	if key != "" {
		s.fence = []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", rev)}
	}
}

// Apply implements store.Store: one transaction, conditional on the fence.
func (s *Store) Apply(b store.Batch) error {
	if b.Empty() {
		return nil
	}
	err := s.apply(b)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		// A cached lease was revoked (or outlived by a clock jump): once more
		// with fresh ones.
		s.mu.Lock()
		clear(s.leases)
		s.mu.Unlock()
		err = s.apply(b)
	}
	return err
}

func (s *Store) apply(b store.Batch) error {
	s.mu.Lock()
	fence, term := s.fence, s.term
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(term, s.timeout)
	defer cancel()
	ops := make([]clientv3.Op, 0, len(b.Put)+len(b.Delete))
	for _, k := range b.Delete {
		ops = append(ops, clientv3.OpDelete(s.key(k)))
	}
	for i := range b.Put {
		r := &b.Put[i]
		v, err := store.AppendRecord(nil, r)
		if err != nil {
			return err
		}
		var opts []clientv3.OpOption
		if !r.Binding.Expires.IsZero() {
			id, err := s.lease(ctx, r.Binding.Expires)
			if err != nil {
				return err
			}
			opts = append(opts, clientv3.WithLease(id))
		}
		ops = append(ops, clientv3.OpPut(s.key(r.Key()), string(v), opts...))
	}
	resp, err := s.c.Txn(ctx).If(fence...).Then(ops...).Commit()
	if err != nil && term.Err() != nil {
		return fmt.Errorf("%w (the term ended during the transaction)", ErrNotLeader)
	}
	if err != nil {
		return fmt.Errorf("etcd transaction of %d operations: %w", len(ops), err)
	}
	if !resp.Succeeded {
		return ErrNotLeader
	}
	return nil
}

// lease returns a lease that ends at the first leaseStep boundary at or
// after exp, plus leaseGrace, granting it on first use.
func (s *Store) lease(ctx context.Context, exp time.Time) (clientv3.LeaseID, error) {
	step := int64(leaseStep / time.Second)
	end := (exp.Unix() + step) / step * step
	now := s.now()
	s.mu.Lock()
	id, ok := s.leases[end]
	for e := range s.leases {
		if e < now.Unix() {
			delete(s.leases, e)
		}
	}
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	ttl := max(time.Unix(end, 0).Sub(now)+leaseGrace, leaseGrace)
	resp, err := s.c.Grant(ctx, int64((ttl+time.Second-1)/time.Second))
	if err != nil {
		return 0, fmt.Errorf("etcd lease for bindings expiring at %s: %w", exp.Format(time.RFC3339), err)
	}
	s.mu.Lock()
	s.leases[end] = resp.ID
	s.mu.Unlock()
	return resp.ID, nil
}

func (s *Store) key(k store.Key) string { return s.prefix + string(store.AppendKey(nil, k)) }

// Load implements store.Store with one linearizable read: a node that just
// won the election sees everything its predecessor committed.
func (s *Store) Load() iter.Seq2[store.Record, error] {
	return func(yield func(store.Record, error) bool) {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		resp, err := s.c.Get(ctx, s.prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
		cancel()
		if err != nil {
			yield(store.Record{}, fmt.Errorf("etcd: reading %s: %w", s.prefix, err))
			return
		}
		for _, kv := range resp.Kvs {
			r, err := store.DecodeRecord(kv.Value)
			if err != nil {
				err = store.KeyError(kv.Key[len(s.prefix):], err)
			}
			if !yield(r, err) {
				return
			}
		}
	}
}

// Close implements store.Store; a shared client stays open.
func (s *Store) Close() error {
	if s.own {
		return s.c.Close()
	}
	return nil
}
