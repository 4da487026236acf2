package binding

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"monami/wire"
)

// TestEveryStatus provokes every status ProcessBindingUpdate can answer.
func TestEveryStatus(t *testing.T) {
	reg := func(c *BindingCache, r *BindingUpdateRequest) {
		d := c.ProcessBindingUpdate(t0, r)
		if !d.Status.Accepted() || d.Discard {
			t.Fatalf("setup BU rejected: %v %s", d.Status, d.Reason)
		}
	}
	tests := []struct {
		name    string
		cfg     func(*Config)
		setup   func(c *BindingCache)
		req     func() *BindingUpdateRequest
		want    Status
		discard bool
		bids    map[uint16]Status
	}{
		{name: "accepted plain", req: func() *BindingUpdateRequest { return bu(1) }, want: stAccepted},
		{name: "accepted one BID", req: func() *BindingUpdateRequest { return bu(1, bid(1, coaA)) }, want: stAccepted,
			bids: map[uint16]Status{1: 0}},
		{name: "4 MCOA NOTCOMPLETE", req: func() *BindingUpdateRequest {
			return bu(1, bid(1, coaA), bid(2, netip.MustParseAddr("fe80::1")))
		}, want: stMCoANotComplete, bids: map[uint16]Status{1: 0, 2: stInvalidCareOfAddress}},
		{name: "5 MCOA RETURNHOME WO/NDP", setup: func(c *BindingCache) { reg(c, bu(1, bid(1, coaA))) },
			req: func() *BindingUpdateRequest {
				return bu(2, BIDOption{BID: 2, CoA: hoa1, SimultaneousHomeForeign: true})
			}, want: stMCoAReturnHomeWithoutNDP, bids: map[uint16]Status{2: 0}},
		{name: "129 HoA as CoA forbidden", cfg: func(c *Config) { c.ForbidHoAAsCoA = true },
			setup: func(c *BindingCache) { r := bu(1); r.HoA = hoa2; reg(c, r) },
			req:   func() *BindingUpdateRequest { r := bu(1); r.Source = hoa2; return r }, want: stAdministrativelyProhib},
		{name: "129 circular reference answered", cfg: func(c *Config) { c.AnswerCircularReference = true },
			setup: circularSetup(reg),
			req:   func() *BindingUpdateRequest { r := bu(1); r.Source = hoa2; return r }, want: stAdministrativelyProhib},
		{name: "129 circular reference discarded (RFC 6275 9.5.1)", setup: circularSetup(reg),
			req: func() *BindingUpdateRequest { r := bu(1); r.Source = hoa2; return r }, discard: true},
		{name: "130 per node limit", cfg: func(c *Config) { c.MaxBindingsPerNode = 1 },
			setup: func(c *BindingCache) { reg(c, bu(1, bid(1, coaA))) },
			req:   func() *BindingUpdateRequest { return bu(2, bid(2, coaB)) }, want: stInsufficientResources,
			bids: map[uint16]Status{2: stInsufficientResources}},
		{name: "130 cache limit", cfg: func(c *Config) { c.MaxBindings = 1 },
			setup: func(c *BindingCache) { r := bu(1); r.HoA = hoa2; reg(c, r) },
			req:   func() *BindingUpdateRequest { return bu(1) }, want: stInsufficientResources},
		{name: "131 home registration not supported", cfg: func(c *Config) { c.HomeRegistrationDisabled = true },
			req: func() *BindingUpdateRequest { return bu(1) }, want: stHomeRegNotSupported},
		{name: "132 not home subnet", req: func() *BindingUpdateRequest {
			r := bu(1)
			r.HoA = netip.MustParseAddr("2001:db8:2::1")
			return r
		}, want: stNotHomeSubnet},
		{name: "132 home prefix expired", cfg: func(c *Config) { c.HomePrefixes[0].ValidUntil = t0 },
			req: func() *BindingUpdateRequest { return bu(1) }, want: stNotHomeSubnet},
		{name: "133 deregistration without binding (10.3.2)", req: func() *BindingUpdateRequest {
			r := bu(1)
			r.Lifetime = 0
			return r
		}, want: stNotHomeAgentForThisMN},
		{name: "133 BID deregistration without binding", req: func() *BindingUpdateRequest {
			r := bu(1, bid(1, coaA))
			r.Lifetime = 0
			return r
		}, want: stNotHomeAgentForThisMN},
		{name: "133 SA not for this HoA", req: func() *BindingUpdateRequest {
			r := bu(1)
			r.Auth.AuthorizedHoAs = []netip.Addr{hoa2}
			return r
		}, want: stNotHomeAgentForThisMN},
		{name: "134 DAD failed", req: func() *BindingUpdateRequest {
			r := bu(1)
			r.DADFailed = true
			return r
		}, want: stDADFailed},
		{name: "135 sequence out of window", setup: func(c *BindingCache) { reg(c, bu(10)) },
			req: func() *BindingUpdateRequest { return bu(10) }, want: stSequenceOutOfWindow},
		{name: "139 registration type change", setup: func(c *BindingCache) { reg(c, bu(1)) },
			req: func() *BindingUpdateRequest { r := bu(2); r.Home = false; return r }, want: stRegistrationTypeChange},
		{name: "140 mobile router not permitted", req: func() *BindingUpdateRequest {
			r := bu(1)
			r.MobileRouter = true
			return r
		}, want: stMobileRouterNotPermitted},
		{name: "144 MIPV6-ID-MISMATCH", req: func() *BindingUpdateRequest {
			r := bu(1)
			r.Auth = Auth{Result: AuthOK, Identity: "mn@example.net", AuthorizedHoAs: []netip.Addr{hoa2}}
			r.Timestamp, r.HasTimestamp = wire.NTPTimestamp(t0), true
			return r
		}, want: stMIPv6IDMismatch},
		{name: "145 MIPV6-MESG-ID-REQD missing", req: func() *BindingUpdateRequest {
			r := bu(1)
			r.Auth = Auth{Result: AuthOK}
			return r
		}, want: stMIPv6MesgIDRequired},
		{name: "145 MIPV6-MESG-ID-REQD stale", req: func() *BindingUpdateRequest {
			r := bu(1)
			r.Auth = Auth{Result: AuthOK}
			r.Timestamp, r.HasTimestamp = wire.NTPTimestamp(t0.Add(-time.Minute)), true
			return r
		}, want: stMIPv6MesgIDRequired},
		{name: "146 MIPV6-AUTH-FAIL", req: func() *BindingUpdateRequest {
			r := bu(1)
			r.Auth = Auth{Result: AuthFailed}
			return r
		}, want: stMIPv6AuthFail},
		{name: "164 MCOA MALFORMED BID 0", req: func() *BindingUpdateRequest { return bu(1, bid(0, coaA)) }, want: stMCoAMalformed},
		{name: "164 MCOA MALFORMED duplicate", req: func() *BindingUpdateRequest {
			return bu(1, bid(1, coaA), bid(1, coaB))
		}, want: stMCoAMalformed},
		{name: "164 MCOA MALFORMED bad length", req: func() *BindingUpdateRequest {
			return bu(1, bid(1, coaA), BIDOption{BID: 2, Malformed: true})
		}, want: stMCoAMalformed},
		{name: "164 MCOA MALFORMED unspecified IPv6 CoA", req: func() *BindingUpdateRequest {
			return bu(1, bid(1, netip.IPv6Unspecified()))
		}, want: stMCoAMalformed},
		{name: "164 MCOA MALFORMED unspecified IPv4 CoA", req: func() *BindingUpdateRequest {
			return bu(1, bid(1, netip.IPv4Unspecified()))
		}, want: stMCoAMalformed},
		{name: "165 MCOA NON-MCOA BINDING EXISTS", setup: func(c *BindingCache) { reg(c, bu(1)) },
			req: func() *BindingUpdateRequest { return bu(2, bid(1, coaB)) }, want: stMCoANonMCoABindingExists},
		{name: "166 MCOA PROHIBITED", cfg: func(c *Config) { c.MCoADisabled = true },
			req: func() *BindingUpdateRequest { return bu(1, bid(1, coaA)) }, want: stMCoAProhibited},
		{name: "167 MCOA UNKNOWN COA bulk", req: func() *BindingUpdateRequest {
			return bu(1, bid(1, coaA), BIDOption{BID: 2})
		}, want: stMCoANotComplete, bids: map[uint16]Status{1: 0, 2: stMCoAUnknownCoA}},
		{name: "167 MCOA UNKNOWN COA deregistration", setup: func(c *BindingCache) { reg(c, bu(1, bid(1, coaA))) },
			req: func() *BindingUpdateRequest {
				r := bu(2, BIDOption{BID: 7})
				r.Lifetime = 0
				return r
			}, want: stMCoAUnknownCoA, bids: map[uint16]Status{7: stMCoAUnknownCoA}},
		{name: "168 MCOA BULK REGISTRATION PROHIBITED", cfg: func(c *Config) { c.BulkRegistrationDisabled = true },
			req: func() *BindingUpdateRequest { return bu(1, bid(1, coaA), bid(2, coaB)) }, want: stMCoABulkRegProhibited},
		{name: "169 MCOA SIMULTANEOUS HOME AND FOREIGN PROHIBITED", cfg: func(c *Config) { c.SimultaneousHomeForeignDisabled = true },
			setup: func(c *BindingCache) { reg(c, bu(1, bid(1, coaA))) },
			req: func() *BindingUpdateRequest {
				return bu(2, BIDOption{BID: 2, CoA: hoa1, SimultaneousHomeForeign: true})
			}, want: stMCoASimultaneousHomeForgn, bids: map[uint16]Status{2: stMCoASimultaneousHomeForgn}},
		{name: "174 invalid CoA link-local", req: func() *BindingUpdateRequest {
			r := bu(1)
			r.Source = netip.MustParseAddr("fe80::1")
			return r
		}, want: stInvalidCareOfAddress},
		{name: "174 invalid CoA multicast", req: func() *BindingUpdateRequest {
			r := bu(1)
			r.AlternateCoA = netip.MustParseAddr("ff02::1")
			return r
		}, want: stInvalidCareOfAddress},
		{name: "174 invalid CoA loopback", req: func() *BindingUpdateRequest { return bu(1, bid(1, netip.IPv6Loopback())) },
			want: stInvalidCareOfAddress, bids: map[uint16]Status{1: stInvalidCareOfAddress}},
		{name: "174 invalid CoA unspecified", req: func() *BindingUpdateRequest {
			r := bu(1)
			r.Source = netip.IPv6Unspecified()
			return r
		}, want: stInvalidCareOfAddress},
		{name: "discard unprotected", req: func() *BindingUpdateRequest { r := bu(1); r.Auth = Auth{}; return r }, discard: true},
		{name: "discard correspondent registration", req: func() *BindingUpdateRequest { r := bu(1); r.Home = false; return r }, discard: true},
	}
	seen := map[Status]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCache(tt.cfg)
			if tt.setup != nil {
				tt.setup(c)
			}
			before := c.Len()
			d := c.ProcessBindingUpdate(t0, tt.req())
			checkInvariants(t, c)
			if d.Discard != tt.discard {
				t.Fatalf("discard=%v want %v (status %v, %s)", d.Discard, tt.discard, d.Status, d.Reason)
			}
			if tt.discard {
				if d.SendAck {
					t.Fatal("discarded BU must not be acknowledged")
				}
				return
			}
			if d.Status != tt.want {
				t.Fatalf("status %v want %v (%s)", d.Status, tt.want, d.Reason)
			}
			if !d.SendAck {
				t.Fatal("no BA for an A-flagged BU")
			}
			if !d.Status.Accepted() && (len(d.Changes) != 0 || c.Len() != before) {
				t.Fatalf("rejected BU changed state: %v", d.Changes)
			}
			if tt.bids != nil {
				if len(d.BIDs) != len(tt.bids) {
					t.Fatalf("BA BIDs %v want %v", d.BIDs, tt.bids)
				}
				for _, b := range d.BIDs {
					if w, ok := tt.bids[b.BID]; !ok || w != b.Status {
						t.Fatalf("BID %d status %v want %v", b.BID, b.Status, w)
					}
				}
			}
			seen[d.Status] = true
		})
	}
	for _, s := range HomeAgentStatuses {
		if !seen[s] {
			t.Errorf("status %v never provoked", s)
		}
	}
}

