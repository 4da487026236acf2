package binding

import (
	"net/netip"
	"time"

	"monami/wire"
)

// Next returns what is due at now: Binding Updates to send (new, changed,
// refresh, retransmission with exponential backoff as RFC 6275 section 11.8
// specifies), and reports of expiry and failure.
func (l *BindingUpdateList) Next(now time.Time) []Action {
	var out []Action
	for _, g := range l.groups {
		out = l.tick(g, now, out)
	}
	return out
}

func (l *BindingUpdateList) tick(g *bulGroup, now time.Time, out []Action) []Action {
	for _, e := range g.entries {
		switch e.state {
		case StateRegistered:
			if !e.expires.IsZero() && !now.Before(e.expires) {
				out = append(out, Action{Kind: BindingExpired, Binding: e.CareOfBinding})
				e.state, e.announced, e.expires, e.refreshAt = StateRegistering, false, time.Time{}, time.Time{}
				if !e.inflight {
					g.markDirty(e, now)
				}
			} else if !e.inflight && !e.dirty && !e.refreshAt.IsZero() && !now.Before(e.refreshAt) {
				g.markDirty(e, now)
			}
		case StateFailed:
			if r := l.cfg.RetryAfterFailure; r > 0 && !e.standby && !now.Before(e.failedAt.Add(r)) {
				e.state, e.reason = StateRegistering, ""
				g.markDirty(e, now)
			}
		}
	}
	switch {
	case g.wantsNewTransaction():
		out = l.send(g, now, true, out)
	case g.out && !now.Before(g.retransmitAt):
		if d, ok := nextBackoff(g.timeout); ok {
			g.timeout = d
			out = l.send(g, now, false, out)
		} else if l.cfg.KeepRetransmitting {
			if !g.stalled {
				g.stalled = true
				for _, e := range g.entries {
					if e.inflight {
						out = append(out, Action{Kind: BindingFailed, Binding: e.CareOfBinding,
							Reason: "no Binding Acknowledgement yet; retransmitting every MAX_BINDACK_TIMEOUT (RFC 6275 section 11.8)"})
					}
				}
			}
			out = l.send(g, now, false, out)
		} else {
			out = l.giveUp(g, now, out)
			if g.wantsNewTransaction() {
				out = l.send(g, now, true, out) // what waited behind it
			}
		}
	}
	return out
}

// maxSentTracked bounds the transmissions of one transaction remembered
// for matching late Binding Acknowledgements.
const maxSentTracked = 16

// wantsNewTransaction: a pending change can go out now. While a Binding
// Update is outstanding, a registration change replaces it (the new BU
// carries everything pending, so all BIDs changed at once travel in one
// bulk registration); a deregistration waits for a registration BU to be
// answered; without bulk registration everything waits its turn. A change
// to a binding the outstanding BU carries always goes at once: that BU is
// stale, and the home agent may have accepted it already. A link that
// fails right after a registration sent through it loses the
// acknowledgement, and the home agent keeps sending down the dead link
// until it hears otherwise (issue 14: flapping). Only an entry that is
// both dirty and in flight triggers this, and send clears that pair, so it
// cannot spin.
func (g *bulGroup) wantsNewTransaction() bool {
	for _, e := range g.entries {
		if !e.dirty {
			continue
		}
		if !g.out || e.inflight {
			return true
		}
		if g.noBulk {
			return false
		}
		if !e.dereg || g.outDereg {
			return true
		}
	}
	return false
}

