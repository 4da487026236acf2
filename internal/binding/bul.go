package binding

import (
	"net/netip"
	"slices"
	"sort"
	"time"
)

// BULState is the state of one Binding Update List entry.
type BULState uint8

const (
	StateRegistering   BULState = iota + 1 // BU sent or to send, no BA yet
	StateRegistered                        // accepted; refreshing keeps this state
	StateDeregistering                     // lifetime-0 BU sent or to send
	StateFailed                            // rejected or no answer; see Status/Reason
)

func (s BULState) String() string {
	switch s {
	case StateRegistering:
		return "registering"
	case StateRegistered:
		return "registered"
	case StateDeregistering:
		return "deregistering"
	case StateFailed:
		return "failed"
	}
	return "unknown"
}

// BULConfig is the mobile node's registration policy.
type BULConfig struct {
	// Lifetime requested in Binding Updates; zero means
	// DefaultRequestedLifetime. Rounded down to TimeUnit.
	Lifetime time.Duration
	// RefreshFraction of the granted lifetime after which the binding is
	// refreshed (unless the Binding Refresh Advice asks for earlier). Zero
	// means DefaultRefreshFraction.
	RefreshFraction float64
	LinkLocal       bool // L flag
	KeyMgmt         bool // K flag
	MobileRouter    bool // R flag (RFC 3963)
	// NoBulk sends one BID per Binding Update (RFC 5648 bulk registration
	// off). Also switched on per home agent after status 168.
	NoBulk bool
	// Timestamps adds RFC 4285 replay protection timestamps.
	Timestamps bool
	// KeepRetransmitting: once the timeout reached MaxBindackTimeout, keep
	// retransmitting at that rate (RFC 6275 section 11.8: the mobile node
	// MAY continue at this slower rate indefinitely) instead of giving up;
	// BindingFailed is still reported once, the entries stay registering.
	KeepRetransmitting bool
	// RetryAfterFailure, if positive, re-registers a failed entry after
	// this long; zero leaves it failed until SetCareOfAddress.
	RetryAfterFailure time.Duration
	// InitialSequence is the first sequence number used per home address.
	InitialSequence uint16
}

const (
	DefaultRequestedLifetime = 600 * time.Second
	DefaultRefreshFraction   = 0.8
)

// CareOfBinding is what the mobile node wants registered: home address HoA
// at home agent HA reachable at CoA under Binding ID BID.
type CareOfBinding struct {
	HA, HoA  netip.Addr
	BID      uint16
	CoA      netip.Addr // == HoA: at home on this link (RFC 5648 H flag)
	Priority uint8      // BID-PRI, lower preferred; 0 = let the HA decide
	// ValidUntil, if set, is when the care-of address stops being valid;
	// the requested lifetime never goes beyond it (RFC 6275 section
	// 11.7.1).
	ValidUntil time.Time
}

// BULEntry is a snapshot of one Binding Update List entry.
type BULEntry struct {
	CareOfBinding
	State      BULState
	Status     Status // last status received for this BID
	Reason     string // why it failed
	Registered time.Time
	Expires    time.Time
	RefreshAt  time.Time
}

// OutgoingBindingUpdate is a Binding Update to send (RFC 6275 section
// 6.1.7), from Source to HA, with the Home Address option HoA.
type OutgoingBindingUpdate struct {
	HA, HoA      netip.Addr
	Source       netip.Addr // care-of address to send from
	Sequence     uint16
	Ack          bool // always set for home registration (RFC 6275 11.7.1)
	Home         bool
	LinkLocal    bool
	KeyMgmt      bool
	MobileRouter bool
	Lifetime     uint16 // units of TimeUnit; 0 = deregistration
	BIDs         []BIDOption
	Timestamp    uint64
	HasTimestamp bool
}

// ActionKind says what the mobile node role must do or log.
type ActionKind uint8

const (
	SendBindingUpdate   ActionKind = iota + 1 // send Action.BU
	BindingRegistered                         // the HA accepted this BID (new or changed CoA)
	BindingDeregistered                       // entry gone (Confirmed: the HA answered)
	BindingFailed                             // rejected or unanswered; Status/Reason
	BindingExpired                            // lifetime ran out before a refresh was accepted
)

func (k ActionKind) String() string {
	switch k {
	case SendBindingUpdate:
		return "send-bu"
	case BindingRegistered:
		return "registered"
	case BindingDeregistered:
		return "deregistered"
	case BindingFailed:
		return "failed"
	case BindingExpired:
		return "expired"
	}
	return "unknown"
}

