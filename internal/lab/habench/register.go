package habench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"monami/internal/lab"
	"monami/internal/transport"
	"monami/wire"
)

// Retransmission as a mobile node does it (RFC 6275 section 11.8: an
// initial timeout, then up to a few more tries).
const (
	retransmitAfter = time.Second
	maxTries        = 4
	// lifetime is 600 s in units of 4 s (RFC 6275 section 6.1.7).
	lifetime = 150
)

// outstanding is a mobile node's Binding Update awaiting its answer.
type outstanding struct {
	first time.Time
	tries int
	seq   uint16
	out   bool // sent and not answered (nor given up) yet
	sent  bool // sent in this phase
}

// registrar sends one Binding Update from every mobile node over one
// native transport, keeping at most Window outstanding, and collects the
// acknowledgements.
type registrar struct {
	tp  *transport.Native
	mns []mobileNode
	o   Options
	ph  *Phase

	mu      sync.Mutex
	pending []outstanding // by mobile node
	lat     []time.Duration
	done    int
	slots   chan struct{}
	all     chan struct{}
	once    sync.Once
}

// finish says every mobile node has its answer (or gave up).
func (r *registrar) finish() { r.once.Do(func() { close(r.all) }) }

// register is the first registration of every mobile node.
func register(ctx context.Context, node *lab.NodeNS, o Options, mns []mobileNode, rep *Report) error {
	ph := &Phase{Rejected: rep.Rejected}
	err := runPhase(ctx, node, o, mns, ph, "registered")
	rep.Accepted, rep.Retransmits = ph.Accepted, ph.Retransmits
	rep.Seconds, rep.PerSecond, rep.LatencyMS, rep.CPU = ph.Seconds, ph.PerSecond, ph.LatencyMS, ph.CPU
	return err
}

// refresh runs o.Refreshes rounds of refreshing Binding Updates and sums
// them into rep.Refresh.
func refresh(ctx context.Context, node *lab.NodeNS, o Options, mns []mobileNode, rep *Report) error {
	sum := &Phase{Rejected: map[string]int{}}
	rep.Refresh = sum
	var lat []time.Duration
	for round := 0; round < o.Refreshes; round++ {
		ph := &Phase{Rejected: sum.Rejected}
		err := runPhase(ctx, node, o, mns, ph, "refreshed")
		sum.Updates += ph.Updates
		sum.Accepted += ph.Accepted
		sum.Retransmits += ph.Retransmits
		sum.Seconds += ph.Seconds
		sum.CPU.add(ph.CPU)
		lat = append(lat, ph.lat...)
		if err != nil {
			return err
		}
	}
	sum.PerSecond = float64(sum.Accepted) / sum.Seconds
	if sum.CPU.HomeAgent > 0 {
		sum.PerHACPUSecond = float64(sum.Accepted) / sum.CPU.HomeAgent
	}
	sum.LatencyMS = percentiles(lat)
	return nil
}

func runPhase(ctx context.Context, node *lab.NodeNS, o Options, mns []mobileNode, ph *Phase, verb string) error {
	var tp *transport.Native
	if err := node.Do(func() error {
		var err error
		tp, err = transport.OpenNative(transport.NativeConfig{NFTTable: "habench", QueueLen: 4 * o.Window,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		return err
	}); err != nil {
		return fmt.Errorf("mobile nodes' transport: %w", err)
	}
	defer tp.Close()
	r := &registrar{tp: tp, mns: mns, o: o, ph: ph,
		pending: make([]outstanding, len(mns)), lat: make([]time.Duration, 0, len(mns)),
		slots: make(chan struct{}, o.Window), all: make(chan struct{})}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go r.receive(rctx, verb)
	go r.retransmit(rctx)
	start, cpu0 := time.Now(), o.procs.mark()
	if err := r.sendAll(ctx); err != nil {
		return err
	}
	select {
	case <-r.all:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Duration(maxTries+1) * retransmitAfter * 2):
		return fmt.Errorf("%d of %d Binding Updates unanswered: %w", len(mns)-r.answered(), len(mns), errTimeout)
	}
	el := time.Since(start)
	ph.CPU = o.procs.since(cpu0)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range mns {
		if p := &r.pending[i]; p.sent {
			mns[i].seq = p.seq
		}
	}
	ph.Updates = len(mns)
	ph.Seconds = el.Seconds()
	ph.PerSecond = float64(ph.Accepted) / el.Seconds()
	ph.LatencyMS = percentiles(r.lat)
	ph.lat = r.lat
	return nil
}

func (r *registrar) answered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done
}

// sendBatch bounds how many Binding Updates the simulator writes per
// system call: as many as the window has room for when it looks, so the
// bench client, which shares the cores with the home agent, costs it less.
const sendBatch = 64

