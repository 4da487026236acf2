package ha

import (
	"context"
	"sync"
	"testing"

	"monami/wire"
)

// With the ack sender running, a batch's acknowledgements leave on its
// goroutine: the loop is done with the batch while the system call still
// runs, and every answer is sent and counted once it returns.
func TestAcknowledgementsSentOffTheLoop(t *testing.T) {
	x, bt := idleBatching(t)
	bt.gate = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	x.h.startAcks(ctx, &wg)
	defer func() { cancel(); wg.Wait() }()
	first := queueTwoOnBatch(x, bt)
	x.h.handleQueued(ctx, first) // returns with the send held at the gate
	if n := len(x.answers()); n != 0 {
		t.Fatalf("%d answers before the send ran", n)
	}
	close(bt.gate)
	x.h.ackq.wait(ctx)
	if len(bt.batches) != 1 || bt.batches[0] != 2 {
		t.Fatalf("batches %v, want one of 2", bt.batches)
	}
	as := x.answers()
	if len(as) != 2 || as[0].Status != wire.StatusAccepted || as[1].Status != wire.StatusAccepted {
		t.Fatalf("answers %+v", as)
	}
	x.h.cnt.mu.Lock()
	defer x.h.cnt.mu.Unlock()
	if x.h.cnt.acksSent != 2 || x.h.cnt.sendErrors != 0 {
		t.Errorf("acks sent %d, send errors %d; want 2, 0", x.h.cnt.acksSent, x.h.cnt.sendErrors)
	}
}
