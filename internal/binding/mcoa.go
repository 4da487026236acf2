package binding

import (
	"time"
)

// decide handles the part of home registration that depends on the Binding
// Identifier options (RFC 5648 home agent operation, statuses of its section
// 6.2; bulk registration of section 5.3) after the per-mobile-node checks
// of ProcessBindingUpdateTo passed.
func (c *BindingCache) decide(now time.Time, req *BindingUpdateRequest, d *Decision, ni int32, exists bool, prefixLeft time.Duration) {
	hoa := req.HoA
	h16 := hoa.As16()
	buCoA := req.CareOfAddress()
	dereg := req.Lifetime == 0
	ops := c.ops[:0]
	defer func() { c.ops = ops[:0] }()

	deregAll := false  // remove every binding of the home address
	overwrite := false // plain BU: remove bindings not named by an accepted op
	cause := CauseDeregistration

	if len(req.BIDs) == 0 {
		// Plain RFC 6275 registration: one binding, BID 0. Returning home
		// (CoA == HoA) or lifetime 0 deregisters (RFC 6275 section 10.3.2),
		// and removes every binding of the home address.
		if dereg || buCoA == hoa {
			if !exists {
				d.reject(stNotHomeAgentForThisMN, "deregistration without a binding (RFC 6275 section 10.3.2)")
				return
			}
			deregAll = true
			if buCoA == hoa {
				cause = CauseReturnHome
			}
		} else {
			// A Binding Update without a BID option replaces all bindings
			// of the home address with a single one.
			overwrite = true
			ops = append(ops, op{kind: opRegister, coa: buCoA.As16(), entry: -1, prio: c.priorityFor(h16, 0, 0)})
			if exists {
				ops[0].entry = c.findEntry(ni, 0)
			}
			c.checkCoA(h16, &ops[0], buCoA.IsValid() && validCoA(buCoA))
		}
	} else {
		if c.cfg.MCoADisabled {
			d.reject(stMCoAProhibited, "multiple care-of address registration disabled")
			return
		}
		if len(req.BIDs) > 1 && c.cfg.BulkRegistrationDisabled {
			d.reject(stMCoABulkRegProhibited, "bulk registration disabled")
			return
		}
		for i, o := range req.BIDs {
			// RFC 5648 section 6.2, MCOA MALFORMED (164): "Registration
			// failed because Binding Identifier mobility option is not
			// formatted correctly." A care-of address field that is present
			// but unspecified is read the same way: section 6.1 says to omit
			// the field when the BID carries no care-of address.
			if o.Malformed || (o.CoA.IsValid() && o.CoA.IsUnspecified()) {
				d.reject(stMCoAMalformed, "Binding Identifier option not formatted correctly (RFC 5648 section 6.2)")
				return
			}
			if o.BID == 0 {
				d.reject(stMCoAMalformed, "BID 0 is reserved (RFC 5648 section 6.1)")
				return
			}
			for _, p := range req.BIDs[:i] {
				if p.BID == o.BID {
					d.reject(stMCoAMalformed, "duplicate BID in one binding update")
					return
				}
			}
		}
		// RFC 5648 status 165: BID options cannot be mixed with a binding
		// registered without one. The RFC 5648 BID option has no flag to
		// replace it; the mobile node replaces all bindings with a Binding
		// Update without a BID option, or deregisters that binding first.
		if exists && c.findEntry(ni, 0) >= 0 {
			d.reject(stMCoANonMCoABindingExists, "a binding without BID exists; deregister it first (lifetime 0, no BID option) or send a Binding Update without a BID option to replace all bindings")
			return
		}
		if !exists && dereg {
			d.reject(stNotHomeAgentForThisMN, "deregistration without a binding (RFC 6275 section 10.3.2)")
			return
		}
		for _, o := range req.BIDs {
			p := op{bid: o.BID, prio: c.priorityFor(h16, o.BID, o.Priority), entry: -1, h: o.SimultaneousHomeForeign}
			if exists {
				p.entry = c.findEntry(ni, o.BID)
			}
			coa := o.CoA
			if !coa.IsValid() {
				switch {
				case len(req.BIDs) == 1:
					coa = buCoA
				case p.entry >= 0:
					coa = c.view(p.entry).CoA
				}
			}
			switch {
			case dereg:
				p.kind = opDeregister
				if p.entry < 0 {
					p.status = stMCoAUnknownCoA
				}
			case !coa.IsValid():
				// Bulk registration naming a BID we do not know without
				// saying where it is.
				p.status = stMCoAUnknownCoA
			case coa == hoa && !o.SimultaneousHomeForeign:
				// Returning home without the H flag: all bindings go (RFC
				// 6275 section 11.5.5; RFC 5648 returning home).
				p.kind = opDeregister
				deregAll, cause = true, CauseReturnHome
			case coa == hoa:
				p.kind, p.coa = opHome, h16
				if c.cfg.SimultaneousHomeForeignDisabled {
					p.status = stMCoASimultaneousHomeForgn
				}
			default:
				p.kind, p.coa = opRegister, coa.As16()
				c.checkCoA(h16, &p, validCoA(coa))
			}
			ops = append(ops, p)
		}
	}

	if deregAll {
		if !exists {
			d.reject(stNotHomeAgentForThisMN, "returning home without a binding (RFC 6275 section 10.3.2)")
			return
		}
		c.applyDeregAll(now, req, d, ni, cause)
		return
	}

	// RFC 6275 section 10.3.1: DAD for the home address on first
	// registration.
	if !exists && req.DADFailed {
		d.reject(stDADFailed, "duplicate address detection failed for the home address")
		return
	}

	// Resource limits, counting what overwrite would free.
	count := 0
	if exists {
		count = int(c.nodes[ni].count)
		if overwrite {
			count = 0
			for i := range ops {
				if ops[i].entry >= 0 {
					count++
				}
			}
		}
	}
	total := c.live
	for i := range ops {
		p := &ops[i]
		if p.status != 0 || p.kind == opDeregister || p.entry >= 0 {
			continue
		}
		if count+1 > c.cfg.MaxBindingsPerNode || (c.cfg.MaxBindings > 0 && total+1 > c.cfg.MaxBindings) {
			p.status = stInsufficientResources
			continue
		}
		count++
		total++
	}

	accepted, home := 0, false
	var firstErr Status
	circOnly := true
	for i := range ops {
		if ops[i].status == 0 {
			accepted++
			home = home || ops[i].kind == opHome
		} else {
			if firstErr == 0 {
				firstErr = ops[i].status
			}
			circOnly = circOnly && ops[i].circ
		}
	}
	bulk := len(req.BIDs) > 0
	if accepted == 0 {
		if circOnly && len(ops) == 1 && !c.cfg.AnswerCircularReference {
			// RFC 6275 section 9.5.1: "silently discarded".
			d.discard(c.circularChain(h16, ops[0].coa).Error())
			d.Status = stAdministrativelyProhib
			return
		}
		why := "no binding accepted"
		if circOnly {
			why = c.circularChain(h16, ops[0].coa).Error()
		}
		d.reject(firstErr, why)
		if bulk {
			for i := range ops {
				d.BIDs = append(d.BIDs, ops[i].bidStatus())
			}
		}
		return
	}

	// Accepted (at least partly): grant a lifetime.
	var granted time.Duration
	if !dereg {
		granted = min(time.Duration(req.Lifetime)*TimeUnit, c.cfg.MaxLifetime)
		if prefixLeft > 0 {
			granted = min(granted, prefixLeft)
		}
		if req.CoALifetime > 0 {
			granted = min(granted, req.CoALifetime)
		}
		units := granted / TimeUnit
		if units < 1 {
			units = 1
		}
		if units > 0xffff {
			units = 0xffff
		}
		d.Lifetime = uint16(units)
		granted = time.Duration(units) * TimeUnit
		if f := c.cfg.RefreshAdviceFraction; f > 0 && f < 1 {
			r := uint16(float64(d.Lifetime) * f)
			if r >= 1 && r < d.Lifetime {
				d.RefreshInterval = r
			}
		}
	}

	if !exists {
		ni = c.newNode(h16)
	}
	t := c.off(now)
	var flags BindingFlags
	if req.LinkLocal {
		flags |= FlagLinkLocal
	}
	if req.KeyMgmt && c.cfg.KeyManagement {
		flags |= FlagKeyMgmt
	}
	if req.MobileRouter {
		flags |= FlagMobileRouter
	}
	if !bulk {
		flags |= FlagNoBID
	}

	if overwrite && exists {
		for i := c.nodes[ni].first; i >= 0; {
			next := c.entries[i].next
			keep := false
			for k := range ops {
				if ops[k].status == 0 && ops[k].entry == i {
					keep = true
				}
			}
			if !keep {
				d.Changes = append(d.Changes, Change{Kind: BindingRemoved, Cause: CauseOverwrite, Binding: c.view(i)})
				c.removeEntry(i)
			}
			i = next
		}
	}

	for i := range ops {
		p := &ops[i]
		if p.status != 0 {
			continue
		}
		switch p.kind {
		case opDeregister:
			d.Changes = append(d.Changes, Change{Kind: BindingRemoved, Cause: CauseDeregistration, Binding: c.view(p.entry)})
			c.removeEntry(p.entry)
		case opRegister, opHome:
			f := flags
			if p.kind == opHome {
				f |= FlagAtHome
			}
			if p.entry >= 0 {
				e := &c.entries[p.entry]
				changed := e.coa != p.coa || e.prio != p.prio || e.flags != f
				if (e.coa != p.coa || e.flags != f) && p.entry == c.nodes[ni].primary {
					// The preferred binding moved: its tunnel must follow, so
					// settle reports it as PrimaryChanged (a plain Binding
					// Update from a new care-of address, or an IPv4 one).
					c.nodes[ni].flags |= nodePrimaryGone
				}
				e.coa, e.prio, e.flags = p.coa, p.prio, f
				e.registered, e.expiry = t, t+int64(granted)
				c.heapFix(p.entry)
				if changed {
					d.Changes = append(d.Changes, Change{Kind: BindingUpdated, Cause: CauseRegistration, Binding: c.view(p.entry)})
				}
			} else {
				p.entry = c.addEntry(ni, entry{coa: p.coa, bid: p.bid, prio: p.prio, flags: f, registered: t, expiry: t + int64(granted)})
				d.Changes = append(d.Changes, Change{Kind: BindingAdded, Cause: CauseRegistration, Binding: c.view(p.entry)})
			}
		}
	}

	n := &c.nodes[ni]
	n.lastSeq = req.Sequence
	if req.HasTimestamp {
		n.lastTS, n.flags = req.Timestamp, n.flags|nodeHasTS
		d.Timestamp, d.HasTimestamp = req.Timestamp, true
	}
	d.Changes = c.settle(ni, CauseRegistration, d.Changes)

	// RFC 6275 section 10.3.2: a deregistration is always answered ("the
	// home agent MUST return a Binding Acknowledgement"), A flag or not.
	d.SendAck = req.Ack || dereg
	d.KeyMgmt = flags&FlagKeyMgmt != 0
	d.MobileRouter = req.MobileRouter
	switch {
	case accepted < len(ops):
		d.Status = stMCoANotComplete
		d.SendAck = true
	case home:
		d.Status = stMCoAReturnHomeWithoutNDP
	default:
		d.Status = stAccepted
	}
	if bulk {
		for i := range ops {
			d.BIDs = append(d.BIDs, ops[i].bidStatus())
		}
	}
}

