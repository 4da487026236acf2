package transport

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeTransport stands in for a socket transport in the Mux unit test.
type fakeTransport struct {
	in     chan Signal
	sent   chan Signal
	done   chan struct{}
	closed bool
}

func newFake() *fakeTransport {
	return &fakeTransport{in: make(chan Signal, 4), sent: make(chan Signal, 4), done: make(chan struct{})}
}

func (f *fakeTransport) Send(_ context.Context, s Signal) error { f.sent <- s; return nil }
func (f *fakeTransport) Recv(ctx context.Context) (Signal, error) {
	return recvQueue(ctx, f.in, f.done)
}
func (f *fakeTransport) Close() error { close(f.done); f.closed = true; return nil }

func TestMux(t *testing.T) {
	n, u := newFake(), newFake()
	m := NewMux(n, u)
	n.in <- Signal{Via: ViaMH, HopLimit: 1}
	u.in <- Signal{Via: ViaUDP, HopLimit: 2}
	seen := map[Via]bool{}
	for i := 0; i < 2; i++ {
		s, err := m.Recv(ctxT(t, time.Second))
		if err != nil {
			t.Fatal(err)
		}
		seen[s.Via] = true
	}
	if !seen[ViaMH] || !seen[ViaUDP] {
		t.Fatalf("received %v", seen)
	}
	m.Send(context.Background(), Signal{Via: ViaUDP})
	m.Send(context.Background(), Signal{})
	if s := <-u.sent; s.Via != ViaUDP {
		t.Fatal(s)
	}
	if s := <-n.sent; s.Via != 0 {
		t.Fatal(s)
	}
	if err := m.Close(); err != nil || !n.closed || !u.closed {
		t.Fatalf("Close: %v %v %v", err, n.closed, u.closed)
	}
	if _, err := m.Recv(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if err := NewMux(n, nil).Send(context.Background(), Signal{Via: ViaUDP}); !errors.Is(err, ErrInvalidSignal) {
		t.Fatal(err)
	}
}