func circularSetup(reg func(*BindingCache, *BindingUpdateRequest)) func(c *BindingCache) {
	// Seed example (draft-montavont-mobileip-multihoming-pb-statement-04
	// section 6.2.2): addr2 -> addr3 and addr3 -> addr1 exist; then a BU
	// addr1 -> addr2 closes a cycle.
	return func(c *BindingCache) {
		r := bu(1)
		r.HoA, r.Source = hoa2, hoa3
		reg(c, r)
		r = bu(1)
		r.HoA, r.Source = hoa3, hoa1
		reg(c, r)
	}
}

func TestCircularReferenceSeedExample(t *testing.T) {
	// Without the closing entry the same BU is accepted.
	c := newTestCache(nil)
	r := bu(1)
	r.HoA, r.Source = hoa2, hoa3
	mustAccept(t, c, t0, r)
	r = bu(1)
	r.Source = hoa2
	mustAccept(t, c, t0, r)

	// With it, refused; the cache is unchanged.
	c = newTestCache(nil)
	circularSetup(func(c *BindingCache, r *BindingUpdateRequest) { mustAccept(t, c, t0, r) })(c)
	r = bu(1)
	r.Source = hoa2
	d := c.ProcessBindingUpdate(t0, r)
	if !d.Discard || d.SendAck {
		t.Fatalf("want silent discard, got %+v", d)
	}
	// The refusal names the loop, addr1 -> addr2 -> addr3 -> addr1.
	if want := "2001:db8:1::1 -> 2001:db8:1::2 -> 2001:db8:1::3 -> 2001:db8:1::1 (refused: home address 2001:db8:1::1 with care-of address 2001:db8:1::2)"; !strings.HasSuffix(d.Reason, want) {
		t.Fatalf("reason %q, want it to end with %q", d.Reason, want)
	}
	if _, ok := c.Best(hoa1); ok {
		t.Fatal("circular binding installed")
	}
	// In a bulk BU the circular BID gets 129, the other is accepted.
	d = c.ProcessBindingUpdate(t0, bu(2, bid(1, hoa2), bid(2, coaB)))
	if d.Status != stMCoANotComplete || d.BIDs[0].Status != stAdministrativelyProhib || d.BIDs[1].Status != 0 {
		t.Fatalf("bulk circular: %v %+v", d.Status, d.BIDs)
	}
	checkInvariants(t, c)
}