// Action is one output of the Binding Update List.
type Action struct {
	Kind      ActionKind
	BU        *OutgoingBindingUpdate
	Binding   CareOfBinding
	Status    Status
	Reason    string
	Lifetime  time.Duration // granted, for BindingRegistered
	Confirmed bool          // for BindingDeregistered
}

// BindingAck is what the mobile node role extracts from a received Binding
// Acknowledgement (RFC 6275 section 6.1.8).
type BindingAck struct {
	HA, HoA         netip.Addr // its source, and the home address it is for
	Status          Status
	Sequence        uint16
	Lifetime        uint16 // units of TimeUnit
	RefreshInterval uint16 // Binding Refresh Advice, units of TimeUnit; 0 = none
	KeyMgmt         bool
	BIDs            []BIDStatus
	Timestamp       uint64
	HasTimestamp    bool
}

type bulEntry struct {
	CareOfBinding
	state      BULState
	status     Status
	reason     string
	dirty      bool // must go out in a Binding Update
	inflight   bool // part of the outstanding Binding Update
	dereg      bool
	announced  bool // BindingRegistered reported for the current CoA
	standby    bool // not registered: the home agent takes one care-of address
	registered time.Time
	expires    time.Time
	refreshAt  time.Time
	failedAt   time.Time
}

type sentBU struct {
	seq uint16
	at  time.Time
}

// bulGroup is everything sent to one home agent for one home address:
// sequence numbers are allocated per home address (RFC 6275 section 11.7.1),
// and one Binding Update is outstanding at a time.
type bulGroup struct {
	ha, hoa    netip.Addr
	nextSeq    uint16
	firstReg   bool // no registration accepted yet: InitialBindackTimeoutFirstReg
	noBulk     bool
	legacy     bool // home agent without RFC 5648 support: one binding, no BID options
	tsOffset   time.Duration
	tsResynced bool
	stalled    bool // BindingFailed reported for the outstanding BU (KeepRetransmitting)

	out          bool
	outDereg     bool
	outBIDs      bool       // the outstanding BU carries BID options
	outSource    netip.Addr // and leaves from this address
	sent         []sentBU   // transmissions of the outstanding transaction
	timeout      time.Duration
	retransmitAt time.Time
	dirtyAt      time.Time

	entries []*bulEntry // sorted by BID
}

// BindingUpdateList is the mobile node's Binding Update List for home
// registrations (RFC 6275 section 11.1; RFC 5648 mobile node operation).
// Pure state: the caller sends what Next and HandleBA return.
type BindingUpdateList struct {
	cfg    BULConfig
	groups []*bulGroup
}

// NewBindingUpdateList returns an empty list.
func NewBindingUpdateList(cfg BULConfig) *BindingUpdateList {
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultRequestedLifetime
	}
	if cfg.RefreshFraction <= 0 || cfg.RefreshFraction >= 1 {
		cfg.RefreshFraction = DefaultRefreshFraction
	}
	return &BindingUpdateList{cfg: cfg}
}

func (l *BindingUpdateList) group(ha, hoa netip.Addr, create bool) *bulGroup {
	for _, g := range l.groups {
		if g.ha == ha && g.hoa == hoa {
			return g
		}
	}
	if !create {
		return nil
	}
	g := &bulGroup{ha: ha, hoa: hoa, nextSeq: l.cfg.InitialSequence, firstReg: true, noBulk: l.cfg.NoBulk}
	l.groups = append(l.groups, g)
	return g
}

func (g *bulGroup) entry(bid uint16) *bulEntry {
	for _, e := range g.entries {
		if e.BID == bid {
			return e
		}
	}
	return nil
}

func (g *bulGroup) markDirty(e *bulEntry, now time.Time) {
	if !g.hasDirty() {
		g.dirtyAt = now
	}
	e.dirty = true
}

func (g *bulGroup) hasDirty() bool {
	for _, e := range g.entries {
		if e.dirty {
			return true
		}
	}
	return false
}

