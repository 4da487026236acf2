package dataplane

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"monami/internal/lab"
)

// The tunnel programs are tested with real traffic in namespaces (from
// TestTunnelIntegration): an LWT xmit program needs the route it runs on,
// which BPF_PROG_TEST_RUN does not give it.

// outerCapture reads IPv6-in-IPv6 packets arriving on ifname in node.
type outerCapture struct{ fd int }

func captureOuter(t *testing.T, node *lab.NodeNS, ifname string) *outerCapture {
	t.Helper()
	c := &outerCapture{fd: -1}
	err := node.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(nativeBE16(unix.ETH_P_IPV6)))
		if err != nil {
			return err
		}
		c.fd = fd
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: nativeBE16(unix.ETH_P_IPV6), Ifindex: ifi.Index})
	})
	if err != nil {
		t.Fatalf("capture on %s: %v", ifname, err)
	}
	t.Cleanup(func() { unix.Close(c.fd) })
	return c
}

// next returns the next tunnelled packet whose inner packet is UDP to
// port (outer and inner header and beyond), or fails.
func (c *outerCapture) next(t *testing.T, port int) []byte {
	t.Helper()
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		p := buf[:n]
		const inner = ipv6HeaderLen
		if len(p) < 2*ipv6HeaderLen+udpHeaderLen || p[offNextHeader] != protoIPv6 || p[inner+offNextHeader] != unix.IPPROTO_UDP {
			continue
		}
		if int(binary.BigEndian.Uint16(p[2*ipv6HeaderLen+2:])) == port {
			return append([]byte(nil), p...)
		}
	}
	t.Fatalf("no tunnelled UDP packet to port %d", port)
	return nil
}

// sendUDPWith sends one datagram from node with socket options set by opt.
func sendUDPWith(t *testing.T, node *lab.NodeNS, from, to netip.Addr, port int, payload []byte, opt func(fd int) error) {
	t.Helper()
	err := node.Do(func() error {
		c, err := net.ListenPacket("udp6", net.JoinHostPort(from.String(), "0"))
		if err != nil {
			return err
		}
		defer c.Close()
		sc, err := c.(syscall.Conn).SyscallConn()
		if err != nil {
			return err
		}
		var oerr error
		if err := sc.Control(func(fd uintptr) { oerr = opt(int(fd)) }); err != nil {
			return err
		}
		if oerr != nil {
			return oerr
		}
		_, err = c.WriteTo(payload, &net.UDPAddr{IP: to.AsSlice(), Port: port})
		return err
	})
	if err != nil {
		t.Fatalf("udp %v -> %v: %v", from, to, err)
	}
}

// testOuterHeader: the header the program writes, seen on the wire at the
// tunnel's far end (RFC 2473 section 3.1; traffic class and flow label
// copied, section 6.4/6.5; a flow label from the flow hash when the inner
// packet has none, RFC 6438 section 3; hop limit 64, section 6.3).
func testOuterHeader(t *testing.T, n *testNet) {
	ln := listenUDP(t, n.b, addrSvc)
	c := captureOuter(t, n.b, "mdp1")
	const tclass = 0xb8
	sendUDPWith(t, n.s, addrS, addrSvc, ln.port, []byte("labelled"), func(fd int) error {
		return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, tclass)
	})
	p := c.next(t, ln.port)
	outer, inner := binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[ipv6HeaderLen:])
	if outer != inner || inner>>20 != 0x600|tclass || inner&0xfffff == 0 {
		t.Errorf("outer version/class/label %08x, inner %08x: want equal, class %#x, a label", outer, inner, tclass)
	}
	if got, want := int(binary.BigEndian.Uint16(p[4:])), len(p)-ipv6HeaderLen; got != want {
		t.Errorf("outer payload length %d, want %d", got, want)
	}
	if p[7] != outerHopLimit {
		t.Errorf("outer hop limit %d, want %d", p[7], outerHopLimit)
	}
	if s, d := netip.AddrFrom16([16]byte(p[offSrc:])), netip.AddrFrom16([16]byte(p[offDst:])); s != addrA || d != addrB {
		t.Errorf("outer %v -> %v, want %v -> %v", s, d, addrA, addrB)
	}
	// Without a flow label (IPV6_AUTOFLOWLABEL off) the outer header
	// gets one.
	sendUDPWith(t, n.s, addrS, addrSvc, ln.port, []byte("unlabelled"), func(fd int) error {
		return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_AUTOFLOWLABEL, 0)
	})
	p = c.next(t, ln.port)
	outer, inner = binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[ipv6HeaderLen:])
	if inner&0xfffff != 0 || outer&0xfffff == 0 || outer>>20 != inner>>20 {
		t.Errorf("outer version/class/label %08x, inner %08x: want a label outside only", outer, inner)
	}
	if got := ln.collect(300 * time.Millisecond); len(got) != 2 {
		t.Errorf("delivered %q, want both datagrams", got)
	}
}

// testGSOFallback: a UDP GSO send (one packet of several datagrams, which
// bpf_lwt_push_encap refuses) crosses the segmentation veth, comes back as
// single packets, and arrives as separate datagrams; each is counted as
// sent once.
func testGSOFallback(t *testing.T, n *testNet, k *kernelDP) {
	before, err := k.encap.counters()
	if err != nil {
		t.Fatal(err)
	}
	// As on a mobile node, which does not forward: the segments must still
	// be forwarded from the segmentation veth (force_forwarding). Turning
	// forwarding off resets force_forwarding everywhere (Linux 6.18), as
	// if the data plane had started on a host: set it again.
	write := func(file, v string) {
		t.Helper()
		if err := n.a.Do(func() error {
			return os.WriteFile("/proc/sys/net/ipv6/conf/"+file, []byte(v), 0)
		}); err != nil {
			t.Fatal(err)
		}
	}
	write("all/forwarding", "0")
	defer write("all/forwarding", "1")
	write(k.segmenterPeer.Attrs().Name+"/force_forwarding", "1")
	ln := listenUDP(t, n.b, addrSvc)
	const seg, segs = 1000, 4
	payload := make([]byte, seg*segs)
	for i := range payload {
		payload[i] = byte('a' + i/seg)
	}
	sendUDPWith(t, n.a, addrAHome, addrSvc, ln.port, payload, func(fd int) error {
		return unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_SEGMENT, seg)
	})
	got := ln.collect(500 * time.Millisecond)
	if len(got) != segs {
		t.Fatalf("delivered %d datagrams, want %d", len(got), segs)
	}
	for i, d := range got {
		if len(d) != seg || d[0] != byte('a'+i) {
			t.Errorf("datagram %d: %d octets starting %q", i, len(d), d[:1])
		}
	}
	after, err := k.encap.counters()
	if err != nil {
		t.Fatal(err)
	}
	if after.fallback != before.fallback+1 || after.errors != before.errors || after.packets != before.packets+segs {
		t.Errorf("BPF counters before %+v, after %+v: want one packet segmented, %d sent, no error", before, after, segs)
	}
}
