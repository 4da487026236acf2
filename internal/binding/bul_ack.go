package binding

import (
	"time"

	"monami/wire"
)

// HandleBA processes a Binding Acknowledgement for a home registration
// (RFC 6275 section 11.7.3; RFC 5648 mobile node operation) and returns
// what follows: registration results per BID and, if needed, the next
// Binding Update.
func (l *BindingUpdateList) HandleBA(now time.Time, ba *BindingAck) []Action {
	g := l.group(ba.HA, ba.HoA, false)
	if g == nil {
		return nil
	}
	// RFC 6275 section 11.7.3: status 135 carries the home agent's last
	// accepted sequence number, not ours; continue from it and resend.
	if ba.Status == stSequenceOutOfWindow {
		g.nextSeq = ba.Sequence + 1
		if !g.out {
			return nil
		}
		g.requeue(now)
		return l.send(g, now, true, nil)
	}
	sentAt, ok := g.sentAt(ba.Sequence)
	if !g.out || !ok {
		return nil // not an answer to the outstanding Binding Update
	}
	switch {
	case ba.Status == stMIPv6MesgIDRequired && ba.HasTimestamp && l.cfg.Timestamps && !g.tsResynced:
		// RFC 4285 section 6: the home agent sent its clock; use it.
		g.tsOffset, g.tsResynced = wire.MobilityMessageReplayProtection{Timestamp: ba.Timestamp}.Time().Sub(now), true
		g.requeue(now)
		return l.send(g, now, true, nil)
	case ba.Status == stMCoABulkRegProhibited && !g.noBulk:
		g.noBulk = true
		g.requeue(now)
		return l.send(g, now, true, nil)
	case ba.Status == stMCoAProhibited && !g.legacy:
		g.legacy = true
		g.requeue(now)
		return l.send(g, now, true, nil)
	}
	// A home agent without RFC 5648 support skips the BID options (RFC 6275
	// section 9.2: unknown options are ignored) and binds the source
	// address only; its BA carries no BID option.
	ignoredBIDs := g.outBIDs && !g.outDereg && len(ba.BIDs) == 0 && ba.Status.Accepted() && !g.legacy
	if ignoredBIDs {
		g.legacy = true
	}

	var out []Action
	for _, e := range append([]*bulEntry(nil), g.entries...) {
		if !e.inflight {
			continue
		}
		e.inflight = false
		st := ba.Status
		for _, b := range ba.BIDs {
			if b.BID == e.BID && b.Status != 0 {
				st = b.Status // RFC 5648 section 6.1: per-BID status overrides
			}
		}
		e.status = st
		if e.dereg {
			if g.outDereg {
				g.remove(e)
				out = append(out, Action{Kind: BindingDeregistered, Binding: e.CareOfBinding, Status: st, Confirmed: true})
			}
			continue // a registration answer for an entry removed meanwhile: its deregistration is pending
		}
		if g.outDereg {
			continue
		}
		if e.dirty {
			continue // changed since this BU left: the answer is for old content
		}
		if ignoredBIDs && e.CoA != g.outSource {
			g.markDirty(e, now) // legacyChoice puts it on standby
			continue
		}
		if st.Accepted() && ba.Lifetime > 0 {
			granted := time.Duration(ba.Lifetime) * TimeUnit
			refresh := time.Duration(float64(granted) * l.cfg.RefreshFraction)
			if ba.RefreshInterval > 0 {
				// RFC 6275 section 11.7.3: Binding Refresh Advice.
				refresh = min(refresh, time.Duration(ba.RefreshInterval)*TimeUnit)
			}
			// RFC 6275 section 11.7.1: the lifetime runs from when the BU
			// was sent.
			e.state, e.reason = StateRegistered, ""
			e.registered, e.expires, e.refreshAt = sentAt, sentAt.Add(granted), sentAt.Add(refresh)
			g.firstReg = false
			if !e.announced {
				e.announced = true
				out = append(out, Action{Kind: BindingRegistered, Binding: e.CareOfBinding, Status: st, Lifetime: granted})
			}
			continue
		}
		e.state, e.failedAt, e.announced = StateFailed, now, false
		e.reason = "rejected: " + st.String()
		if st.Accepted() {
			e.reason = "granted lifetime 0"
		}
		out = append(out, Action{Kind: BindingFailed, Binding: e.CareOfBinding, Status: st, Reason: e.reason})
	}
	g.out, g.sent, g.tsResynced = false, g.sent[:0], false
	if g.hasDirty() {
		out = l.send(g, now, true, out)
	}
	return out
}

// sentAt finds the transmission of the outstanding transaction that a BA
// with this sequence number answers.
func (g *bulGroup) sentAt(seq uint16) (time.Time, bool) {
	for _, s := range g.sent {
		if s.seq == seq {
			return s.at, true
		}
	}
	return time.Time{}, false
}

// requeue makes the outstanding Binding Update's entries pending again.
func (g *bulGroup) requeue(now time.Time) {
	for _, e := range g.entries {
		if e.inflight {
			e.inflight = false
			g.markDirty(e, now)
		}
	}
	g.out = false
}
