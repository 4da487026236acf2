package forwarding

import (
	"fmt"
	"net/netip"

	"monami/wire"
)

// FromTrafficSelector converts a decoded RFC 6088 binary traffic selector
// into a Match. A Start field alone is one value, a Start/End pair an
// inclusive range (RFC 6088 section 3). Formats other than the two binary
// ones are refused (a home agent answers them with
// FIDStatusTSFormatNotSupported, RFC 6089 section 6.1).
func FromTrafficSelector(ts wire.TrafficSelector) (Match, error) {
	var m Match
	switch s := ts.(type) {
	case wire.IPv6TrafficSelector:
		m = fromIPv6(s)
	case *wire.IPv6TrafficSelector:
		m = fromIPv6(*s)
	case wire.IPv4TrafficSelector:
		m = fromIPv4(s)
	case *wire.IPv4TrafficSelector:
		m = fromIPv4(*s)
	case nil:
		return Match{}, nil
	default:
		return Match{}, fmt.Errorf("traffic selector format %s is not supported", ts.TSFormat())
	}
	if err := m.Validate(); err != nil {
		return Match{}, err
	}
	return m, nil
}

func fromIPv6(s wire.IPv6TrafficSelector) Match {
	has := func(f wire.IPv6TSFlags) bool { return s.Flags&f != 0 }
	return Match{
		Family:       6,
		Src:          addrPair(has(wire.IPv6TSStartSourceAddress), has(wire.IPv6TSEndSourceAddress), s.StartSourceAddress, s.EndSourceAddress),
		Dst:          addrPair(has(wire.IPv6TSStartDestinationAddress), has(wire.IPv6TSEndDestinationAddress), s.StartDestinationAddress, s.EndDestinationAddress),
		SPI:          pair(has(wire.IPv6TSStartIPsecSPI), has(wire.IPv6TSEndIPsecSPI), s.StartIPsecSPI, s.EndIPsecSPI),
		FlowLabel:    pair(has(wire.IPv6TSStartFlowLabel), has(wire.IPv6TSEndFlowLabel), s.StartFlowLabel, s.EndFlowLabel),
		SrcPort:      pair(has(wire.IPv6TSStartSourcePort), has(wire.IPv6TSEndSourcePort), s.StartSourcePort, s.EndSourcePort),
		DstPort:      pair(has(wire.IPv6TSStartDestinationPort), has(wire.IPv6TSEndDestinationPort), s.StartDestinationPort, s.EndDestinationPort),
		TrafficClass: pair(has(wire.IPv6TSStartTrafficClass), has(wire.IPv6TSEndTrafficClass), s.StartTrafficClass, s.EndTrafficClass),
		NextHeader:   pair(has(wire.IPv6TSStartNextHeader), has(wire.IPv6TSEndNextHeader), s.StartNextHeader, s.EndNextHeader),
	}
}

func fromIPv4(s wire.IPv4TrafficSelector) Match {
	has := func(f wire.IPv4TSFlags) bool { return s.Flags&f != 0 }
	return Match{
		Family:       4,
		Src:          addrPair(has(wire.IPv4TSStartSourceAddress), has(wire.IPv4TSEndSourceAddress), s.StartSourceAddress, s.EndSourceAddress),
		Dst:          addrPair(has(wire.IPv4TSStartDestinationAddress), has(wire.IPv4TSEndDestinationAddress), s.StartDestinationAddress, s.EndDestinationAddress),
		SPI:          pair(has(wire.IPv4TSStartIPsecSPI), has(wire.IPv4TSEndIPsecSPI), s.StartIPsecSPI, s.EndIPsecSPI),
		SrcPort:      pair(has(wire.IPv4TSStartSourcePort), has(wire.IPv4TSEndSourcePort), s.StartSourcePort, s.EndSourcePort),
		DstPort:      pair(has(wire.IPv4TSStartDestinationPort), has(wire.IPv4TSEndDestinationPort), s.StartDestinationPort, s.EndDestinationPort),
		TrafficClass: pair(has(wire.IPv4TSStartDS), has(wire.IPv4TSEndDS), s.StartDS, s.EndDS),
		NextHeader:   pair(has(wire.IPv4TSStartProtocol), has(wire.IPv4TSEndProtocol), s.StartProtocol, s.EndProtocol),
	}
}

