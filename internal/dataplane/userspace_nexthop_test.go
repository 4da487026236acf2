package dataplane

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"monami/internal/testenv"
)

func TestOuterHeaderAndFlowLabel(t *testing.T) {
	local, remote := netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2001:db8:1::2")
	h := outerHeader(local, remote, 61)
	src, dst, next, _ := ipv6Header(append(h[:], make([]byte, 0)...))
	if h[0]>>4 != 6 || next != protoIPv6 || h[7] != 61 || src != local || dst != remote {
		t.Fatalf("header %x: version %d next %d hop limit %d %v -> %v", h, h[0]>>4, next, h[7], src, dst)
	}
	inner := buildUDP6(netip.MustParseAddr("2001:db8:5::2"), netip.MustParseAddr("2001:db8:b::1"), 1000, 2000, []byte("x"))
	fl := flowLabel(inner)
	if fl == 0 || fl > 0xfffff {
		t.Fatalf("flow label %#x out of range", fl)
	}
	if flowLabel(inner) != fl {
		t.Fatal("flow label not stable")
	}
	other := buildUDP6(netip.MustParseAddr("2001:db8:5::2"), netip.MustParseAddr("2001:db8:b::1"), 1001, 2000, []byte("x"))
	if flowLabel(other) == fl {
		t.Error("another source port gave the same flow label")
	}
	binary.BigEndian.PutUint32(inner[0:4], 6<<28|0x12345)
	if got := flowLabel(inner); got != 0x12345 {
		t.Errorf("inner flow label 0x12345 not kept: %#x", got)
	}

}

// TestPacketSenderFraming: the send loop's framing, outer header in the
// headroom, payload length of the inner packet, the inner packet untouched.
func TestPacketSenderFraming(t *testing.T) {
	testenv.RequireRoot(t) // a packet socket needs CAP_NET_RAW
	local, remote := netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2001:db8:1::2")
	h := outerHeader(local, remote, 61)
	other := buildUDP6(netip.MustParseAddr("2001:db8:5::2"), netip.MustParseAddr("2001:db8:b::1"), 1001, 2000, []byte("x"))
	p, err := openPktSender(4)
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	defer p.close()
	nh := &nextHop{hdr: h}
	buf := make([]byte, sendHeadroom+len(other))
	copy(buf[sendHeadroom:], other)
	p.add(buf, len(other), nh)
	frame := buf[sendHeadroom-ipv6HeaderLen:]
	if _, _, _, ok := ipv6Header(frame); !ok || int(binary.BigEndian.Uint16(frame[4:])) != len(other) ||
		string(frame[ipv6HeaderLen:]) != string(other) || binary.BigEndian.Uint32(frame)&0xfffff != flowLabel(other) {
		t.Fatalf("frame %x", frame)
	}
	if len(p.msgs) != 1 || p.iovs[0].Len != uint64(len(frame)) {
		t.Fatalf("%d messages, iov len %d", len(p.msgs), p.iovs[0].Len)
	}
}

// userRouteOf returns the first path of the userspace route for sel.
func userRouteOf(t *testing.T, dp DataPlane, sel Selector) *userPath {
	t.Helper()
	u := dp.(*userDP)
	u.mu.Lock()
	defer u.mu.Unlock()
	r := u.routes[sel]
	if r == nil || len(r.paths) == 0 {
		t.Fatalf("no route %v", sel)
	}
	return r.paths[0]
}

func hopReason(r *userPath) string {
	if p := r.hopReason.Load(); p != nil {
		return *p
	}
	return ""
}