func (l *BindingUpdateList) send(g *bulGroup, now time.Time, newTx bool, out []Action) []Action {
	var regs, deregs []*bulEntry
	for _, e := range g.entries {
		if e.dirty || e.inflight {
			if e.dereg {
				deregs = append(deregs, e)
			} else {
				regs = append(regs, e)
			}
		}
	}
	chosen, dereg := regs, false
	if len(chosen) == 0 {
		chosen, dereg = deregs, true
	}
	if g.legacy {
		chosen, dereg, out = g.legacyChoice(now, out)
	}
	if len(chosen) == 0 {
		g.out = false
		return out
	}
	if g.noBulk && len(chosen) > 1 {
		pick := chosen[0]
		for _, e := range chosen {
			if e.inflight {
				pick = e
				break
			}
		}
		chosen = []*bulEntry{pick}
	}

	src := l.source(g, chosen, dereg)
	bu := &OutgoingBindingUpdate{
		HA: g.ha, HoA: g.hoa, Source: src, Sequence: g.nextSeq,
		Ack: true, Home: true, // RFC 6275 section 11.7.1
		LinkLocal: l.cfg.LinkLocal, KeyMgmt: l.cfg.KeyMgmt, MobileRouter: l.cfg.MobileRouter,
	}
	g.nextSeq++ // RFC 6275 section 11.7.1: every BU, retransmissions included, takes a greater number
	if !dereg {
		lt := l.cfg.Lifetime
		for _, e := range chosen {
			if !e.ValidUntil.IsZero() {
				lt = min(lt, e.ValidUntil.Sub(now))
			}
		}
		bu.Lifetime = uint16(min(max(lt/TimeUnit, 1), 0xffff))
	}
	if !g.legacy {
		bu.BIDs = make([]BIDOption, 0, len(chosen))
	}
	for _, e := range chosen {
		if g.legacy {
			break
		}
		o := BIDOption{BID: e.BID, Priority: e.Priority}
		switch {
		case dereg:
		case e.CoA == g.hoa:
			o.CoA, o.SimultaneousHomeForeign = e.CoA, true
		case len(chosen) > 1 || e.CoA != src:
			o.CoA = e.CoA
		}
		bu.BIDs = append(bu.BIDs, o)
	}
	if l.cfg.Timestamps {
		bu.Timestamp, bu.HasTimestamp = wire.NTPTimestamp(now.Add(g.tsOffset)), true
	}

	for _, e := range g.entries {
		in := false
		for _, c := range chosen {
			if c == e {
				in = true
			}
		}
		if in {
			e.inflight, e.dirty = true, false
		} else if e.inflight {
			e.inflight, e.dirty = false, true
		}
	}
	if newTx || !g.out {
		g.stalled = false
		g.sent = g.sent[:0]
		g.timeout = InitialBindackTimeout
		if g.firstReg && !dereg {
			g.timeout = InitialBindackTimeoutFirstReg
		}
	}
	if len(g.sent) >= maxSentTracked {
		g.sent = append(g.sent[:0], g.sent[1:]...)
	}
	g.sent = append(g.sent, sentBU{seq: bu.Sequence, at: now})
	g.out, g.outDereg, g.outBIDs, g.outSource = true, dereg, len(bu.BIDs) > 0, src
	g.retransmitAt = now.Add(g.timeout)
	if g.hasDirty() {
		g.dirtyAt = now
	}
	return append(out, Action{Kind: SendBindingUpdate, BU: bu})
}

// source picks the address a Binding Update leaves from: for a registration
// the preferred care-of address being registered; for a deregistration a
// care-of address that stays registered (the removed one is typically on a
// link that just went down), else the removed one itself.
func (l *BindingUpdateList) source(g *bulGroup, chosen []*bulEntry, dereg bool) netip.Addr {
	better := func(a, b *bulEntry) bool {
		if b == nil {
			return true
		}
		ah, bh := a.CoA == g.hoa, b.CoA == g.hoa
		if ah != bh {
			return bh
		}
		if a.Priority != b.Priority {
			return a.Priority != 0 && (b.Priority == 0 || a.Priority < b.Priority)
		}
		return a.BID < b.BID
	}
	var best *bulEntry
	if !dereg {
		for _, e := range chosen {
			// An IPv4 care-of address being registered sends the update
			// itself: the home agent learns the NAT mapping it tunnels to
			// only from an update that came from it (RFC 5555 sections
			// 4.1, 4.3).
			if best == nil || (e.CoA.Is4() && !best.CoA.Is4()) || (e.CoA.Is4() == best.CoA.Is4() && better(e, best)) {
				best = e
			}
		}
		return best.CoA
	}
	for _, e := range g.entries {
		if !e.dereg && e.state == StateRegistered && e.CoA.IsValid() && better(e, best) {
			best = e
		}
	}
	if best == nil {
		for _, e := range g.entries {
			if !e.dereg && e.CoA.IsValid() && better(e, best) {
				best = e
			}
		}
	}
	if best == nil {
		best = chosen[0]
	}
	return best.CoA
}

