package linkmon

import (
	"context"
	"monami/internal/testenv"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// TestMonitorInNamespace drives a real veth pair in a fresh namespace.
func TestMonitorInNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.NewNamed("mlm-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close(); netns.DeleteNamed("mlm-test") })
	defer netns.Set(orig)
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := netns.Set(orig); err != nil {
		t.Fatal(err)
	}

	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "wlan0"}, PeerName: "peer0"}
	if err := h.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	l, _ := h.LinkByName("wlan0")
	p, _ := h.LinkByName("peer0")
	// No DAD: the address is usable as soon as the link is.
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("2001:db8:a::10"), Mask: net.CIDRMask(64, 128)}, Flags: 0x100 /* IFA_F_NODAD */}
	if err := h.AddrAdd(l, addr); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, err := Start(ctx, ns, []string{"wlan0"})
	if err != nil {
		t.Fatal(err)
	}
	next := func(want EventKind) Event {
		t.Helper()
		select {
		case e := <-m.Events():
			if e.Kind != want || e.Address.String() != "2001:db8:a::10" || e.Interface != "wlan0" {
				t.Fatalf("event %v, want %v of 2001:db8:a::10", e, want)
			}
			return e
		case <-time.After(5 * time.Second):
			t.Fatalf("no %v event", want)
		}
		return Event{}
	}
	h.LinkSetUp(p)
	h.LinkSetUp(l)
	next(CareOfAddressUp)
	h.LinkSetDown(l)
	if e := next(CareOfAddressDown); e.Reason != "link down" && e.Reason != "address removed" {
		t.Fatalf("reason %q", e.Reason)
	}
	// The kernel flushes IPv6 addresses on down unless keep_addr_on_down;
	// add it back and bring the link up.
	h.AddrReplace(l, addr)
	h.LinkSetUp(l)
	next(CareOfAddressUp)
	h.AddrDel(l, addr)
	if e := next(CareOfAddressDown); e.Reason != "address removed" {
		t.Fatalf("reason %q", e.Reason)
	}
}
