package mn

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"monami/internal/binding"
	"monami/internal/config"
	"monami/internal/linkmon"
	"monami/internal/transport"
	"monami/wire"
)

func (m *MobileNode) loop(ctx context.Context) error {
	names := make([]string, 0, len(m.ifs))
	for _, f := range m.ifs {
		if f.outer == nil {
			names = append(names, f.cfg.Name)
		}
	}
	// Readers outlive ctx until shutdown has collected the deregistration answers.
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	lm := &linkWatch{m: m, parent: rctx, names: names, ipv4: m.ipv4Interfaces()}
	if err := lm.start(); err != nil {
		return err
	}
	defer lm.stop()
	for via, tp := range m.tps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.readLoop(rctx, via, tp)
		}()
	}
	if m.echo != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.echo.Read(rctx, m.now, m.echoes)
		}()
	}
	m.log.Info("mobile node running", "id", m.cfg.ID, "home_addresses", len(m.homes), "interfaces", names,
		"home_interface", m.cfg.HomeInterface, "backend", m.dp.Backend(), "table", m.rt.table)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	keepalive := time.NewTicker(neighbourKeepalive)
	defer keepalive.Stop()
	pathTick := time.NewTicker(pathPoll)
	defer pathTick.Stop()
	pathChange := time.NewTimer(time.Hour)
	defer pathChange.Stop()
	natTick := time.NewTicker(natPoll)
	defer natTick.Stop()
	resync := time.NewTimer(time.Hour)
	resync.Stop()
	defer resync.Stop()
	for {
		events, errs := lm.channels()
		m.arm(timer)
		m.armPathChange(pathChange)
		select {
		case <-ctx.Done():
			m.shutdown()
			return nil
		case ev, ok := <-events:
			if !ok {
				m.restartLinkWatch(lm, resync, errors.New("event channel closed"))
				continue
			}
			m.linkEvent(ev)
			// Take every event already queued (several interfaces changing
			// at once go out in one bulk registration), then send at once.
			for more := true; more; {
				select {
				case ev, ok := <-events:
					if !ok {
						more = false
						break
					}
					m.linkEvent(ev)
				default:
					more = false
				}
			}
			m.pump(m.now(), false)
		case err := <-errs:
			m.restartLinkWatch(lm, resync, err)
		case <-resync.C:
			if lm.mon == nil {
				m.restartLinkWatch(lm, resync, errors.New("previous restart failed"))
				continue
			}
			m.reconcile(lm.mon.Usable())
			m.pump(m.now(), false)
		case r := <-m.in:
			m.receive(r)
		case <-timer.C:
			m.pump(m.now(), true)
		case <-keepalive.C:
			m.keepalive()
		case <-pathTick.C:
			m.pathsTick()
		case <-pathChange.C:
			m.pathsTick()
		case <-natTick.C:
			m.natKeepalives()
		case r := <-m.echoes:
			m.echoReply(r)
		case req := <-m.snaps:
			req.reply <- m.snapshot(req.topic)
		case f := <-m.calls:
			f()
		}
	}
}

func (m *MobileNode) arm(timer *time.Timer) {
	d := time.Hour
	if t, ok := m.bul.Deadline(); ok {
		d = max(t.Sub(m.now()), 0)
	}
	rearm(timer, d)
}

// armPathChange sets timer to the next path state change the paths'
// state machines know the time of (a silent failure's), which the 20 ms
// poll would otherwise judge up to a poll late.
func (m *MobileNode) armPathChange(timer *time.Timer) {
	d := time.Hour
	if m.live != nil {
		if t, ok := m.live.NextChange(); ok {
			d = max(t.Sub(m.now()), 0)
		}
	}
	rearm(timer, d)
}

func rearm(timer *time.Timer, d time.Duration) {
	if !timer.Stop() {
		select {
		case <-timer.C:
		default:
		}
	}
	timer.Reset(d)
}

func (m *MobileNode) linkEvent(ev linkmon.Event) {
	m.cnt.linkEvents++
	m.log.Debug("care-of address event", "kind", ev.Kind, "interface", ev.Interface, "coa", ev.Address, "reason", ev.Reason)
	switch ev.Kind {
	case linkmon.CareOfAddressUp:
		m.careOfAddressUp(ev)
	case linkmon.CareOfAddressDown:
		m.careOfAddressDown(ev)
	}
}

