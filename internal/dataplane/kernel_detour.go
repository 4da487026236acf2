package dataplane

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The detour exists for the MTU, on kernels without LWT BPF (or with
// Config.NoBPF). A seg6 route encapsulates forwarded packets in its input
// handler, before ip6_forward's MTU check, so an inner packet too big for
// the tunnel is encapsulated anyway, the outer packet is too big for the
// link, and the Packet Too Big goes to the tunnel entry itself: a black
// hole for the real sender (measured on 6.18). Sending tunnelled traffic
// first through a veth pair with the tunnel's inner MTU locked on the route
// makes ip6_forward (GSO-aware) send the right Packet Too Big (RFC 4443
// section 3.2, RFC 2473 section 7.1) and lets local sockets see the same
// MTU; what comes out of the far end is encapsulated by the seg6 route in
// cfg.Table+1. Locally originated packets skip the detour (rule "iif lo"):
// the kernel checks them against the seg6 route's MTU. Measured cost for
// forwarded traffic: about 8% of a forwarded iperf3 run (3 interleaved
// rounds, medians 9.8 vs 10.7 Gbit/s without it). With BPF (kernel_bpf.go)
// nothing crosses the veth: the tunnel routes only name it as their device
// (the "anchor"), and local sockets take their offload limits from it.
func (k *kernelDP) setupDetour() error {
	name, peer := k.cfg.TunName, k.cfg.TunName+"x"
	_ = k.deleteStaleLink(name)
	va := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: 65535}, PeerName: peer}
	if err := k.h.LinkAdd(va); err != nil {
		return fmt.Errorf("detour veth %s: %w", name, err)
	}
	var err error
	if k.detour, err = k.h.LinkByName(name); err != nil {
		return fmt.Errorf("detour veth %s: %w", name, err)
	}
	if k.detourPeer, err = k.h.LinkByName(peer); err != nil {
		return fmt.Errorf("detour veth %s: %w", peer, err)
	}
	if err := k.h.LinkSetMTU(k.detourPeer, 65535); err != nil {
		return fmt.Errorf("detour veth %s mtu: %w", peer, err)
	}
	if k.encap == nil {
		if err := k.forceForwarding(peer); err != nil {
			return err
		}
	}
	gw := &netlink.Addr{IPNet: &net.IPNet{IP: detourGateway.AsSlice(), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD}
	if err := k.h.AddrAdd(k.detourPeer, gw); err != nil {
		return fmt.Errorf("detour %s address: %w", peer, err)
	}
	for _, l := range []netlink.Link{k.detour, k.detourPeer} {
		if err := k.h.LinkSetUp(l); err != nil {
			return fmt.Errorf("detour %s up: %w", l.Attrs().Name, err)
		}
	}
	return nil
}

// setupSegmenter creates the veth pair that cuts the packets a tunnel
// program cannot encapsulate (a UDP GSO packet) into single packets: the
// program sends such a packet out of the near end, whose gso_max_segs of 1
// makes the kernel segment it in software (validate_xmit_skb), and each
// segment comes in at the far end, is forwarded, and meets the same tunnel
// route again, now encapsulable. Neither end is a route's device, so the
// limit touches no socket, and the far end is not the anchor, so
// ip6_forward sends no Redirect.
func (k *kernelDP) setupSegmenter() error {
	name, peer := k.cfg.TunName+"s", k.cfg.TunName+"r"
	_ = k.deleteStaleLink(name)
	va := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: 65535}, PeerName: peer}
	if err := k.h.LinkAdd(va); err != nil {
		return fmt.Errorf("segmentation veth %s: %w", name, err)
	}
	var err error
	if k.segmenter, err = k.h.LinkByName(name); err != nil {
		return fmt.Errorf("segmentation veth %s: %w", name, err)
	}
	if k.segmenterPeer, err = k.h.LinkByName(peer); err != nil {
		return fmt.Errorf("segmentation veth %s: %w", peer, err)
	}
	if err := k.h.LinkSetMTU(k.segmenterPeer, 65535); err != nil {
		return fmt.Errorf("segmentation veth %s mtu: %w", peer, err)
	}
	if err := k.h.LinkSetGSOMaxSegs(k.segmenter, 1); err != nil {
		return fmt.Errorf("segmentation veth %s gso_max_segs: %w", name, err)
	}
	if err := k.forceForwarding(peer); err != nil {
		return err
	}
	for _, l := range []netlink.Link{k.segmenter, k.segmenterPeer} {
		if err := k.h.LinkSetUp(l); err != nil {
			return fmt.Errorf("segmentation veth %s up: %w", l.Attrs().Name, err)
		}
	}
	return nil
}

// forceForwarding makes the namespace forward what arrives on dev even on
// a host that does not forward otherwise (a mobile node):
// force_forwarding, Linux 6.17+. Without it the namespace needs
// net.ipv6.conf.all.forwarding=1 for what crosses dev. Writing
// net.ipv6.conf.all.forwarding resets force_forwarding on every interface
// (6.18): a host that turns forwarding off must restart the daemon.
func (k *kernelDP) forceForwarding(dev string) error {
	err := k.inNS(func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/"+dev+"/force_forwarding", []byte("1"), 0)
	})
	switch {
	case errors.Is(err, os.ErrNotExist):
		k.log.Warn("no force_forwarding (Linux before 6.17): what crosses "+dev+" is forwarded only with net.ipv6.conf.all.forwarding=1", "dev", dev)
		return nil
	case err != nil:
		return fmt.Errorf("%s force_forwarding: %w", dev, err)
	}
	return nil
}

func (k *kernelDP) deleteStaleLink(name string) error {
	l, err := k.h.LinkByName(name)
	if err != nil {
		return err
	}
	if _, ok := l.(*netlink.Veth); !ok {
		return fmt.Errorf("%s exists and is not a veth", name)
	}
	return k.h.LinkDel(l)
}
