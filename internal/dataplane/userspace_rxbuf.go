package dataplane

import (
	"sync"

	"golang.org/x/net/ipv6"
)

// rxBuffers is one receive loop's memory: a recvmmsg batch of 64 KiB
// buffers (a GRO aggregate can be that large) and, with UDP GRO, the pool
// its coalesced runs are split into: 8 MiB, 20 MiB with GRO.
type rxBuffers struct {
	gro  bool
	bufs [][]byte
	ms   []ipv6.Message
	pool [][]byte // GRO only
	out  [][]byte
}

func newRxBuffers(gro bool) *rxBuffers {
	batch := 128
	if gro {
		batch = 16 // each message may hold up to 64 packets
	}
	b := &rxBuffers{gro: gro, bufs: make([][]byte, batch), ms: make([]ipv6.Message, batch)}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, tunOffset+65535)
		b.ms[i].Buffers = [][]byte{nil}
		if gro {
			b.ms[i].OOB = make([]byte, 64)
		}
	}
	if gro {
		b.pool = make([][]byte, 256)
		for i := range b.pool {
			b.pool[i] = make([]byte, tunOffset+65535)
		}
	}
	b.out = make([][]byte, 0, batch+len(b.pool))
	b.reset()
	return b
}

// reset points every message at its whole buffer again.
func (b *rxBuffers) reset() {
	for i := range b.ms {
		b.ms[i].Buffers[0] = b.bufs[i][tunOffset:]
		b.ms[i].OOB = b.ms[i].OOB[:cap(b.ms[i].OOB)]
		b.ms[i].N, b.ms[i].NN = 0, 0
	}
	b.out = b.out[:0]
}

// rxFree keeps the buffers of receive loops that ended for the next ones.
// A care-of address's socket closes when its link goes down and opens
// again when the link returns; allocating 8 MiB there made the new loop's
// first read wait for the allocation and the garbage collection it
// started: 20 ms to 1.8 s on the test machine, while the returning link's
// packets, the home agent's downlink among them, queued unread
// (docs/flapping.md, 2026-12-03).
type rxFree struct {
	mu   sync.Mutex
	sets []*rxBuffers
	made int // sets allocated so far
}

// rxFreeMax bounds the idle sets kept: enough for a few links returning
// at once; more go to the garbage collector.
const rxFreeMax = 4

func (f *rxFree) get(gro bool) *rxBuffers {
	f.mu.Lock()
	for i := len(f.sets) - 1; i >= 0; i-- {
		if b := f.sets[i]; b.gro == gro {
			f.sets = append(f.sets[:i], f.sets[i+1:]...)
			f.mu.Unlock()
			b.reset()
			return b
		}
	}
	f.made++
	f.mu.Unlock()
	return newRxBuffers(gro)
}

// counts returns how many sets were allocated and how many are idle.
func (f *rxFree) counts() (made, idle int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.made, len(f.sets)
}

func (f *rxFree) put(b *rxBuffers) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sets) < rxFreeMax {
		f.sets = append(f.sets, b)
	}
}
