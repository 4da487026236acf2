// Package storetest checks that a store.Store behaves as the home agent
// needs, the same way for every backend (memory, bolt, and etcd later).
package storetest

import (
	"net/netip"
	"testing"
	"time"

	"monami/internal/binding"
	"monami/internal/store"
)

// Record returns a record for tests: hoa/bid to coa, registered at t and
// valid for life, with the given sequence number.
func Record(hoa, coa string, bid uint16, seq uint16, t time.Time, life time.Duration) store.Record {
	return store.Record{
		Binding: binding.Binding{HoA: netip.MustParseAddr(hoa), CoA: netip.MustParseAddr(coa), BID: bid, Priority: 10,
			Registered: t, Expires: t.Add(life)},
		Encap:  1,
		Replay: binding.ReplayState{LastSeq: seq, LastTS: 0xe000_0000_0000_0001, HasTS: true},
	}
}

// Load reads every record, failing t on any error.
func Load(t testing.TB, s store.Store) []store.Record {
	t.Helper()
	var out []store.Record
	for r, err := range s.Load() {
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		out = append(out, r)
	}
	return out
}

// Equal compares records, times by instant.
func Equal(a, b store.Record) bool {
	x, y := a.Binding, b.Binding
	return x.HoA == y.HoA && x.CoA == y.CoA && x.BID == y.BID && x.Priority == y.Priority && x.Flags == y.Flags &&
		x.Registered.Equal(y.Registered) && x.Expires.Equal(y.Expires) && a.Encap == b.Encap && a.Replay == b.Replay &&
		a.UDPLocal == b.UDPLocal && a.UDPPeer == b.UDPPeer
}

// Run checks a store. reopen closes s and opens the same store again (a
// restart); for a store that does not last, it returns nil and the
// restart part is skipped.
func Run(t *testing.T, s store.Store, reopen func(store.Store) store.Store) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 123, time.UTC)
	a1 := Record("2001:db8:1::10", "2001:db8:a::10", 1, 7, t0, time.Minute)
	a2 := Record("2001:db8:1::10", "192.0.2.10", 2, 7, t0, time.Minute)
	b1 := Record("2001:db8:1::20", "2001:db8:b::20", 1, 9, t0, time.Hour)
	if got := Load(t, s); len(got) != 0 {
		t.Fatalf("new store holds %d records", len(got))
	}
	if err := s.Apply(store.Batch{Put: []store.Record{b1, a2, a1}}); err != nil {
		t.Fatal(err)
	}
	check(t, "after put", Load(t, s), a1, a2, b1)

	// One batch replaces a record, deletes another and an absent one.
	a1.Binding.CoA, a1.Replay.LastSeq, a2.Replay.LastSeq = netip.MustParseAddr("2001:db8:c::10"), 8, 8
	if err := s.Apply(store.Batch{Put: []store.Record{a1}, Delete: []store.Key{a2.Key(), {HoA: a2.Binding.HoA, BID: 99}}}); err != nil {
		t.Fatal(err)
	}
	check(t, "after update", Load(t, s), a1, b1)

	if reopen != nil {
		if s = reopen(s); s == nil {
			return
		}
		check(t, "after reopen", Load(t, s), a1, b1)
	}
	if err := s.Apply(store.Batch{Delete: []store.Key{a1.Key(), b1.Key()}}); err != nil {
		t.Fatal(err)
	}
	check(t, "after delete", Load(t, s))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func check(t *testing.T, when string, got []store.Record, want ...store.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d: %+v", when, len(got), len(want), got)
	}
	for i := range got {
		if !Equal(got[i], want[i]) {
			t.Fatalf("%s: record %d is %+v, want %+v (in key order)", when, i, got[i], want[i])
		}
	}
}