func (m *MobileNode) readLoop(ctx context.Context, via config.Transport, tp transport.Transport) {
	for {
		sig, err := tp.Recv(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, transport.ErrClosed) {
				m.log.Error("signalling receive", "transport", via, "err", err)
			}
			return
		}
		select {
		case m.in <- received{sig: sig, via: via, at: m.now()}:
		case <-ctx.Done():
			return
		}
	}
}

// receive handles one Mobility Header message.
func (m *MobileNode) receive(r received) {
	sig := &r.sig
	if len(sig.MH) < wire.HeaderLen {
		m.cnt.malformed++
		return
	}
	switch t := wire.MHType(sig.MH[2]); t {
	case wire.MHBindingAcknowledgement:
	case wire.MHBindingRefreshRequest:
		m.refreshRequested(sig)
		return
	case wire.MHHomeAgentSwitch:
		m.homeAgentSwitch(sig)
		return
	case wire.MHBindingError:
		m.cnt.bindingErrors++
		m.log.Warn("binding error from home agent", "from", sig.Src, "to", sig.Dst)
		return
	default:
		m.log.Debug("ignoring mobility message", "type", t, "from", sig.Src)
		return
	}
	ba, h, err := m.decodeBindingAck(sig)
	if err != nil {
		if errors.Is(err, errUnauthenticated) {
			m.cnt.unauthenticated++
			st := "?"
			if ba != nil {
				st = ba.Status.String()
			}
			// Dropped: the Binding Update List retransmits and then fails.
			m.log.Warn("binding acknowledgement dropped", "from", sig.Src, "status", st, "err", err)
			return
		}
		m.cnt.malformed++
		m.log.Warn("binding acknowledgement malformed", "from", sig.Src, "err", err)
		return
	}
	m.cnt.ba(ba.Status)
	if seq, ok := m.outstanding[groupKey{ba.HA, h.hoa}]; ok && seq == ba.Sequence {
		delete(m.outstanding, groupKey{ba.HA, h.hoa})
	}
	m.log.Debug("binding acknowledgement", "from", sig.Src, "hoa", h.hoa, "status", ba.Status, "seq", ba.Sequence,
		"lifetime", time.Duration(ba.Lifetime)*binding.TimeUnit, "bids", len(ba.BIDs), "latency", m.now().Sub(r.at))
	m.do(m.bul.HandleBA(m.now(), ba))
	m.pump(m.now(), false)
}

// pump runs the Binding Update List and acts on what it says.
func (m *MobileNode) pump(now time.Time, fromTimer bool) {
	acts := m.bul.Next(now)
	if fromTimer {
		for _, a := range acts {
			if a.Kind == binding.SendBindingUpdate {
				if _, ok := m.outstanding[groupKey{a.BU.HA, a.BU.HoA}]; ok {
					m.cnt.retransmissions++
				}
			}
		}
	}
	m.do(acts)
}

