package mn

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"monami/internal/binding"
	"monami/internal/config"
	"monami/internal/dataplane"
	"monami/internal/transport"
)

// Draft-ietf-monami6-mipv6-analysis section 6.3.1 on a fake data plane:
// hoa2 goes via hoa. Nothing is asked for hoa2 until hoa is registered;
// then its Binding Update leaves from hoa (no interface pinned: the
// kernel routes it into hoa's reverse tunnel), its reverse tunnel runs
// from hoa to its own home agent, and the data plane accepts what that
// home agent tunnels to hoa. No access interface serves hoa2. When hoa
// loses its last binding, hoa2's binding through it is withdrawn.
func TestNestedHomeAddress(t *testing.T) {
	hoa2, ha2 := netip.MustParseAddr("2001:db8:2::10"), netip.MustParseAddr("2001:db8:2::1")
	cfg, err := config.ParseMobileNode("mn.yaml", []byte(`id: mn1@example.org
security: {insecure: true}
home_addresses:
  - {address: "`+hoa.String()+`", home_agent: "`+haIP.String()+`"}
  - {address: "`+hoa2.String()+`", home_agent: "`+ha2.String()+`", care_of: {via_home_address: "`+hoa.String()+`"}}
interfaces: [{name: wlan0, bid: 1, priority: 1}, {name: lte0, bid: 2, priority: 2}]
`))
	if err != nil {
		t.Fatal(err)
	}
	dp := &stubDP{routes: map[dataplane.Selector]dataplane.Tunnel{}, eps: map[netip.Addr]bool{}}
	sink := &sinkTransport{}
	m := &MobileNode{
		cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		now: time.Now, ns: netns.None(), dp: dp, tps: map[config.Transport]transport.Transport{config.TransportNative: sink},
		bul: binding.NewBindingUpdateList(binding.BULConfig{}), outstanding: map[groupKey]uint16{}, home: 7,
	}
	for _, h := range cfg.HomeAddresses {
		m.homes = append(m.homes, &homeRegistration{hoa: h.Addr(), ha: h.HomeAgentAddr(), careOf: h.CareOf})
	}
	for i, c := range []netip.Addr{coa1, coa2} {
		f := newAccessInterface(cfg.Interfaces[i])
		f.index, f.coa, f.usable[c] = 10+i, c, true
		m.ifs = append(m.ifs, f)
	}
	m.addNestedInterfaces()
	// mn.yaml's policy (here its default: every access interface by
	// preference) must not keep the nested home address off its one path.
	pol := cfg.Policy
	if _, err := m.setPolicy(&pol, nil); err != nil {
		t.Fatal(err)
	}
	if len(m.ifs) != 3 || m.ifs[2].cfg.BID != 3 || m.ifs[2].outer != m.homes[0] {
		t.Fatalf("nested interface: %+v", m.ifs[len(m.ifs)-1])
	}
	for _, f := range m.ifs[:2] {
		for _, h := range m.homes {
			m.bindCareOf(m.now(), h, f)
		}
	}
	m.pump(m.now(), false)
	for _, s := range sink.sent {
		if s.HomeAddress == hoa2 {
			t.Fatalf("hoa2 registered before hoa: %+v", s)
		}
	}
	bu := lastBU(t, sink)
	m.do(m.bul.HandleBA(m.now(), &binding.BindingAck{HA: haIP, HoA: hoa, Sequence: bu.Sequence, Lifetime: 15}))
	m.pump(m.now(), false)

	sig := sink.sent[len(sink.sent)-1]
	if sig.HomeAddress != hoa2 || sig.Src != hoa || sig.Dst != ha2 || sig.IfIndex != 0 {
		t.Fatalf("hoa2's Binding Update: from %v to %v, HAO %v, ifindex %d; want from %v to %v, HAO %v, ifindex 0",
			sig.Src, sig.Dst, sig.HomeAddress, sig.IfIndex, hoa, ha2, hoa2)
	}
	for _, e := range m.bul.Entries() {
		if e.HoA == hoa2 && (e.CoA != hoa || e.BID != 3) {
			t.Fatalf("hoa2 bound to %v BID %d", e.CoA, e.BID)
		}
	}
	m.do(m.bul.HandleBA(m.now(), &binding.BindingAck{HA: ha2, HoA: hoa2, Sequence: lastBU(t, sink).Sequence, Lifetime: 15}))
	inner := dp.routes[dataplane.Selector{Dst: defaultRoute, Src: netip.PrefixFrom(hoa2, 128)}]
	if inner.Local != hoa || inner.Remote != ha2 || inner.MTU != 1500-40-40 {
		t.Fatalf("hoa2's reverse tunnel %v MTU %d, want %v->%v MTU 1420 (two headers inside 1500)", inner, inner.MTU, hoa, ha2)
	}
	if outer := dp.routes[dataplane.Selector{Dst: defaultRoute, Src: netip.PrefixFrom(hoa, 128)}]; outer.Local != coa1 || outer.Remote != haIP {
		t.Fatalf("hoa's reverse tunnel %v, want %v->%v", outer, coa1, haIP)
	}
	if !dp.eps[hoa] {
		t.Fatalf("no decapsulation endpoint at %v (endpoints %v)", hoa, dp.eps)
	}
	for _, ep := range m.endpointsOf(m.homes[1]) {
		if ep.Local != hoa {
			t.Errorf("hoa2 accepts tunnels at %v; only its outer home address may serve it", ep.Local)
		}
	}
	for _, ep := range m.endpointsOf(m.homes[0]) {
		if ep.Local == hoa {
			t.Errorf("hoa accepts its own tunnel at itself")
		}
	}

	// hoa's bindings all fail: hoa2's binding through it is withdrawn.
	n := len(sink.sent)
	for _, f := range m.ifs[:2] {
		m.do([]binding.Action{{Kind: binding.BindingExpired, Binding: binding.CareOfBinding{HA: haIP, HoA: hoa, BID: f.cfg.BID, CoA: f.coa}}})
	}
	if m.ifs[2].coa.IsValid() {
		t.Fatal("nested care-of address still up with its home address unregistered")
	}
	if len(sink.sent) == n || sink.sent[len(sink.sent)-1].HomeAddress != hoa2 {
		t.Fatal("no deregistration of hoa2 when its outer home address went")
	}
}
