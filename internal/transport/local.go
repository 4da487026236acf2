package transport

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// localAddrs answers "is this address configured on this node", the test
// the nftables rule makes with "fib daddr type local", for the AF_PACKET
// capture which also sees packets this node merely forwards.
type localAddrs struct {
	h *netlink.Handle // bound to the transport's namespace

	mu        sync.Mutex
	set       map[netip.Addr]struct{}
	refreshed time.Time
}

// refreshEvery bounds netlink dumps caused by packets to unknown addresses.
const refreshEvery = 200 * time.Millisecond

func newLocalAddrs(ns netns.NsHandle) (*localAddrs, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("transport: netlink handle: %w", err)
	}
	l := &localAddrs{h: h}
	if err := l.refresh(); err != nil {
		h.Close()
		return nil, err
	}
	return l, nil
}

func (l *localAddrs) refresh() error {
	addrs, err := l.h.AddrList(nil, netlink.FAMILY_V6)
	if err != nil {
		return fmt.Errorf("transport: list addresses: %w", err)
	}
	set := make(map[netip.Addr]struct{}, len(addrs))
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			set[ip.Unmap()] = struct{}{}
		}
	}
	l.set, l.refreshed = set, time.Now()
	return nil
}

func (l *localAddrs) isLocal(a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.set[a]; ok {
		return true
	}
	if time.Since(l.refreshed) < refreshEvery || l.refresh() != nil {
		return false
	}
	_, ok := l.set[a]
	return ok
}

func (l *localAddrs) close() {
	if l != nil && l.h != nil {
		l.h.Close()
	}
}