func (l *BindingUpdateList) giveUp(g *bulGroup, now time.Time, out []Action) []Action {
	reason := "no Binding Acknowledgement (RFC 6275 section 11.8 backoff exhausted)"
	for _, e := range append([]*bulEntry(nil), g.entries...) {
		if !e.inflight {
			continue
		}
		e.inflight = false
		if e.dereg {
			g.remove(e)
			out = append(out, Action{Kind: BindingDeregistered, Binding: e.CareOfBinding, Reason: reason})
			continue
		}
		if e.dirty {
			continue // changed since: the new content goes out next
		}
		e.state, e.reason, e.failedAt = StateFailed, reason, now
		e.announced = false
		out = append(out, Action{Kind: BindingFailed, Binding: e.CareOfBinding, Reason: reason})
	}
	g.out, g.sent = false, g.sent[:0]
	return out
}

func (g *bulGroup) remove(e *bulEntry) {
	for i, x := range g.entries {
		if x == e {
			g.entries = append(g.entries[:i], g.entries[i+1:]...)
			return
		}
	}
}

// legacyChoice picks what to send to a home agent that keeps one binding
// per home address (plain RFC 6275): the preferred care-of address is
// registered without BID options; the others wait on standby and take over
// when it is removed. Removing a standby entry needs no signalling.
func (g *bulGroup) legacyChoice(now time.Time, out []Action) ([]*bulEntry, bool, []Action) {
	var act *bulEntry
	for _, e := range g.entries {
		if e.dereg || (e.state == StateFailed && !e.standby) || !e.CoA.IsValid() || e.CoA == g.hoa {
			continue
		}
		if act == nil || e.Priority != 0 && (act.Priority == 0 || e.Priority < act.Priority) ||
			e.Priority == act.Priority && e.BID < act.BID {
			act = e
		}
	}
	var deregs []*bulEntry
	for _, e := range append([]*bulEntry(nil), g.entries...) {
		switch {
		case e == act:
			if e.standby {
				e.standby, e.state, e.reason = false, StateRegistering, ""
				g.markDirty(e, now)
			}
		case e.dereg:
			if act != nil || !e.announced {
				// Never registered at the home agent, or replaced by act.
				g.remove(e)
				out = append(out, Action{Kind: BindingDeregistered, Binding: e.CareOfBinding, Confirmed: true,
					Reason: "not registered at a home agent without multiple care-of address support"})
				continue
			}
			deregs = append(deregs, e)
		case e.state != StateFailed || e.standby:
			was := e.standby && e.state == StateFailed && !e.dirty
			e.standby, e.state, e.dirty, e.inflight, e.announced = true, StateFailed, false, false, false
			e.reason = "standby: home agent registers one care-of address (no RFC 5648 support)"
			if !was {
				out = append(out, Action{Kind: BindingFailed, Binding: e.CareOfBinding, Reason: e.reason})
			}
		}
	}
	if act != nil && (act.dirty || act.inflight) {
		return []*bulEntry{act}, false, out
	}
	if act == nil && len(deregs) > 0 {
		// A plain deregistration removes the one binding: it answers for
		// every entry being removed.
		return deregs, true, out
	}
	return nil, false, out
}
