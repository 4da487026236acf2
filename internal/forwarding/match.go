package forwarding

import (
	"math/bits"
	"net/netip"
	"strconv"
	"strings"

	"monami/wire"
)

// FlowKey is the packet fields a selector looks at (RFC 6088 section 3);
// the same type the wire package's selectors match against.
type FlowKey = wire.FlowKey

// Range is an inclusive range of a numeric selector field. Set false means
// the field is not looked at; Set with Lo == Hi matches one value.
type Range[T uint8 | uint16 | uint32] struct {
	Lo, Hi T
	Set    bool
}

// Exact returns a range matching one value.
func Exact[T uint8 | uint16 | uint32](v T) Range[T] { return Range[T]{Lo: v, Hi: v, Set: true} }

// Between returns the range lo..hi (inclusive); the caller orders them.
func Between[T uint8 | uint16 | uint32](lo, hi T) Range[T] {
	return Range[T]{Lo: lo, Hi: hi, Set: true}
}

func (r Range[T]) contains(v T) bool { return !r.Set || (v >= r.Lo && v <= r.Hi) }

// fixedBits is how many high bits of a width-bit field the range pins:
// width for one value, fewer for wider ranges. It ranks specificity.
func (r Range[T]) fixedBits(width int) int {
	if !r.Set {
		return 0
	}
	return width - bits.Len64(uint64(r.Hi-r.Lo)) + 1
}

func (r Range[T]) appendKey(b []byte, name string) []byte {
	if !r.Set {
		return b
	}
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, '=')
	b = strconv.AppendUint(b, uint64(r.Lo), 10)
	if r.Hi != r.Lo {
		b = append(b, '-')
		b = strconv.AppendUint(b, uint64(r.Hi), 10)
	}
	return b
}

// AddrRange is an inclusive range of addresses (RFC 6088 Start/End
// address fields); a prefix is the range of its first to last address.
// The zero value matches any address.
type AddrRange struct {
	From, To netip.Addr
}

// PrefixRange returns the range a prefix covers.
func PrefixRange(p netip.Prefix) AddrRange {
	p = p.Masked()
	return AddrRange{From: p.Addr(), To: lastAddr(p)}
}

// AddrExact returns the range of one address.
func AddrExact(a netip.Addr) AddrRange { return AddrRange{From: a, To: a} }

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Set reports whether the range restricts anything.
func (r AddrRange) Set() bool { return r.From.IsValid() }

func (r AddrRange) contains(a netip.Addr) bool {
	return !r.From.IsValid() || (a.BitLen() == r.From.BitLen() && a.Compare(r.From) >= 0 && a.Compare(r.To) <= 0)
}

// fixedBits is the length of the common prefix of From and To: the prefix
// length for a range made from a prefix.
func (r AddrRange) fixedBits() int {
	if !r.From.IsValid() {
		return 0
	}
	f, t := r.From.As16(), r.To.As16()
	n := 0
	for i := range f {
		x := f[i] ^ t[i]
		n += bits.LeadingZeros8(x)
		if x != 0 {
			break
		}
	}
	if r.From.Is4() {
		n -= 96
	}
	return n + 1
}

func (r AddrRange) appendKey(b []byte, name string) []byte {
	if !r.From.IsValid() {
		return b
	}
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, '=')
	if p, ok := r.prefix(); ok {
		if p.Bits() == r.From.BitLen() {
			return r.From.AppendTo(b)
		}
		return p.AppendTo(b)
	}
	b = r.From.AppendTo(b)
	b = append(b, '-')
	return r.To.AppendTo(b)
}

// prefix returns the range as a prefix when it is exactly one.
func (r AddrRange) prefix() (netip.Prefix, bool) {
	n := r.fixedBits() - 1
	p := netip.PrefixFrom(r.From, n).Masked()
	return p, p.Addr() == r.From && lastAddr(p) == r.To
}

// Match is a flow selector with the fields of the RFC 6088 binary traffic
// selectors (sections 3.1 and 3.2). A packet matches when every set field
// matches; the zero Match matches every packet. Match is comparable and
// canonical for a given set of packets per field, so it serves as a map key.
type Match struct {
	// Family is 4 or 6 to match only that IP version, 0 for either. A
	// selector with addresses implies their family.
	Family   uint8
	Src, Dst AddrRange
	// NextHeader is the upper-layer protocol (IPv4 Protocol).
	NextHeader       Range[uint8]
	SrcPort, DstPort Range[uint16]
	// TrafficClass is the IPv6 Traffic Class or IPv4 DS octet, whole.
	TrafficClass Range[uint8]
	// FlowLabel is the IPv6 flow label (20 bits).
	FlowLabel Range[uint32]
	// SPI is the ESP Security Parameter Index.
	SPI Range[uint32]
}

// IsZero reports whether m matches every packet.
func (m Match) IsZero() bool { return m == Match{} }

