package mn

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"monami/internal/binding"
	"monami/internal/dataplane"
	"monami/internal/transport"
	"monami/wire"
)

var haIP2 = netip.MustParseAddr("2001:db8:1::12")

// hasSignal builds a Home Agent Switch as a draining home agent sends it
// (internal/role/ha/drain.go): to the care-of address, the home address in
// a type 2 routing header, signed like a Binding Acknowledgement.
func hasSignal(t *testing.T, from netip.Addr, key []byte, spi uint32, listed ...netip.Addr) transport.Signal {
	t.Helper()
	msg := wire.HomeAgentSwitch{HomeAgentAddresses: listed}
	var mh []byte
	var err error
	if key != nil {
		mh, err = wire.NewAuthenticator(key).AppendMessage(nil, msg, spi, coa1, hoa, from, hoa)
	} else {
		mh, err = wire.AppendMessage(nil, msg, from, hoa)
	}
	if err != nil {
		t.Fatal(err)
	}
	return transport.Signal{Via: transport.ViaMH, Src: from, Dst: coa1, Ext: transport.ExtRH2, HomeAddress: hoa, MH: mh}
}

// RFC 5142 section 6 with RFC 4285: a switch that does not verify, or does
// not come from the registered home agent, is ignored with a log line
// naming the reason; a verified one registers at the listed home agent,
// and once it accepted, deregisters from the old one and moves the reverse
// tunnel.
func TestHomeAgentSwitch(t *testing.T) {
	m, dp, sink := pathNode(t)
	rec := newRecorder(t)
	m.log = slog.New(rec)
	h := m.homes[0]
	h.auth, h.spi = wire.NewAuthenticator(testKey), 300
	for _, f := range m.ifs {
		f.serves[hoa] = true
	}
	n := len(sink.sent)
	for _, c := range []struct {
		name, msg, reason string
		sig               transport.Signal
	}{
		{"unsigned", "home agent switch ignored: not authenticated", "no authentication option", hasSignal(t, haIP, nil, 0, haIP2)},
		{"wrong key", "home agent switch ignored: not authenticated", "authenticat", hasSignal(t, haIP, []byte("another key 0123"), 300, haIP2)},
		{"wrong SPI", "home agent switch ignored: not authenticated", "SPI is not 300", hasSignal(t, haIP, testKey, 301, haIP2)},
		{"tampered", "home agent switch ignored: not authenticated", "authenticat", tamperLast(hasSignal(t, haIP, testKey, 300, haIP2))},
		{"stranger", "home agent switch ignored: not from the registered home agent of this home address", "",
			hasSignal(t, netip.MustParseAddr("2001:db8:66::1"), testKey, 300, haIP2)},
	} {
		at := m.now()
		m.receive(received{sig: c.sig, at: at})
		lr, ok := rec.find(at, c.msg)
		if !ok || (c.reason != "" && !strings.Contains(lr.attrs["err"], c.reason)) {
			t.Errorf("%s: no log %q with reason %q (got %v)", c.name, c.msg, c.reason, lr.attrs)
		}
		if len(sink.sent) != n || h.ha != haIP || h.sw != nil {
			t.Fatalf("%s: the switch was acted on", c.name)
		}
	}

	// Verified: a Binding Update for both care-of addresses to haIP2.
	m.receive(received{sig: hasSignal(t, haIP, testKey, 300, haIP, haIP2), at: m.now()})
	if len(sink.sent) != n+1 || sink.sent[n].Dst != haIP2 {
		t.Fatalf("no Binding Update to the new home agent (%d sent)", len(sink.sent)-n)
	}
	if h.ha != haIP || h.next != haIP2 {
		t.Fatalf("before the new home agent answers: ha %v next %v", h.ha, h.next)
	}
	if tun := dp.routes[dataplane.Selector{Dst: defaultRoute, Src: netip.PrefixFrom(hoa, 128)}]; tun.Remote != haIP {
		t.Fatalf("reverse tunnel to %v before the new registration is accepted, want the old home agent", tun.Remote)
	}
	// A repeat while switching changes nothing.
	m.receive(received{sig: hasSignal(t, haIP, testKey, 300, haIP2), at: m.now()})
	if len(sink.sent) != n+1 {
		t.Fatal("a repeated switch sent another Binding Update")
	}
	// The new home agent accepts: deregistration at the old one.
	bu := lastBU(t, sink)
	m.do(m.bul.HandleBA(m.now(), &binding.BindingAck{HA: haIP2, HoA: hoa, Sequence: bu.Sequence, Lifetime: 15,
		BIDs: []binding.BIDStatus{{BID: 1}, {BID: 2}}}))
	m.pump(m.now(), false)
	if h.ha != haIP2 || h.prev != haIP || h.sw != nil {
		t.Fatalf("after acceptance: ha %v prev %v", h.ha, h.prev)
	}
	last := sink.sent[len(sink.sent)-1]
	if last.Dst != haIP || wire.MHType(last.MH[2]) != wire.MHBindingUpdate || last.MH[10]|last.MH[11] != 0 {
		t.Fatalf("no deregistration to the old home agent: to %v % x", last.Dst, last.MH[:12])
	}
	if tun := dp.routes[dataplane.Selector{Dst: defaultRoute, Src: netip.PrefixFrom(hoa, 128)}]; tun.Remote != haIP2 {
		t.Fatalf("reverse tunnel to %v after the switch, want %v", tun.Remote, haIP2)
	}
	dereg := lastBU(t, sink)
	m.do(m.bul.HandleBA(m.now(), &binding.BindingAck{HA: haIP, HoA: hoa, Sequence: dereg.Sequence, BIDs: []binding.BIDStatus{{BID: 1}, {BID: 2}}}))
	if h.prev.IsValid() {
		t.Fatalf("the old home agent is still accepted after its deregistration: prev %v", h.prev)
	}
	for _, e := range m.bul.Entries() {
		if e.HA != haIP2 || e.State != binding.StateRegistered {
			t.Errorf("binding update list entry %+v", e)
		}
	}
	if _, ok := rec.find(m.now().Add(-time.Minute), "home agent switched"); !ok {
		t.Error("no log of the completed switch")
	}
}

