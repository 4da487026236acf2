package demo

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The pinned flow of the policy scenario: one TCP connection between the
// home address and the correspondent, both ends on pinnedPort, carrying
// pinnedChunk octets every millisecond each way, a known pattern the
// receiving ends check (an octet lost or duplicated by the move shows).
const pinnedChunk = 500

// pinnedEnd sends the pattern on a connection and checks what it reads.
type pinnedEnd struct {
	c          *net.TCPConn
	congestion string
	mu         sync.Mutex
	sent, got  int64
	bad        int64 // offset of the first octet off the pattern, -1: none
	err        error
	done       chan struct{}
}

func newPinnedEnd(c *net.TCPConn) (*pinnedEnd, error) {
	cc, err := congestionOf(c)
	if err != nil {
		return nil, err
	}
	e := &pinnedEnd{c: c, congestion: cc, bad: -1, done: make(chan struct{})}
	go e.read()
	return e, nil
}

func patternAt(off int64) byte { return byte(off % 251) }

func (e *pinnedEnd) read() {
	defer close(e.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := e.c.Read(buf)
		e.mu.Lock()
		for i := range n {
			if e.bad < 0 && buf[i] != patternAt(e.got+int64(i)) {
				e.bad = e.got + int64(i)
			}
		}
		e.got += int64(n)
		if err != nil && !errors.Is(err, io.EOF) {
			e.err = err
		}
		e.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// send writes a chunk every millisecond until stop, then closes its side.
func (e *pinnedEnd) send(stop <-chan struct{}) {
	buf := make([]byte, pinnedChunk)
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			if err := e.c.CloseWrite(); err != nil {
				e.setErr(err)
			}
			return
		case <-t.C:
		}
		for i := range buf {
			buf[i] = patternAt(e.sent + int64(i))
		}
		n, err := e.c.Write(buf)
		e.mu.Lock()
		e.sent += int64(n)
		e.mu.Unlock()
		if err != nil {
			e.setErr(err)
			return
		}
	}
}

func (e *pinnedEnd) setErr(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = err
	}
}

// retransmits is the socket's tcpi_total_retrans and, of those, how many
// the receiver reported as duplicates (tcpi_dsack_dups, RFC 2883 D-SACK):
// spurious ones (a tail loss probe, reordering when a flow moves to a
// faster link), not data the network lost.
func (e *pinnedEnd) retransmits() (total, spurious uint32) {
	rc, err := e.c.SyscallConn()
	if err != nil {
		return 0, 0
	}
	rc.Control(func(fd uintptr) {
		if ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			total, spurious = ti.Total_retrans, ti.Dsack_dups
		}
	})
	return total, spurious
}

// PinnedResult is the policy scenario's pinned flow.
type PinnedResult struct {
	Congestion string `json:"congestion_control"`
	// PacketsPerLink counts the pinned and the bulk flows' packets per
	// link in the steady phase, before any change.
	PinnedPerLink map[string]Directed `json:"pinned_packets_per_link_steady"`
	BulkPerLink   map[string]Directed `json:"bulk_packets_per_link_steady"`
	Changes       []PinnedChange      `json:"changes"`
	// Streams is each way (down, up): octets sent and received in order,
	// intact when equal and on the pattern, with the connection's error.
	Streams []TCPResult `json:"streams"`
}

// PinnedChange is one event that moves the pinned flow.
type PinnedChange struct {
	What   string       `json:"what"`
	AtMs   float64      `json:"at_ms"`
	Error  string       `json:"error,omitempty"` // the command's failure
	Change []LinkChange `json:"change"`
	// Retransmits counts both senders' retransmissions until the next
	// change; Spurious those the receivers reported as duplicates
	// (D-SACK). Lost is the difference: data the network lost.
	Retransmits uint32 `json:"retransmits"`
	Spurious    uint32 `json:"spurious_retransmits"`
	Lost        uint32 `json:"lost"`
}

func (p *PinnedResult) write(w io.Writer) {
	fmt.Fprintf(w, "steady phase: pinned flow packets per link %v; bulk %v\n", p.PinnedPerLink, p.BulkPerLink)
	for _, c := range p.Changes {
		fmt.Fprintf(w, "%-40s", c.What)
		for _, lc := range c.Change {
			fmt.Fprintf(w, "  %s %s->%s %s", lc.Direction, lc.From, lc.To, msOrNone(lc.ChangeMs))
			if lc.EnteredNewMs != nil {
				fmt.Fprintf(w, " (arrived %s)", msOrNone(lc.FirstOnNewMs))
			}
		}
		fmt.Fprintf(w, "  retransmits %d (%d spurious, %d lost)", c.Retransmits, c.Spurious, c.Lost)
		if c.Error != "" {
			fmt.Fprintf(w, "  ERROR %s", c.Error)
		}
		fmt.Fprintln(w)
	}
	for _, s := range p.Streams {
		fmt.Fprintf(w, "pinned TCP: %d sent, %d received, intact %v %s\n", s.Sent, s.Received, s.Intact, s.Error)
	}
}
