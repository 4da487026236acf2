package ha

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"monami/internal/lab"
	"monami/internal/testenv"
)

// TestHomePrefixGuardAcrossUpgrade: an upgrade stop leaves the unreachable
// routes; the next start adopts those of its prefixes and removes the one
// of a prefix no longer configured; a drain removes the rest (lab "uqhp").
func TestHomePrefixGuardAcrossUpgrade(t *testing.T) {
	testenv.RequireRoot(t)
	topo := &lab.Topology{Name: "uqhp", Nodes: []lab.Node{{Name: "ha", Kind: lab.KindRouter}}}
	_ = lab.Teardown(topo.Name)
	l, err := lab.Up(context.Background(), topo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	node := l.MustNode("ha")
	ns, err := netns.GetFromPath(node.NetnsPath())
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p1, p2 := netip.MustParsePrefix("2001:db8:1::/64"), netip.MustParsePrefix("2001:db8:2::/64")
	owned := func() []netip.Prefix {
		h, err := node.Netlink()
		if err != nil {
			t.Fatal(err)
		}
		routes, err := h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		if err != nil {
			t.Fatal(err)
		}
		var out []netip.Prefix
		for _, r := range routes {
			if r.Type == unix.RTN_UNREACHABLE && r.Priority == unreachableMetric {
				a, _ := netip.AddrFromSlice(r.Dst.IP)
				ones, _ := r.Dst.Mask.Size()
				out = append(out, netip.PrefixFrom(a.Unmap(), ones))
			}
		}
		slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
		return out
	}
	g, err := guardHomePrefixes([]netip.Prefix{p1, p2}, ns, log)
	if err != nil {
		t.Fatal(err)
	}
	g.detach()
	if got := owned(); !slices.Equal(got, []netip.Prefix{p1, p2}) {
		t.Fatalf("after the upgrade stop: %v, want both", got)
	}
	g, err = guardHomePrefixes([]netip.Prefix{p1}, ns, log)
	if err != nil {
		t.Fatal(err)
	}
	if got := owned(); !slices.Equal(got, []netip.Prefix{p1}) {
		t.Errorf("after the start without %v: %v, want [%v]", p2, got, p1)
	}
	g.close()
	if got := owned(); len(got) != 0 {
		t.Errorf("after the drain: %v left", got)
	}
}
