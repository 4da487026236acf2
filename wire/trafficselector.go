package wire

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
)

// TSFormat is the Traffic Selector Format of a Traffic Selector sub-option
// (RFC 6089 section 4.2.1.4; IANA "Traffic Selector Format" registry).
type TSFormat uint8

// Traffic selector formats. 0 is reserved.
const (
	TSFormatIPv4Binary TSFormat = 1 // RFC 6088 section 3.1
	TSFormatIPv6Binary TSFormat = 2 // RFC 6088 section 3.2
)

func (f TSFormat) String() string {
	switch f {
	case TSFormatIPv4Binary:
		return "IPv4 Binary Traffic Selector"
	case TSFormatIPv6Binary:
		return "IPv6 Binary Traffic Selector"
	}
	return "TSFormat(" + strconv.Itoa(int(f)) + ")"
}

// MarshalText makes JSON output show the name.
func (f TSFormat) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// TrafficSelector is a decoded traffic selector of one format: the octets
// that follow the TS Format and Reserved fields of a Traffic Selector
// sub-option. The binary formats are IPv4TrafficSelector and
// IPv6TrafficSelector; other formats decode to UnknownTrafficSelector.
type TrafficSelector interface {
	TSFormat() TSFormat
	// AppendSelector appends the encoded selector.
	AppendSelector(b []byte) ([]byte, error)
}

// ParseTrafficSelector decodes a selector of the given format. b must hold
// exactly the selector: its length is checked against what the flags say.
func ParseTrafficSelector(f TSFormat, b []byte) (TrafficSelector, error) {
	switch f {
	case TSFormatIPv4Binary:
		return ParseIPv4TrafficSelector(b)
	case TSFormatIPv6Binary:
		return ParseIPv6TrafficSelector(b)
	}
	return UnknownTrafficSelector{Format: f, Data: b}, nil
}

// UnknownTrafficSelector keeps a selector of a format this package does not
// decode (a node answers such a flow with status
// FIDStatusTSFormatNotSupported, RFC 6089 section 6.1).
type UnknownTrafficSelector struct {
	Format TSFormat
	Data   []byte
}

func (u UnknownTrafficSelector) TSFormat() TSFormat { return u.Format }

func (u UnknownTrafficSelector) AppendSelector(b []byte) ([]byte, error) {
	return append(b, u.Data...), nil
}

// tsFlagNames are the short names of the flag letters A..P, per format, in
// wire order (most significant bit first).
var (
	ipv4TSFlagNames = [...]string{
		"A:StartSourceAddress", "B:EndSourceAddress",
		"C:StartDestinationAddress", "D:EndDestinationAddress",
		"E:StartIPsecSPI", "F:EndIPsecSPI",
		"G:StartSourcePort", "H:EndSourcePort",
		"I:StartDestinationPort", "J:EndDestinationPort",
		"K:StartDS", "L:EndDS",
		"M:StartProtocol", "N:EndProtocol",
	}
	ipv6TSFlagNames = [...]string{
		"A:StartSourceAddress", "B:EndSourceAddress",
		"C:StartDestinationAddress", "D:EndDestinationAddress",
		"E:StartIPsecSPI", "F:EndIPsecSPI",
		"G:StartFlowLabel", "H:EndFlowLabel",
		"I:StartSourcePort", "J:EndSourcePort",
		"K:StartDestinationPort", "L:EndDestinationPort",
		"M:StartTrafficClass", "N:EndTrafficClass",
		"O:StartNextHeader", "P:EndNextHeader",
	}
)

func tsFlagsString(v uint16, names []string) string {
	if v == 0 {
		return "none"
	}
	var parts []string
	for i, n := range names {
		if v&(1<<(15-i)) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "|")
}

// tsCodec encodes and decodes the common layout of both binary formats
// (RFC 6088 sections 3.1 and 3.2): a 16-bit flag field whose bits say
// which fields are present, 16 reserved bits, then the present fields in
// flag order, each of a fixed size. Fields come in Start/End pairs; an End
// field MUST NOT be present without its Start field.
type tsCodec struct {
	what  string
	names []string
	// fields holds pointers to the struct fields in flag order:
	// *netip.Addr, *uint32, *uint16 or *uint8.
	fields []any
	// addrLen is 4 for the IPv4 format, 16 for IPv6.
	addrLen int
	// flowLabelIdx are the indexes of the 20-bit flow label fields (IPv6
	// format only; zero for IPv4).
	flowLabelIdx [2]int
}

func (c *tsCodec) family() string {
	if c.addrLen == 4 {
		return "IPv4"
	}
	return "IPv6"
}