func TestSequenceWraparound(t *testing.T) {
	c := newTestCache(nil)
	mustAccept(t, c, t0, bu(65534))
	mustAccept(t, c, t0, bu(65535))
	mustAccept(t, c, t0, bu(0))
	mustAccept(t, c, t0, bu(1))
	d := c.ProcessBindingUpdate(t0, bu(65535))
	if d.Status != stSequenceOutOfWindow || d.Sequence != 1 {
		t.Fatalf("old seq after wrap: %v seq %d", d.Status, d.Sequence)
	}
	// 32768 ahead of 1 is still greater; 32769 ahead is not.
	mustAccept(t, c, t0, bu(1+32768))
	d = c.ProcessBindingUpdate(t0, bu(2)) // 32769 ahead of 32769 (mod 2**16)
	if d.Status != stSequenceOutOfWindow {
		t.Fatalf("seq beyond half window: %v", d.Status)
	}
	mustAccept(t, c, t0, bu(1)) // exactly 32768 ahead: greater
	if d.Status != stSequenceOutOfWindow {
		t.Fatalf("seq at half window: %v", d.Status)
	}
}

func TestSeqArithmetic(t *testing.T) {
	cases := []struct {
		a, b uint16
		want bool
	}{
		{1, 0, true}, {0, 1, false}, {0, 0, false}, {0, 65535, true}, {65535, 0, false},
		// RFC 6275 9.5.1 example: last 32767; 0..32767 are <=, 32768..65535 greater.
		{0, 32767, false}, {32767, 32767, false}, {32768, 32767, true}, {65535, 32767, true},
	}
	for _, c := range cases {
		if got := SeqGreater(c.a, c.b); got != c.want {
			t.Errorf("SeqGreater(%d,%d)=%v", c.a, c.b, got)
		}
	}
	for l := 0; l < 65536; l += 257 {
		n := 0
		for x := 0; x < 65536; x++ {
			if SeqGreater(uint16(x), uint16(l)) {
				n++
			}
		}
		if n != 32768 {
			t.Fatalf("last %d: %d greater values, want 32768", l, n)
		}
	}
}

