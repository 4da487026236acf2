package ha

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"monami/internal/binding"
	"monami/internal/config"
	etcdstore "monami/internal/store/etcd"
	"monami/internal/transport"
)

// clusterNode makes the home agent one node of an active/standby cluster
// (docs/ha-cluster.md): it campaigns in the etcd election; only while it
// leads does the event loop answer Binding Updates and hold forwarding
// state, loaded from etcd when the term starts.
type clusterNode struct {
	node *etcdstore.Node
	// events carries the terms won and lost, in order, to the event loop.
	events chan clusterEvent
	// term is the loop's current term (nil: standby).
	term *etcdstore.Term
	// since is when the node started leading (Unix ns, 0: standby), and
	// down when it last stopped: written by the loop, read by anyone.
	since, down atomic.Int64
	// serving is term while it serves, for the transports' senders.
	serving atomic.Pointer[etcdstore.Term]
	// addr moves the home agent address with the leadership (nil without
	// home_link: routing to the leader is then the operator's).
	addr addressOwner
	// health is the node's way to etcd (cluster_health.go).
	health etcdHealth
}

// answers reports whether this node may send anything: it leads, and its
// term is not lost (the watchdog may end it while the loop is busy).
func (c *clusterNode) answers() bool {
	t := c.serving.Load()
	if t == nil {
		return false
	}
	select {
	case <-t.Lost():
		return false
	default:
		return true
	}
}

// Leading reports whether this node leads and since when.
func (c *clusterNode) Leading() (time.Time, bool) {
	if ns := c.since.Load(); ns != 0 {
		return time.Unix(0, ns), true
	}
	return time.Time{}, false
}

type clusterEvent struct {
	term *etcdstore.Term
	won  bool
}

// joinCluster connects to the cluster's etcd; the node's store is the
// home agent's store.
func joinCluster(cfg *config.HomeAgent) (*clusterNode, error) {
	host, _ := os.Hostname()
	n, err := etcdstore.Join(etcdstore.NodeConfig{Endpoints: cfg.Cluster.Etcd, Election: cfg.Cluster.Election,
		TTL: cfg.Cluster.TTL.D(), ID: fmt.Sprintf("%s/%d %s", host, os.Getpid(), cfg.Address)})
	if err != nil {
		return nil, fmt.Errorf("cluster.etcd: %w", err)
	}
	c := &clusterNode{node: n, events: make(chan clusterEvent)}
	go c.watchEtcd(n.Client().Ctx(), cfg.Cluster.TTL.D())
	return c, nil
}

// campaign runs beside the event loop until ctx ends: win, tell the loop,
// wait for the term to end, tell the loop, campaign again.
func (c *clusterNode) campaign(ctx context.Context, h *HomeAgent) {
	for ctx.Err() == nil {
		t, err := c.node.Campaign(ctx)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Error("cluster: campaign failed; retrying", "err", err)
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
				}
			}
			continue
		}
		if !c.send(ctx, clusterEvent{term: t, won: true}) {
			t.End(ctx.Err())
			t.Wait()
			return
		}
		select {
		case <-t.Lost():
		case <-ctx.Done():
			// A graceful stop: revoke now, so a standby takes over at once.
			t.End(ctx.Err())
			t.Wait()
		}
		if !c.send(ctx, clusterEvent{term: t}) {
			return
		}
	}
}

