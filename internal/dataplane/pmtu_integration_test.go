package dataplane

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"monami/internal/forwarding"
	"monami/internal/testenv"
)

// TestPacketTooBigResizesRoutes: a Packet Too Big of 1400 for one of a's
// tunnel packets (a -> b), sent to a from b as a router on the path
// would, brings a's route through that tunnel down to 1400 less the
// tunnel headers, in every backend; with BPF also a flow route's parent.
// One for a path no tunnel uses changes nothing.
func TestPacketTooBigResizesRoutes(t *testing.T) {
	testenv.RequireRoot(t)
	for i, bc := range backendCases {
		t.Run(bc.name, func(t *testing.T) {
			n := upTestNet(t, fmt.Sprintf("ptpm%d", i))
			dpA, _ := setupTunnel(t, n, bc)
			tun := Tunnel{Local: addrA, Remote: addrB, Encap: bc.encap}
			if bc.backend == BackendKernel && !bc.noBPF {
				udp := forwarding.Match{NextHeader: forwarding.Exact[uint8](unix.IPPROTO_UDP), DstPort: forwarding.Exact(uint16(7))}
				if err := dpA.AddRoute(Route{Selector: Selector{Dst: prefSvc, Flow: udp}, Tunnel: tun}); err != nil {
					t.Fatal(err)
				}
			}
			want := 1400 - tun.overhead()
			before := svcRouteMTU(t, n, bc)
			// A path no route uses: nothing changes.
			sendPTB(t, n, addrA, netip.MustParseAddr("2001:db8:1::99"), 1300)
			sendPTB(t, n, addrA, addrB, 1400)
			deadline := time.Now().Add(3 * time.Second)
			got := svcRouteMTU(t, n, bc)
			for got != want && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				got = svcRouteMTU(t, n, bc)
			}
			t.Logf("%s: inner MTU of the route to %v: %d before, %d after a Packet Too Big of 1400", bc.name, prefSvc, before, got)
			if got != want {
				t.Errorf("inner MTU %d after a Packet Too Big of 1400, want %d", got, want)
			}
		})
	}
}

// sendPTB sends a an ICMPv6 Packet Too Big from b, quoting a tunnel
// packet from local to remote.
func sendPTB(t *testing.T, n *testNet, local, remote netip.Addr, mtu int) {
	t.Helper()
	inner := buildUDP6(addrS, netip.MustParseAddr("2001:db8:b::1"), 1000, 7, make([]byte, 1400))
	outer := make([]byte, ipv6HeaderLen, ipv6HeaderLen+len(inner))
	outer[0], outer[offNextHeader], outer[7] = 6<<4, protoIPv6, 64
	outer[4], outer[5] = byte(len(inner)>>8), byte(len(inner))
	copy(outer[offSrc:], local.AsSlice())
	copy(outer[offDst:], remote.AsSlice())
	outer = append(outer, inner...)
	msg := packetTooBig(addrB, mtu, outer)[ipv6HeaderLen:]
	err := n.b.Do(func() error {
		c, err := net.ListenPacket("ip6:ipv6-icmp", addrB.String())
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.WriteTo(msg, &net.IPAddr{IP: addrA.AsSlice()}) // the kernel sets the checksum
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// svcRouteMTU is the inner MTU of a's route to prefSvc as the kernel
// holds it (the BPF routes' MTU includes their 40 octets of headroom).
func svcRouteMTU(t *testing.T, n *testNet, bc backendCase) int {
	t.Helper()
	h, err := n.a.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	dst := net.IPNet{IP: prefSvc.Addr().AsSlice(), Mask: net.CIDRMask(prefSvc.Bits(), 128)}
	routes, err := h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Table: unix.RT_TABLE_UNSPEC, Dst: &dst}, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Protocol != unix.RTPROT_STATIC || r.MTU == 0 {
			continue
		}
		if bc.backend == BackendKernel && !bc.noBPF {
			return r.MTU - lwtHeadroom
		}
		if bc.backend == BackendKernel && r.Table == testTable+1 {
			continue // the seg6 route behind the detour
		}
		return r.MTU
	}
	t.Fatalf("no route to %v in %d routes", prefSvc, len(routes))
	return 0
}
