package store_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"monami/internal/binding"
	"monami/internal/store"
	"monami/internal/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, store.NewMemory(), nil)
}

func TestRecordRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 5, time.UTC)
	for _, r := range []store.Record{
		storetest.Record("2001:db8:1::10", "2001:db8:a::10", 1, 65535, t0, time.Minute),
		storetest.Record("2001:db8:1::10", "192.0.2.1", 7, 0, t0, 4*time.Second),
		// No care-of address, no timestamp, no registration time.
		{Binding: binding.Binding{HoA: netip.MustParseAddr("2001:db8:1::10"), Expires: t0}},
		// An IPv4 care-of address behind a NAT, with its UDP path.
		withUDPPath(storetest.Record("2001:db8:1::10", "10.0.0.10", 2, 9, t0, time.Minute)),
	} {
		v, err := store.AppendRecord(nil, &r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := store.DecodeRecord(v)
		if err != nil {
			t.Fatal(err)
		}
		if !storetest.Equal(got, r) || got.Binding.Registered.IsZero() != r.Binding.Registered.IsZero() {
			t.Fatalf("round trip: %+v, want %+v", got, r)
		}
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	r := storetest.Record("2001:db8:1::10", "2001:db8:a::10", 1, 3, time.Now(), time.Minute)
	good, err := store.AppendRecord(nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(v []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, c := range []struct {
		name, want string
		v          []byte
	}{
		{"empty", "empty", nil},
		{"version", "version 2", mod(func(v []byte) []byte { v[0] = 2; return v })},
		{"short", "64 octets", good[:64]},
		{"flags", "record flags", mod(func(v []byte) []byte { v[2] |= 0x80; return v })},
		{"coa without flag", "care-of address", mod(func(v []byte) []byte { v[2] &^= 1; return v })},
		{"extension header", "extension header at offset 65", append(append([]byte(nil), good...), 1, 0)},
		{"extension length", "overruns", append(append([]byte(nil), good...), 1, 0, 5, 0)},
		{"UDP path length", "UDP path extension at offset 65: length 2, want 34", append(append([]byte(nil), good...), 1, 0, 2, 0, 0)},
	} {
		_, err := store.DecodeRecord(c.v)
		if !errors.Is(err, store.ErrRecord) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want ErrRecord mentioning %q", c.name, err, c.want)
		}
	}
	// A later version's extensions are skipped.
	if _, err := store.DecodeRecord(append(append([]byte(nil), good...), 9, 0, 2, 0xaa, 0xbb)); err != nil {
		t.Errorf("unknown extension: %v", err)
	}
}

func withUDPPath(r store.Record) store.Record {
	r.UDPLocal, r.UDPPeer = netip.MustParseAddr("192.0.2.2"), netip.MustParseAddrPort("192.0.2.1:33438")
	return r
}

func FuzzDecodeRecord(f *testing.F) {
	r := storetest.Record("2001:db8:1::10", "2001:db8:a::10", 1, 3, time.Unix(1, 0), time.Minute)
	good, _ := store.AppendRecord(nil, &r)
	f.Add(good)
	r4 := withUDPPath(storetest.Record("2001:db8:1::10", "10.0.0.10", 2, 3, time.Unix(1, 0), time.Minute))
	withPath, _ := store.AppendRecord(nil, &r4)
	f.Add(withPath)
	f.Add(append(append([]byte(nil), good...), 9, 0, 1, 0))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, v []byte) {
		r, err := store.DecodeRecord(v)
		if err != nil {
			return
		}
		again, err := store.AppendRecord(nil, &r)
		if err != nil {
			t.Fatalf("a decoded record does not encode: %v", err)
		}
		r2, err := store.DecodeRecord(again)
		if err != nil || !storetest.Equal(r, r2) {
			t.Fatalf("re-encoding changed the record: %+v -> %+v (%v)", r, r2, err)
		}
	})
}

// A memory store's batch with a record that cannot be encoded changes
// nothing; a refresh written over a record does not reach a Load already
// under way (it iterates over a copy).
func TestMemoryAtomicAndLoadCopies(t *testing.T) {
	s := store.NewMemory()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a := storetest.Record("2001:db8:1::10", "2001:db8:a::10", 1, 7, t0, time.Minute)
	if err := s.Apply(store.Batch{Put: []store.Record{a}}); err != nil {
		t.Fatal(err)
	}
	bad := storetest.Record("2001:db8:1::20", "2001:db8:b::20", 1, 9, t0, time.Minute)
	bad.Binding.HoA = netip.MustParseAddr("192.0.2.1")
	b := a
	b.Replay.LastSeq = 8
	if err := s.Apply(store.Batch{Put: []store.Record{b, bad}}); err == nil {
		t.Fatal("a batch with an IPv4 home address was applied")
	}
	if got := storetest.Load(t, s); len(got) != 1 || !storetest.Equal(got[0], a) {
		t.Fatalf("after a refused batch: %+v, want %+v", got, a)
	}
	for r, err := range s.Load() {
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(store.Batch{Put: []store.Record{b}}); err != nil {
			t.Fatal(err)
		}
		if !storetest.Equal(r, a) {
			t.Errorf("Load yielded %+v, want the record before the refresh %+v", r, a)
		}
	}
	if got := storetest.Load(t, s); len(got) != 1 || !storetest.Equal(got[0], b) {
		t.Fatalf("after the refresh: %+v, want %+v", got, b)
	}
}
