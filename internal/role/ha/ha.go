// Package ha is the home agent role: it receives Binding Updates over the
// signalling transports, authenticates them (RFC 4285), lets the pure
// binding cache decide (RFC 6275 section 10.3 with RFC 5648), programs the
// data plane, and answers with Binding Acknowledgements.
//
// One goroutine owns all state (the event loop in Run); transport readers
// only feed it, and the control API asks it for snapshots.
package ha

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netns"

	"monami/internal/binding"
	"monami/internal/config"
	"monami/internal/ctlapi"
	"monami/internal/dataplane"
	"monami/internal/forwarding"
	"monami/internal/reconcile"
	"monami/internal/store"
	"monami/internal/transport"
	"monami/wire"
)

// Options injects what a test or benchmark replaces; zero values open the
// real thing from the configuration.
type Options struct {
	Logger *slog.Logger
	// Transports, when set, are used instead of opening the configured ones.
	// The home agent closes them on exit.
	Transports []transport.Transport
	// DataPlane, when set, is used instead of dataplane.New. Closed on exit.
	DataPlane dataplane.DataPlane
	// Now is the clock; default time.Now.
	Now func() time.Time
	// NoControlSocket skips the control API.
	NoControlSocket bool
	// NetNS is the network namespace of the data plane when the home agent
	// runs in-process beside others (tests); the daemon itself lives in
	// its namespace and leaves it unset. Transports are opened in the
	// calling thread's namespace.
	NetNS netns.NsHandle
	// Store, when set, is used instead of the configured store. Closed on
	// exit.
	Store store.Store

	// proxy, when set, replaces the proxy ND of the home_link (tests).
	proxy neighborProxy
	// clusterAddr, when set, replaces the cluster's home agent address
	// owner (tests).
	clusterAddr addressOwner
}

// HomeAgent is a running home agent.
type HomeAgent struct {
	cfg   *config.HomeAgent
	log   *slog.Logger
	now   func() time.Time
	addr  netip.Addr
	cache *binding.BindingCache
	sec   *securityAssociations
	dp    dataplane.DataPlane
	tps   []transport.Transport
	ctl   *ctlapi.Server
	// prefixes owns the home prefixes (unreachable routes) when the home
	// agent runs its own data plane.
	prefixes *homePrefixGuard
	// proxy defends away mobile nodes' home addresses on the home link
	// (nil without home_link); defended is what it was told to defend.
	proxy    neighborProxy
	defended map[netip.Addr]bool

	// flows is the flow binding list of every home address (RFC 6089),
	// kept in step with cache (see flows.go).
	flows *binding.FlowTable
	// operatorFlows are the operator rules of ha.yaml that refuse
	// overlapping flow bindings of mobile nodes.
	operatorFlows []forwarding.Match

	// rec installs the desired forwarding (forward.go); dirty are the home
	// addresses whose inputs changed since the last commit, retry those
	// whose last commit failed. rules are the operator rules of ha.yaml.
	rec   *reconcile.Reconciler
	dirty map[netip.Addr]struct{}
	retry map[netip.Addr]struct{}
	rules []forwarding.Rule
	// plainOnly: the data plane refused flow routes (ErrUnsupported), so
	// only each home address's default route is installed.
	plainOnly bool
	// encap is the encapsulation of each binding (RFC 5555).
	encap map[bindingKey]dataplane.Encapsulation
	// coaHomes and homeCoAs index the home addresses tunnelled to each
	// care-of address, for path liveness.
	coaHomes map[netip.Addr][]netip.Addr
	homeCoAs map[netip.Addr][]netip.Addr
	fwdBS    []binding.Binding
	// pendingEncap is the encapsulation for the bindings of the Binding
	// Update being processed (see follow).
	pendingEncap dataplane.Encapsulation
	// udpPaths: where bindings with an IPv4 care-of address are tunnelled
	// (nat.go); pendingUDP is the Binding Update's being decided.
	udpPaths   map[bindingKey]udpPath
	pendingUDP udpPath
	// queued is handleQueued's scratch; singleUntil, when in the future,
	// turns batching off after a failed batch; batching says process
	// leaves persisting to the batch.
	queued      []received
	singleUntil time.Time
	batching    bool
	// store keeps accepted bindings across restarts (persist.go); cur and
	// batch are persist's scratch.
	store store.Store
	// cluster, when set, makes this an active/standby node (cluster.go).
	cluster *clusterNode
	cur     []binding.Binding
	batch   store.Batch

	// udpData takes the UDP-encapsulated data the UDP transport receives;
	// set once the data plane exists (the transport starts reading first).
	udpData atomic.Pointer[dataplane.UDPDeliverer]

	// pw judges the path to each care-of address (liveness.go).
	pw *pathWatch

	// stopMode is a StopMode (stop.go); durable says a single node's
	// store survives the process, which an upgrade stop needs.
	stopMode atomic.Int32
	durable  bool

	warnings *limiter // log lines caused by remote packets
	answers  *limiter // answers to unauthenticated senders
	done     chan struct{}

	in    chan received
	snaps chan snapshotReq
	cnt   counters
	// calls are control API commands for the event loop (drain.go).
	calls chan func()
	// drain, once started, tells mobile nodes to register elsewhere
	// (RFC 5142); paths are how each (home address, care-of address)
	// registered, for messages the home agent sends unasked (drain.go).
	drain *binding.Drain
	paths map[netip.Addr]map[netip.Addr]*signalPath

	// scratch reused per Binding Update (the loop is single-threaded)
	view binding.BindingUpdateRequest
	bu   wire.BindingUpdateView
	dec  binding.Decision
	out  []byte
	// baOpts: the options of the acknowledgement being encoded; baBIDs
	// and baOne the values some of them point to.
	baOpts []wire.Option
	baBIDs []wire.BindingIdentifier
	baOne  baScratch
	acks   ackBatch // answerAll's, without ackq
	ackq   *ackQueue
	// flowReq and flowResults: the flow options of the Binding Update
	// being processed and their answers.
	flowReq     binding.FlowRequest
	flowResults []binding.FlowResult
	// flowsUndecoded: the Flow Identification options are in flowReq.Raw
	// only, for the flow table to answer from memory (decideFlows).
	flowsUndecoded bool
	flowBS         []binding.Binding
}

