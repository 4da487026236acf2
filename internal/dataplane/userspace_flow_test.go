package dataplane

import (
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"monami/internal/forwarding"
	"monami/wire"
)

var (
	flowSrc = netip.MustParseAddr("2001:db8:a::1")
	flowDst = netip.MustParseAddr("2001:db8:b::1")
	tunA    = Tunnel{Local: netip.MustParseAddr("2001:db8:1::1"), Remote: netip.MustParseAddr("2001:db8:1::2")}
	tunB    = Tunnel{Local: netip.MustParseAddr("2001:db8:2::1"), Remote: netip.MustParseAddr("2001:db8:2::2")}
	tunC    = Tunnel{Local: netip.MustParseAddr("2001:db8:3::1"), Remote: netip.MustParseAddr("2001:db8:3::2")}
)

// fakeRoute is a userRoute with paths but no sockets: what pick reads.
func fakeRoute(r Route) *userRoute {
	ur := &userRoute{r: r}
	for _, p := range r.PathList() {
		ur.paths = append(ur.paths, &userPath{tun: p.Tunnel, id: pathID(p.Tunnel), weight: p.weight()})
	}
	return ur
}

func dport(p uint16) forwarding.Match { return forwarding.Match{DstPort: forwarding.Exact(p)} }

// TestParentPick: a packet takes the first flow route that matches in
// routeBefore order (Order, then specificity), else the zero-Flow route;
// with neither it has no route. A parent without flow routes never
// parses.
func TestParentPick(t *testing.T) {
	sel := Selector{Dst: netip.MustParsePrefix("2001:db8:b::/64")}
	mk := func(m forwarding.Match, order uint32, tun Tunnel) *userRoute {
		s := sel
		s.Flow = m
		return fakeRoute(Route{Selector: s, Tunnel: tun, Order: order})
	}
	web := mk(dport(443), 10, tunA)
	udpAny := mk(forwarding.Match{NextHeader: forwarding.Exact[uint8](17)}, 10, tunB)
	dns := mk(forwarding.Match{NextHeader: forwarding.Exact[uint8](17), DstPort: forwarding.Exact[uint16](53)}, 10, tunC)
	early := mk(dport(8080), 1, tunC)
	rest := mk(forwarding.Match{}, 10, tunA)

	p := newParent(sel, sorted(rest, udpAny, web, dns, early))
	for _, tc := range []struct {
		dport uint16
		want  *userRoute
	}{
		{53, dns},      // more specific than udpAny at the same Order
		{443, web},     // a UDP packet to 443: web pins 17 bits, udpAny 9
		{5000, udpAny}, // no port rule, UDP
		{8080, early},  // lower Order first
	} {
		r, _, ok := p.pick(buildUDP6(flowSrc, flowDst, 40000, tc.dport, nil), testShares)
		if !ok || r != tc.want {
			t.Errorf("dport %d: route %v, want %v", tc.dport, sel0(r), sel0(tc.want))
		}
	}
	// ICMPv6 (no ports, not UDP) falls to the zero-Flow route.
	icmp := buildUDP6(flowSrc, flowDst, 1, 2, nil)
	icmp[6] = 58
	if r, _, _ := p.pick(icmp, testShares); r != rest {
		t.Errorf("ICMPv6: route %v, want the zero-Flow route", sel0(r))
	}
	// Without a zero-Flow route nothing catches it.
	p = newParent(sel, sorted(udpAny, web))
	if r, _, ok := p.pick(icmp, testShares); !ok || r != nil {
		t.Errorf("ICMPv6 without a zero-Flow route: %v, want none", sel0(r))
	}
	// A malformed packet is reported, not routed.
	if _, _, ok := p.pick(buildUDP6(flowSrc, flowDst, 1, 2, nil)[:44], testShares); ok {
		t.Error("truncated UDP header accepted")
	}
	// One plain route: no classification, even of garbage.
	p = newParent(sel, []*userRoute{rest})
	if r, _, ok := p.pick([]byte{0x60}, testShares); p.classify || !ok || r != rest {
		t.Errorf("plain parent: classify %v, route %v", p.classify, sel0(r))
	}
}

