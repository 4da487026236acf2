package dataplane

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// virtioNetHdrLen is struct virtio_net_hdr, which a PACKET_VNET_HDR socket
// puts before each packet: flags, gso_type, hdr_len, gso_size (offset 4),
// csum_start, csum_offset.
const virtioNetHdrLen = 10

// testGSORestore: TCP from a's own socket through the tunnel (a local
// sender, the mobile node's uplink) arrives at the tunnel's far end as GSO
// packets whose segments are as long as the sender made them, not 40
// octets short (kernel_gso.go): with the full MSS they fill the 1500-octet
// link; with an MSS clamped to 1200 (TCP_MAXSEG) they keep it, restored
// once, not grown again when the packet passes the egress a second time.
// A PACKET_VNET_HDR socket reads each packet's gso_size: veth hands GSO
// packets across whole. A qdisc at a's egress must charge what went out
// (qdisc_pkt_len_init after the restore), not a header more per segment
// cut short: a shaper there would otherwise leave part of its rate unused.
func testGSORestore(t *testing.T, n *testNet) {
	t.Run("full-mss", func(t *testing.T) { gsoRestoreCase(t, n, 0, 1500) })
	// Payload 1200 - 12 (timestamps) + TCP header 32 + two IPv6 headers.
	t.Run("clamped-mss", func(t *testing.T) { gsoRestoreCase(t, n, 1200, 1300) })
}

func gsoRestoreCase(t *testing.T, n *testNet, mss, want int) {
	fd := gsoCapture(t, n)
	defer unix.Close(fd)
	charged := qdiscCharge(t, n)
	sizes := map[int]int{} // segment length (outer header included) -> GSO packets
	var wire uint64        // what a sent, reckoned per segment
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1<<16+virtioNetHdrLen+ethHeaderLen)
		for {
			select {
			case <-done:
				return
			default:
			}
			nr, from, err := unix.Recvfrom(fd, buf, 0)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); !ok || ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			wire += uint64(wireLen(buf[:nr]))
			if seg, ok := gsoSegment(buf[:nr]); ok {
				sizes[seg]++
			}
		}
	}()
	tcpEchoMSS(t, n.a, addrAHome, n.b, addrSvc, 4<<20, mss)
	time.Sleep(150 * time.Millisecond) // the last packets, then one read timeout
	close(done)
	wg.Wait()
	if len(sizes) == 0 {
		t.Fatal("no tunnelled TCP GSO packet reached b: nothing tested")
	}
	for seg, count := range sizes {
		if seg != want {
			t.Errorf("%d GSO packets with %d-octet segments, want %d", count, seg, want)
		}
	}
	if st, err := unix.GetsockoptTpacketStats(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err != nil || st.Drops != 0 {
		t.Fatalf("capture on b lost packets (%+v, %v): the charge cannot be checked", st, err)
	}
	got := charged()
	t.Logf("segment lengths of GSO packets: %v; a's qdisc charged %d octets for %d sent", sizes, got, wire)
	if got != wire {
		t.Errorf("a's qdisc charged %d octets for the %d that reached b (ratio %.4f)", got, wire, float64(got)/float64(wire))
	}
}

// gsoCapture opens a PACKET_VNET_HDR socket on b's link to a.
func gsoCapture(t *testing.T, n *testNet) int {
	t.Helper()
	fd := -1
	if err := n.b.Do(func() error {
		ifi, err := net.InterfaceByName("mdp1")
		if err != nil {
			return err
		}
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(nativeBE16(unix.ETH_P_IPV6))); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: nativeBE16(unix.ETH_P_IPV6), Ifindex: ifi.Index})
	}); err != nil {
		t.Fatalf("capture on b: %v", err)
	}
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	// Room for the whole transfer: the accounting check needs every packet.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20); err != nil {
		t.Fatal(err)
	}
	return fd
}

// qdiscCharge puts a pfifo at a's egress toward b (veth has none) and
// returns what reads the octets it charges from now on; the pfifo is
// removed at the end of the test.
func qdiscCharge(t *testing.T, n *testNet) func() uint64 {
	t.Helper()
	var h *netlink.Handle
	var link netlink.Link
	if err := n.a.Do(func() (err error) {
		if h, err = netlink.NewHandle(); err != nil {
			return err
		}
		if link, err = h.LinkByName("mdp1"); err != nil {
			return err
		}
		return h.QdiscReplace(&netlink.GenericQdisc{QdiscType: "pfifo", QdiscAttrs: netlink.QdiscAttrs{
			LinkIndex: link.Attrs().Index, Handle: netlink.MakeHandle(0x6d, 0), Parent: netlink.HANDLE_ROOT}})
	}); err != nil {
		t.Fatalf("pfifo on a: %v", err)
	}
	read := func() uint64 {
		qs, err := h.QdiscList(link)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if q.Attrs().Handle == netlink.MakeHandle(0x6d, 0) && q.Attrs().Statistics != nil && q.Attrs().Statistics.Basic != nil {
				return q.Attrs().Statistics.Basic.Bytes
			}
		}
		t.Fatal("pfifo on a: no statistics")
		return 0
	}
	base := read()
	t.Cleanup(func() {
		h.QdiscDel(&netlink.GenericQdisc{QdiscType: "pfifo", QdiscAttrs: netlink.QdiscAttrs{
			LinkIndex: link.Attrs().Index, Handle: netlink.MakeHandle(0x6d, 0), Parent: netlink.HANDLE_ROOT}})
		h.Close()
	})
	return func() uint64 { return read() - base }
}

// wireLen is what a packet read with its virtio_net_hdr takes on the link
// once cut into its segments: each segment repeats the headers up to the
// payload (Ethernet, both IPv6 headers, TCP). It is what
// qdisc_pkt_len_init reckons. (virtio_net_hdr's hdr_len is the packet's
// linear part, not its headers.)
func wireLen(p []byte) int {
	frame := len(p) - virtioNetHdrLen
	seg, ok := gsoSegment(p)
	if !ok {
		return max(frame, 0)
	}
	gsoSize := int(binary.NativeEndian.Uint16(p[4:]))
	hdr := ethHeaderLen + seg - gsoSize
	segs := (frame - hdr + gsoSize - 1) / gsoSize
	return frame + (segs-1)*hdr
}

// gsoSegment is the length of one full segment of a GSO IPv6-in-IPv6
// TCP packet read with its virtio_net_hdr and Ethernet header.
func gsoSegment(p []byte) (int, bool) {
	const ipAt = virtioNetHdrLen + ethHeaderLen
	const tcp = ipAt + 2*ipv6HeaderLen
	if len(p) < tcp+20 {
		return 0, false
	}
	gsoSize := int(binary.NativeEndian.Uint16(p[4:]))
	ip := p[ipAt:]
	if gsoSize == 0 || ip[offNextHeader] != protoIPv6 || ip[ipv6HeaderLen+offNextHeader] != unix.IPPROTO_TCP {
		return 0, false
	}
	return 2*ipv6HeaderLen + int(p[tcp+tcpDataOffset]>>4)*4 + gsoSize, true
}