// Matches reports whether a packet with these fields matches. As in RFC
// 6088, a selector naming ports or an SPI does not match a packet without
// them.
func (m Match) Matches(k *FlowKey) bool {
	if m.Family != 0 && (m.Family == 4) != k.Dst.Is4() {
		return false
	}
	if !m.Src.contains(k.Src) || !m.Dst.contains(k.Dst) {
		return false
	}
	if !m.NextHeader.contains(k.NextHeader) || !m.TrafficClass.contains(k.TrafficClass) || !m.FlowLabel.contains(k.FlowLabel) {
		return false
	}
	if m.SrcPort.Set || m.DstPort.Set {
		if !k.HasPorts || !m.SrcPort.contains(k.SrcPort) || !m.DstPort.contains(k.DstPort) {
			return false
		}
	}
	if m.SPI.Set && (!k.HasSPI || !m.SPI.contains(k.SPI)) {
		return false
	}
	return true
}

// Specificity ranks how narrow a selector is: the bits it pins, summed
// over its fields, plus one per set field. More specific selectors win
// ties of priority.
func (m Match) Specificity() int {
	n := m.Src.fixedBits() + m.Dst.fixedBits()
	n += m.NextHeader.fixedBits(8) + m.TrafficClass.fixedBits(8)
	n += m.SrcPort.fixedBits(16) + m.DstPort.fixedBits(16)
	n += m.FlowLabel.fixedBits(20) + m.SPI.fixedBits(32)
	if m.Family != 0 {
		n++
	}
	return n
}

// Key is a compact canonical text form, e.g. "ip6 dst=2001:db8::/48
// nh=17 dport=5060-5061"; "any" for the zero Match. Equal Matches give
// equal keys.
func (m Match) Key() string { return string(m.AppendKey(nil)) }

// String is Key.
func (m Match) String() string { return m.Key() }

// AppendKey appends Key to b.
func (m Match) AppendKey(b []byte) []byte {
	start := len(b)
	if m.Family != 0 {
		b = append(b, " ip"...)
		b = strconv.AppendUint(b, uint64(m.Family), 10)
	}
	b = m.Src.appendKey(b, "src")
	b = m.Dst.appendKey(b, "dst")
	b = m.NextHeader.appendKey(b, "nh")
	b = m.SrcPort.appendKey(b, "sport")
	b = m.DstPort.appendKey(b, "dport")
	b = m.TrafficClass.appendKey(b, "tc")
	b = m.FlowLabel.appendKey(b, "fl")
	b = m.SPI.appendKey(b, "spi")
	if len(b) == start {
		return append(b, "any"...)
	}
	// Drop the leading space.
	copy(b[start:], b[start+1:])
	return b[:len(b)-1]
}

// Validate reports a range whose ends are reversed, a flow label beyond 20
// bits, or addresses of mixed or contradicting families.
func (m Match) Validate() error {
	var p []string
	if m.Family != 0 && m.Family != 4 && m.Family != 6 {
		p = append(p, "family "+strconv.Itoa(int(m.Family))+" is not 4 or 6")
	}
	for _, a := range [...]struct {
		n string
		r AddrRange
	}{{"src", m.Src}, {"dst", m.Dst}} {
		if !a.r.Set() {
			continue
		}
		switch {
		case !a.r.To.IsValid() || a.r.From.BitLen() != a.r.To.BitLen():
			p = append(p, a.n+": range ends are of different families")
		case a.r.From.Compare(a.r.To) > 0:
			p = append(p, a.n+": start "+a.r.From.String()+" is above end "+a.r.To.String())
		case m.Family != 0 && int(m.Family) != familyOf(a.r.From):
			p = append(p, a.n+": "+a.r.From.String()+" is not IPv"+strconv.Itoa(int(m.Family)))
		}
	}
	if m.NextHeader.Lo > m.NextHeader.Hi || m.TrafficClass.Lo > m.TrafficClass.Hi ||
		m.SrcPort.Lo > m.SrcPort.Hi || m.DstPort.Lo > m.DstPort.Hi ||
		m.FlowLabel.Lo > m.FlowLabel.Hi || m.SPI.Lo > m.SPI.Hi {
		p = append(p, "a range has its start above its end")
	}
	if m.FlowLabel.Hi > 0xfffff {
		p = append(p, "flow label exceeds 20 bits")
	}
	if len(p) == 0 {
		return nil
	}
	return &MatchError{Problems: p}
}

// MatchError lists what is wrong with a Match.
type MatchError struct{ Problems []string }

func (e *MatchError) Error() string { return "selector: " + strings.Join(e.Problems, "; ") }

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// Canonical returns m with Family implied by its addresses, so two
// selectors that match the same packets field by field compare equal.
func (m Match) Canonical() Match {
	if m.Family == 0 {
		if m.Src.Set() {
			m.Family = uint8(familyOf(m.Src.From))
		} else if m.Dst.Set() {
			m.Family = uint8(familyOf(m.Dst.From))
		}
	}
	return m
}

// Mirror returns the selector of the reverse direction: sources and
// destinations (addresses and ports) swapped. A policy describes what a
// mobile node sends; its mirror catches the answers (RFC 6089 section 3:
// a flow binding's selector describes the packets the home agent sends).
func (m Match) Mirror() Match {
	m.Src, m.Dst = m.Dst, m.Src
	m.SrcPort, m.DstPort = m.DstPort, m.SrcPort
	return m
}
