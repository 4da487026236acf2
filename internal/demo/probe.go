package demo

import (
	"encoding/binary"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"monami/internal/lab"
)

// The probe is a constant-rate UDP stream from the correspondent to the
// home address, next to the TCP stream. TCP's own recovery (a window spent
// on the dead path, then its retransmission timeout) hides how fast the
// path itself came back; the probe measures that: the interruption is the
// longest time the mobile node received no probe at all. (Counting lost
// sequence numbers instead is misled by the kernel: the access router queues
// packets for the dead care-of address while it resolves the neighbour and
// delivers them seconds later if the link comes back.)
const probeInterval = time.Millisecond

type probeReceiver struct {
	c    *net.UDPConn
	mu   sync.Mutex
	log  []arrival
	seqs map[uint64]bool
	err  error // why the receiver stopped early
	done chan struct{}
}

// listenProbe must run inside the mobile node's namespace. Arrival times
// are the kernel's receive timestamps (SO_TIMESTAMPNS), not the moment a
// goroutine got to read the datagram: a busy machine delays the reader,
// not the stamp.
func listenProbe(addr string) (*probeReceiver, error) {
	ua, err := net.ResolveUDPAddr("udp6", addr)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP("udp6", ua)
	if err != nil {
		return nil, err
	}
	if err := lab.EnableRxTimestamps(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("probe receiver: SO_TIMESTAMPNS: %w", err)
	}
	p := &probeReceiver{c: c, seqs: map[uint64]bool{}, done: make(chan struct{})}
	go p.run()
	return p, nil
}

func (p *probeReceiver) run() {
	defer close(p.done)
	buf := make([]byte, 1500)
	oob := make([]byte, 128)
	for {
		n, oobn, _, _, err := p.c.ReadMsgUDP(buf, oob)
		if err != nil {
			return
		}
		if n < 8 {
			continue
		}
		at, ok := lab.RxTimestamp(oob[:oobn])
		if !ok {
			p.err = fmt.Errorf("probe datagram without a kernel timestamp (control data %x)", oob[:oobn])
			return
		}
		p.mu.Lock()
		seq := binary.BigEndian.Uint64(buf)
		p.log = append(p.log, arrival{at: at, bytes: n, seq: seq})
		p.seqs[seq] = true
		p.mu.Unlock()
	}
}

// stop returns the arrivals in time order and how many distinct probes
// came, or why the receiver could not time them.
func (p *probeReceiver) stop() ([]arrival, int, error) {
	p.c.Close()
	<-p.done
	sort.Slice(p.log, func(i, j int) bool { return p.log[i].at.Before(p.log[j].at) })
	return p.log, len(p.seqs), p.err
}

// lost counts the probes sent in [from, to) that never came (after stop;
// a probe's sequence number is its index in sent).
func (p *probeReceiver) lost(sent []time.Time, from, to time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for i, at := range sent {
		if !at.Before(from) && at.Before(to) && !p.seqs[uint64(i)] {
			n++
		}
	}
	return n
}

// senderStall is the longest gap between two probes the sender sent in
// [from, to): when it is large the machine was too busy for the probe to
// resolve the interruption finely.
func senderStall(sent []time.Time, from, to time.Time) time.Duration {
	var longest time.Duration
	for i := 1; i < len(sent); i++ {
		if !sent[i].Before(from) && sent[i].Before(to) {
			longest = max(longest, sent[i].Sub(sent[i-1]))
		}
	}
	return longest
}

type probeSender struct {
	c     *net.UDPConn
	sent  uint64
	times []time.Time // send time of each sequence number
	done  chan struct{}
}

// dialProbe must run inside the correspondent's namespace.
func dialProbe(addr string) (*probeSender, error) { return dialProbeFrom(nil, addr) }

// dialProbeFrom sends from local (nil: the kernel's choice); it must run
// inside the sender's namespace.
func dialProbeFrom(local *net.UDPAddr, addr string) (*probeSender, error) {
	ua, err := net.ResolveUDPAddr("udp6", addr)
	if err != nil {
		return nil, err
	}
	c, err := net.DialUDP("udp6", local, ua)
	if err != nil {
		return nil, err
	}
	return &probeSender{c: c, done: make(chan struct{})}, nil
}

func (p *probeSender) run(stop <-chan struct{}) {
	defer close(p.done)
	defer p.c.Close()
	buf := make([]byte, 64)
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		binary.BigEndian.PutUint64(buf, p.sent)
		p.times = append(p.times, time.Now())
		p.sent++
		p.c.Write(buf) // a send error (no route yet) is a lost probe
	}
}