// do performs the Binding Update List's actions: send, or react to a
// registration result (RFC 6275 section 11.7.3, RFC 5648 per-BID status).
func (m *MobileNode) do(acts []binding.Action) {
	reselect := false
	for _, a := range acts {
		b := a.Binding
		if a.Kind != binding.SendBindingUpdate && m.switchResult(a) {
			if a.Kind == binding.BindingDeregistered {
				m.log.Info("binding deregistered", "hoa", b.HoA, "ha", b.HA, "bid", b.BID, "coa", b.CoA,
					"confirmed", a.Confirmed, "status", a.Status, "reason", a.Reason)
			}
			continue
		}
		switch a.Kind {
		case binding.SendBindingUpdate:
			m.send(a.BU)
		case binding.BindingRegistered:
			m.cnt.registered++
			if f := m.ifaceByBID(b.BID); f != nil && f.careOfFor(b.HoA) == b.CoA {
				f.registered[b.HoA] = true
				reselect = true
				if b.CoA == b.HoA {
					m.homeAccepted(f)
				}
			}
			m.log.Info("binding registered", "hoa", b.HoA, "ha", b.HA, "bid", b.BID, "coa", b.CoA,
				"status", a.Status, "lifetime", a.Lifetime)
		case binding.BindingDeregistered:
			m.log.Info("binding deregistered", "hoa", b.HoA, "ha", b.HA, "bid", b.BID, "coa", b.CoA,
				"confirmed", a.Confirmed, "status", a.Status, "reason", a.Reason)
		case binding.BindingFailed:
			m.cnt.failed++
			if f := m.ifaceByBID(b.BID); f != nil && f.careOfFor(b.HoA) == b.CoA {
				if f.registered[b.HoA] {
					f.registered[b.HoA] = false
					reselect = true
				}
				if b.CoA == b.HoA {
					m.homeRefused(f, a.Status)
				}
			}
			m.log.Warn("binding failed", "hoa", b.HoA, "ha", b.HA, "bid", b.BID, "coa", b.CoA,
				"status", a.Status, "reason", a.Reason, "hint", statusHint(a.Status))
		case binding.BindingExpired:
			m.cnt.expired++
			if f := m.ifaceByBID(b.BID); f != nil && f.careOfFor(b.HoA) == b.CoA {
				f.registered[b.HoA] = false
				reselect = true
				if b.CoA == b.HoA {
					m.homeRefused(f, a.Status)
				}
			}
			m.log.Warn("binding expired", "hoa", b.HoA, "ha", b.HA, "bid", b.BID, "coa", b.CoA)
		}
	}
	if reselect {
		m.forward()
	}
}

func (m *MobileNode) send(bu *binding.OutgoingBindingUpdate) {
	ctx := context.Background()
	err := m.sendBindingUpdate(ctx, bu)
	if err != nil {
		m.cnt.sendErrors++
		m.log.Warn("binding update not sent", "hoa", bu.HoA, "from", bu.Source, "seq", bu.Sequence, "err", err)
		return
	}
	m.cnt.bindingUpdates++
	m.outstanding[groupKey{bu.HA, bu.HoA}] = bu.Sequence
	if f := m.ifaceByCoA(bu.Source); f != nil {
		f.lastBU = m.now()
	}
	bids := make([]uint16, 0, len(bu.BIDs))
	for _, o := range bu.BIDs {
		bids = append(bids, o.BID)
	}
	m.log.Debug("binding update sent", "hoa", bu.HoA, "ha", bu.HA, "from", bu.Source, "seq", bu.Sequence,
		"lifetime", time.Duration(bu.Lifetime)*binding.TimeUnit, "bids", bids)
}

// statusHint says what an operator can do about a rejection.
func statusHint(s binding.Status) string {
	switch s {
	case wire.StatusMIPv6AuthFail:
		return "check the key and SPI against the home agent's (RFC 4285)"
	case wire.StatusMIPv6IDMismatch:
		return "the home agent does not know this id (NAI)"
	case wire.StatusMIPv6MesgIDRequired:
		return "clocks differ beyond the home agent's replay window (RFC 4285 section 6)"
	case wire.StatusNotHomeSubnet, wire.StatusNotHomeAgentForThisMobileNode:
		return "home address or home agent address is wrong"
	case wire.StatusAdministrativelyProhibited:
		return "home agent policy refuses this binding (or the care-of address)"
	case wire.StatusInsufficientResources:
		return "home agent binding cache is full"
	}
	if s == 0 {
		return ""
	}
	return "retrying in " + retryAfterFailure.String()
}

// shutdown deregisters every binding (lifetime 0, RFC 6275 section
// 11.7.1), waiting at most deregisterTimeout for the answers.
func (m *MobileNode) shutdown() {
	now := m.now()
	n := 0
	for _, e := range m.bul.Entries() {
		// A binding still waiting for its first answer is deregistered too:
		// the home agent may have accepted it already (its answer still on
		// the way). Any answer to the deregistration removes the entry.
		if e.State == binding.StateRegistered || e.State == binding.StateRegistering {
			m.bul.RemoveCareOfAddress(now, e.HA, e.HoA, e.BID)
			n++
		}
	}
	m.log.Info("mobile node stopping", "deregistering", n)
	if n == 0 {
		return
	}
	deadline := time.NewTimer(deregisterTimeout)
	defer deadline.Stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for len(m.bul.Entries()) > 0 {
		select {
		case <-deadline.C:
			m.log.Warn("deregistration unanswered", "bindings_left", len(m.bul.Entries()))
			return
		case r := <-m.in:
			m.receive(r)
		case <-timer.C:
			m.pump(m.now(), true)
		}
		m.arm(timer)
	}
	m.log.Info("all bindings deregistered")
}