// tamperLast flips a bit of the authenticator.
func tamperLast(s transport.Signal) transport.Signal {
	s.MH = append([]byte(nil), s.MH...)
	s.MH[len(s.MH)-1] ^= 1
	return s
}

// A listed home agent that refuses the registration (here: another key,
// status 135) is skipped for the next one; with none left the mobile node
// stays with its home agent, whose binding was never given up.
func TestHomeAgentSwitchRefusedStays(t *testing.T) {
	m, dp, sink := pathNode(t)
	h := m.homes[0]
	for _, f := range m.ifs {
		f.serves[hoa] = true
	}
	haIP3 := netip.MustParseAddr("2001:db8:1::13")
	m.receive(received{sig: hasSignal(t, haIP, nil, 0, haIP2, haIP3), at: m.now()}) // security.insecure
	for _, want := range []netip.Addr{haIP2, haIP3} {
		last := sink.sent[len(sink.sent)-1]
		if last.Dst != want || h.next != want {
			t.Fatalf("registering with %v (next %v), want %v", last.Dst, h.next, want)
		}
		bu := lastBU(t, sink)
		m.do(m.bul.HandleBA(m.now(), &binding.BindingAck{HA: want, HoA: hoa, Sequence: bu.Sequence,
			Status: wire.StatusMIPv6AuthFail}))
		m.pump(m.now(), false)
	}
	if h.ha != haIP || h.next.IsValid() || h.sw != nil {
		t.Fatalf("after every listed home agent refused: ha %v next %v sw %v", h.ha, h.next, h.sw)
	}
	if !m.ifs[0].registered[hoa] {
		t.Fatal("the binding at the current home agent was given up")
	}
	if tun := dp.routes[dataplane.Selector{Dst: defaultRoute, Src: netip.PrefixFrom(hoa, 128)}]; tun.Remote != haIP {
		t.Fatalf("reverse tunnel to %v, want the current home agent", tun.Remote)
	}
	for _, e := range m.bul.Entries() {
		if e.HA != haIP {
			t.Errorf("entry left at a refusing home agent: %+v", e)
		}
	}
}
