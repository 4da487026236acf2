package ha

import (
	"context"
	"errors"
	"testing"
	"time"

	"monami/internal/config"
	"monami/internal/dataplane"
	"monami/internal/store"
	"monami/internal/transport"
	"monami/wire"
)

// batchingDP is the recording data plane with batching: it counts the
// batches and can fail them.
type batchingDP struct {
	*recordingDP
	batches, ops int
	fail         error
}

func (b *batchingDP) Apply(ops []dataplane.Op) error {
	b.batches++
	b.ops += len(ops)
	if b.fail != nil {
		return b.fail
	}
	return b.recordingDP.Apply(ops)
}

// idle builds a home agent that does not run: the test feeds its queue
// and calls handleQueued itself.
func idle(t *testing.T) (*harness, *batchingDP) {
	t.Helper()
	cfg, err := config.ParseHomeAgent("ha.yaml", []byte(haYAML))
	if err != nil {
		t.Fatal(err)
	}
	x := &harness{t: t, tp: newMemTransport(), dp: newRecordingDP(), seq: 100}
	bdp := &batchingDP{recordingDP: x.dp}
	x.h, err = New(cfg, Options{Transports: []transport.Transport{x.tp}, DataPlane: bdp, NoControlSocket: true, Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	return x, bdp
}

// queueBUs puts authenticated Binding Updates in the home agent's queue,
// one per BID, and returns the first for handleQueued.
func (x *harness) queueBUs(bids ...bid) received {
	x.t.Helper()
	var rs []received
	for _, b := range bids {
		mh := x.signedBU(b.coa, 15, 0, "mn1@example.org", b)
		rs = append(rs, received{sig: transport.Signal{Via: transport.ViaMH, Src: b.coa, Dst: haAddr, Ext: transport.ExtHAO,
			HomeAddress: hoa, MH: mh}, tp: x.tp, at: time.Now()})
	}
	for _, r := range rs[1:] {
		x.h.in <- r
	}
	return rs[0]
}

func (x *harness) answers() []wire.BindingAcknowledgement {
	x.tp.mu.Lock()
	defer x.tp.mu.Unlock()
	var out []wire.BindingAcknowledgement
	for _, s := range x.tp.sent {
		m, err := wire.Parser{ChecksumVerified: true}.Parse(s.MH, haAddr, hoa)
		if err != nil {
			x.t.Fatal(err)
		}
		out = append(out, m.(wire.BindingAcknowledgement))
	}
	return out
}

// Queued Binding Updates share one data plane commit, and each is
// acknowledged after it.
func TestQueuedUpdatesShareOneCommit(t *testing.T) {
	x, bdp := idle(t)
	x.h.handleQueued(context.Background(), x.queueBUs(bid{1, coa1, 10}, bid{2, coa2, 20}))
	if bdp.batches != 1 || bdp.ops < 3 {
		t.Fatalf("%d batches with %d changes, want 1 with a route and two endpoints", bdp.batches, bdp.ops)
	}
	as := x.answers()
	if len(as) != 2 || as[0].Status != wire.StatusAccepted || as[1].Status != wire.StatusAccepted {
		t.Fatalf("answers %+v", as)
	}
	if tun, ok := x.route(); !ok || tun.Remote != coa1 {
		t.Errorf("route %v %v, want to the preferred %v", tun, ok, coa1)
	}
	x.dp.mu.Lock()
	n := len(x.dp.endpoints)
	x.dp.mu.Unlock()
	if n != 2 {
		t.Errorf("%d endpoints, want 2", n)
	}
}

// A batch the data plane refuses is refused whole (130 for each update,
// no binding kept), and the next updates go one at a time, so that one
// the data plane cannot install is refused alone.
func TestFailedBatchRefusesEveryUpdate(t *testing.T) {
	x, bdp := idle(t)
	bdp.fail = errors.New("table full")
	x.h.handleQueued(context.Background(), x.queueBUs(bid{1, coa1, 10}, bid{2, coa2, 20}))
	as := x.answers()
	if len(as) != 2 || as[0].Status != wire.StatusInsufficientResources || as[1].Status != wire.StatusInsufficientResources {
		t.Fatalf("answers %+v, want 130 twice", as)
	}
	if x.h.cache.Len() != 0 {
		t.Errorf("%d bindings kept after a refused batch", x.h.cache.Len())
	}
	if _, ok := x.route(); ok {
		t.Error("a route is left after a refused batch")
	}
	bdp.fail = nil
	before := bdp.batches
	x.h.handleQueued(context.Background(), x.queueBUs(bid{1, coa1, 10}, bid{2, coa2, 20}))
	// One data plane commit per update: they did not share one.
	if n := bdp.batches - before; n != 2 {
		t.Errorf("2 updates right after a failure took %d commits, want one each", n)
	}
	if as := x.answers(); len(as) != 4 || as[2].Status != wire.StatusAccepted || as[3].Status != wire.StatusAccepted {
		t.Fatalf("answers after the failure %+v", as[2:])
	}
}