func (c *clusterNode) send(ctx context.Context, ev clusterEvent) bool {
	select {
	case c.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// clusterEvents is the loop's channel of terms (nil, never ready, without a
// cluster).
func (h *HomeAgent) clusterEvents() <-chan clusterEvent {
	if h.cluster == nil {
		return nil
	}
	return h.cluster.events
}

// standby reports whether this node must stay silent: it is in a cluster
// and does not lead.
func (h *HomeAgent) standby() bool { return h.cluster != nil && h.cluster.term == nil }

// onClusterEvent starts or ends serving. A term starts with a linearizable
// read of every binding and its replay state from etcd (restore), so the
// new leader refuses what its predecessor last accepted (RFC 6275 section
// 9.5.1, RFC 4285 section 6), and installs the data plane before reading
// any Binding Update.
func (h *HomeAgent) onClusterEvent(ev clusterEvent) {
	if !ev.won {
		h.stepDown(ev.term)
		return
	}
	start := time.Now()
	h.cluster.term = ev.term
	// The address first: the kernel data plane installs a tunnel endpoint
	// only from an address the node holds, so restore needs it.
	if a := h.cluster.addr; a != nil {
		if err := a.Claim(); err != nil {
			h.log.Error("cluster: cannot take the home agent address; giving the leadership up", "err", err)
			h.stepDown(ev.term)
			ev.term.End(err)
			return
		}
	}
	if err := h.restore(); err != nil {
		h.log.Error("cluster: bindings not loaded from etcd; giving the leadership up", "err", err)
		h.stepDown(ev.term)
		ev.term.End(err)
		return
	}
	h.cluster.serving.Store(ev.term)
	h.cluster.since.Store(time.Now().UnixNano())
	h.log.Info("cluster: leading", "key", ev.term.Key(), "bindings", h.cache.Len(), "took", time.Since(start))
}

// stepDown stops serving: the cache forgets every binding and the data
// plane state goes with it, the store keeps them (the next leader loads
// them). Nothing more is answered until the node leads again.
func (h *HomeAgent) stepDown(t *etcdstore.Term) {
	if h.cluster.term == nil {
		return
	}
	h.cluster.term = nil
	h.cluster.serving.Store(nil)
	h.cluster.since.Store(0)
	defer h.cluster.down.Store(time.Now().UnixNano()) // once the state is gone
	hoas := map[netip.Addr]bool{}
	h.cache.All(func(b binding.Binding) bool { hoas[b.HoA] = true; return true })
	n := h.cache.Len()
	for hoa := range hoas {
		changes := h.cache.Remove(hoa)
		h.follow(changes)
		h.bindingsGone(changes)
	}
	h.commitLogged("removing the forwarding state on stepping down")
	if a := h.cluster.addr; a != nil {
		if err := a.Yield(); err != nil {
			h.log.Error("cluster: home agent address not removed", "err", err)
		}
	}
	// A fresh cache: a later term starts from etcd alone, not from replay
	// state this node kept while another node served.
	h.cache = binding.NewBindingCache(cacheConfig(h.cfg), h.now())
	h.log.Warn("cluster: no longer leading; forwarding state removed", "bindings", n, "why", t.Why)
}

// leaderOnly wraps a signalling transport of a cluster node: nothing is
// sent unless the node serves. A term can end while the loop processes a
// Binding Update (a store write cut short); the answer is then dropped, so
// the side that lost the election says nothing, not even a refusal.
type leaderOnly struct {
	transport.Transport
	c   *clusterNode
	cnt *counters
}

func (l *leaderOnly) Send(ctx context.Context, s transport.Signal) error {
	if !l.c.answers() {
		l.cnt.inc(&l.cnt.notLeader)
		return nil
	}
	return l.Transport.Send(ctx, s)
}

// SendBatch sends a batch of answers under the same rule (one check for
// the batch: the answers were decided together), in one call when the
// transport sends batches.
func (l *leaderOnly) SendBatch(ctx context.Context, ss []transport.Signal, errs []error) {
	if !l.c.answers() {
		for i := range ss {
			l.cnt.inc(&l.cnt.notLeader)
			errs[i] = nil
		}
		return
	}
	if b, ok := l.Transport.(transport.BatchSender); ok {
		b.SendBatch(ctx, ss, errs)
		return
	}
	for i, s := range ss {
		errs[i] = l.Transport.Send(ctx, s)
	}
}

// leaderOnlyICMP keeps the Parameter Problem sender of the transports that
// have one (the native one), under the same rule.
type leaderOnlyICMP struct {
	*leaderOnly
	pp transport.ParameterProblemSender
}

func (l *leaderOnlyICMP) SendParameterProblem(ctx context.Context, s transport.Signal, off int) error {
	if !l.c.answers() {
		l.cnt.inc(&l.cnt.notLeader)
		return nil
	}
	return l.pp.SendParameterProblem(ctx, s, off)
}

// gateTransports wraps every transport in leaderOnly.
func (h *HomeAgent) gateTransports() {
	h.tps = slices.Clone(h.tps) // the caller's slice stays as it was
	for i, tp := range h.tps {
		l := &leaderOnly{Transport: tp, c: h.cluster, cnt: &h.cnt}
		if pp, ok := tp.(transport.ParameterProblemSender); ok {
			h.tps[i] = &leaderOnlyICMP{leaderOnly: l, pp: pp}
		} else {
			h.tps[i] = l
		}
	}
}

// ownAddress sets up the home agent address owner: with a home_link, the
// leader holds the address there. It starts as a standby: without it.
func (c *clusterNode) ownAddress(cfg *config.HomeAgent, opt Options, proxy neighborProxy, log *slog.Logger) error {
	c.addr = opt.clusterAddr
	if c.addr == nil && cfg.HomeLink != "" {
		l, err := newLinkAddress(cfg.HomeLink, cfg.Addr(), opt.NetNS, proxy, log)
		if err != nil {
			return err
		}
		c.addr = l
	}
	if c.addr != nil {
		if err := c.addr.Yield(); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	return nil
}

// close gives the address up on the way out (the loop has stopped).
func (c *clusterNode) close(h *HomeAgent) {
	if c.addr == nil {
		return
	}
	if err := c.addr.Yield(); err != nil {
		h.log.Warn("cluster: home agent address not removed", "err", err)
	}
	if l, ok := c.addr.(*linkAddress); ok {
		l.Close()
	}
}

// ClusterStatus is the cluster part of the status topic.
type ClusterStatus struct {
	Election string    `json:"election"`
	Leading  bool      `json:"leading"`
	Since    time.Time `json:"since,omitzero"`
	// Stopped is when the node last stopped serving (its forwarding state
	// removed); Terms counts the terms it won; Etcd is "ok", "unknown" or
	// why it cannot reach an etcd quorum (cluster_health.go).
	Stopped time.Time `json:"stopped,omitzero"`
	Terms   uint64    `json:"terms"`
	Etcd    string    `json:"etcd"`
}

func (c *clusterNode) status(election string) ClusterStatus {
	since, ok := c.Leading()
	st := ClusterStatus{Election: election, Leading: ok, Since: since, Terms: c.node.Terms(), Etcd: c.etcdStatus()}
	if ns := c.down.Load(); ns != 0 {
		st.Stopped = time.Unix(0, ns)
	}
	return st
}
