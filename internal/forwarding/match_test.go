package forwarding

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"monami/wire"
)

func TestMatchKey(t *testing.T) {
	for _, tc := range []struct {
		m    Match
		want string
	}{
		{Match{}, "any"},
		{Match{Dst: PrefixRange(netip.MustParsePrefix("2001:db8:99::/48"))}.Canonical(), "ip6 dst=2001:db8:99::/48"},
		{Match{Src: AddrExact(cn), NextHeader: Exact[uint8](17), DstPort: Between[uint16](5060, 5061)}, "src=2001:db8:99::1 nh=17 dport=5060-5061"},
		{Match{Dst: AddrRange{From: netip.MustParseAddr("10.0.0.3"), To: netip.MustParseAddr("10.0.0.9")}, TrafficClass: Exact[uint8](184), SPI: Exact[uint32](7), FlowLabel: Between[uint32](1, 2)},
			"dst=10.0.0.3-10.0.0.9 tc=184 fl=1-2 spi=7"},
	} {
		if got := tc.m.Key(); got != tc.want {
			t.Errorf("Key() = %q, want %q", got, tc.want)
		}
	}
}

func TestMatchMatches(t *testing.T) {
	voice := Match{NextHeader: Exact[uint8](17), DstPort: Between[uint16](5060, 5061)}
	if !voice.Matches(udpKey(1000, 5061)) || voice.Matches(udpKey(1000, 5062)) {
		t.Error("port range")
	}
	k := udpKey(1000, 5060)
	k.HasPorts = false
	if voice.Matches(k) {
		t.Error("a selector with ports matched a packet without ports (RFC 6088 section 3)")
	}
	v4 := Match{Family: 4}
	if v4.Matches(udpKey(1, 2)) {
		t.Error("IPv4-only selector matched an IPv6 packet")
	}
	net := Match{Src: PrefixRange(netip.MustParsePrefix("2001:db8:99::/48"))}
	if !net.Matches(udpKey(1, 2)) || net.Matches(&FlowKey{Src: hoa, Dst: cn}) {
		t.Error("source prefix")
	}
}

func TestMatchSpecificity(t *testing.T) {
	p48 := Match{Dst: PrefixRange(netip.MustParsePrefix("2001:db8:99::/48"))}
	p64 := Match{Dst: PrefixRange(netip.MustParsePrefix("2001:db8:99::/64"))}
	port := Match{DstPort: Exact[uint16](5060)}
	ports := Match{DstPort: Between[uint16](5000, 5999)}
	all := Match{DstPort: Between[uint16](0, 65535)}
	if !(p64.Specificity() > p48.Specificity() && port.Specificity() > ports.Specificity() &&
		ports.Specificity() > all.Specificity() && all.Specificity() > Match{}.Specificity()) {
		t.Errorf("specificity order wrong: /64 %d /48 %d port %d ports %d all %d",
			p64.Specificity(), p48.Specificity(), port.Specificity(), ports.Specificity(), all.Specificity())
	}
}

func TestMatchValidate(t *testing.T) {
	bad := []Match{
		{SrcPort: Range[uint16]{Lo: 9, Hi: 3, Set: true}},
		{FlowLabel: Exact[uint32](1 << 20)},
		{Family: 4, Dst: AddrExact(hoa)},
		{Src: AddrRange{From: hoa, To: netip.MustParseAddr("10.0.0.1")}},
		{Src: AddrRange{From: cn, To: hoa}},
	}
	for _, m := range bad {
		if m.Validate() == nil {
			t.Errorf("%+v: no error", m)
		}
	}
	if err := (Match{Dst: AddrExact(hoa), DstPort: Exact[uint16](1)}).Validate(); err != nil {
		t.Error(err)
	}
}

