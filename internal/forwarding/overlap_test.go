package forwarding

import (
	"net/netip"
	"testing"
)

func TestMatchOverlaps(t *testing.T) {
	p := func(s string) AddrRange { return PrefixRange(netip.MustParsePrefix(s)) }
	voice := Match{TrafficClass: Exact[uint8](184)}
	for _, c := range []struct {
		name string
		a, b Match
		want bool
	}{
		{"any and any", Match{}, Match{}, true},
		{"unset field overlaps", voice, Match{DstPort: Exact[uint16](5060)}, true},
		{"same traffic class", voice, Match{TrafficClass: Between[uint8](0, 255)}, true},
		{"other traffic class", voice, Match{TrafficClass: Exact[uint8](0)}, false},
		{"port ranges touch", Match{DstPort: Between[uint16](10, 20)}, Match{DstPort: Between[uint16](20, 30)}, true},
		{"port ranges apart", Match{DstPort: Between[uint16](10, 19)}, Match{DstPort: Between[uint16](20, 30)}, false},
		{"prefix inside prefix", Match{Dst: p("2001:db8::/32")}, Match{Dst: p("2001:db8:5::/48")}, true},
		{"prefixes apart", Match{Dst: p("2001:db8::/48")}, Match{Dst: p("2001:db9::/48")}, false},
		{"families differ", Match{Family: 4}, Match{Family: 6}, false},
		{"address families differ", Match{Src: p("192.0.2.0/24")}, Match{Src: p("2001:db8::/32")}, false},
	} {
		if got := c.a.Overlaps(c.b); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
		if got := c.b.Overlaps(c.a); got != c.want {
			t.Errorf("%s (swapped): %v", c.name, got)
		}
	}
}