func (c *tsCodec) size(i int) int {
	switch c.fields[i].(type) {
	case *netip.Addr:
		return c.addrLen
	case *uint32:
		return 4
	case *uint16:
		return 2
	}
	return 1
}

// tsReservedMask has the bits of the flag field that carry no flag.
func (c *tsCodec) reservedMask() uint16 { return uint16(1<<(16-len(c.fields))) - 1 }

func (c *tsCodec) isFlowLabel(i int) bool {
	return c.flowLabelIdx[0] != 0 && (i == c.flowLabelIdx[0] || i == c.flowLabelIdx[1])
}

// decode fills the fields from b and returns the flags.
func (c *tsCodec) decode(b []byte) (uint16, error) {
	if len(b) < 4 {
		return 0, perr(0, c.what, ErrTruncated)
	}
	// RFC 6088: the reserved bits MUST be zero when sent and are ignored
	// on receipt.
	flags := binary.BigEndian.Uint16(b) &^ c.reservedMask()
	want := 4
	for i := range c.fields {
		if flags&(1<<(15-i)) == 0 {
			continue
		}
		if i%2 == 1 && flags&(1<<(15-(i-1))) == 0 {
			return 0, perr(0, c.what+": "+c.names[i]+" present without its Start field", ErrBadValue)
		}
		want += c.size(i)
	}
	if len(b) != want {
		return 0, perr(0, c.what+" (flags "+tsFlagsString(flags, c.names)+" need "+itoa(want)+" octets, have "+itoa(len(b))+")", ErrBadLength)
	}
	off := 4
	for i, f := range c.fields {
		if flags&(1<<(15-i)) == 0 {
			continue
		}
		switch p := f.(type) {
		case *netip.Addr:
			if c.addrLen == 4 {
				*p = netip.AddrFrom4([4]byte(b[off : off+4]))
			} else {
				*p = netip.AddrFrom16([16]byte(b[off : off+16]))
			}
		case *uint32:
			*p = binary.BigEndian.Uint32(b[off:])
			if c.isFlowLabel(i) && *p > 0xfffff {
				return 0, perr(off, c.what+": "+c.names[i]+" "+itoa(int(*p))+" exceeds 20 bits", ErrBadValue)
			}
		case *uint16:
			*p = binary.BigEndian.Uint16(b[off:])
		case *uint8:
			*p = b[off]
		}
		off += c.size(i)
	}
	return flags, nil
}

// encode appends the selector; flags must only name fields, every field
// whose flag is clear must be zero.
func (c *tsCodec) encode(b []byte, flags uint16) ([]byte, error) {
	if flags&c.reservedMask() != 0 {
		return b, eerr(c.what, "flags "+strconv.FormatUint(uint64(flags), 16)+" set reserved bits")
	}
	for i, f := range c.fields {
		set := flags&(1<<(15-i)) != 0
		if set && i%2 == 1 && flags&(1<<(15-(i-1))) == 0 {
			return b, eerr(c.what, c.names[i]+" flag set without its Start flag (RFC 6088 section 3)")
		}
		zero := true
		switch p := f.(type) {
		case *netip.Addr:
			zero = !p.IsValid()
			if set && (zero || (c.addrLen == 4) != p.Is4()) {
				return b, eerr(c.what, c.names[i]+" must be a valid "+c.family()+" address, have "+p.String())
			}
		case *uint32:
			zero = *p == 0
			if c.isFlowLabel(i) && *p > 0xfffff {
				return b, eerr(c.what, c.names[i]+" exceeds 20 bits")
			}
		case *uint16:
			zero = *p == 0
		case *uint8:
			zero = *p == 0
		}
		if !set && !zero {
			return b, eerr(c.what, c.names[i]+" has a value but its flag is clear")
		}
	}
	b = binary.BigEndian.AppendUint16(b, flags)
	b = append(b, 0, 0) // Reserved
	for i, f := range c.fields {
		if flags&(1<<(15-i)) == 0 {
			continue
		}
		switch p := f.(type) {
		case *netip.Addr:
			b = append(b, p.AsSlice()...)
		case *uint32:
			b = binary.BigEndian.AppendUint32(b, *p)
		case *uint16:
			b = binary.BigEndian.AppendUint16(b, *p)
		case *uint8:
			b = append(b, *p)
		}
	}
	return b, nil
}

func (c *tsCodec) present(flags uint16, name string) bool {
	for i, n := range c.names {
		if n[2:] == name {
			return flags&(1<<(15-i)) != 0
		}
	}
	return true
}
