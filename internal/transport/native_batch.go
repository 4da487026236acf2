package transport

import (
	"context"
	"fmt"
)

// BatchSender is implemented by transports that send many messages in one
// system call (sendmmsg): a home agent answering a batch of Binding Updates
// pays one kernel entry for its acknowledgements, not one each.
type BatchSender interface {
	// SendBatch transmits every Signal of ss, in order; errs (as long as
	// ss) receives each one's outcome, nil when it was sent. It is safe
	// for concurrent use.
	SendBatch(ctx context.Context, ss []Signal, errs []error)
}

var _ BatchSender = (*Native)(nil)

// SendBatch implements BatchSender: the packets are built as Send builds
// them and written with sendmmsg (ipv6.PacketConn.WriteBatch). A message
// the kernel refuses ends a call; it gets the error and the rest go in the
// next one.
func (n *Native) SendBatch(ctx context.Context, ss []Signal, errs []error) {
	if len(errs) < len(ss) {
		panic("transport: SendBatch: errs shorter than ss")
	}
	fail := func(from int, err error) {
		for i := from; i < len(ss); i++ {
			errs[i] = err
		}
	}
	select {
	case <-n.done:
		fail(0, ErrClosed)
		return
	default:
	}
	if err := ctx.Err(); err != nil {
		fail(0, err)
		return
	}
	b := batchPool.Get().(*batchScratch)
	defer b.put()
	ms, idx := b.build(ss, errs)
	for len(ms) > 0 {
		sent, err := n.send.WriteBatch(ms, 0)
		n.cnt.sent.Add(uint64(max(sent, 0)))
		if err == nil && sent == len(ms) {
			return
		}
		if sent < 0 {
			sent = 0
		}
		ms, idx = ms[sent:], idx[sent:]
		if err == nil {
			continue // a partial write: the rest in the next call
		}
		select {
		case <-n.done:
			for _, i := range idx {
				errs[i] = ErrClosed
			}
			return
		default:
		}
		s := &ss[idx[0]]
		errs[idx[0]] = fmt.Errorf("transport: send MH %v -> %v (%v): %w", s.Src, s.Dst, s.Ext, err)
		ms, idx = ms[1:], idx[1:]
	}
}