// linkWatch owns the link monitor, which is restarted when it loses
// notifications.
type linkWatch struct {
	m      *MobileNode
	parent context.Context
	names  []string
	ipv4   []string // interfaces whose IPv4 addresses count (ipv4.go)
	mon    *linkmon.Monitor
	cancel context.CancelFunc
}

func (w *linkWatch) start() error {
	ctx, cancel := context.WithCancel(w.parent)
	mon, err := linkmon.Start(ctx, w.m.ns, w.names, w.ipv4...)
	if err != nil {
		cancel()
		return err
	}
	w.mon, w.cancel = mon, cancel
	return nil
}

// channels are nil (blocking forever) while no monitor runs.
func (w *linkWatch) channels() (<-chan linkmon.Event, <-chan error) {
	if w.mon == nil {
		return nil, nil
	}
	return w.mon.Events(), w.mon.Errors()
}

func (w *linkWatch) stop() {
	if w.cancel != nil {
		w.cancel()
	}
}

// resyncDelay lets a restarted monitor replay the kernel's current links
// and addresses before the mobile node compares them with its own view.
const resyncDelay = 500 * time.Millisecond

// restartLinkWatch starts a fresh monitor after a lost notification (e.g.
// a netlink receive buffer overflow): it replays every usable address, and
// reconcile then drops the care-of addresses that went away unseen.
func (m *MobileNode) restartLinkWatch(w *linkWatch, resync *time.Timer, cause error) {
	m.log.Warn("link monitor lost notifications; resynchronising", "err", cause)
	w.stop()
	w.mon = nil
	if err := w.start(); err != nil {
		m.log.Error("link monitor restart; retrying", "err", err)
	}
	// Reconcile once the new monitor has replayed the kernel's state, or
	// retry starting it.
	resync.Reset(resyncDelay)
}

// reconcile brings the care-of addresses in line with what the kernel
// says is usable now.
func (m *MobileNode) reconcile(usable map[string][]netip.Addr) {
	for _, f := range m.ifs {
		now := map[netip.Addr]bool{}
		for _, a := range usable[f.cfg.Name] {
			now[a] = true
		}
		for a := range f.usable {
			if !now[a] {
				m.careOfAddressDown(linkmon.Event{Kind: linkmon.CareOfAddressDown, Interface: f.cfg.Name, IfIndex: f.index, Address: a, Reason: "gone (resync)"})
			}
		}
	}
}

// refreshRequested answers a Binding Refresh Request from a home agent (RFC
// 6275 section 11.7.4) with a Binding Update refreshing the bindings of the
// home address it was sent to (the type 2 routing header's, else every home
// address that home agent serves). Only a registered home agent's request
// counts, and one already being answered (an update outstanding) is not
// answered twice: a forged request costs at most one Binding Update per
// round trip, which the home agent authenticates.
func (m *MobileNode) refreshRequested(sig *transport.Signal) {
	src, dst := sig.ChecksumAddrs()
	if _, err := (wire.Parser{ChecksumVerified: true, LaxAlignment: true}).Parse(sig.MH, src, dst); err != nil {
		m.cnt.malformed++
		m.log.Warn("binding refresh request malformed", "from", sig.Src, "err", err)
		return
	}
	for _, h := range m.homes {
		if h.ha != sig.Src || (sig.HomeAddress.IsValid() && sig.HomeAddress != h.hoa) {
			continue
		}
		if _, busy := m.outstanding[groupKey{h.ha, h.hoa}]; busy {
			continue
		}
		if m.bul.RefreshRequested(m.now(), h.ha, h.hoa) {
			m.log.Info("binding refresh request", "from", sig.Src, "hoa", h.hoa)
		}
	}
	m.pump(m.now(), false)
}