type bindingKey struct {
	hoa netip.Addr
	bid uint16
}

type received struct {
	sig transport.Signal
	tp  transport.Transport
	at  time.Time
}

// New validates the wiring and opens the data plane and transports (unless
// injected). Run starts the home agent.
func New(cfg *config.HomeAgent, opt Options) (_ *HomeAgent, err error) {
	h := &HomeAgent{
		cfg: cfg, log: opt.Logger, now: opt.Now, addr: cfg.Addr(),
		dirty:    map[netip.Addr]struct{}{},
		retry:    map[netip.Addr]struct{}{},
		rules:    operatorRules(cfg),
		encap:    map[bindingKey]dataplane.Encapsulation{},
		udpPaths: map[bindingKey]udpPath{},
		coaHomes: map[netip.Addr][]netip.Addr{},
		homeCoAs: map[netip.Addr][]netip.Addr{},
		defended: map[netip.Addr]bool{},
		in:       make(chan received, 1024),
		snaps:    make(chan snapshotReq),
		calls:    make(chan func()),
		paths:    map[netip.Addr]map[netip.Addr]*signalPath{},
		warnings: newLimiter(10, 20),
		answers:  newLimiter(100, 100),
		done:     make(chan struct{}),
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.log = h.log.With("role", "ha")
	if h.now == nil {
		h.now = time.Now
	}
	h.sec, err = newSecurityAssociations(cfg)
	if err != nil {
		return nil, err
	}
	h.cache = binding.NewBindingCache(cacheConfig(cfg), h.now())
	for _, r := range cfg.FlowBindings.Rules {
		if r.RefuseMobileNodeFlows {
			h.operatorFlows = append(h.operatorFlows, r.Selector())
		}
	}
	h.flows = binding.NewFlowTable(flowConfig(h))
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	h.tps = opt.Transports
	// RFC 5555 carries signalling and UDP-encapsulated data on one port: the
	// UDP transport owns the socket, hands data to the data plane
	// (UDPDeliverer) and lends the socket for sending (SharedUDP).
	var shared dataplane.SharedUDP
	if h.tps == nil {
		if p := cfg.UDPPort(); p != 0 {
			u, err := transport.ListenUDP(transport.UDPConfig{Logger: h.log, QueueLen: signalQueue, Data: h.deliverUDP, Endpoints: []transport.UDPEndpoint{
				{Addr: netip.AddrPortFrom(netip.IPv6Unspecified(), p)},
				{Addr: netip.AddrPortFrom(netip.IPv4Unspecified(), p)},
			}})
			if err != nil {
				return nil, fmt.Errorf("UDP signalling: %w", err)
			}
			h.tps = append(h.tps, u)
			shared = u
		}
		if cfg.NativeSignalling() {
			n, err := transport.OpenNative(transport.NativeConfig{Logger: h.log, QueueLen: signalQueue})
			if err != nil {
				return nil, fmt.Errorf("native signalling: %w", err)
			}
			h.tps = append(h.tps, n)
		}
	}
	h.dp = opt.DataPlane
	if h.dp == nil {
		h.dp, err = dataplane.New(dataplane.Config{
			Backend:   dataplane.Backend(cfg.Dataplane.Backend),
			Table:     cfg.Dataplane.Table,
			NoBPF:     cfg.Dataplane.NoBPF(),
			Logger:    h.log,
			SharedUDP: shared,
			NetNS:     opt.NetNS,
			// Take over what a predecessor left forwarding (an upgrade
			// stop, or a kill) until restore has installed the bindings;
			// Settle then removes the rest (stop.go).
			Adopt: true,
		})
		if err != nil {
			return nil, fmt.Errorf("data plane: %w", err)
		}
	}
	h.rec = reconcile.New(h.dp)
	if opt.DataPlane == nil {
		if h.prefixes, err = guardHomePrefixes(cfg.Prefixes(), opt.NetNS, h.log); err != nil {
			return nil, err
		}
	}
	if cfg.Cluster.Enabled() {
		if h.cluster, err = joinCluster(cfg); err != nil {
			return nil, err
		}
		h.store = h.cluster.node.Store
		h.gateTransports()
		// Not durable for a stop: a cluster node's stop ends its term,
		// and a node out of its term must not forward (docs/ha-cluster.md);
		// the standby that wins next is the cluster's upgrade path.
	} else if h.store = opt.Store; h.store == nil {
		if h.store, err = openStore(cfg.Store); err != nil {
			return nil, err
		}
		h.durable = cfg.Store.Backend != "memory"
	}
	h.openPaths(opt.NetNS)
	h.proxy = opt.proxy
	if h.proxy == nil && cfg.HomeLink != "" {
		p, err := openNeighborProxy(cfg.HomeLink, opt.NetNS, h.log)
		if err != nil {
			return nil, err
		}
		h.proxy = p
	}
	if h.cluster != nil {
		if err := h.cluster.ownAddress(cfg, opt, h.proxy, h.log); err != nil {
			return nil, err
		}
	}
	// Before the first Binding Update is read (Run starts the readers); a
	// cluster node restores when it wins the election.
	if h.cluster == nil {
		if err := h.restore(); err != nil {
			return nil, err
		}
	}
	// What a predecessor left and restore did not claim goes now (a
	// cluster node restores later, when elected, and starts clean). A
	// leftover that cannot be removed forwards for a binding that is no
	// more: worth a warning, not a refusal to serve the others.
	if err := dataplane.Settle(h.dp); err != nil {
		h.log.Warn("data plane: not everything the previous home agent left could be removed", "err", err)
	}
	if d, ok := h.dp.(dataplane.UDPDeliverer); ok {
		h.udpData.Store(&d)
	}
	if !opt.NoControlSocket {
		if h.ctl, err = ctlapi.Listen(cfg.ControlSocket, h, h.log); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// deliverUDP is the UDP transport's Data callback.
func (h *HomeAgent) deliverUDP(pkt []byte, peer, local netip.AddrPort, _ int) {
	if d := h.udpData.Load(); d != nil {
		(*d).DeliverUDP(pkt, peer, local)
	}
}

func cacheConfig(cfg *config.HomeAgent) binding.Config {
	bc := binding.Config{
		MaxLifetime:           cfg.Binding.MaxLifetime.D(),
		RefreshAdviceFraction: cfg.Binding.RefreshFraction,
		ReplayWindow:          cfg.Security.ReplayWindow.D(),
		MaxBindings:           cfg.Binding.MaxBindings,
		BIDPriority:           map[netip.Addr]map[uint16]uint8{},
	}
	for _, p := range cfg.Prefixes() {
		bc.HomePrefixes = append(bc.HomePrefixes, binding.HomePrefix{Prefix: p})
	}
	for _, m := range cfg.MobileNodes {
		if len(m.Priorities) == 0 {
			continue
		}
		for _, hoa := range m.HomeAddrs() {
			bc.BIDPriority[hoa] = m.Priorities
		}
	}
	return bc
}

// Run serves until ctx ends, then deregisters nothing (the mobile nodes'
// bindings simply lapse) and removes everything it installed, or, after
// SetStopMode(StopUpgrade), leaves the kernel data plane forwarding.
func (h *HomeAgent) Run(ctx context.Context) error {
	defer h.close()
	defer close(h.done) // first: pending snapshots stop waiting
	var wg sync.WaitGroup
	rctx, stop := context.WithCancel(ctx)
	defer func() { stop(); wg.Wait() }()
	if h.cluster != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.cluster.campaign(rctx, h)
		}()
	}
	for _, tp := range h.tps {
		wg.Add(1)
		go func(tp transport.Transport) {
			defer wg.Done()
			h.readLoop(rctx, tp)
		}(tp)
	}
	h.log.Info("home agent running", "address", h.addr, "home_prefixes", h.cfg.HomePrefixes,
		"backend", h.dp.Backend(), "transports", len(h.tps), "mobile_nodes", len(h.cfg.MobileNodes))

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	h.startPaths(rctx, &wg)
	h.startAcks(rctx, &wg)
	for {
		h.armExpiry(timer)
		select {
		case <-ctx.Done():
			h.log.Info("home agent stopping", "bindings", h.cache.Len(), "keep_forwarding", h.keepsForwarding())
			return nil
		case r := <-h.in:
			if h.standby() {
				h.cnt.inc(&h.cnt.notLeader) // the leader answers (docs/ha-cluster.md)
				continue
			}
			h.handleQueued(ctx, r)
		case ev := <-h.clusterEvents():
			h.onClusterEvent(ev)
		case <-timer.C:
			h.expire()
			h.drainDue(ctx)
		case q := <-h.snaps:
			q.reply <- h.snapshot(q.topic)
		case f := <-h.calls:
			f()
		case r := <-h.pw.readings:
			h.pathsRound(r)
		case r := <-h.pw.replies:
			h.pathReply(r)
		}
	}
}

func (h *HomeAgent) readLoop(ctx context.Context, tp transport.Transport) {
	for {
		sig, err := tp.Recv(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, transport.ErrClosed) {
				h.log.Error("signalling receive stopped", "err", err)
			}
			return
		}
		select {
		case h.in <- received{sig: sig, tp: tp, at: h.now()}:
		case <-ctx.Done():
			return
		default:
			h.cnt.inc(&h.cnt.queueFull)
		}
	}
}