func TestLifetimeGrantAndExpiry(t *testing.T) {
	c := newTestCache(func(c *Config) {
		c.MaxLifetime = 40 * time.Second
		c.RefreshAdviceFraction = 0.5
	})
	r := bu(1, bid(1, coaA), bid(2, coaB))
	r.Lifetime = 1000
	d := mustAccept(t, c, t0, r)
	if d.Lifetime != 10 || d.RefreshInterval != 5 {
		t.Fatalf("granted %d units, refresh %d", d.Lifetime, d.RefreshInterval)
	}
	// CoA lifetime limits the grant (RFC 6275 10.3.1, address lifetimes).
	r = bu(2, bid(3, coaC))
	r.CoALifetime = 9 * time.Second
	d = mustAccept(t, c, t0.Add(10*time.Second), r)
	if d.Lifetime != 2 {
		t.Fatalf("grant with CoA lifetime 9s: %d units", d.Lifetime)
	}
	if nx, _ := c.NextExpiry(); !nx.Equal(t0.Add(18 * time.Second)) {
		t.Fatalf("next expiry %v", nx)
	}
	if ch := c.Expire(t0.Add(17 * time.Second)); len(ch) != 0 {
		t.Fatalf("early expiry %v", ch)
	}
	ch := c.Expire(t0.Add(18 * time.Second))
	if len(ch) != 1 || ch[0].Kind != BindingRemoved || ch[0].Cause != CauseExpired || ch[0].Binding.BID != 3 {
		t.Fatalf("expiry of BID 3: %+v", ch)
	}
	ch = c.Expire(t0.Add(40 * time.Second))
	if len(ch) != 3 || ch[2].Kind != PrimaryChanged || ch[2].Binding.CoA.IsValid() {
		t.Fatalf("final expiry: %+v", ch)
	}
	if c.Len() != 0 || c.NodeCount() != 0 {
		t.Fatalf("cache not empty: %d", c.Len())
	}
	checkInvariants(t, c)
	// Home prefix lifetime limits the grant too.
	c = newTestCache(func(c *Config) { c.HomePrefixes[0].ValidUntil = t0.Add(20 * time.Second) })
	d = mustAccept(t, c, t0, bu(1))
	if d.Lifetime != 5 {
		t.Fatalf("grant limited by prefix: %d", d.Lifetime)
	}
}