// sorted puts routes in routeBefore order as AddRoute does, one by one.
func sorted(rs ...*userRoute) []*userRoute {
	var out []*userRoute
	for _, r := range rs {
		out = insertRoute(out, r)
	}
	return out
}

func sel0(r *userRoute) string {
	if r == nil {
		return "none"
	}
	return r.sel().String()
}

// TestParentPickIndexed: past linearRoutes the port index and the flow
// cache must give exactly what trying every route in order gives, also
// after the cache has seen other flows in the same slots.
func TestParentPickIndexed(t *testing.T) {
	sel := Selector{Dst: netip.MustParsePrefix("2001:db8:b::/64")}
	rng := rand.New(rand.NewPCG(1, 2))
	var rs []*userRoute
	for i := range 300 {
		m := forwarding.Match{NextHeader: forwarding.Exact[uint8](17)}
		switch i % 4 {
		case 0:
			m.DstPort = forwarding.Exact(uint16(1000 + i))
		case 1:
			lo := uint16(rng.IntN(60000))
			m.DstPort = forwarding.Between(lo, lo+uint16(rng.IntN(5000)))
		case 2:
			m.SrcPort = forwarding.Exact(uint16(2000 + i))
		case 3:
			m.Src = forwarding.AddrExact(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0xa, 15: byte(i)}))
		}
		s := sel
		s.Flow = m
		rs = append(rs, fakeRoute(Route{Selector: s, Tunnel: tunA, Order: uint32(rng.IntN(3))}))
	}
	p := newParent(sel, sorted(rs...))
	if p.idx == nil || p.idx.Segments() == 0 {
		t.Fatal("no port index past linearRoutes")
	}
	for i := range 20000 {
		src := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0xa, 15: byte(rng.IntN(300))})
		pkt := buildUDP6(src, flowDst, uint16(2000+rng.IntN(400)), uint16(rng.IntN(65536)), nil)
		if i%3 == 0 {
			pkt = buildUDP6(src, flowDst, 7, uint16(1000+rng.IntN(400)), nil)
		}
		got, _, _ := p.pick(pkt, testShares)
		var want *userRoute
		for _, r := range p.routes {
			k := mustKey(t, pkt)
			if r.r.Flow.Matches(&k) {
				want = r
				break
			}
		}
		if got != want {
			t.Fatalf("packet %d: indexed %v, linear %v", i, sel0(got), sel0(want))
		}
	}
}

var testShares = newShareFlows(time.Now)

// TestSharePath: ModeShare places new flows round robin by weight, keeps
// each flow on its path, moves only a removed path's flows, and brings
// them back when the path returns.
func TestSharePath(t *testing.T) {
	sel := Selector{Dst: netip.MustParsePrefix("2001:db8:b::/64")}
	shares := newShareFlows(time.Now)
	abc := Route{Selector: sel, Mode: ModeShare, Paths: []Path{{Tunnel: tunA, Weight: 2}, {Tunnel: tunB, Weight: 1}, {Tunnel: tunC, Weight: 1}}}
	p := newParent(sel, []*userRoute{fakeRoute(abc)})
	if !p.classify {
		t.Fatal("a share route must classify")
	}
	count := [3]int{}
	placed := map[uint16]int{}
	for sp := range uint16(4000) {
		pkt := buildUDP6(flowSrc, flowDst, 10000+sp, 80, nil)
		_, i, _ := p.pick(pkt, shares)
		for range 3 { // every packet of the flow
			if _, j, _ := p.pick(pkt, shares); j != i {
				t.Fatalf("flow %d moved from path %d to %d", sp, i, j)
			}
		}
		count[i]++
		placed[sp] = i
	}
	if count != [3]int{2000, 1000, 1000} {
		t.Errorf("weights 2:1:1 over 4000 flows gave %v, want exactly 2000 1000 1000", count)
	}
	// Path B gone: the flows of A and C stay where they were.
	ac := Route{Selector: sel, Mode: ModeShare, Paths: []Path{{Tunnel: tunA, Weight: 2}, {Tunnel: tunC, Weight: 1}}}
	p2 := newParent(sel, []*userRoute{fakeRoute(ac)})
	for sp, i := range placed {
		_, j, _ := p2.pick(buildUDP6(flowSrc, flowDst, 10000+sp, 80, nil), shares)
		if i == 0 && j != 0 || i == 2 && j != 1 {
			t.Fatalf("flow %d moved off a remaining path (%d -> %d)", sp, i, j)
		}
	}
	// B back: its flows return to it.
	p3 := newParent(sel, []*userRoute{fakeRoute(abc)})
	for sp, i := range placed {
		if _, j, _ := p3.pick(buildUDP6(flowSrc, flowDst, 10000+sp, 80, nil), shares); j != i {
			t.Fatalf("flow %d on path %d after B returned, was on %d", sp, j, i)
		}
	}
}