// armExpiry points the timer at the next binding expiry, or the next
// Home Agent Switch of a drain when that is sooner.
func (h *HomeAgent) armExpiry(t *time.Timer) {
	next, ok := h.cache.NextExpiry()
	if h.drain != nil {
		if dn, dok := h.drain.Deadline(); dok && (!ok || dn.Before(next)) {
			next, ok = dn, true
		}
	}
	d := time.Hour
	if ok {
		d = max(next.Sub(h.now()), 0)
	}
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(d)
}

func (h *HomeAgent) expire() {
	changes := h.cache.Expire(h.now())
	h.follow(changes)
	h.forget(changes)
	h.bindingsGone(changes)
	h.commitLogged("removing expired bindings' forwarding")
	for _, c := range changes {
		h.bindingsLeft(c.Binding.HoA)
	}
}

func (h *HomeAgent) close() {
	if h.ctl != nil {
		h.ctl.Close()
	}
	for _, tp := range h.tps {
		if err := tp.Close(); err != nil {
			h.log.Warn("closing signalling transport", "err", err)
		}
	}
	h.pw.close()
	if h.proxy != nil {
		if err := h.proxy.Close(); err != nil {
			h.log.Warn("closing proxy neighbor discovery", "err", err)
		}
	}
	if h.store != nil {
		if err := h.store.Close(); err != nil {
			h.log.Warn("closing the store", "err", err)
		}
	}
	if h.cluster != nil {
		h.cluster.close(h)
		if err := h.cluster.node.Close(); err != nil {
			h.log.Warn("closing the etcd client", "err", err)
		}
	}
	h.closeDataPlane()
}
