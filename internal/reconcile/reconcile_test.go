package reconcile

import (
	"errors"
	"net/netip"
	"testing"

	"monami/internal/dataplane"
	"monami/internal/dataplane/dptest"
	"monami/internal/forwarding"
)

var (
	ha   = netip.MustParseAddr("2001:db8:ffff::1")
	hoa1 = netip.MustParseAddr("2001:db8:1::1")
	hoa2 = netip.MustParseAddr("2001:db8:1::2")
	coaA = netip.MustParseAddr("2001:db8:a::1")
	coaB = netip.MustParseAddr("2001:db8:b::1")
)

func home(hoa, coa netip.Addr) Home {
	return Home{
		Routes:    []dataplane.Route{{Selector: dataplane.Selector{Dst: netip.PrefixFrom(hoa, 128)}, Tunnel: dataplane.Tunnel{Local: ha, Remote: coa}}},
		Endpoints: []dataplane.Endpoint{{Local: ha, Peer: coa, InnerSrc: []netip.Prefix{netip.PrefixFrom(hoa, 128)}}},
	}
}

func TestSetSharesEndpointsAndRemoves(t *testing.T) {
	f := dptest.New()
	r := New(f)
	if err := r.Set(map[netip.Addr]Home{hoa1: home(hoa1, coaA), hoa2: home(hoa2, coaA)}); err != nil {
		t.Fatal(err)
	}
	ep := f.Endpoints[dptest.EndpointKey{Local: ha, Peer: coaA}]
	if len(ep.InnerSrc) != 2 {
		t.Fatalf("shared endpoint accepts %v, want both home addresses", ep.InnerSrc)
	}
	// hoa1 moves to coaB: coaA keeps hoa2 only.
	if err := r.Set(map[netip.Addr]Home{hoa1: home(hoa1, coaB)}); err != nil {
		t.Fatal(err)
	}
	if ep := f.Endpoints[dptest.EndpointKey{Local: ha, Peer: coaA}]; len(ep.InnerSrc) != 1 || ep.InnerSrc[0].Addr() != hoa2 {
		t.Fatalf("after the move coaA accepts %v, want hoa2 only", ep.InnerSrc)
	}
	if rt, _ := f.Route(dataplane.Selector{Dst: netip.PrefixFrom(hoa1, 128)}); rt.Tunnel.Remote != coaB {
		t.Fatalf("hoa1 tunnelled to %v, want %v", rt.Tunnel.Remote, coaB)
	}
	// Nothing changes: nothing is sent.
	ops := f.Ops
	if err := r.Set(map[netip.Addr]Home{hoa1: home(hoa1, coaB)}); err != nil || f.Ops != ops {
		t.Fatalf("unchanged Set sent %d ops (err %v)", f.Ops-ops, err)
	}
	if err := r.Set(map[netip.Addr]Home{hoa1: {}, hoa2: {}}); err != nil {
		t.Fatal(err)
	}
	if a, b, c := f.Len(); a+b+c != 0 || len(r.Homes()) != 0 {
		t.Fatalf("after removing both homes: %d routes, %d endpoints, %d dedups, homes %v", a, b, c, r.Homes())
	}
}

func TestFailedSetIsRetried(t *testing.T) {
	f := dptest.New()
	r := New(f)
	boom := errors.New("ENOMEM")
	f.Fail = func(o dataplane.Op) error {
		if o.Kind == dataplane.OpAddRoute {
			return boom
		}
		return nil
	}
	if err := r.Set(map[netip.Addr]Home{hoa1: home(hoa1, coaA)}); !errors.Is(err, boom) {
		t.Fatalf("Set = %v, want the data plane's error", err)
	}
	f.Fail = nil
	// The same desired state again: the route that failed is sent again.
	if err := r.Set(map[netip.Addr]Home{hoa1: home(hoa1, coaA)}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Route(dataplane.Selector{Dst: netip.PrefixFrom(hoa1, 128)}); !ok {
		t.Fatal("the route that failed was not retried")
	}
}

type mapper struct {
	coas map[forwarding.PathID]netip.Addr
}

func (m mapper) Parent(hoa netip.Addr) dataplane.Selector {
	return dataplane.Selector{Dst: netip.PrefixFrom(hoa, 128)}
}

func (m mapper) Tunnel(_ netip.Addr, p *forwarding.Path) (dataplane.Tunnel, bool) {
	c, ok := m.coas[p.ID]
	return dataplane.Tunnel{Local: ha, Remote: c}, ok
}

func (m mapper) Inbound(hoa netip.Addr, sel forwarding.Match) forwarding.Match {
	sel.Src = forwarding.AddrExact(hoa)
	return sel
}

func TestRoutesFromEntries(t *testing.T) {
	m := mapper{coas: map[forwarding.PathID]netip.Addr{1: coaA, 2: coaB}}
	voice := forwarding.Match{NextHeader: forwarding.Exact[uint8](17), DstPort: forwarding.Exact[uint16](5060)}
	paths := []forwarding.Path{{ID: 1, Usable: false, Weight: 1}, {ID: 2, Usable: true, Weight: 1}}
	both := []forwarding.Path{{ID: 1, Usable: true, Weight: 3}, {ID: 2, Usable: true, Weight: 1}}
	entries := []*forwarding.Entry{
		{HoA: hoa1, Selector: voice, Origin: forwarding.FromFlowBinding, Priority: 5, Mode: forwarding.Replicate, Paths: both},
		{HoA: hoa1, Selector: forwarding.Match{NextHeader: forwarding.Exact[uint8](6)}, Mode: forwarding.Share, Paths: both},
		{HoA: hoa1, Selector: forwarding.Match{NextHeader: forwarding.Exact[uint8](1)}, Mode: forwarding.Single,
			Paths: []forwarding.Path{{ID: 1}}}, // nothing usable: left out
		{HoA: hoa1, Origin: forwarding.FromDefault, Mode: forwarding.Single, Paths: paths},
	}
	routes, dedups := Routes(hoa1, entries, m)
	if len(routes) != 3 {
		t.Fatalf("got %d routes, want 3 (the entry with no usable path left out): %+v", len(routes), routes)
	}
	if r := routes[0]; r.Mode != dataplane.ModeReplicate || len(r.Paths) != 2 || r.Order != 1<<16|5 || r.Flow != voice {
		t.Errorf("bicast entry became %+v", r)
	}
	if r := routes[1]; r.Mode != dataplane.ModeShare || r.Paths[0].Weight != 3 {
		t.Errorf("share entry became %+v", r)
	}
	if r := routes[2]; !r.Plain() || r.Tunnel.Remote != coaB {
		t.Errorf("default entry became %+v, want a plain route to the usable binding", r)
	}
	if len(dedups) != 1 || dedups[0].Match.SrcPort != voice.DstPort || dedups[0].Match.Src != forwarding.AddrExact(hoa1) {
		t.Errorf("dedups %+v, want the mirrored voice selector from the home address", dedups)
	}
}
