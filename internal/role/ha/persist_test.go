package ha

import (
	"errors"
	"iter"
	"net/netip"
	"sync"
	"testing"
	"time"

	"monami/internal/binding"
	"monami/internal/dataplane"
	"monami/internal/store"
	"monami/internal/store/storetest"
	"monami/wire"
)

// A restarted home agent gets its bindings back from the store, with their
// times and replay state, and programs the data plane from them before it
// reads any Binding Update: the mobile node does not register again.
func TestRestartRestoresBindings(t *testing.T) {
	st := store.NewMemory()
	x := startOn(t, st, newRecordingDP())
	if ba := x.sendBU(coa1, 15, key, bid{1, coa1, 10}, bid{2, coa2, 20}); ba.Status != wire.StatusAccepted {
		t.Fatalf("BA %+v", ba)
	}
	before := x.bindings()
	recs := storetest.Load(t, st)
	if len(recs) != 2 || recs[0].Replay.LastSeq != x.seq || !recs[0].Replay.HasTS || recs[1].Replay != recs[0].Replay {
		t.Fatalf("stored %+v, want 2 records with sequence %d and a timestamp", recs, x.seq)
	}
	x.stop()

	dp := newRecordingDP()
	y := startOn(t, st, dp)
	// Nothing was sent to the new agent: what it forwards came from the store.
	if tun, ok := y.route(); !ok || tun.Remote != coa1 || tun.Local != haAddr {
		t.Fatalf("route after restart %+v %v, want to %v", tun, ok, coa1)
	}
	dp.mu.Lock()
	_, ep1 := dp.endpoints[coa1]
	_, ep2 := dp.endpoints[coa2]
	dp.mu.Unlock()
	if !ep1 || !ep2 {
		t.Fatalf("endpoints after restart: %v %v", ep1, ep2)
	}
	after := y.bindings()
	if len(after) != len(before) {
		t.Fatalf("bindings before %+v, after %+v", before, after)
	}
	for i := range before {
		if !sameBinding(before[i], after[i]) {
			t.Fatalf("binding %d before %+v, after %+v", i, before[i], after[i])
		}
	}
	// RFC 6275 section 9.5.1: the restarted agent still refuses the last
	// sequence number...
	y.seq = x.seq - 1
	if ba := y.sendBU(coa1, 15, key, bid{1, coa1, 10}); ba.Status != wire.StatusSequenceNumberOutOfWindow || ba.Sequence != x.seq {
		t.Fatalf("replayed sequence: status %d sequence %d, want 135 and %d", ba.Status, ba.Sequence, x.seq)
	}
	// ... and takes the next one.
	if ba := y.sendBU(coa2, 15, key, bid{1, coa2, 10}); ba.Status != wire.StatusAccepted {
		t.Fatalf("next sequence: status %d", ba.Status)
	}
	if tun, _ := y.route(); tun.Remote != coa2 {
		t.Fatalf("route to %v, want %v", tun.Remote, coa2)
	}
}

// Expired records are dropped at start and deleted from the store.
func TestRestartDropsExpired(t *testing.T) {
	st := store.NewMemory()
	now := time.Now()
	old := storetest.Record(hoa.String(), coa1.String(), 1, 7, now.Add(-time.Hour), time.Minute)
	live := storetest.Record(hoa.String(), coa2.String(), 2, 7, now, time.Minute)
	if err := st.Apply(store.Batch{Put: []store.Record{old, live}}); err != nil {
		t.Fatal(err)
	}
	x := startOn(t, st, newRecordingDP())
	if b := x.bindings(); len(b) != 1 || b[0].BindingID != 2 {
		t.Fatalf("bindings %+v, want BID 2 only", b)
	}
	if recs := storetest.Load(t, st); len(recs) != 1 || recs[0].Binding.BID != 2 {
		t.Fatalf("store after start %+v", recs)
	}
	// The stored encapsulation (UDP, RFC 5555) is what the data plane gets.
	if tun, ok := x.route(); !ok || tun.Encap != dataplane.EncapUDP {
		t.Fatalf("route %+v %v, want UDP encapsulation", tun, ok)
	}
}

// Deregistration and expiry delete the records.
func TestRemovalsDeleteRecords(t *testing.T) {
	st := store.NewMemory()
	x := startOn(t, st, newRecordingDP())
	x.sendBU(coa1, 15, key, bid{1, coa1, 10}, bid{2, coa2, 20})
	x.sendBU(coa2, 0, key, bid{1, coa1, 10})
	if recs := storetest.Load(t, st); len(recs) != 1 || recs[0].Binding.BID != 2 || recs[0].Replay.LastSeq != x.seq {
		t.Fatalf("after deregistering BID 1: %+v", recs)
	}
	x.sendBU(coa2, 1, key, bid{2, coa2, 20}) // 4 s
	deadline := time.Now().Add(8 * time.Second)
	for st.Len() != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := st.Len(); n != 0 {
		t.Fatalf("%d records after expiry", n)
	}
}

// failingStore refuses writes while fail is set.
type failingStore struct {
	*store.Memory
	mu   sync.Mutex
	fail error
}

