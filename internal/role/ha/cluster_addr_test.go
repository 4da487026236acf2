package ha

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"monami/internal/lab"
	"monami/internal/testenv"
)

const addrTopo = `
name: mhaaddr
nodes:
  - name: ar
    kind: router
  - name: ha
    kind: router
links:
  - name: home
    a: {node: ar, if: ha0, addrs: ["2001:db8:f::1/64"]}
    b: {node: ha, if: eth0, addrs: ["2001:db8:f::2/64"]}
`

// On the real kernel: a claim puts the home agent address on the home link
// at once (no tentative DAD period) and announces it to the link with an
// unsolicited Neighbor Advertisement, Override set; a yield removes it.
func TestLinkAddressClaimYield(t *testing.T) {
	testenv.RequireRoot(t)
	topo, err := lab.Parse([]byte(addrTopo))
	if err != nil {
		t.Fatal(err)
	}
	_ = lab.Teardown(topo.Name)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := lab.Up(ctx, topo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	haNS, err := netns.GetFromPath(l.MustNode("ha").NetnsPath())
	if err != nil {
		t.Fatal(err)
	}
	defer haNS.Close()
	arNS, err := netns.GetFromPath(l.MustNode("ar").NetnsPath())
	if err != nil {
		t.Fatal(err)
	}
	defer arNS.Close()
	addr := netip.MustParseAddr("2001:db8:f::100")

	// The router's side listens for the announcement.
	var listen *ndp.Conn
	if err := inNamespace(arNS, func() error {
		ifi, err := net.InterfaceByName("ha0")
		if err != nil {
			return err
		}
		listen, _, err = ndp.Listen(ifi, ndp.LinkLocal)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer listen.Close()

	proxy, err := openNeighborProxy("eth0", haNS, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	la, err := newLinkAddress("eth0", addr, haNS, proxy, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	// A link that just came up: its link-local address, the source of the
	// announcement, must have finished its own DAD.
	waitLinkLocal(t, la)
	if err := la.Claim(); err != nil {
		t.Fatal(err)
	}
	if f, ok := linkAddrFlags(t, la, addr); !ok || f&unix.IFA_F_TENTATIVE != 0 || f&unix.IFA_F_NODAD == 0 {
		t.Fatalf("after claim: present %v, flags %#x (want NODAD, not tentative)", ok, f)
	}
	if err := listen.SetReadDeadline(time.Now().Add(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for {
		m, _, from, err := listen.ReadFrom()
		if err != nil {
			t.Fatalf("no Neighbor Advertisement for %s on the home link: %v", addr, err)
		}
		if na, ok := m.(*ndp.NeighborAdvertisement); ok && na.TargetAddress == addr {
			if !na.Override || na.Solicited {
				t.Fatalf("advertisement from %s: override %v solicited %v", from, na.Override, na.Solicited)
			}
			break
		}
	}
	if err := la.Yield(); err != nil {
		t.Fatal(err)
	}
	if _, ok := linkAddrFlags(t, la, addr); ok {
		t.Fatal("address still on the link after yield")
	}
	if err := la.Yield(); err != nil {
		t.Fatalf("second yield: %v", err)
	}
}

func linkAddrFlags(t *testing.T, la *linkAddress, addr netip.Addr) (int, bool) {
	t.Helper()
	link, err := la.h.LinkByName(la.ifn)
	if err != nil {
		t.Fatal(err)
	}
	as, err := la.h.AddrList(link, netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == addr {
			return a.Flags, true
		}
	}
	return 0, false
}

func waitLinkLocal(t *testing.T, la *linkAddress) {
	t.Helper()
	link, err := la.h.LinkByName(la.ifn)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		as, err := la.h.AddrList(link, netlink.FAMILY_V6)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if a.IP.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0 {
				return
			}
		}
	}
	t.Fatal("no usable link-local address on the home link after 5 s")
}
