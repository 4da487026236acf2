package ha

import (
	"context"
	"time"

	"monami/internal/store"
)

// maxBatch bounds how many queued messages share one data plane commit
// and one store transaction (group commit). The commit is one
// reconcile.Set of every home address the batch touched (forward.go); the
// transaction is one bbolt fsync or one etcd Txn committed by a quorum.
// Nothing waits for a batch to fill: a batch is what queued while the last
// one was being made durable, so the slower the store, the larger the
// batch and the fewer commits per update, and each acknowledgement still
// leaves only after the commit that holds its binding. 256 is a window of
// updates a busy home agent sees in one fsync or etcd round trip; an etcd
// cluster's --max-txn-ops must hold it (docs/ha-cluster.md).
const maxBatch = 256

// signalQueue is how many received messages each signalling transport
// holds for the read loop (the transports' default is 256). Thousands of
// mobile nodes refreshing at once arrive faster than the read loop gets a
// core on a busy machine: with 512 Binding Updates outstanding in the
// bench (`monami lab bench ha --window 512`), a queue of 256 lost some
// (1,275 retransmitted in 50,000 refreshes), and the mobile nodes waited
// a second for their retransmission. The loop's own queue (h.in) holds
// 1024.
const signalQueue = 4096

// singleAfterFailure is how long the home agent takes messages one at a
// time after a batch failed, so that one update the data plane cannot
// install is refused alone, not with the updates queued beside it.
const singleAfterFailure = time.Second

// handleQueued processes first and whatever else waits in the queue, up to
// maxBatch: every update is decided in turn with its data plane changes
// queued, the changes are committed at once, and only then are the
// acknowledgements sent (a batch costs one nftables transaction and one
// netlink send where the updates would cost one each). Nothing waits for
// a batch to fill: a lone update goes alone.
func (h *HomeAgent) handleQueued(ctx context.Context, first received) {
	batch := append(h.queued[:0], first)
fill:
	for len(batch) < maxBatch {
		select {
		case r := <-h.in:
			batch = append(batch, r)
		default:
			break fill
		}
	}
	h.queued = batch[:0]
	if len(batch) == 1 || h.now().Before(h.singleUntil) {
		for _, r := range batch {
			h.handle(ctx, r)
		}
		return
	}
	h.batching = true
	decided := make([]*decided, 0, len(batch))
	for _, r := range batch {
		if p := h.process(ctx, r); p != nil {
			decided = append(decided, p)
		}
	}
	h.batching = false
	if err := h.commit(); err != nil {
		h.dpError("applying a batch of changes", err, "updates", len(decided))
		h.undoAll(decided, err, &h.cnt.dataplaneRefusals, "the data plane could not install it")
	} else if err := h.persistAll(decided); err != nil {
		h.cnt.inc(&h.cnt.storeErrors)
		h.log.Error("storing a batch of bindings", "updates", len(decided), "err", err)
		h.undoAll(decided, err, &h.cnt.storeRefusals, "the store could not keep it")
	}
	h.answerAll(ctx, decided)
}

// undoAll takes back a whole batch, newest first (each update restores
// what the one before it left), installs the forwarding of what it
// restored in one batch, and turns batching off for a while.
func (h *HomeAgent) undoAll(ds []*decided, err error, refused *uint64, why string) {
	for i := len(ds) - 1; i >= 0; i-- {
		h.undo(ds[i], err, refused, why)
	}
	h.commitLogged("restoring the previous bindings after a failure")
	h.singleUntil = h.now().Add(singleAfterFailure)
}

// persistAll stores what the batch's accepted updates left, in one
// transaction.
func (h *HomeAgent) persistAll(ds []*decided) error {
	b := store.Batch{Put: h.batch.Put[:0], Delete: h.batch.Delete[:0]}
	for _, p := range ds {
		if p.d.Status.Accepted() {
			h.appendRecords(&b, p)
		}
	}
	h.batch = b
	if b.Empty() {
		return nil
	}
	return h.store.Apply(b)
}