// TestShareFlowsForget: a flow idle for two generations is forgotten, and
// a generation holds at most shareGenerationMax flows.
func TestShareFlowsForget(t *testing.T) {
	now := time.Unix(0, 0)
	s := newShareFlows(func() time.Time { return now })
	r := fakeRoute(Route{Mode: ModeShare, Paths: []Path{{Tunnel: tunA}, {Tunnel: tunB}}})
	k := wire.FlowKey{Src: flowSrc, Dst: flowDst, NextHeader: 17, SrcPort: 1, DstPort: 2}
	first := s.path(r, &k, 0)
	now = now.Add(shareGeneration)
	k2 := k
	k2.SrcPort = 3
	s.path(r, &k2, 0) // a new generation
	if got := s.path(r, &k, 0); got != first {
		t.Errorf("flow seen one generation ago moved from %d to %d", first, got)
	}
	// Two generations begin (new flows start them) without k.
	for port := range uint16(2) {
		now = now.Add(shareGeneration)
		k2.SrcPort = 100 + port
		s.path(r, &k2, 0)
	}
	if _, ok := s.cur[flowOf(&k)]; ok || s.old[flowOf(&k)] != 0 {
		t.Error("flow idle for two generations still remembered")
	}
	for i := range shareGenerationMax + 10 {
		k2.SrcPort = uint16(i)
		k2.DstPort = uint16(i >> 16)
		s.path(r, &k2, 0)
	}
	if len(s.cur) > shareGenerationMax || len(s.old) > shareGenerationMax {
		t.Errorf("generations of %d and %d flows, want at most %d", len(s.cur), len(s.old), shareGenerationMax)
	}
}

// TestDedupTable: a copy from another tunnel within the window is a
// duplicate; a repeat on the same tunnel is not, nor a copy after the
// window; the table stays correct when many keys share buckets.
func TestDedupTable(t *testing.T) {
	tab := newDedupTable()
	const win = 1000
	if tab.seen(42, 1, 0, win) {
		t.Fatal("first copy dropped")
	}
	if !tab.seen(42, 2, 10, win) {
		t.Error("copy from another tunnel within the window passed")
	}
	if tab.seen(42, 1, 20, win) {
		t.Error("same-tunnel repeat dropped")
	}
	if tab.seen(42, 2, 20+win, win) {
		t.Error("copy after the window dropped")
	}
	// Wrapping time: the difference is what counts.
	if tab.seen(43, 1, ^uint32(0)-5, win) || !tab.seen(43, 2, 5, win) {
		t.Error("window across the clock's wrap")
	}
	// Keys in one bucket: the two most recent are remembered.
	n := uint64(len(tab.buckets))
	a, b, c := uint64(7), 7+n, 7+2*n
	tab.seen(a, 1, 100, win)
	tab.seen(b, 1, 101, win)
	tab.seen(c, 1, 102, win) // evicts a, the oldest
	if !tab.seen(b, 2, 103, win) || !tab.seen(c, 2, 103, win) {
		t.Error("recent keys of a full bucket forgotten")
	}
	if tab.seen(a, 2, 103, win) {
		t.Error("evicted key still remembered")
	}
}

