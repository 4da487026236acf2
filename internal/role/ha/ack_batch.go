package ha

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"monami/internal/transport"
	"monami/wire"
)

// ackBatch is one batch of acknowledgements, built by the event loop.
type ackBatch struct {
	arena []byte
	ends  []int
	sigs  []transport.Signal
	who   []ackMeta
	errs  []error
}

// ackMeta is what counting and logging need of an acknowledgement once it
// has left the loop.
type ackMeta struct {
	to, hoa netip.Addr
	status  wire.Status
}

// answerAll sends the acknowledgements of a batch. On a transport that
// sends many messages per system call (transport.BatchSender: sendmmsg)
// they go together, one call for the batch's answers instead of one each;
// each is built exactly as answer builds it. The batch is durable by now
// (handleQueued persisted it first), so sending them together delays none
// past its commit. When Run has started the ack sender (ackQueue), the
// system call runs there, and the loop goes on to the next batch.
func (h *HomeAgent) answerAll(ctx context.Context, ds []*decided) {
	var bs transport.BatchSender
	for _, p := range ds {
		if !p.ack {
			continue
		}
		b, ok := p.r.tp.(transport.BatchSender)
		if !ok || (bs != nil && b != bs) {
			bs = nil
			break
		}
		bs = b
	}
	if bs == nil {
		for _, p := range ds {
			if p.ack {
				h.answer(ctx, p)
			}
		}
		return
	}
	a := h.ackq.buffer(&h.acks)
	h.buildAcks(a, ds)
	if h.ackq != nil {
		h.ackq.hand(ctx, bs, a)
		return
	}
	h.sendAcks(ctx, bs, a)
}

// buildAcks builds the batch's acknowledgements into a.
func (h *HomeAgent) buildAcks(a *ackBatch, ds []*decided) {
	a.arena, a.ends, a.sigs, a.who = a.arena[:0], a.ends[:0], a.sigs[:0], a.who[:0]
	for _, p := range ds {
		if !p.ack {
			continue
		}
		sig, buf, err := h.ackSignal(a.arena, &p.r, &p.req, &p.d, p.flows, p.sa, p.nai)
		a.arena = buf
		if err != nil {
			h.ackFailed(p.r.sig.Src, p.req.HoA, err)
			continue
		}
		a.sigs = append(a.sigs, sig)
		a.ends = append(a.ends, len(a.arena))
		a.who = append(a.who, ackMeta{to: p.r.sig.Src, hoa: p.req.HoA, status: p.d.Status})
	}
	// The arena may have moved while it grew: point each message at it now.
	for i := range a.sigs {
		start := 0
		if i > 0 {
			start = a.ends[i-1]
		}
		a.sigs[i].MH = a.arena[start:a.ends[i]]
	}
}

// sendAcks sends a built batch in one call and counts each answer.
func (h *HomeAgent) sendAcks(ctx context.Context, bs transport.BatchSender, a *ackBatch) {
	a.errs = slices.Grow(a.errs[:0], len(a.sigs))[:len(a.sigs)]
	clear(a.errs)
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	bs.SendBatch(sctx, a.sigs, a.errs)
	for i, m := range a.who {
		if err := a.errs[i]; err != nil {
			h.ackFailed(m.to, m.hoa, err)
			continue
		}
		h.cnt.inc(&h.cnt.acksSent)
		h.cnt.status(m.status)
	}
}

func (h *HomeAgent) ackFailed(to, hoa netip.Addr, err error) {
	h.cnt.inc(&h.cnt.sendErrors)
	h.log.Error("sending binding acknowledgement", "to", to, "hoa", hoa, "err", err)
}
