package policy

import (
	"net/netip"
	"strconv"
	"strings"

	"monami/internal/forwarding"
)

// Match is a rule's traffic selector as written: every field optional,
// with the RFC 6088 fields. Numbers take "N" or a range "N-M".
type Match struct {
	// Src and Dst: an address, a prefix (2001:db8::/48) or a range
	// (2001:db8::1-2001:db8::9).
	Src string `yaml:"src"`
	Dst string `yaml:"dst"`
	// NextHeader: a number or tcp, udp, icmpv6, esp, ah, sctp, gre, icmp.
	NextHeader   string `yaml:"next_header"`
	SrcPort      string `yaml:"src_port"`
	DstPort      string `yaml:"dst_port"`
	TrafficClass string `yaml:"traffic_class"`
	FlowLabel    string `yaml:"flow_label"`
	SPI          string `yaml:"spi"`
}

// protocols are the next header names accepted (IANA Assigned Internet
// Protocol Numbers).
var protocols = map[string]uint8{
	"icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "sctp": 132,
}

// parse validates the selector, adding one problem per bad field.
func (m *Match) parse(where string, add func(string, ...any)) forwarding.Match {
	var f forwarding.Match
	f.Src = parseAddrRange(where+".src", m.Src, add)
	f.Dst = parseAddrRange(where+".dst", m.Dst, add)
	if f.Src.Set() && f.Dst.Set() && f.Src.From.Is4() != f.Dst.From.Is4() {
		add("%s: src and dst are of different IP versions", where)
	}
	f.NextHeader = parseRange[uint8](where+".next_header", m.NextHeader, 0xff, protocols, "a next header (0..255 or tcp, udp, icmpv6, esp, ah, sctp, gre, icmp)", add)
	f.SrcPort = parseRange[uint16](where+".src_port", m.SrcPort, 0xffff, nil, "a port", add)
	f.DstPort = parseRange[uint16](where+".dst_port", m.DstPort, 0xffff, nil, "a port", add)
	f.TrafficClass = parseRange[uint8](where+".traffic_class", m.TrafficClass, 0xff, nil, "a traffic class (0..255)", add)
	f.FlowLabel = parseRange[uint32](where+".flow_label", m.FlowLabel, 0xfffff, nil, "a flow label (0..0xfffff)", add)
	f.SPI = parseRange[uint32](where+".spi", m.SPI, 0xffffffff, nil, "an SPI (0..4294967295)", add)
	f = f.Canonical()
	if f.Family == 4 && f.FlowLabel.Set {
		add("%s.flow_label: IPv4 has no flow label (src/dst are IPv4)", where)
	}
	return f
}

func parseRange[T uint8 | uint16 | uint32](where, s string, limit uint64, names map[string]uint8, what string, add func(string, ...any)) forwarding.Range[T] {
	s = strings.TrimSpace(s)
	if s == "" {
		return forwarding.Range[T]{}
	}
	lo, hi, isRange := strings.Cut(s, "-")
	a, okA := parseNum(lo, limit, names)
	b, okB := a, okA
	if isRange {
		b, okB = parseNum(hi, limit, names)
	}
	if !okA || !okB {
		add("%s: %q is not %s", where, s, what)
		return forwarding.Range[T]{}
	}
	if a > b {
		add("%s: %q starts above its end", where, s)
		return forwarding.Range[T]{}
	}
	return forwarding.Between(T(a), T(b))
}

func parseNum(s string, limit uint64, names map[string]uint8) (uint64, bool) {
	s = strings.TrimSpace(s)
	if v, ok := names[strings.ToLower(s)]; ok {
		return uint64(v), true
	}
	v, err := strconv.ParseUint(s, 0, 64)
	return v, err == nil && v <= limit
}

func parseAddrRange(where, s string, add func(string, ...any)) forwarding.AddrRange {
	s = strings.TrimSpace(s)
	if s == "" {
		return forwarding.AddrRange{}
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			add("%s: %q is not a prefix (e.g. 2001:db8::/48)", where, s)
			return forwarding.AddrRange{}
		}
		if p.Masked() != p {
			add("%s: %s has host bits set (did you mean %s?)", where, s, p.Masked())
			return forwarding.AddrRange{}
		}
		return forwarding.PrefixRange(p)
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, errA := netip.ParseAddr(strings.TrimSpace(lo))
		b, errB := netip.ParseAddr(strings.TrimSpace(hi))
		switch {
		case errA != nil || errB != nil || a.Zone() != "" || b.Zone() != "":
			add("%s: %q is not an address range (e.g. 2001:db8::1-2001:db8::9)", where, s)
		case a.Is4() != b.Is4():
			add("%s: %q mixes IPv4 and IPv6", where, s)
		case a.Compare(b) > 0:
			add("%s: %q starts above its end", where, s)
		default:
			return forwarding.AddrRange{From: a, To: b}
		}
		return forwarding.AddrRange{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		add("%s: %q is not an address, prefix or range", where, s)
		return forwarding.AddrRange{}
	}
	return forwarding.AddrExact(a)
}

func (m *Match) empty() bool { return *m == Match{} }