func TestDeregistration(t *testing.T) {
	c := newTestCache(nil)
	mustAccept(t, c, t0, bu(1, bid(1, coaA), bid(2, coaB), bid(3, coaC)))
	// One BID.
	r := bu(2, BIDOption{BID: 2})
	r.Lifetime = 0
	d := mustAccept(t, c, t0, r)
	if len(d.Changes) != 1 || d.Changes[0].Kind != BindingRemoved || d.Changes[0].Binding.BID != 2 || d.Lifetime != 0 {
		t.Fatalf("dereg BID 2: %+v", d.Changes)
	}
	if got := len(c.Lookup(hoa1)); got != 2 {
		t.Fatalf("%d bindings left", got)
	}
	// All: plain BU with lifetime 0.
	r = bu(3)
	r.Lifetime = 0
	d = mustAccept(t, c, t0, r)
	if c.Len() != 0 || len(d.Changes) != 3 || d.Changes[2].Kind != PrimaryChanged {
		t.Fatalf("dereg all: %+v", d.Changes)
	}
	// Returning home without H: CoA == HoA removes everything.
	mustAccept(t, c, t0, bu(4, bid(1, coaA), bid(2, coaB)))
	d = mustAccept(t, c, t0, bu(5, BIDOption{BID: 1, CoA: hoa1}))
	if c.Len() != 0 || d.Changes[0].Cause != CauseReturnHome {
		t.Fatalf("return home: %d left, %+v", c.Len(), d.Changes)
	}
}

