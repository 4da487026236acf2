package binding

import (
	"net/netip"
	"time"

	"monami/wire"
)

// TimeUnit is the unit of the Lifetime fields of the Binding Update and
// Acknowledgement and of the Binding Refresh Advice (RFC 6275 sections
// 6.1.7, 6.1.8, 6.2.4).
const TimeUnit = 4 * time.Second

// AuthResult is what the caller's security layer concluded about a Binding
// Update before it reaches the cache.
type AuthResult uint8

const (
	// AuthNone: not protected at all. RFC 6275 section 9.5.1: discard.
	AuthNone AuthResult = iota
	// AuthIPsec: protected by the IPsec SA of this home address (RFC 6275
	// section 10.3.1, RFC 4877).
	AuthIPsec
	// AuthOK: RFC 4285 MN-HA / MN-AAA authenticator verified.
	AuthOK
	// AuthFailed: RFC 4285 authenticator present but wrong (146).
	AuthFailed
	// AuthUnknownIdentity: the mobile node identifier names no security
	// association here (MIPV6-ID-MISMATCH, 144, RFC 4285 section 9).
	AuthUnknownIdentity
)

// Auth carries the result of authentication for one Binding Update.
type Auth struct {
	Result AuthResult
	// Identity is the RFC 4283 Mobile Node Identifier, if one was used.
	Identity string
	// AuthorizedHoAs are the home addresses the authenticated identity (or
	// SA) may register; nil means any address on a home prefix.
	AuthorizedHoAs []netip.Addr
}

// BIDOption is a decoded Binding Identifier mobility option (RFC 5648
// section 6.1, with the BID-PRI field of RFC 6089 section 6.1).
type BIDOption struct {
	BID      uint16
	Priority uint8      // BID-PRI; 0 = not given
	CoA      netip.Addr // invalid when the option carries no care-of address
	// SimultaneousHomeForeign is the H flag: the mobile node is on the
	// home link with this binding and keeps its other bindings.
	SimultaneousHomeForeign bool
	// Malformed: the option could not be decoded (a Length other than 4,
	// 8 or 20). It still counts, so that the answer is MCOA MALFORMED
	// (RFC 5648 section 6.2) rather than silence.
	Malformed bool
}

// BindingUpdateRequest is what the home agent role extracts from a
// received, decoded Binding Update (RFC 6275 section 6.1.7).
type BindingUpdateRequest struct {
	Source       netip.Addr // IPv6 source address
	AlternateCoA netip.Addr // Alternate Care-of Address option, if any (RFC 6275 6.2.5)
	// IPv4CoA is the IPv4 Care-of Address option of a Binding Update sent
	// from an IPv4-only network over UDP (RFC 5555 sections 3.1.1, 4.2);
	// the role sets it only for updates that arrived over IPv4.
	IPv4CoA netip.Addr
	HoA     netip.Addr // Home Address destination option

	Sequence     uint16
	Ack          bool   // A
	Home         bool   // H (home registration)
	LinkLocal    bool   // L
	KeyMgmt      bool   // K
	MobileRouter bool   // R (RFC 3963)
	Lifetime     uint16 // units of TimeUnit

	BIDs []BIDOption

	Auth Auth
	// Timestamp of the RFC 4285 Mobility Message Replay Protection option.
	Timestamp    uint64
	HasTimestamp bool

	// DADFailed: duplicate address detection on the home address failed
	// (RFC 6275 section 10.3.1); the role runs DAD, the cache decides.
	DADFailed bool
	// CoALifetime, if positive, is the remaining valid lifetime of the
	// care-of address; the granted lifetime never exceeds it.
	CoALifetime time.Duration
}

// CareOfAddress is the care-of address of the Binding Update itself: the
// IPv4 Care-of Address option of RFC 5555 (section 4.2: the home agent
// binds the home address to the IPv4 care-of address), else the Alternate
// Care-of Address option if present, else the source address (RFC 6275
// section 9.5.1).
func (r *BindingUpdateRequest) CareOfAddress() netip.Addr {
	if r.IPv4CoA.IsValid() {
		return r.IPv4CoA
	}
	if r.AlternateCoA.IsValid() {
		return r.AlternateCoA
	}
	return r.Source
}

// BIDStatus is one Binding Identifier option to put in the Binding
// Acknowledgement (RFC 5648 section 6.1: its Status overrides the BA's for
// that BID; 0 means "use the BA status").
type BIDStatus struct {
	BID                     uint16
	Status                  Status
	CoA                     netip.Addr
	SimultaneousHomeForeign bool
}

// ChangeKind says what the data plane must do.
type ChangeKind uint8