func (f *failingStore) Apply(b store.Batch) error {
	f.mu.Lock()
	err := f.fail
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.Memory.Apply(b)
}

func (f *failingStore) Load() iter.Seq2[store.Record, error] { return f.Memory.Load() }

// A binding the store cannot keep is not acknowledged: 130, and the cache
// and data plane go back to what they were, as for a data plane failure.
func TestStoreFailureRefusesBinding(t *testing.T) {
	st := &failingStore{Memory: store.NewMemory()}
	x := startOn(t, st, newRecordingDP())
	if ba := x.sendBU(coa1, 15, key, bid{1, coa1, 10}); ba.Status != wire.StatusAccepted {
		t.Fatal(ba.Status)
	}
	st.mu.Lock()
	st.fail = errors.New("disk full")
	st.mu.Unlock()
	ba := x.sendBU(coa2, 15, key, bid{1, coa2, 10}, bid{3, coa2, 30})
	if ba.Status != wire.StatusInsufficientResources || ba.Lifetime != 0 || bidStatuses(ba) != "1:130 3:130 " {
		t.Fatalf("BA status %d lifetime %d BIDs %s, want 130, 0, 1:130 3:130", ba.Status, ba.Lifetime, bidStatuses(ba))
	}
	if b := x.bindings(); len(b) != 1 || b[0].CareOfAddress != coa1.String() {
		t.Fatalf("bindings %+v, want the one at %v", b, coa1)
	}
	if tun, ok := x.route(); !ok || tun.Remote != coa1 {
		t.Fatalf("route %v %v, want to %v", tun, ok, coa1)
	}
	x.dp.mu.Lock()
	_, stray := x.dp.endpoints[coa2]
	x.dp.mu.Unlock()
	if stray {
		t.Fatalf("endpoint for %v left behind", coa2)
	}
	if recs := storetest.Load(t, st); len(recs) != 1 || recs[0].Binding.CoA != coa1 {
		t.Fatalf("store %+v", recs)
	}
	v, _ := x.h.Snapshot(t.Context(), "counters")
	if c := v.(struct {
		Signalling Counters `json:"signalling"`
		Dataplane  any      `json:"dataplane"`
	}).Signalling; c.StoreRefused != 1 || c.StoreErrors != 1 {
		t.Fatalf("counters %+v", c)
	}
}

// A record whose home address the configuration no longer serves is
// deleted at start, not restored.
func TestRestartDropsUnservedHomeAddress(t *testing.T) {
	st := store.NewMemory()
	r := storetest.Record("2001:db8:99::10", coa1.String(), 1, 7, time.Now(), time.Minute)
	r.Replay = binding.ReplayState{LastSeq: 7}
	if err := st.Apply(store.Batch{Put: []store.Record{r}}); err != nil {
		t.Fatal(err)
	}
	x := startOn(t, st, newRecordingDP())
	if b := x.bindings(); len(b) != 0 {
		t.Fatalf("bindings %+v", b)
	}
	if _, ok := x.dp.routes[dataplane.Selector{Dst: netip.MustParsePrefix("2001:db8:99::10/128")}]; ok || st.Len() != 0 {
		t.Fatalf("route %v, %d records", ok, st.Len())
	}
}

// sameBinding compares what a restart must keep (times by instant; the
// lifetime left moves on).
func sameBinding(a, b BindingView) bool {
	at, bt := a.Registered, b.Registered
	ae, be := a.Expires, b.Expires
	a.Registered, a.Expires, a.LifetimeLeft = time.Time{}, time.Time{}, ""
	b.Registered, b.Expires, b.LifetimeLeft = time.Time{}, time.Time{}, ""
	return a == b && at.Round(0).Equal(bt.Round(0)) && ae.Round(0).Equal(be.Round(0))
}

// A binding with an IPv4 care-of address behind a NAT comes back with its
// UDP path (RFC 5555 section 4.3): the restarted agent tunnels to the NAT's
// mapping at once, without waiting for the mobile node's next update.
func TestRestartRestoresUDPPath(t *testing.T) {
	st := store.NewMemory()
	now := time.Now()
	r := storetest.Record(hoa.String(), "10.0.0.10", 2, 7, now, time.Minute)
	r.Encap = uint8(dataplane.EncapUDP)
	r.UDPLocal, r.UDPPeer = netip.MustParseAddr("192.0.2.2"), netip.MustParseAddrPort("192.0.2.1:33438")
	if err := st.Apply(store.Batch{Put: []store.Record{r}}); err != nil {
		t.Fatal(err)
	}
	dp := newRecordingDP()
	x := startOn(t, st, dp)
	tun, ok := x.route()
	if !ok || tun.Local != r.UDPLocal || tun.Remote != r.UDPPeer.Addr() || tun.RemotePort != r.UDPPeer.Port() || tun.Encap != dataplane.EncapUDP {
		t.Fatalf("route after restart %+v %v, want %v->%v/udp", tun, ok, r.UDPLocal, r.UDPPeer)
	}
	if b := x.bindings(); len(b) != 1 || b[0].UDPPeer != r.UDPPeer.String() || !b[0].NAT {
		t.Fatalf("bindings %+v", b)
	}
}
