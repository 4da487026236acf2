package wire

import (
	"net/netip"
	"testing"
)

func TestTrafficSelectorMatches(t *testing.T) {
	a := netip.MustParseAddr
	udp := func(src, dst string, sp, dp uint16) FlowKey {
		return FlowKey{Src: a(src), Dst: a(dst), SrcPort: sp, DstPort: dp, HasPorts: true, NextHeader: 17}
	}
	v6 := IPv6TrafficSelector{
		Flags: IPv6TSStartSourceAddress | IPv6TSEndSourceAddress | IPv6TSStartDestinationPort |
			IPv6TSEndDestinationPort | IPv6TSStartNextHeader | IPv6TSStartFlowLabel | IPv6TSEndFlowLabel,
		StartSourceAddress: a("2001:db8::10"), EndSourceAddress: a("2001:db8::20"),
		StartDestinationPort: 5000, EndDestinationPort: 5100, StartNextHeader: 17,
		StartFlowLabel: 0, EndFlowLabel: 0xff,
	}
	v4 := IPv4TrafficSelector{
		Flags:                   IPv4TSStartDestinationAddress | IPv4TSStartProtocol | IPv4TSEndProtocol | IPv4TSStartDS,
		StartDestinationAddress: a("198.51.100.7"), StartProtocol: 6, EndProtocol: 17, StartDS: 0xb8,
	}
	withFL := func(k FlowKey, fl uint32) FlowKey { k.FlowLabel = fl; return k }
	withTC := func(k FlowKey, tc uint8) FlowKey { k.TrafficClass = tc; return k }
	cases := []struct {
		name string
		ts   interface{ Matches(FlowKey) bool }
		k    FlowKey
		want bool
	}{
		{"v6 inside every range", v6, udp("2001:db8::10", "2001:db8:1::1", 1, 5000), true},
		{"v6 range ends inclusive", v6, withFL(udp("2001:db8::20", "2001:db8:1::1", 1, 5100), 0xff), true},
		{"v6 source above range", v6, udp("2001:db8::21", "2001:db8:1::1", 1, 5000), false},
		{"v6 port below range", v6, udp("2001:db8::15", "2001:db8:1::1", 1, 4999), false},
		{"v6 flow label above range", v6, withFL(udp("2001:db8::15", "2001:db8:1::1", 1, 5000), 0x100), false},
		{"v6 wrong next header", v6, FlowKey{Src: a("2001:db8::15"), Dst: a("2001:db8::1"), HasPorts: true, DstPort: 5000, NextHeader: 6}, false},
		{"v6 no ports (ICMPv6)", v6, FlowKey{Src: a("2001:db8::15"), Dst: a("2001:db8::1"), NextHeader: 17}, false},
		{"v6 selector, IPv4 packet", v6, udp("192.0.2.1", "198.51.100.7", 1, 5000), false},
		{"v6 empty selector matches any IPv6", IPv6TrafficSelector{}, FlowKey{Src: a("::1"), Dst: a("::2")}, true},
		{"v4 match", v4, withTC(udp("192.0.2.1", "198.51.100.7", 1, 2), 0xb8), true},
		{"v4 wrong DS", v4, withTC(udp("192.0.2.1", "198.51.100.7", 1, 2), 0), false},
		{"v4 wrong destination", v4, withTC(udp("192.0.2.1", "198.51.100.8", 1, 2), 0xb8), false},
		{"v4 protocol range", v4, FlowKey{Src: a("192.0.2.1"), Dst: a("198.51.100.7"), TrafficClass: 0xb8, NextHeader: 6}, true},
		{"v4 protocol out of range", v4, FlowKey{Src: a("192.0.2.1"), Dst: a("198.51.100.7"), TrafficClass: 0xb8, NextHeader: 1}, false},
		{"v4 selector, IPv6 packet", v4, udp("2001:db8::1", "2001:db8::2", 1, 2), false},
		{"v4 SPI selector, no ESP", IPv4TrafficSelector{Flags: IPv4TSStartIPsecSPI, StartIPsecSPI: 9}, FlowKey{Src: a("192.0.2.1"), Dst: a("192.0.2.2")}, false},
		{"v4 SPI selector, ESP", IPv4TrafficSelector{Flags: IPv4TSStartIPsecSPI, StartIPsecSPI: 9}, FlowKey{Src: a("192.0.2.1"), Dst: a("192.0.2.2"), SPI: 9, HasSPI: true}, true},
	}
	for _, c := range cases {
		if got := c.ts.Matches(c.k); got != c.want {
			t.Errorf("%s: Matches = %v, want %v", c.name, got, c.want)
		}
	}
}