func pair[T uint8 | uint16 | uint32](start, end bool, lo, hi T) Range[T] {
	switch {
	case !start:
		return Range[T]{}
	case !end:
		return Exact(lo)
	}
	return Between(lo, hi)
}

func addrPair(start, end bool, lo, hi netip.Addr) AddrRange {
	switch {
	case !start:
		return AddrRange{}
	case !end:
		return AddrExact(lo)
	}
	return AddrRange{From: lo, To: hi}
}

// TrafficSelector converts m into the RFC 6088 binary selector of its
// family (IPv6 when Family is 0), for a Flow Identification option. A
// range of one value is sent as a Start field alone. The IPv4 format has
// no flow label; a Match with one cannot be sent as IPv4.
func (m Match) TrafficSelector() (wire.TrafficSelector, error) {
	m = m.Canonical()
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m.Family == 4 {
		if m.FlowLabel.Set {
			return nil, fmt.Errorf("selector %s: the IPv4 traffic selector has no flow label (RFC 6088 section 3.1)", m.Key())
		}
		var s wire.IPv4TrafficSelector
		var f uint16
		setAddr(&f, 15, m.Src, &s.StartSourceAddress, &s.EndSourceAddress)
		setAddr(&f, 13, m.Dst, &s.StartDestinationAddress, &s.EndDestinationAddress)
		setRange(&f, 11, m.SPI, &s.StartIPsecSPI, &s.EndIPsecSPI)
		setRange(&f, 9, m.SrcPort, &s.StartSourcePort, &s.EndSourcePort)
		setRange(&f, 7, m.DstPort, &s.StartDestinationPort, &s.EndDestinationPort)
		setRange(&f, 5, m.TrafficClass, &s.StartDS, &s.EndDS)
		setRange(&f, 3, m.NextHeader, &s.StartProtocol, &s.EndProtocol)
		s.Flags = wire.IPv4TSFlags(f)
		return s, nil
	}
	var s wire.IPv6TrafficSelector
	var f uint16
	setAddr(&f, 15, m.Src, &s.StartSourceAddress, &s.EndSourceAddress)
	setAddr(&f, 13, m.Dst, &s.StartDestinationAddress, &s.EndDestinationAddress)
	setRange(&f, 11, m.SPI, &s.StartIPsecSPI, &s.EndIPsecSPI)
	setRange(&f, 9, m.FlowLabel, &s.StartFlowLabel, &s.EndFlowLabel)
	setRange(&f, 7, m.SrcPort, &s.StartSourcePort, &s.EndSourcePort)
	setRange(&f, 5, m.DstPort, &s.StartDestinationPort, &s.EndDestinationPort)
	setRange(&f, 3, m.TrafficClass, &s.StartTrafficClass, &s.EndTrafficClass)
	setRange(&f, 1, m.NextHeader, &s.StartNextHeader, &s.EndNextHeader)
	s.Flags = wire.IPv6TSFlags(f)
	return s, nil
}

// setRange fills a Start/End field pair whose Start flag is bit startBit
// of the flag field (the End flag is the next lower bit).
func setRange[T uint8 | uint16 | uint32](f *uint16, startBit int, r Range[T], lo, hi *T) {
	if !r.Set {
		return
	}
	*f |= 1 << startBit
	*lo = r.Lo
	if r.Hi != r.Lo {
		*f |= 1 << (startBit - 1)
		*hi = r.Hi
	}
}

func setAddr(f *uint16, startBit int, r AddrRange, lo, hi *netip.Addr) {
	if !r.Set() {
		return
	}
	*f |= 1 << startBit
	*lo = r.From
	if r.To != r.From {
		*f |= 1 << (startBit - 1)
		*hi = r.To
	}
}
