package dataplane

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// virtioNetHdrLen is struct virtio_net_hdr, which a PACKET_VNET_HDR socket
// puts before each packet: flags, gso_type, hdr_len, gso_size (offset 4),
// csum_start, csum_offset.
const virtioNetHdrLen = 10

// testGSORestore: TCP from a's own socket through the tunnel (a local
// sender, the mobile node's uplink) arrives at the tunnel's far end as GSO
// packets whose segments fill the 1500-octet link, not 40 octets short
// (kernel_gso.go). A PACKET_VNET_HDR socket reads each packet's gso_size:
// veth hands GSO packets across whole.
func testGSORestore(t *testing.T, n *testNet) {
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
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	sizes := map[int]int{} // segment length (outer header included) -> GSO packets
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
			nr, _, err := unix.Recvfrom(fd, buf, 0)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return
			}
			if seg, ok := gsoSegment(buf[:nr]); ok {
				sizes[seg]++
			}
		}
	}()
	tcpEcho(t, n.a, addrAHome, n.b, addrSvc, 4<<20)
	close(done)
	wg.Wait()
	if len(sizes) == 0 {
		t.Fatal("no tunnelled TCP GSO packet reached b: nothing tested")
	}
	for seg, count := range sizes {
		if seg != 1500 {
			t.Errorf("%d GSO packets with %d-octet segments, want 1500 (the link's MTU)", count, seg)
		}
	}
	t.Logf("segment lengths of GSO packets: %v", sizes)
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