// TestDedupSet: only packets the Match catches are looked at; the key
// covers the first 16 octets after the header (a UDP sequence number).
func TestDedupSet(t *testing.T) {
	d := Dedup{Match: forwarding.Match{DstPort: forwarding.Exact[uint16](9000)}}
	r := &dedupRule{d: d, window: 1e6, dups: new(atomic.Uint64)}
	s := &dedupSet{rules: []*dedupRule{r}, tab: newDedupTable()}
	seq := func(port uint16, n byte) []byte { return buildUDP6(flowSrc, flowDst, 5, port, []byte{0, 0, 0, n, 'x'}) }
	if s.duplicate(seq(9000, 1), 1, 0) || !s.duplicate(seq(9000, 1), 2, 1) {
		t.Error("bicast copy not caught")
	}
	if s.duplicate(seq(9000, 2), 2, 2) {
		t.Error("next sequence number taken for a copy")
	}
	if s.duplicate(seq(9001, 1), 1, 3) || s.duplicate(seq(9001, 1), 2, 4) {
		t.Error("a packet outside the Match was deduplicated")
	}
	if r.dups.Load() != 1 {
		t.Errorf("duplicates %d, want 1", r.dups.Load())
	}
}

func mustKey(t testing.TB, pkt []byte) forwarding.FlowKey {
	k, err := wire.ParseFlowKey(pkt)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// BenchmarkClassify: the send loop's route choice per packet, with one
// plain route (no parse: today's cost), with 1,000 port rules on the
// parent (flow cache hits; misses: every packet a new flow).
func BenchmarkClassify(b *testing.B) {
	sel := Selector{Dst: netip.MustParsePrefix("2001:db8:b::/64")}
	plain := newParent(sel, []*userRoute{fakeRoute(Route{Selector: sel, Tunnel: tunA})})
	var rs []*userRoute
	for i := range 1000 {
		s := sel
		s.Flow = forwarding.Match{NextHeader: forwarding.Exact[uint8](17), DstPort: forwarding.Exact(uint16(10000 + i))}
		rs = append(rs, fakeRoute(Route{Selector: s, Tunnel: tunB}))
	}
	rs = append(rs, fakeRoute(Route{Selector: sel, Tunnel: tunA}))
	rules := newParent(sel, sorted(rs...))
	flows := make([][]byte, 64)
	for i := range flows {
		flows[i] = buildUDP6(flowSrc, flowDst, uint16(40000+i), uint16(10000+i*15), make([]byte, 1200))
	}
	run := func(name string, p *userParent, next func(i int) []byte) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if r, _, _ := p.pick(next(i), testShares); r == nil {
					b.Fatal("no route")
				}
				i++
			}
		})
	}
	run("plain", plain, func(i int) []byte { return flows[i&63] })
	run("rules=1000/cached", rules, func(i int) []byte { return flows[i&63] })
	miss := buildUDP6(flowSrc, flowDst, 0, 10500, make([]byte, 1200))
	run("rules=1000/new-flow", rules, func(i int) []byte {
		miss[ipv6HeaderLen], miss[ipv6HeaderLen+1] = byte(i>>8), byte(i) // source port
		return miss
	})
}

// BenchmarkDedup: the receive path's cost per packet with a Dedup
// installed: a first copy, and its duplicate from the other tunnel.
func BenchmarkDedup(b *testing.B) {
	d := Dedup{Match: forwarding.Match{NextHeader: forwarding.Exact[uint8](17)}}
	s := &dedupSet{rules: []*dedupRule{{d: d, window: uint32(DefaultDedupWindow / time.Microsecond), dups: new(atomic.Uint64)}},
		tab: newDedupTable()}
	pkt := buildUDP6(flowSrc, flowDst, 5, 9000, make([]byte, 1200))
	b.ReportAllocs()
	var seq uint32
	for b.Loop() {
		seq++
		pkt[ipv6HeaderLen+8], pkt[ipv6HeaderLen+9], pkt[ipv6HeaderLen+10] = byte(seq>>16), byte(seq>>8), byte(seq)
		now := seq
		if s.duplicate(pkt, 1, now) || !s.duplicate(pkt, 2, now) {
			b.Fatal("dedup")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/packet")
	b.ReportMetric(float64(len(s.tab.buckets)*int(unsafe.Sizeof(s.tab.buckets[0]))+int(unsafe.Sizeof(*s.tab))-int(unsafe.Sizeof(s.tab.buckets))), "table-bytes")
}