func TestPlainReplacement(t *testing.T) {
	c := newTestCache(nil)
	mustAccept(t, c, t0, bu(1, bid(1, coaA), bid(2, coaB)))
	// A plain BU replaces MCoA bindings with one binding, BID 0.
	d := mustAccept(t, c, t0, bu(2))
	bs := c.Lookup(hoa1)
	if len(bs) != 1 || bs[0].BID != 0 || bs[0].Flags&FlagNoBID == 0 {
		t.Fatalf("plain replacement: %+v", bs)
	}
	removed := 0
	for _, ch := range d.Changes {
		if ch.Kind == BindingRemoved && ch.Cause == CauseOverwrite {
			removed++
		}
	}
	if removed != 2 {
		t.Fatalf("plain BU removed %d MCoA bindings: %+v", removed, d.Changes)
	}
	// A plain refresh changes nothing in the data plane.
	d = mustAccept(t, c, t0.Add(time.Second), bu(3))
	if len(d.Changes) != 0 {
		t.Fatalf("refresh produced changes: %+v", d.Changes)
	}
	// BID options over the binding without BID: 165, nothing changes.
	d = c.ProcessBindingUpdate(t0, bu(4, bid(1, coaA)))
	if d.Status != stMCoANonMCoABindingExists || len(d.Changes) != 0 {
		t.Fatalf("BID over plain: status %v changes %+v", d.Status, d.Changes)
	}
	// RFC 5648's BID option has no O flag: the reason must not ask for one.
	if strings.Contains(d.Reason, "O flag") {
		t.Fatalf("165 reason names a flag RFC 5648 does not have: %q", d.Reason)
	}
	// Deregistering the binding without BID first lets MCoA in.
	r := bu(5)
	r.Lifetime = 0
	mustAccept(t, c, t0, r)
	mustAccept(t, c, t0, bu(6, bid(1, coaA)))
	if bs = c.Lookup(hoa1); len(bs) != 1 || bs[0].BID != 1 {
		t.Fatalf("MCoA after deregistration: %+v", bs)
	}
}

func TestBestBindingAndFailover(t *testing.T) {
	c := newTestCache(func(c *Config) { c.BIDPriority = map[netip.Addr]map[uint16]uint8{hoa1: {9: 1}} })
	d := mustAccept(t, c, t0, bu(1,
		BIDOption{BID: 1, CoA: coaA, Priority: 20},
		BIDOption{BID: 2, CoA: coaB, Priority: 10},
		BIDOption{BID: 3, CoA: coaC, Priority: 10}))
	last := d.Changes[len(d.Changes)-1]
	if last.Kind != PrimaryChanged || last.Binding.BID != 2 {
		t.Fatalf("primary %+v", last)
	}
	// Failover when BID 2 goes away: tie on priority 10 -> BID 3.
	r := bu(2, BIDOption{BID: 2})
	r.Lifetime = 0
	d = mustAccept(t, c, t0, r)
	if p := d.Changes[len(d.Changes)-1]; p.Kind != PrimaryChanged || p.Binding.BID != 3 || p.Binding.CoA != coaC {
		t.Fatalf("failover %+v", d.Changes)
	}
	// Operator priority per BID overrides BID-PRI, for that home address only.
	d = mustAccept(t, c, t0, bu(3, BIDOption{BID: 9, CoA: coaB, Priority: 100}))
	if b, _ := c.Best(hoa1); b.BID != 9 || b.Priority != 1 {
		t.Fatalf("best %+v", b)
	}
	other := bu(1, BIDOption{BID: 9, CoA: coaC, Priority: 100})
	other.HoA = hoa2
	mustAccept(t, c, t0, other)
	if b, _ := c.Best(hoa2); b.Priority != 100 {
		t.Fatalf("another home address inherited the override: %+v", b)
	}
	// Home binding (H flag) is never preferred over a foreign one.
	mustAccept(t, c, t0, bu(4, BIDOption{BID: 4, CoA: hoa1, SimultaneousHomeForeign: true, Priority: 1}))
	if b, _ := c.Best(hoa1); b.BID != 9 {
		t.Fatalf("best with home binding %+v", b)
	}
}

