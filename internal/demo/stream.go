package demo

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// receiver is the application on the mobile node: it reads a TCP stream
// sent to its home address and records when bytes arrive.
type receiver struct {
	ln    net.Listener
	mu    sync.Mutex
	reads []arrival
	total int64
	err   error
	done  chan struct{}
}

// listen must run inside the mobile node's namespace.
func listen(addr string) (*receiver, error) {
	ln, err := net.Listen("tcp6", addr)
	if err != nil {
		return nil, err
	}
	r := &receiver{ln: ln, done: make(chan struct{})}
	go r.serve()
	return r, nil
}

func (r *receiver) serve() {
	defer close(r.done)
	c, err := r.ln.Accept()
	r.ln.Close()
	if err != nil {
		r.err = err
		return
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			r.mu.Lock()
			r.reads = append(r.reads, arrival{at: time.Now(), bytes: n})
			r.total += int64(n)
			r.mu.Unlock()
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			r.err = err
			return
		}
	}
}

func (r *receiver) snapshot() ([]arrival, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]arrival(nil), r.reads...), r.total
}

// sender is the correspondent's application: it writes as fast as TCP lets
// it until stopped.
type sender struct {
	c *net.TCPConn
	// congestion is the algorithm read back from the socket.
	congestion string
	total      int64
	err        error
	done       chan struct{}
}

// dial must run inside the correspondent's namespace. cc is the congestion
// control to ask for ("" for the namespace's default).
func dial(addr, cc string) (*sender, error) { return dialFrom(nil, addr, cc) }

// dialFrom connects from local (nil: the kernel's choice).
func dialFrom(local *net.TCPAddr, addr, cc string) (*sender, error) {
	d := net.Dialer{Timeout: 5 * time.Second, Control: setCongestion(cc)}
	if local != nil {
		d.LocalAddr = local
	}
	c, err := d.Dial("tcp6", addr)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	got, err := congestionOf(tc)
	if err != nil {
		c.Close()
		return nil, err
	}
	if cc != "" && got != cc {
		c.Close()
		return nil, fmt.Errorf("asked for congestion control %s, the socket uses %s", cc, got)
	}
	return &sender{c: tc, congestion: got, done: make(chan struct{})}, nil
}

func (s *sender) run(stop <-chan struct{}) {
	defer close(s.done)
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = byte(i)
	}
	for {
		select {
		case <-stop:
			s.err = s.c.CloseWrite()
			return
		default:
		}
		s.c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := s.c.Write(buf)
		s.total += int64(n)
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			s.err = err
			return
		}
	}
}