func waitHop(t *testing.T, r *userPath, want bool) *nextHop {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		nh := r.hop.Load()
		if (nh != nil) == want {
			return nh
		}
		if time.Now().After(deadline) {
			t.Fatalf("next hop %v, want resolved=%v (reason %q)", nh, want, hopReason(r))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUserspaceNextHop: next header 41 goes out through the packet socket
// to the next hop the kernel resolved, falls back to the raw socket while
// the neighbour is unknown and comes back when it is.
func TestUserspaceNextHop(t *testing.T) {
	testenv.RequireRoot(t)
	// Within this test only the netlink notifications may move a next hop:
	// the periodic refresh comes after every waitHop deadline, so a cut
	// notification path fails instead of passing on the next refresh.
	saved := hopRefresh
	hopRefresh = time.Minute
	t.Cleanup(func() { hopRefresh = saved })
	n := upTestNet(t, "h1nh0")
	dpA, dpB := setupTunnel(t, n, nh41Case)
	ua := dpA.(*userDP)
	if ua.pkt == nil {
		t.Fatal("no packet socket")
	}
	rA := userRouteOf(t, dpA, Selector{Dst: prefSvc})
	tcpEcho(t, n.s, addrS, n.b, addrSvc, 1<<20) // resolves the neighbour if it was not
	nh := waitHop(t, rA, true)

	h, err := n.a.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	link, err := h.LinkByName("mdp1")
	if err != nil {
		t.Fatal(err)
	}
	hb, err := n.b.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	linkB, err := hb.LinkByName("mdp1")
	if err != nil {
		t.Fatal(err)
	}
	if nh.ifindex != link.Attrs().Index || nh.mac.String() != linkB.Attrs().HardwareAddr.String() || nh.mtu != 1500 {
		t.Fatalf("next hop ifindex %d mac %v mtu %d, want %d %v 1500", nh.ifindex, nh.mac, nh.mtu, link.Attrs().Index, linkB.Attrs().HardwareAddr)
	}
	sent := ua.pkt.sent.Load()
	before, _ := dpA.Counters()
	tcpEcho(t, n.s, addrS, n.b, addrSvc, 2<<20)
	after, _ := dpA.Counters()
	fast := ua.pkt.sent.Load() - sent
	if out := after.PacketsOut - before.PacketsOut; fast == 0 || fast < out/2 {
		t.Fatalf("packet socket sent %d of %d packets", fast, out)
	}
	if d := after.Drops[DropIO] - before.Drops[DropIO]; d != 0 {
		t.Errorf("%d I/O drops", d)
	}

	// Forget the neighbour: the raw socket takes over (and makes the
	// kernel resolve it again), then the fast path returns.
	neighs, err := h.NeighList(link.Attrs().Index, netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	for _, ne := range neighs {
		if a, _ := netip.AddrFromSlice(ne.IP); a == addrB {
			if err := h.NeighDel(&ne); err != nil {
				t.Fatal(err)
			}
		}
	}
	t0 := time.Now()
	waitHop(t, rA, false)
	if d := time.Since(t0); d > time.Second {
		t.Errorf("fallback after %v: the neighbour notification should act within the debounce", d)
	}
	if r := hopReason(rA); !strings.Contains(r, "unresolved") {
		t.Errorf("reason %q, want an unresolved neighbour", r)
	}
	tcpEcho(t, n.s, addrS, n.b, addrSvc, 1<<20)
	waitHop(t, rA, true)

	// A STALE neighbour is used, but a batch goes through the kernel so
	// that it gets confirmed again.
	if err := h.NeighSet(&netlink.Neigh{LinkIndex: link.Attrs().Index, Family: netlink.FAMILY_V6, State: netlink.NUD_STALE,
		IP: addrB.AsSlice(), HardwareAddr: linkB.Attrs().HardwareAddr}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for nh := rA.hop.Load(); nh == nil || !nh.probe.Load(); nh = rA.hop.Load() {
		if time.Now().After(deadline) {
			t.Fatal("STALE neighbour: no probe through the kernel requested")
		}
		time.Sleep(20 * time.Millisecond)
	}
	udpEcho(t, n.s, addrS, n.b, addrSvc)

	// A smaller route MTU for the outer destination bounds the fast path.
	if err := h.RouteAdd(&netlink.Route{Dst: &net.IPNet{IP: addrB.AsSlice(), Mask: net.CIDRMask(128, 128)}, LinkIndex: link.Attrs().Index, MTU: 1400}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(3 * time.Second)
	for nh := rA.hop.Load(); nh == nil || nh.mtu != 1400; nh = rA.hop.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("next hop %+v, want mtu 1400 (reason %q)", nh, hopReason(rA))
		}
		time.Sleep(20 * time.Millisecond)
	}
	udpEchoSize(t, n.s, addrS, n.b, addrSvc, 1000)
	if err := h.RouteDel(&netlink.Route{Dst: &net.IPNet{IP: addrB.AsSlice(), Mask: net.CIDRMask(128, 128)}, LinkIndex: link.Attrs().Index}); err != nil {
		t.Fatal(err)
	}

	// Link down: no next hop.
	if err := h.LinkSetDown(link); err != nil {
		t.Fatal(err)
	}
	waitHop(t, rA, false)
	if err := h.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}

	// Resolution itself: an outer destination routed into the TUN device
	// (the data plane's own table), and one without a route.
	var st hopStatus
	n.a.Do(func() error {
		st = resolveNextHop(h, addrA, addrSvc, ua.devIndex, sysctlHopLimit)
		return nil
	})
	if st.hop != nil || !strings.Contains(st.reason, "TUN") {
		t.Errorf("destination behind the TUN: %+v", st)
	}
	st = resolveNextHop(h, addrA, netip.MustParseAddr("2001:db8:99::1"), ua.devIndex, nil)
	if st.hop != nil || st.reason == "" {
		t.Errorf("unroutable destination: %+v", st)
	}
	_ = dpB
}

// TestUserspaceNextHopIPsec: an IPsec policy in the namespace keeps next
// header 41 on the raw socket, where the kernel applies it.
func TestUserspaceNextHopIPsec(t *testing.T) {
	testenv.RequireRoot(t)
	n := upTestNet(t, "h1nh1")
	dpA, _ := setupTunnel(t, n, nh41Case)
	rA := userRouteOf(t, dpA, Selector{Dst: prefSvc})
	tcpEcho(t, n.s, addrS, n.b, addrSvc, 256<<10)
	waitHop(t, rA, true)
	h, err := n.a.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	// A policy for traffic that does not even touch the tunnel: the data
	// plane does not try to tell which flows a policy covers.
	pol := &netlink.XfrmPolicy{Dst: &net.IPNet{IP: net.ParseIP("2001:db8:77::"), Mask: net.CIDRMask(64, 128)},
		Src: &net.IPNet{IP: net.ParseIP("2001:db8:78::"), Mask: net.CIDRMask(64, 128)}, Dir: netlink.XFRM_DIR_OUT}
	if err := h.XfrmPolicyAdd(pol); err != nil {
		t.Fatalf("xfrm policy (the IPsec fallback's only test): %v", err)
	}
	t.Cleanup(func() { h.XfrmPolicyDel(pol) })
	u := dpA.(*userDP)
	u.kickHops()
	waitHop(t, rA, false)
	if r := hopReason(rA); !strings.Contains(r, "IPsec") {
		t.Errorf("reason %q", r)
	}
	tcpEcho(t, n.s, addrS, n.b, addrSvc, 256<<10)
	if err := h.XfrmPolicyDel(pol); err != nil {
		t.Fatal(err)
	}
	u.kickHops()
	waitHop(t, rA, true)
	_ = unix.AF_PACKET
}

var nh41Case = backendCase{name: "userspace-ipv6", backend: BackendUserspace, encap: EncapIPv6, mtu: 1460}