// checkCoA fills p.status for a registration's care-of address.
func (c *BindingCache) checkCoA(h16 [16]byte, p *op, valid bool) {
	switch {
	case !valid:
		p.status = stInvalidCareOfAddress
	case c.cfg.ForbidHoAAsCoA && c.inHomePrefix(p.coa):
		p.status = stAdministrativelyProhib
	case c.circular(h16, p.coa):
		p.status, p.circ = stAdministrativelyProhib, true
	}
}

func (c *BindingCache) applyDeregAll(now time.Time, req *BindingUpdateRequest, d *Decision, ni int32, cause Cause) {
	for i := c.nodes[ni].first; i >= 0; {
		next := c.entries[i].next
		d.Changes = append(d.Changes, Change{Kind: BindingRemoved, Cause: cause, Binding: c.view(i)})
		c.removeEntry(i)
		i = next
	}
	d.Changes = c.settle(ni, cause, d.Changes)
	// RFC 6275 section 10.3.2: deregistration and returning home are
	// always answered with a Binding Acknowledgement, A flag or not.
	d.SendAck = true
	d.Status = stAccepted
	if req.HasTimestamp {
		d.Timestamp, d.HasTimestamp = req.Timestamp, true
	}
	for _, o := range req.BIDs {
		d.BIDs = append(d.BIDs, BIDStatus{BID: o.BID})
	}
}

// settle emits PrimaryChanged when the preferred binding of node ni changed
// and drops the node when it has no binding left.
func (c *BindingCache) settle(ni int32, cause Cause, out []Change) []Change {
	n := &c.nodes[ni]
	b := c.best(ni)
	if b != n.primary || n.flags&nodePrimaryGone != 0 {
		n.primary = b
		n.flags &^= nodePrimaryGone
		if b >= 0 {
			out = append(out, Change{Kind: PrimaryChanged, Cause: cause, Binding: c.view(b)})
		} else {
			out = append(out, Change{Kind: PrimaryChanged, Cause: cause, Binding: Binding{HoA: addrOf(n.hoa, true)}})
		}
	}
	if n.first < 0 {
		c.dropNode(ni)
	}
	return out
}

func (p *op) bidStatus() BIDStatus {
	s := BIDStatus{BID: p.bid, Status: p.status, SimultaneousHomeForeign: p.h}
	if p.kind == opRegister || p.kind == opHome {
		s.CoA = coaOf(p.coa)
	}
	return s
}