const (
	BindingAdded   ChangeKind = iota + 1 // new (HoA, BID) -> CoA
	BindingUpdated                       // CoA, priority or flags changed
	BindingRemoved                       // delete this (HoA, BID)
	// PrimaryChanged: the preferred binding of Binding.HoA is now Binding
	// (BID, CoA); a zero BID and invalid CoA mean the home address has no
	// binding left (stop proxying it).
	PrimaryChanged
)

func (k ChangeKind) String() string {
	switch k {
	case BindingAdded:
		return "added"
	case BindingUpdated:
		return "updated"
	case BindingRemoved:
		return "removed"
	case PrimaryChanged:
		return "primary"
	}
	return "unknown"
}

// Cause is why a change happened, for logs.
type Cause uint8

const (
	CauseRegistration   Cause = iota + 1
	CauseDeregistration       // lifetime 0 (RFC 6275 10.3.2; RFC 5648)
	CauseReturnHome           // CoA == HoA without the H flag
	CauseOverwrite            // a BU without a BID option replaced the other bindings (RFC 5648)
	CauseExpired              // lifetime ran out
)

// Change is one data-plane change, not yet applied. Changes of one call
// come in order: removals and additions/updates first, then at most one
// PrimaryChanged per home address. PrimaryChanged is emitted when another
// binding becomes preferred, and when the preferred binding's care-of
// address or flags change (same BID, new CoA: the default tunnel moves).
type Change struct {
	Kind    ChangeKind
	Cause   Cause
	Binding Binding
}

// Decision is the outcome of ProcessBindingUpdate: what to answer and what
// to change. Nothing has been sent or installed.
type Decision struct {
	// Discard: drop the Binding Update silently, send nothing.
	Discard bool
	// Reason explains a discard or a rejection, for logs.
	Reason string

	SendAck  bool   // send a Binding Acknowledgement
	Status   Status // its status
	Sequence uint16 // its sequence number (the last accepted one for 135)
	Lifetime uint16 // granted lifetime, units of TimeUnit
	// RefreshInterval > 0: include a Binding Refresh Advice (units of
	// TimeUnit, RFC 6275 section 6.2.4).
	RefreshInterval uint16
	KeyMgmt         bool // K flag of the BA
	MobileRouter    bool // R flag of the BA (RFC 3963)
	BIDs            []BIDStatus
	// Timestamp for a Mobility Message Replay Protection option in the BA
	// (RFC 4285 section 6): the BU's on success, the home agent's current
	// time for MIPV6-MESG-ID-REQD.
	Timestamp    uint64
	HasTimestamp bool

	Changes []Change
}

// GrantedLifetime is Lifetime as a duration.
func (d *Decision) GrantedLifetime() time.Duration { return time.Duration(d.Lifetime) * TimeUnit }

type opKind uint8

const (
	opRegister opKind = iota + 1
	opHome
	opDeregister
)

type op struct {
	coa    [16]byte
	entry  int32
	bid    uint16
	prio   uint8
	kind   opKind
	status Status
	circ   bool
	h      bool
}

// ProcessBindingUpdate decides on one home registration Binding Update
// (RFC 6275 sections 9.5.1, 10.3.1, 10.3.2; RFC 5648 with the statuses of
// its section 6.2; RFC 4285 sections 6 and 9) and updates the cache
// accordingly.
func (c *BindingCache) ProcessBindingUpdate(now time.Time, req *BindingUpdateRequest) Decision {
	var d Decision
	c.ProcessBindingUpdateTo(now, req, &d)
	return d
}

