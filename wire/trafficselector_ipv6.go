package wire

import "net/netip"

// IPv6TSFlags are the flags A..P of the IPv6 binary traffic selector
// (RFC 6088 section 3.2); each says whether its field is present.
type IPv6TSFlags uint16

// IPv6 traffic selector flags, most significant bit first.
const (
	IPv6TSStartSourceAddress      IPv6TSFlags = 1 << 15 // A
	IPv6TSEndSourceAddress        IPv6TSFlags = 1 << 14 // B
	IPv6TSStartDestinationAddress IPv6TSFlags = 1 << 13 // C
	IPv6TSEndDestinationAddress   IPv6TSFlags = 1 << 12 // D
	IPv6TSStartIPsecSPI           IPv6TSFlags = 1 << 11 // E
	IPv6TSEndIPsecSPI             IPv6TSFlags = 1 << 10 // F
	IPv6TSStartFlowLabel          IPv6TSFlags = 1 << 9  // G
	IPv6TSEndFlowLabel            IPv6TSFlags = 1 << 8  // H
	IPv6TSStartSourcePort         IPv6TSFlags = 1 << 7  // I
	IPv6TSEndSourcePort           IPv6TSFlags = 1 << 6  // J
	IPv6TSStartDestinationPort    IPv6TSFlags = 1 << 5  // K
	IPv6TSEndDestinationPort      IPv6TSFlags = 1 << 4  // L
	IPv6TSStartTrafficClass       IPv6TSFlags = 1 << 3  // M
	IPv6TSEndTrafficClass         IPv6TSFlags = 1 << 2  // N
	IPv6TSStartNextHeader         IPv6TSFlags = 1 << 1  // O
	IPv6TSEndNextHeader           IPv6TSFlags = 1 << 0  // P
)

func (f IPv6TSFlags) String() string { return tsFlagsString(uint16(f), ipv6TSFlagNames[:]) }

// MarshalText makes JSON output show the flag names.
func (f IPv6TSFlags) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// IPv6TrafficSelector is the IPv6 binary traffic selector (RFC 6088
// section 3.2). Flags says which fields are present; a field whose flag is
// clear is zero. A Start field alone matches one value, a Start/End pair
// matches the inclusive range.
type IPv6TrafficSelector struct {
	Flags                   IPv6TSFlags
	StartSourceAddress      netip.Addr // (A)
	EndSourceAddress        netip.Addr // (B)
	StartDestinationAddress netip.Addr // (C)
	EndDestinationAddress   netip.Addr // (D)
	StartIPsecSPI           uint32     // (E)
	EndIPsecSPI             uint32     // (F)
	// StartFlowLabel and EndFlowLabel each occupy a 32-bit field whose
	// low 20 bits hold the flow label.
	StartFlowLabel       uint32 // (G)
	EndFlowLabel         uint32 // (H)
	StartSourcePort      uint16 // (I)
	EndSourcePort        uint16 // (J)
	StartDestinationPort uint16 // (K)
	EndDestinationPort   uint16 // (L)
	StartTrafficClass    uint8  // (M)
	EndTrafficClass      uint8  // (N)
	StartNextHeader      uint8  // (O)
	EndNextHeader        uint8  // (P)
}

func (s *IPv6TrafficSelector) codec() *tsCodec {
	return &tsCodec{
		what:         "IPv6 binary traffic selector",
		names:        ipv6TSFlagNames[:],
		addrLen:      16,
		flowLabelIdx: [2]int{6, 7},
		fields: []any{
			&s.StartSourceAddress, &s.EndSourceAddress,
			&s.StartDestinationAddress, &s.EndDestinationAddress,
			&s.StartIPsecSPI, &s.EndIPsecSPI,
			&s.StartFlowLabel, &s.EndFlowLabel,
			&s.StartSourcePort, &s.EndSourcePort,
			&s.StartDestinationPort, &s.EndDestinationPort,
			&s.StartTrafficClass, &s.EndTrafficClass,
			&s.StartNextHeader, &s.EndNextHeader,
		},
	}
}

// TSFormat is TSFormatIPv6Binary.
func (s IPv6TrafficSelector) TSFormat() TSFormat { return TSFormatIPv6Binary }

// AppendSelector appends the selector (flags onward). It fails if a field
// has a value while its flag is clear, an End flag is set without its
// Start flag, an address flag is set without a valid IPv6 address, or a
// flow label exceeds 20 bits.
func (s IPv6TrafficSelector) AppendSelector(b []byte) ([]byte, error) {
	return s.codec().encode(b, uint16(s.Flags))
}

// Len is the encoded length in octets.
func (s IPv6TrafficSelector) Len() int { return tsLen(s.codec(), uint16(s.Flags)) }

// FieldPresent reports whether the named field is carried (its flag is
// set); tools use it to show only present fields.
func (s IPv6TrafficSelector) FieldPresent(name string) bool {
	return s.codec().present(uint16(s.Flags), name)
}

// ParseIPv6TrafficSelector decodes an IPv6 binary traffic selector. b must
// be exactly as long as its flags require.
func ParseIPv6TrafficSelector(b []byte) (IPv6TrafficSelector, error) {
	var s IPv6TrafficSelector
	f, err := s.codec().decode(b)
	if err != nil {
		return IPv6TrafficSelector{}, err
	}
	s.Flags = IPv6TSFlags(f)
	return s, nil
}
