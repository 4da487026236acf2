package wire

import "net/netip"

// IPv4TSFlags are the flags A..N of the IPv4 binary traffic selector
// (RFC 6088 section 3.1); each says whether its field is present.
type IPv4TSFlags uint16

// IPv4 traffic selector flags, most significant bit first.
const (
	IPv4TSStartSourceAddress      IPv4TSFlags = 1 << 15 // A
	IPv4TSEndSourceAddress        IPv4TSFlags = 1 << 14 // B
	IPv4TSStartDestinationAddress IPv4TSFlags = 1 << 13 // C
	IPv4TSEndDestinationAddress   IPv4TSFlags = 1 << 12 // D
	IPv4TSStartIPsecSPI           IPv4TSFlags = 1 << 11 // E
	IPv4TSEndIPsecSPI             IPv4TSFlags = 1 << 10 // F
	IPv4TSStartSourcePort         IPv4TSFlags = 1 << 9  // G
	IPv4TSEndSourcePort           IPv4TSFlags = 1 << 8  // H
	IPv4TSStartDestinationPort    IPv4TSFlags = 1 << 7  // I
	IPv4TSEndDestinationPort      IPv4TSFlags = 1 << 6  // J
	IPv4TSStartDS                 IPv4TSFlags = 1 << 5  // K
	IPv4TSEndDS                   IPv4TSFlags = 1 << 4  // L
	IPv4TSStartProtocol           IPv4TSFlags = 1 << 3  // M
	IPv4TSEndProtocol             IPv4TSFlags = 1 << 2  // N
)

func (f IPv4TSFlags) String() string { return tsFlagsString(uint16(f), ipv4TSFlagNames[:]) }

// MarshalText makes JSON output show the flag names.
func (f IPv4TSFlags) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// IPv4TrafficSelector is the IPv4 binary traffic selector (RFC 6088
// section 3.1). Flags says which fields are present; a field whose flag is
// clear is zero. A Start field alone matches one value, a Start/End pair
// matches the inclusive range.
type IPv4TrafficSelector struct {
	Flags                   IPv4TSFlags
	StartSourceAddress      netip.Addr // (A)
	EndSourceAddress        netip.Addr // (B)
	StartDestinationAddress netip.Addr // (C)
	EndDestinationAddress   netip.Addr // (D)
	StartIPsecSPI           uint32     // (E)
	EndIPsecSPI             uint32     // (F)
	StartSourcePort         uint16     // (G)
	EndSourcePort           uint16     // (H)
	StartDestinationPort    uint16     // (I)
	EndDestinationPort      uint16     // (J)
	// StartDS and EndDS are the Differentiated Services field values
	// (RFC 6088: the DS field of RFC 3260, the former TOS octet).
	StartDS       uint8 // (K)
	EndDS         uint8 // (L)
	StartProtocol uint8 // (M)
	EndProtocol   uint8 // (N)
}

func (s *IPv4TrafficSelector) codec() *tsCodec {
	return &tsCodec{
		what:    "IPv4 binary traffic selector",
		names:   ipv4TSFlagNames[:],
		addrLen: 4,
		fields: []any{
			&s.StartSourceAddress, &s.EndSourceAddress,
			&s.StartDestinationAddress, &s.EndDestinationAddress,
			&s.StartIPsecSPI, &s.EndIPsecSPI,
			&s.StartSourcePort, &s.EndSourcePort,
			&s.StartDestinationPort, &s.EndDestinationPort,
			&s.StartDS, &s.EndDS,
			&s.StartProtocol, &s.EndProtocol,
		},
	}
}

// TSFormat is TSFormatIPv4Binary.
func (s IPv4TrafficSelector) TSFormat() TSFormat { return TSFormatIPv4Binary }

// AppendSelector appends the selector (flags onward). It fails if a field
// has a value while its flag is clear, an End flag is set without its
// Start flag, or an address flag is set without a valid IPv4 address.
func (s IPv4TrafficSelector) AppendSelector(b []byte) ([]byte, error) {
	return s.codec().encode(b, uint16(s.Flags))
}

// Len is the encoded length in octets.
func (s IPv4TrafficSelector) Len() int { return tsLen(s.codec(), uint16(s.Flags)) }

// FieldPresent reports whether the named field is carried (its flag is
// set); tools use it to show only present fields.
func (s IPv4TrafficSelector) FieldPresent(name string) bool {
	return s.codec().present(uint16(s.Flags), name)
}

// ParseIPv4TrafficSelector decodes an IPv4 binary traffic selector. b must
// be exactly as long as its flags require.
func ParseIPv4TrafficSelector(b []byte) (IPv4TrafficSelector, error) {
	var s IPv4TrafficSelector
	f, err := s.codec().decode(b)
	if err != nil {
		return IPv4TrafficSelector{}, err
	}
	s.Flags = IPv4TSFlags(f)
	return s, nil
}

func tsLen(c *tsCodec, flags uint16) int {
	n := 4
	for i := range c.fields {
		if flags&(1<<(15-i)) != 0 {
			n += c.size(i)
		}
	}
	return n
}