func TestReplayTimestamps(t *testing.T) {
	c := newTestCache(nil)
	r := bu(1)
	r.Auth = Auth{Result: AuthOK, Identity: "mn@example.net"}
	r.Timestamp, r.HasTimestamp = wire.NTPTimestamp(t0), true
	d := mustAccept(t, c, t0, r)
	if !d.HasTimestamp || d.Timestamp != r.Timestamp {
		t.Fatal("timestamp not echoed")
	}
	// Same timestamp again (a replay, even with a new sequence number).
	r2 := *r
	r2.Sequence = 2
	d = c.ProcessBindingUpdate(t0.Add(time.Second), &r2)
	if d.Status != stMIPv6MesgIDRequired || !d.HasTimestamp || d.Timestamp != wire.NTPTimestamp(t0.Add(time.Second)) {
		t.Fatalf("replay: %v ts %x", d.Status, d.Timestamp)
	}
	// Within the window ahead of the HA clock: accepted.
	r2.Timestamp = wire.NTPTimestamp(t0.Add(6 * time.Second))
	mustAccept(t, c, t0, &r2)
	// Beyond the window: rejected with the HA's time.
	r2.Sequence, r2.Timestamp = 3, wire.NTPTimestamp(t0.Add(30*time.Second))
	if d = c.ProcessBindingUpdate(t0, &r2); d.Status != stMIPv6MesgIDRequired {
		t.Fatalf("future timestamp: %v", d.Status)
	}
	if got := (wire.MobilityMessageReplayProtection{Timestamp: wire.NTPTimestamp(t0.Add(1234567 * time.Microsecond))}).Time(); got.Sub(t0.Add(1234567*time.Microsecond)).Abs() > time.Microsecond {
		t.Fatalf("NTP round trip %v", got)
	}
}

func TestReuseDecisionNoAlloc(t *testing.T) {
	c := newTestCache(nil)
	r := bu(1, bid(1, coaA), bid(2, coaB))
	var d Decision
	c.ProcessBindingUpdateTo(t0, r, &d)
	seq := uint16(2)
	allocs := testing.AllocsPerRun(100, func() {
		r.Sequence = seq
		seq++
		c.ProcessBindingUpdateTo(t0, r, &d)
	})
	if allocs != 0 {
		t.Fatalf("refresh allocates %.1f times", allocs)
	}
}

func TestRemoveHomeAddress(t *testing.T) {
	c := newTestCache(nil)
	mustAccept(t, c, t0, bu(1, bid(1, coaA), bid(2, coaB)))
	ch := c.Remove(hoa1)
	if len(ch) != 3 || ch[2].Kind != PrimaryChanged || c.Len() != 0 {
		t.Fatalf("remove %+v", ch)
	}
	checkInvariants(t, c)
	if c.Remove(hoa1) != nil {
		t.Fatal("second remove")
	}
}

func TestDefendHomeAddress(t *testing.T) {
	c := newTestCache(nil)
	if c.DefendHomeAddress(hoa1) {
		t.Fatal("no binding, no proxy ND")
	}
	mustAccept(t, c, t0, bu(1, bid(1, coaA)))
	if !c.DefendHomeAddress(hoa1) {
		t.Fatal("foreign binding: proxy ND")
	}
	d := mustAccept(t, c, t0, bu(2, BIDOption{BID: 2, CoA: hoa1, SimultaneousHomeForeign: true}))
	if d.Status != stMCoAReturnHomeWithoutNDP || c.DefendHomeAddress(hoa1) {
		t.Fatalf("at home with H flag: status %v, proxy %v", d.Status, c.DefendHomeAddress(hoa1))
	}
	if b, _ := c.Best(hoa1); b.BID != 1 {
		t.Fatalf("best %+v", b)
	}
}

func TestUnknownIdentity(t *testing.T) {
	c := newTestCache(nil)
	r := bu(1, bid(1, coaA))
	r.Auth = Auth{Result: AuthUnknownIdentity, Identity: "stranger@example.net"}
	d := c.ProcessBindingUpdate(t0, r)
	if d.Discard || d.Status != stMIPv6IDMismatch || len(d.Changes) != 0 || c.Len() != 0 {
		t.Fatalf("decision %+v, cache %d", d, c.Len())
	}
}

