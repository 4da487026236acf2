package demo

import (
	"encoding/binary"
	"net"
	"sync"
	"time"
)

// seqPeer is one end of a 1 kHz UDP flow of sequence-numbered datagrams
// sent both ways over one socket: it sends its own sequence and counts the
// peer's, every copy, so that a lost datagram and a duplicate both show.
type seqPeer struct {
	c     *net.UDPConn
	to    *net.UDPAddr
	mu    sync.Mutex
	sent  uint64
	count seqCount
	done  chan struct{}
}

// seqCount counts the sequence numbers received.
type seqCount struct {
	seen     map[uint64]bool
	received uint64
}

// add records one datagram; it says whether it was a duplicate.
func (s *seqCount) add(seq uint64) bool {
	if s.seen == nil {
		s.seen = map[uint64]bool{}
	}
	s.received++
	if s.seen[seq] {
		return true
	}
	s.seen[seq] = true
	return false
}

// SeqResult is what one direction of a sequence-numbered flow delivered.
type SeqResult struct {
	Sent       uint64 `json:"sent"`
	Delivered  uint64 `json:"delivered"` // distinct sequence numbers
	Lost       uint64 `json:"lost"`
	Duplicates uint64 `json:"duplicates"`
}

func (s *seqCount) result(sent uint64) SeqResult {
	d := uint64(len(s.seen))
	r := SeqResult{Sent: sent, Delivered: d, Duplicates: s.received - d}
	if sent > d {
		r.Lost = sent - d
	}
	return r
}

// listenSeq must run inside the node's namespace: the socket is bound to
// local and sends to peer.
func listenSeq(local, peer *net.UDPAddr) (*seqPeer, error) {
	c, err := net.ListenUDP("udp6", local)
	if err != nil {
		return nil, err
	}
	p := &seqPeer{c: c, to: peer, done: make(chan struct{})}
	go p.receive()
	return p, nil
}

func (p *seqPeer) receive() {
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
		p.count.add(binary.BigEndian.Uint64(buf))
		p.mu.Unlock()
	}
}

// send runs the 1 kHz sender until stop.
func (p *seqPeer) send(stop <-chan struct{}) {
	buf := make([]byte, 200)
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		binary.BigEndian.PutUint64(buf, p.sent)
		p.sent++
		p.mu.Unlock()
		p.c.WriteToUDP(buf, p.to) // a send error is a lost datagram
	}
}

// result is what the peer received of the other end's sent datagrams.
func (p *seqPeer) result(peerSent uint64) SeqResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count.result(peerSent)
}

func (p *seqPeer) close() {
	p.c.Close()
	<-p.done
}

// sentCount is how many datagrams this end sent.
func (p *seqPeer) sentCount() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}
