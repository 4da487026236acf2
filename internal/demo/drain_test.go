package demo

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"monami/internal/testenv"
)

// TestDrainStopRemovesEverything: after an upgrade restart (SIGTERM, so the
// new home agent adopted its predecessor's data plane), a drain stop
// (SIGINT) must leave nothing of either in the home agent's namespace: no
// tunnel, decapsulation or home prefix route, no route into a BPF program,
// no veth, no nftables table (lab "uqdrn").
func TestDrainStopRemovesEverything(t *testing.T) {
	testenv.RequireRoot(t)
	s := newScenario(t, "uqdrn", Options{})
	if err := s.writeConfigs(); err != nil {
		t.Fatal(err)
	}
	s.start(t, "ha", "mn")
	ctx := context.Background()
	if err := s.waitBindings(ctx, 2, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	haNode := s.lab.MustNode("ha")
	if left := dataPlaneLeftovers(t, haNode.Netlink, haNode.Do); len(left) == 0 {
		t.Fatal("the running home agent's data plane is not visible to the check")
	}
	if _, _, err := s.restartHA(ctx, syscall.SIGTERM, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.waitBindings(ctx, 2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(s.daemons, func(c *execCmd) bool { return c.role == "ha" })
	if i < 0 {
		t.Fatal("no home agent running")
	}
	ha := s.daemons[i]
	if err := ha.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	_ = ha.Wait()
	s.daemons = slices.Delete(s.daemons, i, i+1)
	if left := dataPlaneLeftovers(t, haNode.Netlink, haNode.Do); len(left) > 0 {
		t.Errorf("after a drain stop the home agent's namespace still holds:\n  %s", strings.Join(left, "\n  "))
		t.Logf("-- ha.log --\n%s", s.logTail("ha"))
	}
}

// dataPlaneLeftovers lists what a home agent of the demo installs (default
// names: veths monami0*, nftables table monami; the internal prefix; the
// home prefix's unreachable route) and what any data plane would (a
// route with a lightweight tunnel: BPF, seg6, seg6local).
func dataPlaneLeftovers(t *testing.T, handle func() (*netlink.Handle, error), do func(func() error) error) []string {
	t.Helper()
	h, err := handle()
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "monami0") {
			left = append(left, "interface "+l.Attrs().Name)
		}
	}
	routes, err := h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	internal := netip.MustParsePrefix("fd6d:6f6e:616d:dec0::/64")
	home := netip.MustParsePrefix(homePrefix)
	for _, r := range routes {
		var dst netip.Prefix
		if r.Dst != nil {
			a, _ := netip.AddrFromSlice(r.Dst.IP)
			ones, _ := r.Dst.Mask.Size()
			dst = netip.PrefixFrom(a.Unmap(), ones)
		}
		switch {
		case r.Encap != nil:
			left = append(left, fmt.Sprintf("route with a lightweight tunnel (type %d) %s", r.Encap.Type(), r))
		case dst.IsValid() && dst.Bits() >= internal.Bits() && internal.Contains(dst.Addr()):
			left = append(left, "decapsulation route "+r.String())
		case r.Type == unix.RTN_UNREACHABLE && dst == home:
			left = append(left, "home prefix route "+r.String())
		}
	}
	err = do(func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		tables, err := c.ListTables()
		if err != nil {
			return err
		}
		for _, tb := range tables {
			if tb.Name == "monami" && tb.Family == nftables.TableFamilyIPv6 {
				left = append(left, "nftables table ip6 monami")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return left
}
