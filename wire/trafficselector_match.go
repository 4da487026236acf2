package wire

import "net/netip"

// FlowKey holds the packet fields a binary traffic selector looks at
// (RFC 6088 section 3): addresses, ESP SPI, flow label, transport ports,
// Traffic Class (DS field for IPv4) and Next Header (Protocol for IPv4).
type FlowKey struct {
	Src, Dst netip.Addr
	// SPI is the ESP Security Parameter Index; HasSPI says the packet
	// carries one.
	SPI    uint32
	HasSPI bool
	// FlowLabel is the IPv6 flow label (20 bits).
	FlowLabel uint32
	// SrcPort and DstPort are the transport ports; HasPorts says the
	// packet has them (TCP, UDP, SCTP...).
	SrcPort, DstPort uint16
	HasPorts         bool
	// TrafficClass is the IPv6 Traffic Class or the IPv4 DS field
	// (the whole octet, as the selectors carry it).
	TrafficClass uint8
	// NextHeader is the upper-layer protocol (IPv4 Protocol).
	NextHeader uint8
}

// inRange reports whether v matches a Start/End pair: Start alone must be
// equal, Start and End bound an inclusive range.
func inRange[T ~uint8 | ~uint16 | ~uint32](v, start, end T, hasEnd bool) bool {
	if !hasEnd {
		return v == start
	}
	return v >= start && v <= end
}

func addrInRange(a, start, end netip.Addr, hasEnd bool) bool {
	if !hasEnd {
		return a == start
	}
	return a.Compare(start) >= 0 && a.Compare(end) <= 0
}

// Matches reports whether an IPv4 packet with these fields matches the
// selector: every present field must match (RFC 6088 section 3.1). A
// selector naming ports or an SPI does not match packets without them.
func (s IPv4TrafficSelector) Matches(k FlowKey) bool {
	f := s.Flags
	has := func(x IPv4TSFlags) bool { return f&x != 0 }
	if !k.Src.Is4() || !k.Dst.Is4() {
		return false
	}
	if has(IPv4TSStartSourceAddress) && !addrInRange(k.Src, s.StartSourceAddress, s.EndSourceAddress, has(IPv4TSEndSourceAddress)) {
		return false
	}
	if has(IPv4TSStartDestinationAddress) && !addrInRange(k.Dst, s.StartDestinationAddress, s.EndDestinationAddress, has(IPv4TSEndDestinationAddress)) {
		return false
	}
	if has(IPv4TSStartIPsecSPI) && (!k.HasSPI || !inRange(k.SPI, s.StartIPsecSPI, s.EndIPsecSPI, has(IPv4TSEndIPsecSPI))) {
		return false
	}
	if has(IPv4TSStartSourcePort) && (!k.HasPorts || !inRange(k.SrcPort, s.StartSourcePort, s.EndSourcePort, has(IPv4TSEndSourcePort))) {
		return false
	}
	if has(IPv4TSStartDestinationPort) && (!k.HasPorts || !inRange(k.DstPort, s.StartDestinationPort, s.EndDestinationPort, has(IPv4TSEndDestinationPort))) {
		return false
	}
	if has(IPv4TSStartDS) && !inRange(k.TrafficClass, s.StartDS, s.EndDS, has(IPv4TSEndDS)) {
		return false
	}
	if has(IPv4TSStartProtocol) && !inRange(k.NextHeader, s.StartProtocol, s.EndProtocol, has(IPv4TSEndProtocol)) {
		return false
	}
	return true
}

// Matches reports whether an IPv6 packet with these fields matches the
// selector: every present field must match (RFC 6088 section 3.2). A
// selector naming ports or an SPI does not match packets without them.
func (s IPv6TrafficSelector) Matches(k FlowKey) bool {
	f := s.Flags
	has := func(x IPv6TSFlags) bool { return f&x != 0 }
	if !k.Src.Is6() || !k.Dst.Is6() {
		return false
	}
	if has(IPv6TSStartSourceAddress) && !addrInRange(k.Src, s.StartSourceAddress, s.EndSourceAddress, has(IPv6TSEndSourceAddress)) {
		return false
	}
	if has(IPv6TSStartDestinationAddress) && !addrInRange(k.Dst, s.StartDestinationAddress, s.EndDestinationAddress, has(IPv6TSEndDestinationAddress)) {
		return false
	}
	if has(IPv6TSStartIPsecSPI) && (!k.HasSPI || !inRange(k.SPI, s.StartIPsecSPI, s.EndIPsecSPI, has(IPv6TSEndIPsecSPI))) {
		return false
	}
	if has(IPv6TSStartFlowLabel) && !inRange(k.FlowLabel, s.StartFlowLabel, s.EndFlowLabel, has(IPv6TSEndFlowLabel)) {
		return false
	}
	if has(IPv6TSStartSourcePort) && (!k.HasPorts || !inRange(k.SrcPort, s.StartSourcePort, s.EndSourcePort, has(IPv6TSEndSourcePort))) {
		return false
	}
	if has(IPv6TSStartDestinationPort) && (!k.HasPorts || !inRange(k.DstPort, s.StartDestinationPort, s.EndDestinationPort, has(IPv6TSEndDestinationPort))) {
		return false
	}
	if has(IPv6TSStartTrafficClass) && !inRange(k.TrafficClass, s.StartTrafficClass, s.EndTrafficClass, has(IPv6TSEndTrafficClass)) {
		return false
	}
	if has(IPv6TSStartNextHeader) && !inRange(k.NextHeader, s.StartNextHeader, s.EndNextHeader, has(IPv6TSEndNextHeader)) {
		return false
	}
	return true
}
