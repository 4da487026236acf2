package demo

import (
	"encoding/binary"
	"net"
	"sync"
	"time"
)

// The probe is a constant-rate UDP stream from the correspondent to the
// home address, next to the TCP stream. TCP's own recovery (a window spent
// on the dead path, then its retransmission timeout) hides how fast the
// path itself came back; the probe measures that. The interruption is the
// longest run of lost probes, timed by when they were sent: from the last
// probe delivered before the run to the first delivered after it. A stall
// of the sender (a busy machine) loses nothing, so it does not count.
const probeInterval = time.Millisecond

type probeReceiver struct {
	c    *net.UDPConn
	mu   sync.Mutex
	log  []arrival
	seqs map[uint64]bool
	done chan struct{}
}

// listenProbe must run inside the mobile node's namespace.
func listenProbe(addr string) (*probeReceiver, error) {
	ua, err := net.ResolveUDPAddr("udp6", addr)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP("udp6", ua)
	if err != nil {
		return nil, err
	}
	p := &probeReceiver{c: c, seqs: map[uint64]bool{}, done: make(chan struct{})}
	go p.run()
	return p, nil
}

func (p *probeReceiver) run() {
	defer close(p.done)
	buf := make([]byte, 1500)
	for {
		n, err := p.c.Read(buf)
		if err != nil {
			return
		}
		if n < 8 {
			continue
		}
		p.mu.Lock()
		p.log = append(p.log, arrival{time.Now(), n})
		p.seqs[binary.BigEndian.Uint64(buf)] = true
		p.mu.Unlock()
	}
}

func (p *probeReceiver) stop() map[uint64]bool {
	p.c.Close()
	<-p.done
	return p.seqs
}

// interruption is the longest run of lost probes sent in [from, to), timed
// from the last delivered probe before it to the first delivered after it.
func interruption(sent []time.Time, got map[uint64]bool, from, to time.Time) time.Duration {
	var longest time.Duration
	last := -1
	for i, t := range sent {
		if !got[uint64(i)] {
			continue
		}
		if last >= 0 && i > last+1 && sent[last+1].Before(to) && !sent[i-1].Before(from) {
			longest = max(longest, t.Sub(sent[last]))
		}
		last = i
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
func dialProbe(addr string) (*probeSender, error) {
	ua, err := net.ResolveUDPAddr("udp6", addr)
	if err != nil {
		return nil, err
	}
	c, err := net.DialUDP("udp6", nil, ua)
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
