package ha

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// addressOwner moves the home agent address between cluster nodes: the
// leader holds it on the home link, a standby does not (docs/ha-cluster.md).
type addressOwner interface {
	// Claim puts the address on the link and announces it.
	Claim() error
	// Yield takes it off.
	Yield() error
}

// linkAddress is the addressOwner on the real home link.
type linkAddress struct {
	h     *netlink.Handle
	ifn   string
	addr  netip.Addr
	proxy neighborProxy
	log   *slog.Logger
	ns    netns.NsHandle
}

func newLinkAddress(ifname string, addr netip.Addr, ns netns.NsHandle, proxy neighborProxy, log *slog.Logger) (*linkAddress, error) {
	var h *netlink.Handle
	var err error
	if ns > 0 {
		h, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("home_link %s: netlink: %w", ifname, err)
	}
	return &linkAddress{h: h, ifn: ifname, addr: addr, proxy: proxy, log: log, ns: ns}, nil
}

func (l *linkAddress) nladdr() (netlink.Link, *netlink.Addr, error) {
	link, err := l.h.LinkByName(l.ifn)
	if err != nil {
		return nil, nil, fmt.Errorf("home_link %s: %w", l.ifn, err)
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: l.addr.AsSlice(), Mask: net.CIDRMask(128, 128)},
		// No Duplicate Address Detection: the address is ours from this
		// moment (the old leader has stopped, see the timing argument), and
		// DAD would hold it tentative for a second.
		Flags: unix.IFA_F_NODAD}
	return link, a, nil
}

// Claim adds the address and sends an unsolicited Neighbor Advertisement
// with Override to all nodes (RFC 4861 section 7.2.6), so the routers on
// the home link send the address's packets to this node's link-layer
// address at once, not after their cache entry for the old leader times
// out. A failed announcement is only logged: the address is there, and
// the routers learn it when their entry for the old leader fails.
func (l *linkAddress) Claim() error {
	link, a, err := l.nladdr()
	if err != nil {
		return err
	}
	if err := l.h.AddrReplace(link, a); err != nil {
		return fmt.Errorf("home_link %s: adding %s: %w", l.ifn, l.addr, err)
	}
	if p, ok := l.proxy.(*ndpProxy); ok {
		// In the namespace: the socket layer resolves the destination's zone
		// (the interface name) in the calling thread's namespace.
		if err := inNamespace(l.ns, func() error { return p.advertise(l.addr, allNodes, false, true) }); err != nil {
			l.log.Warn("cluster: home agent address not announced", "interface", l.ifn, "address", l.addr, "err", err)
		}
	}
	return nil
}

// Yield removes the address (absent is fine).
func (l *linkAddress) Yield() error {
	link, a, err := l.nladdr()
	if err != nil {
		return err
	}
	if err := l.h.AddrDel(link, a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("home_link %s: removing %s: %w", l.ifn, l.addr, err)
	}
	return nil
}

func (l *linkAddress) Close() { l.h.Close() }
