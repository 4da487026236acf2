package ha

import (
	"context"
	"errors"
	"testing"

	"monami/internal/config"
	"monami/internal/store"
	"monami/internal/transport"
	"monami/wire"
)

// batchTransport is memTransport with sendmmsg-like batches, recording
// each batch's size; failAt fails that message of every batch; a batch
// waits for gate when it is set.
type batchTransport struct {
	*memTransport
	batches []int
	failAt  int
	gate    chan struct{}
}

func (b *batchTransport) SendBatch(ctx context.Context, ss []transport.Signal, errs []error) {
	if b.gate != nil {
		<-b.gate
	}
	b.batches = append(b.batches, len(ss))
	for i, s := range ss {
		if i == b.failAt {
			errs[i] = errors.New("no buffer space")
			continue
		}
		errs[i] = b.Send(ctx, s)
	}
}

// idleBatching is idle with a transport that sends batches.
func idleBatching(t *testing.T) (*harness, *batchTransport) {
	t.Helper()
	cfg, err := config.ParseHomeAgent("ha.yaml", []byte(haYAML))
	if err != nil {
		t.Fatal(err)
	}
	bt := &batchTransport{memTransport: newMemTransport(), failAt: -1}
	x := &harness{t: t, tp: bt.memTransport, dp: newRecordingDP(), seq: 100}
	x.h, err = New(cfg, Options{Transports: []transport.Transport{bt}, DataPlane: x.dp, NoControlSocket: true, Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	return x, bt
}

// queueTwoOnBatch queues Binding Updates for BIDs 1 and 2, all as
// received on bt, and returns the first to hand to handleQueued.
func queueTwoOnBatch(x *harness, bt *batchTransport) received {
	first := x.queueBUs(bid{1, coa1, 10}, bid{2, coa2, 20})
	first.tp = bt
	for range len(x.h.in) {
		r := <-x.h.in
		r.tp = bt
		x.h.in <- r
	}
	return first
}

// A batch's acknowledgements leave in one SendBatch, each as answer would
// have sent it, and each counted.
func TestBatchAcknowledgementsShareOneSend(t *testing.T) {
	x, bt := idleBatching(t)
	first := queueTwoOnBatch(x, bt)
	x.h.handleQueued(context.Background(), first)
	if len(bt.batches) != 1 || bt.batches[0] != 2 {
		t.Fatalf("batches %v, want one of 2", bt.batches)
	}
	as := x.answers()
	if len(as) != 2 || as[0].Status != wire.StatusAccepted || as[1].Status != wire.StatusAccepted {
		t.Fatalf("answers %+v", as)
	}
	if as[0].Sequence == as[1].Sequence {
		t.Errorf("both answers carry sequence %d", as[0].Sequence)
	}
	if x.h.cnt.acksSent != 2 || x.h.cnt.sendErrors != 0 {
		t.Errorf("acks sent %d, send errors %d; want 2, 0", x.h.cnt.acksSent, x.h.cnt.sendErrors)
	}
}

// An acknowledgement the transport fails to send is counted as a send
// error, the others as sent.
func TestBatchAcknowledgementSendError(t *testing.T) {
	x, bt := idleBatching(t)
	bt.failAt = 0
	first := queueTwoOnBatch(x, bt)
	x.h.handleQueued(context.Background(), first)
	if x.h.cnt.acksSent != 1 || x.h.cnt.sendErrors != 1 || len(x.answers()) != 1 {
		t.Errorf("acks sent %d, send errors %d, answers %d; want 1, 1, 1", x.h.cnt.acksSent, x.h.cnt.sendErrors, len(x.answers()))
	}
}

// A standby cluster node's batch of answers is dropped and counted, as
// each answer alone would be.
func TestLeaderOnlySendBatchStandby(t *testing.T) {
	var cnt counters
	bt := &batchTransport{memTransport: newMemTransport(), failAt: -1}
	l := &leaderOnly{Transport: bt, c: &clusterNode{}, cnt: &cnt}
	ss := []transport.Signal{{Src: haAddr, Dst: coa1}, {Src: haAddr, Dst: coa2}}
	errs := []error{errors.New("stale"), errors.New("stale")}
	l.SendBatch(context.Background(), ss, errs)
	if len(bt.batches) != 0 || len(bt.sent) != 0 || cnt.notLeader != 2 || errs[0] != nil || errs[1] != nil {
		t.Errorf("batches %v, sent %d, not-leader count %d, errs %v; want nothing sent, 2 counted, no errors",
			bt.batches, len(bt.sent), cnt.notLeader, errs)
	}
}