// sendAll sends every mobile node's Binding Update, at most Window
// outstanding: each time the window has room, the updates that fit go in
// one sendmmsg. Each update is still authenticated on its own, with its
// own sequence number and timestamp (buTemplate).
func (r *registrar) sendAll(ctx context.Context) error {
	var b sendScratch
	seqs := make([]uint16, 0, sendBatch)
	for i := 0; i < len(r.mns); {
		select {
		case r.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		n := 1
	more:
		for n < sendBatch && i+n < len(r.mns) {
			select {
			case r.slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		b.reset()
		now := time.Now()
		seqs = seqs[:0]
		r.mu.Lock()
		for j := i; j < i+n; j++ {
			r.mns[j].seq++
			seqs = append(seqs, r.mns[j].seq)
			r.pending[j] = outstanding{first: now, tries: 1, seq: r.mns[j].seq, out: true, sent: true}
		}
		r.mu.Unlock()
		for k, seq := range seqs {
			b.add(r, i+k, seq, now)
		}
		if err := b.send(ctx, r.tp); err != nil {
			return err
		}
		i += n
	}
	return nil
}

// sendScratch holds one batch of Binding Updates: their octets in one
// arena, reused from batch to batch (the transport copies them out).
type sendScratch struct {
	arena []byte
	ends  []int
	sigs  []transport.Signal
	errs  []error
}

func (b *sendScratch) reset() { b.arena, b.ends, b.sigs = b.arena[:0], b.ends[:0], b.sigs[:0] }

// add appends mobile node i's Binding Update with seq (RFC 6275 section
// 6.1.7, from the care-of address with a Home Address option).
func (b *sendScratch) add(r *registrar, i int, seq uint16, now time.Time) {
	m := &r.mns[i]
	b.arena = m.bu.appendBU(b.arena, m, seq, now)
	b.ends = append(b.ends, len(b.arena))
	b.sigs = append(b.sigs, transport.Signal{Via: transport.ViaMH, Src: m.coa, Dst: haAddr, Ext: transport.ExtHAO, HomeAddress: m.hoa})
}

// send sends the batch in one sendmmsg.
func (b *sendScratch) send(ctx context.Context, tp *transport.Native) error {
	// The arena may have moved while it grew: point each message at it now.
	for k := range b.sigs {
		start := 0
		if k > 0 {
			start = b.ends[k-1]
		}
		b.sigs[k].MH = b.arena[start:b.ends[k]]
	}
	b.errs = append(b.errs[:0], make([]error, len(b.sigs))...)
	tp.SendBatch(ctx, b.sigs, b.errs)
	for _, err := range b.errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *registrar) receive(ctx context.Context, verb string) {
	next := 1000
	for {
		sig, err := r.tp.Recv(ctx)
		if err != nil {
			return
		}
		at := time.Now()
		src, dst := sig.ChecksumAddrs()
		msg, err := wire.Parser{ChecksumVerified: true}.Parse(sig.MH, src, dst)
		if err != nil {
			continue
		}
		ba, ok := msg.(wire.BindingAcknowledgement)
		i, known := r.mobileNodeOf(sig.HomeAddress)
		if !ok || !known {
			continue
		}
		r.mu.Lock()
		p := &r.pending[i]
		if !p.out || ba.Sequence != p.seq {
			r.mu.Unlock()
			continue
		}
		p.out = false
		r.lat = append(r.lat, at.Sub(p.first))
		if ba.Status == wire.StatusAccepted {
			r.ph.Accepted++
		} else {
			r.ph.Rejected[ba.Status.String()]++
		}
		r.mns[i].seq = p.seq
		r.done++
		done := r.done
		r.mu.Unlock()
		<-r.slots
		if done >= next {
			say(r.o, "  %d %s (%d accepted)", done, verb, r.ph.Accepted)
			next += 1000
		}
		if done == len(r.mns) {
			r.finish()
			return
		}
	}
}

// retransmit resends what went unanswered, with a new sequence number
// (RFC 6275 section 11.8), and gives up after maxTries.
func (r *registrar) retransmit(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		r.mu.Lock()
		var again []int
		for i := range r.pending {
			p := &r.pending[i]
			if !p.out || now.Sub(p.first) < time.Duration(p.tries)*retransmitAfter {
				continue
			}
			if p.tries == maxTries {
				p.out = false
				r.ph.Rejected["no answer"]++
				r.done++
				<-r.slots
				continue
			}
			p.tries++
			p.seq++
			r.ph.Retransmits++
			again = append(again, i)
		}
		seqs := make([]uint16, len(again))
		for k, i := range again {
			seqs[k] = r.pending[i].seq
		}
		finished := r.done == len(r.mns)
		r.mu.Unlock()
		var b sendScratch
		for k, i := range again {
			b.add(r, i, seqs[k], now)
		}
		if len(again) > 0 {
			_ = b.send(ctx, r.tp)
		}
		if finished {
			r.finish()
			return
		}
	}
}

// mobileNodeOf is the mobile node whose home address is a (hoaOf), false
// for any other address.
func (r *registrar) mobileNodeOf(a netip.Addr) (int, bool) {
	b := a.As16()
	i := (int(b[13])<<16 | int(b[14])<<8 | int(b[15])) - 0x10000
	if i < 0 || i >= len(r.mns) || r.mns[i].hoa != a {
		return 0, false
	}
	return i, true
}