// randomSelector draws an IPv6 binary traffic selector with random fields,
// narrow enough that random packets both match and miss.
func randomSelector(r *rand.Rand) wire.IPv6TrafficSelector {
	var s wire.IPv6TrafficSelector
	addr := func() netip.Addr { return netip.AddrFrom16([16]byte{0x20, 0x01, 15: byte(r.IntN(8))}) }
	pick := func(start, end wire.IPv6TSFlags) (bool, bool) {
		st := r.IntN(3) == 0
		en := st && r.IntN(2) == 0
		if st {
			s.Flags |= start
		}
		if en {
			s.Flags |= end
		}
		return st, en
	}
	order := func(a, b uint32) (uint32, uint32) { return min(a, b), max(a, b) }
	if st, en := pick(wire.IPv6TSStartSourceAddress, wire.IPv6TSEndSourceAddress); st {
		s.StartSourceAddress = addr()
		if en {
			s.EndSourceAddress = addr()
			if s.EndSourceAddress.Less(s.StartSourceAddress) {
				s.StartSourceAddress, s.EndSourceAddress = s.EndSourceAddress, s.StartSourceAddress
			}
		}
	}
	if st, en := pick(wire.IPv6TSStartSourcePort, wire.IPv6TSEndSourcePort); st {
		a, b := order(uint32(r.IntN(8)), uint32(r.IntN(8)))
		s.StartSourcePort = uint16(a)
		if en {
			s.EndSourcePort = uint16(b)
		}
	}
	if st, en := pick(wire.IPv6TSStartDestinationPort, wire.IPv6TSEndDestinationPort); st {
		a, b := order(uint32(r.IntN(8)), uint32(r.IntN(8)))
		s.StartDestinationPort = uint16(a)
		if en {
			s.EndDestinationPort = uint16(b)
		}
	}
	if st, en := pick(wire.IPv6TSStartFlowLabel, wire.IPv6TSEndFlowLabel); st {
		a, b := order(uint32(r.IntN(8)), uint32(r.IntN(8)))
		s.StartFlowLabel = a
		if en {
			s.EndFlowLabel = b
		}
	}
	if st, en := pick(wire.IPv6TSStartIPsecSPI, wire.IPv6TSEndIPsecSPI); st {
		a, b := order(uint32(r.IntN(8)), uint32(r.IntN(8)))
		s.StartIPsecSPI = a
		if en {
			s.EndIPsecSPI = b
		}
	}
	if st, en := pick(wire.IPv6TSStartTrafficClass, wire.IPv6TSEndTrafficClass); st {
		a, b := order(uint32(r.IntN(8)), uint32(r.IntN(8)))
		s.StartTrafficClass = uint8(a)
		if en {
			s.EndTrafficClass = uint8(b)
		}
	}
	if st, en := pick(wire.IPv6TSStartNextHeader, wire.IPv6TSEndNextHeader); st {
		a, b := order(uint32(r.IntN(8)), uint32(r.IntN(8)))
		s.StartNextHeader = uint8(a)
		if en {
			s.EndNextHeader = uint8(b)
		}
	}
	return s
}

// TestMatchAgreesWithWire checks the converted Match matches exactly the
// packets the wire selector matches, and converts back to the same
// selector bytes (a Start/End pair of equal values becomes a Start field
// alone, which matches the same packets).
func TestMatchAgreesWithWire(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	hits := 0
	for range 2000 {
		s := randomSelector(r)
		m, err := FromTrafficSelector(s)
		if err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		back, err := m.TrafficSelector()
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		m2, err := FromTrafficSelector(back)
		if err != nil || m2 != m {
			t.Fatalf("round trip %s -> %+v -> %s (%v)", m, back, m2, err)
		}
		for range 50 {
			k := FlowKey{
				Src: netip.AddrFrom16([16]byte{0x20, 0x01, 15: byte(r.IntN(8))}), Dst: hoa,
				SrcPort: uint16(r.IntN(8)), DstPort: uint16(r.IntN(8)), HasPorts: r.IntN(4) != 0,
				SPI: uint32(r.IntN(8)), HasSPI: r.IntN(4) != 0, FlowLabel: uint32(r.IntN(8)),
				TrafficClass: uint8(r.IntN(8)), NextHeader: uint8(r.IntN(8)),
			}
			if got, want := m.Matches(&k), s.Matches(k); got != want {
				t.Fatalf("selector %+v as %s: Matches(%+v) = %v, wire says %v", s, m, k, got, want)
			}
			if m.Matches(&k) {
				hits++
			}
		}
	}
	if hits == 0 {
		t.Fatal("no packet matched any selector: the test checks nothing")
	}
}

func TestFromTrafficSelectorIPv4(t *testing.T) {
	s := wire.IPv4TrafficSelector{
		Flags:                   wire.IPv4TSStartDestinationAddress | wire.IPv4TSEndDestinationAddress | wire.IPv4TSStartProtocol | wire.IPv4TSStartDS,
		StartDestinationAddress: netip.MustParseAddr("192.0.2.1"), EndDestinationAddress: netip.MustParseAddr("192.0.2.9"),
		StartProtocol: 6, StartDS: 46 << 2,
	}
	m, err := FromTrafficSelector(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Key(); got != "ip4 dst=192.0.2.1-192.0.2.9 nh=6 tc=184" {
		t.Errorf("key %q", got)
	}
	if _, err := FromTrafficSelector(wire.UnknownTrafficSelector{Format: 9}); err == nil {
		t.Error("unknown format accepted")
	}
	m.FlowLabel = Exact[uint32](5)
	if _, err := m.TrafficSelector(); err == nil {
		t.Error("IPv4 selector with a flow label encoded")
	}
}