// RFC 6275 section 10.3.2: every deregistration gets a Binding
// Acknowledgement, even when the A flag is clear.
func TestDeregistrationAlwaysAcknowledged(t *testing.T) {
	noAck := func(r *BindingUpdateRequest) *BindingUpdateRequest { r.Ack = false; return r }
	tests := []struct {
		name  string
		setup *BindingUpdateRequest
		req   *BindingUpdateRequest
		left  int
	}{
		{name: "plain lifetime 0", setup: bu(1),
			req: func() *BindingUpdateRequest { r := noAck(bu(2)); r.Lifetime = 0; return r }()},
		{name: "all BIDs lifetime 0", setup: bu(1, bid(1, coaA), bid(2, coaB)),
			req: func() *BindingUpdateRequest { r := noAck(bu(2, bid(1, coaA), bid(2, coaB))); r.Lifetime = 0; return r }()},
		{name: "one BID lifetime 0", setup: bu(1, bid(1, coaA), bid(2, coaB)), left: 1,
			req: func() *BindingUpdateRequest { r := noAck(bu(2, bid(2, coaB))); r.Lifetime = 0; return r }()},
		{name: "plain return home", setup: bu(1),
			req: func() *BindingUpdateRequest { r := noAck(bu(2)); r.Source = hoa1; return r }()},
		{name: "BID return home", setup: bu(1, bid(1, coaA), bid(2, coaB)),
			req: noAck(bu(2, bid(1, hoa1)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCache(nil)
			mustAccept(t, c, t0, tt.setup)
			d := mustAccept(t, c, t0.Add(time.Second), tt.req)
			if !d.SendAck {
				t.Fatalf("deregistration without A flag not acknowledged: %+v", d)
			}
			if c.Len() != tt.left {
				t.Fatalf("%d bindings left, want %d", c.Len(), tt.left)
			}
		})
	}
	// A registration without the A flag still gets no BA (RFC 6275 section
	// 9.5.4 / 10.3.1 send one only when asked).
	c := newTestCache(nil)
	if d := c.ProcessBindingUpdate(t0, noAck(bu(1))); d.SendAck || !d.Status.Accepted() {
		t.Fatalf("registration without A: %+v", d)
	}
}

// RFC 5555 sections 4.2-4.3: a Binding Update from an IPv4-only network
// binds the home address to the IPv4 Care-of Address option, not to its
// inner IPv6 source (the home address itself, which would read as a return
// home).
func TestIPv4CareOfAddressRegisters(t *testing.T) {
	c := newTestCache(nil)
	v4 := netip.MustParseAddr("198.51.100.10")
	r := bu(1)
	r.Source, r.IPv4CoA = r.HoA, v4
	d := mustAccept(t, c, t0, r)
	bs := c.Lookup(r.HoA)
	if d.Status != stAccepted || len(bs) != 1 || bs[0].CoA != v4 {
		t.Fatalf("status %v bindings %+v", d.Status, bs)
	}
	// Moving to another IPv4 address, then back to IPv6, updates the one binding.
	r = bu(2)
	r.Source, r.IPv4CoA = r.HoA, netip.MustParseAddr("203.0.113.9")
	mustAccept(t, c, t0, r)
	if bs = c.Lookup(r.HoA); len(bs) != 1 || bs[0].CoA != r.IPv4CoA {
		t.Fatalf("after the move %+v", bs)
	}
	mustAccept(t, c, t0, bu(3))
	if bs = c.Lookup(r.HoA); len(bs) != 1 || !bs[0].CoA.Is6() {
		t.Fatalf("back on IPv6 %+v", bs)
	}
	// A BID option may carry an IPv4 care-of address too (RFC 5648 section 6.1).
	c = newTestCache(nil)
	d = mustAccept(t, c, t0, bu(1, bid(1, v4)))
	if bs = c.Lookup(hoa1); len(bs) != 1 || bs[0].CoA != v4 || len(d.BIDs) != 1 || d.BIDs[0].CoA != v4 {
		t.Fatalf("BID with IPv4 CoA: %+v %+v", bs, d.BIDs)
	}
}
