package ha

import (
	"context"
	"sync"

	"monami/internal/transport"
)

// ackQueue runs a batch's sendmmsg on a goroutine of its own, so the
// event loop decides the next batch while the kernel carries the last
// one's acknowledgements (on a veth, the system call also runs the
// receiving namespace's input path: about 40% of the loop's time in the
// bench's refreshes). Nothing is sent earlier than before: a batch is
// handed over only once it is durable (handleQueued). One batch is in
// flight at most, and the loop waits for it before it sends anything
// else to a mobile node (ackWait), so answers keep their order.
type ackQueue struct {
	work     chan ackJob
	bufs     [2]ackBatch
	next     int           // the buffer the loop fills next
	inflight chan struct{} // closed once the batch in flight is sent; nil when none
}

type ackJob struct {
	bs   transport.BatchSender
	a    *ackBatch
	done chan struct{}
}

// startAcks starts the ack sender; it stops with ctx, after the batch it
// holds.
func (h *HomeAgent) startAcks(ctx context.Context, wg *sync.WaitGroup) {
	q := &ackQueue{work: make(chan ackJob)}
	h.ackq = q
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case j := <-q.work:
				// Its own deadline: a durable batch's answers still go
				// when the home agent is stopping.
				h.sendAcks(context.WithoutCancel(ctx), j.bs, j.a)
				close(j.done)
			case <-ctx.Done():
				return
			}
		}
	}()
}

// buffer is the batch the loop may fill: one not in flight, or own
// without a queue.
func (q *ackQueue) buffer(own *ackBatch) *ackBatch {
	if q == nil {
		return own
	}
	return &q.bufs[q.next]
}

// hand gives the filled buffer to the sender once the batch before it
// has gone.
func (q *ackQueue) hand(ctx context.Context, bs transport.BatchSender, a *ackBatch) {
	q.wait(ctx)
	j := ackJob{bs: bs, a: a, done: make(chan struct{})}
	select {
	case q.work <- j:
		q.inflight = j.done
		q.next ^= 1
	case <-ctx.Done():
	}
}

// wait returns once no batch is in flight.
func (q *ackQueue) wait(ctx context.Context) {
	if q == nil || q.inflight == nil {
		return
	}
	select {
	case <-q.inflight:
		q.inflight = nil
	case <-ctx.Done():
	}
}
