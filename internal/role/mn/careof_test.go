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
	"monami/wire"
)

// Draft-ietf-monami6-mipv6-analysis section 6.3.2: the care_of rule of
// mn.yaml binds new care-of addresses to the right home address. hoa takes
// only lte0's; hoa2, without a rule, takes both. The reverse tunnel of hoa
// uses lte0 although wlan0 has the better priority.
func TestCareOfRuleBindsToRightHomeAddress(t *testing.T) {
	hoa2 := netip.MustParseAddr("2001:db8:2::10")
	dp := &stubDP{routes: map[dataplane.Selector]dataplane.Tunnel{}, eps: map[netip.Addr]bool{}}
	m := &MobileNode{
		cfg: &config.MobileNode{ID: "mn1@example.org"}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		now: time.Now, ns: netns.None(), dp: dp, tps: map[config.Transport]transport.Transport{config.TransportNative: &sinkTransport{}},
		bul: binding.NewBindingUpdateList(binding.BULConfig{}),
		homes: []*homeRegistration{
			{hoa: hoa, ha: haIP, careOf: config.CareOfRule{Interfaces: []string{"lte0"}}},
			{hoa: hoa2, ha: haIP},
		},
		outstanding: map[groupKey]uint16{},
	}
	for i, c := range []struct {
		name string
		coa  netip.Addr
	}{{"wlan0", coa1}, {"lte0", coa2}} {
		f := newAccessInterface(config.InterfaceEntry{Name: c.name, BID: uint16(i + 1), Priority: uint8(i + 1), Transport: config.TransportNative})
		f.coa = c.coa
		m.ifs = append(m.ifs, f)
		for _, h := range m.homes {
			m.bindCareOf(m.now(), h, f)
		}
	}
	got := map[netip.Addr][]netip.Addr{}
	for _, e := range m.bul.Entries() {
		got[e.HoA] = append(got[e.HoA], e.CoA)
	}
	if len(got[hoa]) != 1 || got[hoa][0] != coa2 || len(got[hoa2]) != 2 {
		t.Fatalf("binding update list %v: want %v only %v, %v both", got, hoa, coa2, hoa2)
	}
	m.forward()
	for h, want := range map[netip.Addr]netip.Addr{hoa: coa2, hoa2: coa1} {
		if tun := dp.routes[dataplane.Selector{Dst: defaultRoute, Src: netip.PrefixFrom(h, 128)}]; tun.Local != want {
			t.Errorf("reverse tunnel of %v from %v, want %v", h, tun.Local, want)
		}
	}
	// wlan0's address changes to one the rule still refuses: nothing for hoa.
	m.ifs[0].coa = netip.MustParseAddr("2001:db8:a::11")
	m.bindCareOf(m.now(), m.homes[0], m.ifs[0])
	for _, e := range m.bul.Entries() {
		if e.HoA == hoa && e.BID == 1 {
			t.Fatalf("hoa got wlan0's new care-of address: %+v", e)
		}
	}
}

// RFC 6275 section 11.7.4: a Binding Refresh Request from the home agent
// gets a refreshing Binding Update at once; one from elsewhere gets none.
func TestBindingRefreshRequestRefreshes(t *testing.T) {
	m, _, sink := pathNode(t)
	// pathNode hands the BA to the list directly; receive would also
	// have closed the outstanding update.
	delete(m.outstanding, groupKey{haIP, hoa})
	brr := func(from netip.Addr) transport.Signal {
		mh, err := wire.Marshal(wire.BindingRefreshRequest{}, from, hoa)
		if err != nil {
			t.Fatal(err)
		}
		return transport.Signal{Via: transport.ViaMH, Src: from, Dst: coa1, Ext: transport.ExtRH2, HomeAddress: hoa, MH: mh}
	}
	n := len(sink.sent)
	m.receive(received{sig: brr(netip.MustParseAddr("2001:db8:66::1")), at: m.now()})
	if len(sink.sent) != n {
		t.Fatalf("a refresh request from a stranger was answered: %d BUs", len(sink.sent)-n)
	}
	m.receive(received{sig: brr(haIP), at: m.now()})
	if len(sink.sent) != n+1 {
		t.Fatalf("no Binding Update after the home agent's refresh request")
	}
	if mh := sink.sent[n].MH; wire.MHType(mh[2]) != wire.MHBindingUpdate || mh[10]|mh[11] == 0 {
		t.Fatalf("answer is not a refreshing Binding Update: % x", mh[:12])
	}
}
