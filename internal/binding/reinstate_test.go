package binding

import (
	"errors"
	"testing"
	"time"

	"monami/wire"
)

// restarted copies what a store would have kept of a cache (every binding
// and every replay state) into a fresh cache at now, as a restarted home
// agent does.
func restarted(t *testing.T, old *BindingCache, now time.Time) (*BindingCache, []Change) {
	t.Helper()
	byHoA := map[[16]byte][]Binding{}
	old.All(func(b Binding) bool { byHoA[b.HoA.As16()] = append(byHoA[b.HoA.As16()], b); return true })
	// A new epoch: times must survive it.
	c := NewBindingCache(testConfig(), now.Add(-time.Hour))
	var all []Change
	for _, bs := range byHoA {
		r, ok := old.Replay(bs[0].HoA)
		if !ok {
			t.Fatalf("no replay state for %s", bs[0].HoA)
		}
		ch, err := c.Reinstate(now, bs[0].HoA, bs, r)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ch...)
	}
	checkInvariants(t, c)
	return c, all
}

func tsBU(seq uint16, at time.Time, bids ...BIDOption) *BindingUpdateRequest {
	r := bu(seq, bids...)
	r.Auth = Auth{Result: AuthOK}
	r.Timestamp, r.HasTimestamp = wire.NTPTimestamp(at), true
	return r
}

func TestReinstateKeepsBindingsTimesAndReplayState(t *testing.T) {
	old := newTestCache(nil)
	at := t0.Add(time.Minute)
	mustAccept(t, old, at, tsBU(500, at, BIDOption{BID: 1, CoA: coaA, Priority: 20}, BIDOption{BID: 2, CoA: coaB, Priority: 10}))
	now := at.Add(10 * time.Second)
	c, changes := restarted(t, old, now)

	if got, want := c.Lookup(hoa1), old.Lookup(hoa1); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("reinstated bindings %+v, want %+v", got, want)
	}
	// The data plane learns both bindings and the preferred one (BID 2).
	var added int
	var primary Binding
	for _, ch := range changes {
		switch ch.Kind {
		case BindingAdded:
			added++
		case PrimaryChanged:
			primary = ch.Binding
		}
	}
	if added != 2 || primary.BID != 2 || primary.CoA != coaB {
		t.Fatalf("changes %+v: want 2 additions and BID 2 primary", changes)
	}
	// Same expiry as before the restart.
	if next, _ := c.NextExpiry(); next != at.Add(100*TimeUnit) {
		t.Fatalf("next expiry %v, want %v", next, at.Add(100*TimeUnit))
	}
	// RFC 6275 section 9.5.1: the old sequence number is still refused...
	if d := c.ProcessBindingUpdate(now, tsBU(500, now, bid(1, coaA))); d.Status != wire.StatusSequenceNumberOutOfWindow || d.Sequence != 500 {
		t.Fatalf("replayed sequence: status %v seq %d, want 135 with 500", d.Status, d.Sequence)
	}
	// ... and RFC 4285 section 6: so is a timestamp not newer than the last.
	if d := c.ProcessBindingUpdate(now, tsBU(501, at, bid(1, coaA))); d.Status != wire.StatusMIPv6MesgIDRequired {
		t.Fatalf("replayed timestamp: status %v, want MIPV6-MESG-ID-REQD", d.Status)
	}
	mustAccept(t, c, now, tsBU(502, now, bid(1, coaC)))
}

func TestReinstateDropsExpired(t *testing.T) {
	old := newTestCache(nil)
	mustAccept(t, old, t0, bu(7, bid(1, coaA)))
	r := bu(8, bid(2, coaB))
	r.Lifetime = 10
	mustAccept(t, old, t0.Add(time.Second), r)

	// BID 2 (40 s) has expired at +50 s, BID 1 (400 s) has not.
	c, _ := restarted(t, old, t0.Add(50*time.Second))
	if bs := c.Lookup(hoa1); len(bs) != 1 || bs[0].BID != 1 {
		t.Fatalf("reinstated %+v, want BID 1 only", bs)
	}
	// Everything expired: no node, no replay state, nothing to forward.
	c, changes := restarted(t, old, t0.Add(time.Hour))
	if c.Len() != 0 || c.NodeCount() != 0 || len(changes) != 0 {
		t.Fatalf("after expiry: %d bindings, %d nodes, changes %+v", c.Len(), c.NodeCount(), changes)
	}
}

func TestReinstateExpiresOnTime(t *testing.T) {
	old := newTestCache(nil)
	mustAccept(t, old, t0, bu(7, bid(1, coaA)))
	c, _ := restarted(t, old, t0.Add(time.Minute))
	if ch := c.Expire(t0.Add(100*TimeUnit - time.Nanosecond)); len(ch) != 0 {
		t.Fatalf("expired early: %+v", ch)
	}
	ch := c.Expire(t0.Add(100 * TimeUnit))
	if len(ch) != 2 || ch[0].Kind != BindingRemoved || ch[1].Kind != PrimaryChanged || ch[1].Binding.CoA.IsValid() {
		t.Fatalf("expiry changes %+v", ch)
	}
}

func TestReinstateMergesReplayStateNewerWins(t *testing.T) {
	c := newTestCache(nil)
	exp := t0.Add(time.Hour)
	b1 := Binding{HoA: hoa1, CoA: coaA, BID: 1, Priority: 10, Registered: t0, Expires: exp}
	b2 := Binding{HoA: hoa1, CoA: coaB, BID: 2, Priority: 20, Registered: t0, Expires: exp}
	if _, err := c.Reinstate(t0, hoa1, []Binding{b1}, ReplayState{LastSeq: 65530, LastTS: 900, HasTS: true}); err != nil {
		t.Fatal(err)
	}
	// Sequence 3 is newer than 65530 modulo 2**16; timestamp 800 is older.
	if _, err := c.Reinstate(t0, hoa1, []Binding{b2}, ReplayState{LastSeq: 3, LastTS: 800, HasTS: true}); err != nil {
		t.Fatal(err)
	}
	r, _ := c.Replay(hoa1)
	if r != (ReplayState{LastSeq: 3, LastTS: 900, HasTS: true}) || c.Len() != 2 {
		t.Fatalf("replay %+v with %d bindings", r, c.Len())
	}
	checkInvariants(t, c)
}

func TestReinstateRefuses(t *testing.T) {
	c := newTestCache(func(cfg *Config) { cfg.MaxBindingsPerNode = 1 })
	exp := t0.Add(time.Hour)
	outside := Binding{HoA: coaA, CoA: coaB, BID: 1, Expires: exp}
	if _, err := c.Reinstate(t0, coaA, []Binding{outside}, ReplayState{}); !errors.Is(err, ErrNotReinstated) {
		t.Fatalf("home address outside the home prefixes: err %v", err)
	}
	two := []Binding{{HoA: hoa1, CoA: coaA, BID: 1, Expires: exp}, {HoA: hoa1, CoA: coaB, BID: 2, Expires: exp}}
	if _, err := c.Reinstate(t0, hoa1, two, ReplayState{}); !errors.Is(err, ErrNotReinstated) {
		t.Fatalf("beyond the per-node limit: err %v", err)
	}
	if c.Len() != 0 || c.NodeCount() != 0 {
		t.Fatalf("a refused reinstatement left %d bindings", c.Len())
	}
}
