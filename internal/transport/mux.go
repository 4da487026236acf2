package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Mux combines a native and a UDP transport, as a home agent that accepts
// both runs them: Recv returns Signals from either, Send picks the
// transport by Signal.Via (ViaUDP: UDP, otherwise native).
type Mux struct {
	native, udp Transport
	in          chan Signal
	done        chan struct{}
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	closeOnce   sync.Once
	closeErr    error
}

var _ Transport = (*Mux)(nil)

// NewMux starts receiving from native and udp; either may be nil. Close
// closes both.
func NewMux(native, udp Transport) *Mux {
	ctx, cancel := context.WithCancel(context.Background())
	m := &Mux{native: native, udp: udp, in: make(chan Signal), done: make(chan struct{}), cancel: cancel}
	for _, t := range []Transport{native, udp} {
		if t == nil {
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			for {
				s, err := t.Recv(ctx)
				if err != nil {
					return // closed or cancelled
				}
				select {
				case m.in <- s:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return m
}

// Send implements Transport.
func (m *Mux) Send(ctx context.Context, s Signal) error {
	t := m.native
	if s.Via == ViaUDP {
		t = m.udp
	}
	if t == nil {
		return fmt.Errorf("%w: no transport for via %v", ErrInvalidSignal, s.Via)
	}
	return t.Send(ctx, s)
}

// Recv implements Transport.
func (m *Mux) Recv(ctx context.Context) (Signal, error) { return recvQueue(ctx, m.in, m.done) }

// Close implements Transport.
func (m *Mux) Close() error {
	m.closeOnce.Do(func() {
		close(m.done)
		m.cancel()
		var errs []error
		for _, t := range []Transport{m.native, m.udp} {
			if t != nil {
				if err := t.Close(); err != nil {
					errs = append(errs, err)
				}
			}
		}
		m.wg.Wait()
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}
