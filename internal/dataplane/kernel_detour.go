package dataplane

import (
	"crypto/rand"
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
	var err error
	if k.detour, k.detourPeer, err = k.vethPair("detour", name, peer); err != nil {
		return err
	}
	if k.encap == nil {
		if err := k.forceForwarding(peer); err != nil {
			return err
		}
	}
	gw := &netlink.Addr{IPNet: &net.IPNet{IP: detourGateway.AsSlice(), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD}
	if err := k.h.AddrAdd(k.detourPeer, gw); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("detour %s address: %w", peer, err)
	}
	return k.linksUp("detour", k.detour, k.detourPeer)
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
	var err error
	if k.segmenter, k.segmenterPeer, err = k.vethPair("segmentation", name, peer); err != nil {
		return err
	}
	if err := k.h.LinkSetGSOMaxSegs(k.segmenter, 1); err != nil {
		return fmt.Errorf("segmentation veth %s gso_max_segs: %w", name, err)
	}
	if err := k.forceForwarding(peer); err != nil {
		return err
	}
	return k.linksUp("segmentation", k.segmenter, k.segmenterPeer)
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

// vethPair creates the veth pair name-peer (replacing one a predecessor
// left, or adopting it: see adoptVethPair), both ends with the largest
// MTU. The Ethernet addresses are given, not left to the kernel: udev's
// MACAddressPolicy rewrites random ones shortly after creation, and the
// tunnel programs hold the segmentation veth's as constants.
func (k *kernelDP) vethPair(what, name, peer string) (near, far netlink.Link, err error) {
	if k.adopting {
		if near, far, ok := k.adoptVethPair(name, peer); ok {
			k.log.Info(what+" veth adopted", "name", name)
			return near, far, nil
		}
	}
	_ = k.deleteStaleLink(name)
	va := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: 65535, HardwareAddr: localMAC()},
		PeerName: peer, PeerHardwareAddr: localMAC()}
	if err := k.h.LinkAdd(va); err != nil {
		return nil, nil, fmt.Errorf("%s veth %s: %w", what, name, err)
	}
	if near, err = k.h.LinkByName(name); err != nil {
		return nil, nil, fmt.Errorf("%s veth %s: %w", what, name, err)
	}
	if far, err = k.h.LinkByName(peer); err != nil {
		return near, nil, fmt.Errorf("%s veth %s: %w", what, peer, err)
	}
	if err := k.h.LinkSetMTU(far, 65535); err != nil {
		return near, far, fmt.Errorf("%s veth %s mtu: %w", what, peer, err)
	}
	return near, far, nil
}

// localMAC is a random locally administered unicast Ethernet address.
func localMAC() net.HardwareAddr {
	m := make(net.HardwareAddr, 6)
	_, _ = rand.Read(m)
	m[0] = m[0]&^1 | 2
	return m
}

func (k *kernelDP) linksUp(what string, links ...netlink.Link) error {
	for _, l := range links {
		if err := k.h.LinkSetUp(l); err != nil {
			return fmt.Errorf("%s veth %s up: %w", what, l.Attrs().Name, err)
		}
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
