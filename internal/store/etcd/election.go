package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// driftMargin is taken off every lease validity the node computes, for
// clock rate differences between the node and the etcd leader.
const driftMargin = 100 * time.Millisecond

// Node is one home agent node of a cluster: an etcd client shared by its
// store and its election (docs/ha-cluster.md).
type Node struct {
	c      *clientv3.Client
	prefix string
	ttl    time.Duration
	id     string
	// terms counts the terms won (Terms).
	terms atomic.Uint64
	// Store holds the cluster's bindings, fenced by the term in force.
	Store *Store
}

// NodeConfig joins a cluster.
type NodeConfig struct {
	Endpoints []string
	// Election names the cluster; its keys live under /monami/<Election>/.
	Election string
	// TTL is the session lease (whole seconds, at least 2 s, etcd's minimum
	// with its default timers).
	TTL time.Duration
	// ID is this node's value in the election (for operators: who leads).
	ID string
}

// Join connects to etcd. It does not campaign.
func Join(cfg NodeConfig) (*Node, error) {
	c, err := clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: DefaultTimeout,
		// Keep-alive pings notice a dead member quickly, so the client moves on
		// to another endpoint well within the session TTL.
		DialKeepAliveTime: time.Second, DialKeepAliveTimeout: time.Second,
		// The home agent logs what matters itself (log/slog); the client's
		// zap lines would repeat it in another format.
		Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd %v: %w", cfg.Endpoints, err)
	}
	prefix := "/monami/" + cfg.Election + "/"
	s, _ := Open(Config{Client: c, Prefix: prefix})
	// No write before a term starts: a standby stores nothing (no key has
	// creation revision -1).
	s.Fence(prefix+"election", -1)
	return &Node{c: c, prefix: prefix, ttl: cfg.TTL, id: cfg.ID, Store: s}, nil
}

// Client is the node's etcd client (tests close it to cut the node off).
func (n *Node) Client() *clientv3.Client { return n.c }

// Close ends the node's etcd client.
func (n *Node) Close() error {
	if err := n.c.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Term is one leadership of a node: from winning the election until Lost.
type Term struct {
	sess *concurrency.Session
	elec *concurrency.Election
	node *Node
	lost chan struct{}
	// closed is closed once the session is closed (lease revoked or given up).
	closed chan struct{}
	once   sync.Once
	stop   context.CancelFunc
	// Why says why the term ended, once Lost is closed.
	Why error
}

// Campaign blocks until this node leads the election or ctx ends. The store
// is fenced by the new term: it writes only while the term's key exists.
func (n *Node) Campaign(ctx context.Context) (*Term, error) {
	// The session lives on its own context: ending the campaign's ctx must
	// not keep End from revoking the lease (a graceful stop hands over now).
	// The grant itself follows ctx (it would wait forever in a partition).
	gctx, gcancel := context.WithTimeout(ctx, n.ttl)
	l, err := n.c.Grant(gctx, int64(n.ttl/time.Second))
	gcancel()
	if err != nil {
		return nil, fmt.Errorf("etcd session lease: %w", err)
	}
	sess, err := concurrency.NewSession(n.c, concurrency.WithTTL(int(n.ttl/time.Second)), concurrency.WithLease(l.ID))
	if err != nil {
		return nil, fmt.Errorf("etcd session: %w", err)
	}
	elec := concurrency.NewElection(sess, n.prefix+"election")
	// A standby waits in Campaign on a watch. If its connection dies, the
	// watch may never tell; its session does (keep-alives fail), and ends
	// the wait, so the node campaigns again on a fresh connection.
	cctx, ccancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-sess.Done():
			ccancel()
		case <-cctx.Done():
		}
	}()
	err = elec.Campaign(cctx, n.id)
	ccancel()
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("etcd election %s: %w", n.prefix, err)
	}
	wctx, stop := context.WithCancel(context.Background())
	t := &Term{sess: sess, elec: elec, node: n, lost: make(chan struct{}), closed: make(chan struct{}), stop: stop}
	valid, err := t.renew(wctx, time.Now().Add(n.ttl))
	if err != nil {
		t.End(err)
		return nil, fmt.Errorf("etcd election %s: lease lost on winning: %w", n.prefix, err)
	}
	n.Store.fenceIn(wctx, elec.Key(), elec.Rev())
	n.terms.Add(1)
	go t.watch(wctx, valid)
	return t, nil
}

// Key is the term's election key, Rev its creation revision.
func (t *Term) Key() string { return t.elec.Key() }

// Lost is closed when the node can no longer be sure it leads.
func (t *Term) Lost() <-chan struct{} { return t.lost }

// End ends the term (idempotent): the store refuses writes at once, and the
// session lease is revoked so that another node can win now, not after
// the TTL. When etcd is out of reach the revoke fails and the lease simply
// expires; this node stopped trusting it first (watch).
func (t *Term) End(why error) {
	t.once.Do(func() {
		t.Why = why
		t.node.Store.Fence(t.elec.Key(), -1) // no key has revision -1
		t.stop()
		close(t.lost)
		go func() {
			t.sess.Close() // orphans the lease, then revokes it (bounded by the TTL)
			close(t.closed)
		}()
	})
}

// Wait returns once the lease of an ended term is revoked, or given up.
func (t *Term) Wait() { <-t.closed }

// watch renews the session lease itself, every TTL/4, and ends the term
// when the last renewal the etcd leader confirmed is about to run out.
//
// The timing argument (docs/ha-cluster.md): a renewal sent at t0 makes the
// etcd leader extend the lease to at least t0 + TTL, because it renews
// after t0. So until t0 + TTL - driftMargin no other node can hold the
// election key: the lease is alive. Ending the term then, before etcd can
// have expired the lease, means the old leader has stopped answering
// before a new one can be elected, even when it is cut off from etcd.
func (t *Term) watch(ctx context.Context, valid time.Time) {
	tick := time.NewTicker(t.node.ttl / 4)
	defer tick.Stop()
	deadline := time.NewTimer(time.Until(valid))
	defer deadline.Stop()
	renewed := make(chan renewal)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.sess.Done():
			t.End(errors.New("etcd session ended"))
			return
		case <-deadline.C:
			t.End(fmt.Errorf("no lease renewal confirmed by etcd within %s", t.node.ttl))
			return
		case <-tick.C:
			// Renewals run side by side: one that hangs while etcd elects a
			// new raft leader must not hold back the next, which reaches
			// the new leader (each ends by the validity it was sent under).
			go func(valid time.Time) {
				v, err := t.renew(ctx, valid)
				select {
				case renewed <- renewal{v, err}:
				case <-ctx.Done():
				}
			}(valid)
		case r := <-renewed:
			if errors.Is(r.err, rpctypes.ErrLeaseNotFound) {
				t.End(fmt.Errorf("etcd session lease expired: %w", r.err))
				return
			}
			if r.err == nil && r.valid.After(valid) {
				valid = r.valid
				deadline.Reset(time.Until(valid))
			}
		}
	}
}

type renewal struct {
	valid time.Time
	err   error
}

// renew sends one keep-alive; on success the lease is valid until the send
// time plus the TTL etcd granted, minus driftMargin.
func (t *Term) renew(ctx context.Context, valid time.Time) (time.Time, error) {
	t0 := time.Now()
	ctx, cancel := context.WithDeadline(ctx, valid)
	defer cancel()
	resp, err := t.node.c.KeepAliveOnce(ctx, t.sess.Lease())
	if err != nil {
		return time.Time{}, err
	}
	return t0.Add(time.Duration(resp.TTL)*time.Second - driftMargin), nil
}