// ProcessBindingUpdateTo is ProcessBindingUpdate reusing d's slices (for a
// hot loop that wants no allocation).
func (c *BindingCache) ProcessBindingUpdateTo(now time.Time, req *BindingUpdateRequest, d *Decision) {
	*d = Decision{BIDs: d.BIDs[:0], Changes: d.Changes[:0], Sequence: req.Sequence}
	hoa := req.HoA
	if !hoa.Is6() || hoa.Is4In6() {
		d.discard("no IPv6 home address")
		return
	}
	h16 := hoa.As16()

	// RFC 6275 section 9.5.1: an unprotected Binding Update is discarded.
	switch req.Auth.Result {
	case AuthNone:
		d.discard("binding update not protected")
		return
	case AuthFailed:
		d.reject(stMIPv6AuthFail, "authenticator check failed (RFC 4285)")
		return
	case AuthUnknownIdentity:
		d.reject(stMIPv6IDMismatch, "unknown mobile node identifier (RFC 4285)")
		return
	case AuthOK:
		// RFC 4285 section 6: with the authentication protocol the replay
		// protection option is mandatory.
		if !req.HasTimestamp {
			d.reject(stMIPv6MesgIDRequired, "replay protection option missing (RFC 4285 section 6)")
			d.Timestamp, d.HasTimestamp = wire.NTPTimestamp(now), true
			return
		}
	}

	ni, exists := c.index[h16]

	// RFC 6275 section 9.5.1: a Binding Update whose H bit differs from the
	// existing entry is a registration type change. This cache only holds
	// home registrations; H=0 without an entry is a correspondent
	// registration, which needs return routability and is not ours.
	if !req.Home {
		if exists {
			d.reject(stRegistrationTypeChange, "H flag clear for a home registration")
			return
		}
		d.discard("correspondent registration (H=0) not handled by the home agent")
		return
	}
	if c.cfg.HomeRegistrationDisabled {
		d.reject(stHomeRegNotSupported, "home registration disabled")
		return
	}
	// RFC 6275 section 10.3.1: the home address must be on-link for one of
	// the home agent's prefixes.
	prefixLeft, ok := c.onHomeLink(hoa, now)
	if !ok {
		d.reject(stNotHomeSubnet, "home address not in a home prefix")
		return
	}
	if req.Auth.AuthorizedHoAs != nil && !containsAddr(req.Auth.AuthorizedHoAs, hoa) {
		if req.Auth.Identity != "" {
			// RFC 4285 section 9: the MN identifier does not own this HoA.
			d.reject(stMIPv6IDMismatch, "identity not authorized for home address")
		} else {
			d.reject(stNotHomeAgentForThisMN, "security association not for this home address")
		}
		return
	}
	if req.HasTimestamp && !c.replayOK(ni, exists, req.Timestamp, now) {
		d.reject(stMIPv6MesgIDRequired, "timestamp outside replay window or not newer (RFC 4285 section 6)")
		d.Timestamp, d.HasTimestamp = wire.NTPTimestamp(now), true
		return
	}
	// RFC 6275 section 9.5.1: sequence number modulo 2**16.
	if exists && SeqLessOrEqual(req.Sequence, c.nodes[ni].lastSeq) {
		d.reject(stSequenceOutOfWindow, "sequence number not greater than last accepted")
		d.Sequence = c.nodes[ni].lastSeq
		return
	}
	if c.refuseNew && req.Lifetime > 0 && (!exists || c.nodes[ni].count == 0) {
		d.reject(stAdministrativelyProhib, "home agent draining: new registrations go to another home agent (RFC 5142)")
		return
	}
	if req.MobileRouter && !c.cfg.MobileRouterPermitted {
		d.reject(stMobileRouterNotPermitted, "mobile router operation not permitted (RFC 3963)")
		return
	}
	c.decide(now, req, d, ni, exists, prefixLeft)
}

func (d *Decision) discard(why string) {
	d.Discard, d.Reason = true, why
}

func (d *Decision) reject(s Status, why string) {
	d.SendAck, d.Status, d.Reason = true, s, why
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// onHomeLink reports whether hoa is on one of the valid home prefixes and
// how long that prefix stays valid (0 = forever).
func (c *BindingCache) onHomeLink(hoa netip.Addr, now time.Time) (time.Duration, bool) {
	for _, p := range c.cfg.HomePrefixes {
		if !p.Prefix.Contains(hoa) {
			continue
		}
		if p.ValidUntil.IsZero() {
			return 0, true
		}
		if left := p.ValidUntil.Sub(now); left > 0 {
			return left, true
		}
	}
	return 0, false
}

// validCoA: a care-of address must be a global unicast IPv6 address (RFC
// 6275 sections 9.5.1 and 11.7.1; status 174 "Invalid Care-of Address"), or
// a unicast IPv4 address (RFC 5555 IPv4 Care-of Address option, RFC 5648
// section 6.1 BID option of Length 8). An IPv4 care-of address is kept as
// its IPv4-mapped form, which no IPv6 care-of address can take, and handed
// out unmapped (coaOf).
func validCoA(a netip.Addr) bool {
	if a.Is4() {
		return a.IsGlobalUnicast() // not 0/8 unspecified, loopback, link-local, multicast or broadcast
	}
	return a.Is6() && !a.Is4In6() && a.Zone() == "" && a.IsGlobalUnicast()
}

// coaOf turns a stored care-of address back into an Addr (IPv4 unmapped).
func coaOf(a [16]byte) netip.Addr { return netip.AddrFrom16(a).Unmap() }

func (c *BindingCache) priorityFor(hoa [16]byte, bid uint16, optPri uint8) uint8 {
	if p, ok := c.cfg.BIDPriority[netip.AddrFrom16(hoa)][bid]; ok && p != 0 {
		return p
	}
	if optPri != 0 {
		return optPri
	}
	return c.cfg.DefaultPriority
}

func (c Cause) String() string {
	switch c {
	case CauseRegistration:
		return "registration"
	case CauseDeregistration:
		return "deregistration"
	case CauseReturnHome:
		return "return-home"
	case CauseOverwrite:
		return "overwrite"
	case CauseExpired:
		return "expired"
	}
	return "unknown"
}
