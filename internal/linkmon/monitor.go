package linkmon

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Monitor subscribes to rtnetlink link and address notifications (with the
// existing state listed first) and emits care-of address events.
type Monitor struct {
	events chan Event
	errs   chan error
	mu     sync.Mutex
	t      *Tracker
}

// Start watches the named interfaces (nil: all) in namespace ns (a zero or
// closed handle means the caller's namespace). Events stop when ctx ends.
// The IPv4 addresses of the interfaces named in ipv4 are care-of addresses
// too (Tracker.AllowIPv4).
func Start(ctx context.Context, ns netns.NsHandle, names []string, ipv4 ...string) (*Monitor, error) {
	m := &Monitor{events: make(chan Event, 256), errs: make(chan error, 4), t: NewTracker(names)}
	m.t.AllowIPv4(ipv4...)
	links := make(chan netlink.LinkUpdate, 64)
	addrs := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	opt := &ns
	if !ns.IsOpen() {
		opt = nil
	}
	onErr := func(err error) {
		select {
		case m.errs <- err:
		default:
		}
	}
	// Links first, so addresses listed afterwards find their interface's state.
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{
		Namespace: opt, ListExisting: true, ErrorCallback: onErr, ReceiveBufferSize: 1 << 20,
	}); err != nil {
		close(done)
		return nil, fmt.Errorf("link monitor: %w", err)
	}
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{
		Namespace: opt, ListExisting: true, ErrorCallback: onErr, ReceiveBufferSize: 1 << 20,
	}); err != nil {
		close(done)
		return nil, fmt.Errorf("address monitor: %w", err)
	}
	go func() {
		defer close(m.events)
		defer close(done)
		for {
			var ev []Event
			select {
			case <-ctx.Done():
				return
			case u, ok := <-links:
				if !ok {
					return
				}
				ev = m.link(u)
			case u, ok := <-addrs:
				if !ok {
					return
				}
				ev = m.addr(u)
			}
			for _, e := range ev {
				select {
				case m.events <- e:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return m, nil
}

func (m *Monitor) link(u netlink.LinkUpdate) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	attrs := u.Link.Attrs()
	if u.Header.Type == unix.RTM_DELLINK {
		return m.t.LinkGone(int(u.Index))
	}
	up := u.Flags&unix.IFF_UP != 0 && u.Flags&unix.IFF_RUNNING != 0
	return m.t.Link(int(u.Index), attrs.Name, up)
}

func (m *Monitor) addr(u netlink.AddrUpdate) []Event {
	a, ok := netip.AddrFromSlice(u.LinkAddress.IP)
	if !ok {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t.Addr(u.LinkIndex, a.Unmap(), u.Flags, u.Scope, u.NewAddr)
}

// Events delivers care-of address changes; closed when the monitor stops.
func (m *Monitor) Events() <-chan Event { return m.events }

// Errors delivers netlink errors (e.g. a lost notification on overflow, after
// which the caller should restart the monitor to resynchronise).
func (m *Monitor) Errors() <-chan error { return m.errs }

// Usable lists the usable care-of addresses per interface now.
func (m *Monitor) Usable() map[string][]netip.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t.Usable()
}