// SetCareOfAddress registers (or moves) a binding, e.g. when an interface
// gets an address. The Binding Update goes out on the next Next(now).
func (l *BindingUpdateList) SetCareOfAddress(now time.Time, b CareOfBinding) {
	g := l.group(b.HA, b.HoA, true)
	e := g.entry(b.BID)
	if e == nil {
		e = &bulEntry{CareOfBinding: b}
		g.entries = append(g.entries, e)
		sort.Slice(g.entries, func(i, j int) bool { return g.entries[i].BID < g.entries[j].BID })
	} else if e.CoA == b.CoA && e.Priority == b.Priority && !e.dereg && e.state != StateFailed {
		e.ValidUntil = b.ValidUntil
		return
	}
	if e.CoA != b.CoA {
		e.announced = false
	}
	e.CareOfBinding = b
	e.dereg = false
	if e.state != StateRegistered || !e.announced {
		e.state = StateRegistering
	}
	e.status, e.reason = 0, ""
	g.markDirty(e, now)
}

// RemoveCareOfAddress deregisters one binding (e.g. its interface went
// down); the other bindings of the home address stay (RFC 5648 mobile node
// operation).
func (l *BindingUpdateList) RemoveCareOfAddress(now time.Time, ha, hoa netip.Addr, bid uint16) {
	g := l.group(ha, hoa, false)
	if g == nil {
		return
	}
	e := g.entry(bid)
	if e == nil {
		return
	}
	e.dereg, e.state = true, StateDeregistering
	g.markDirty(e, now)
}

// Forget drops every entry of hoa at ha without signalling: a home agent
// that refused the registration holds no binding to deregister (a Home
// Agent Switch that moves on to the next listed home agent).
func (l *BindingUpdateList) Forget(ha, hoa netip.Addr) {
	l.groups = slices.DeleteFunc(l.groups, func(g *bulGroup) bool { return g.ha == ha && g.hoa == hoa })
}

// Entries returns a snapshot of the list, for status displays.
func (l *BindingUpdateList) Entries() []BULEntry {
	var out []BULEntry
	for _, g := range l.groups {
		for _, e := range g.entries {
			out = append(out, BULEntry{CareOfBinding: e.CareOfBinding, State: e.state, Status: e.status,
				Reason: e.reason, Registered: e.registered, Expires: e.expires, RefreshAt: e.refreshAt})
		}
	}
	return out
}

// Deadline is when Next must next be called; ok is false when nothing is
// scheduled. A deadline in the past means "now".
func (l *BindingUpdateList) Deadline() (t time.Time, ok bool) {
	take := func(x time.Time) {
		if !x.IsZero() && (!ok || x.Before(t)) {
			t, ok = x, true
		}
	}
	for _, g := range l.groups {
		if g.wantsNewTransaction() {
			take(g.dirtyAt)
		}
		if g.out {
			take(g.retransmitAt)
		}
		for _, e := range g.entries {
			switch {
			case e.state == StateRegistered && !e.inflight && !e.dirty:
				take(e.refreshAt)
				take(e.expires)
			case e.state == StateRegistered:
				take(e.expires)
			case e.state == StateFailed && !e.standby && l.cfg.RetryAfterFailure > 0:
				take(e.failedAt.Add(l.cfg.RetryAfterFailure))
			}
		}
	}
	return t, ok
}

// RefreshRequested handles a Binding Refresh Request from home agent ha for
// hoa (RFC 6275 section 11.7.4): every registered binding of that home
// address is refreshed in the next Binding Update, as if its refresh time
// had come. It reports whether anything was due; a request for a home
// address with nothing registered there is ignored.
func (l *BindingUpdateList) RefreshRequested(now time.Time, ha, hoa netip.Addr) bool {
	g := l.group(ha, hoa, false)
	if g == nil {
		return false
	}
	any := false
	for _, e := range g.entries {
		if e.state == StateRegistered && !e.dereg {
			e.refreshAt = now
			any = true
		}
	}
	return any
}

// Resignal puts every binding of hoa at home agent ha that is registered
// or registering into a new Binding Update at once, e.g. because the flow
// binding options every registration carries changed (RFC 6089 section
// 5: a Binding Update with flow options replaces the flow bindings the
// home agent holds). A Binding Update already outstanding is stale then
// and is replaced. It reports whether anything goes out.
func (l *BindingUpdateList) Resignal(now time.Time, ha, hoa netip.Addr) bool {
	g := l.group(ha, hoa, false)
	if g == nil {
		return false
	}
	any := false
	for _, e := range g.entries {
		if !e.dereg && !e.standby && (e.state == StateRegistered || e.state == StateRegistering) {
			g.markDirty(e, now)
			any = true
		}
	}
	return any
}
