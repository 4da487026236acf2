package wire

// Proxy Mobile IPv6 mobility options (RFC 5213 section 8). The Proxy
// Binding Update and Acknowledgement themselves are the Binding Update and
// Acknowledgement with the P flag (RFC 5213 sections 8.1, 8.2).

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

func init() {
	registerOption(OptHomeNetworkPrefix, 8, 4, parseAs(DecodeHomeNetworkPrefix))
	registerOption(OptHandoffIndicator, 1, 0, parseAs(DecodeHandoffIndicatorOption))
	registerOption(OptAccessTechnologyType, 1, 0, parseAs(DecodeAccessTechnologyTypeOption))
	registerOption(OptMobileNodeLinkLayerIdentifier, 8, 2, parseAs(DecodeMobileNodeLinkLayerIdentifier))
	registerOption(OptLinkLocalAddress, 8, 6, parseAs(DecodeLinkLocalAddress))
	registerOption(OptTimestamp, 8, 2, parseAs(DecodeTimestamp))
}

// HomeNetworkPrefix is the Home Network Prefix option (RFC 5213 section
// 8.3): Reserved (8), Prefix Length (8), Home Network Prefix (128).
// Alignment 8n+4.
type HomeNetworkPrefix struct {
	Prefix netip.Prefix // IPv6; the address is sent as given (host bits kept)
}

func (HomeNetworkPrefix) OptionType() OptionType { return OptHomeNetworkPrefix }
func (HomeNetworkPrefix) Alignment() (x, y int)  { return 8, 4 }

func (o HomeNetworkPrefix) AppendData(b []byte) ([]byte, error) {
	if !o.Prefix.IsValid() || !o.Prefix.Addr().Is6() {
		return b, eerr("Home Network Prefix option", "prefix must be a valid IPv6 prefix")
	}
	a := o.Prefix.Addr().As16()
	b = append(b, 0, byte(o.Prefix.Bits()))
	return append(b, a[:]...), nil
}

// DecodeHomeNetworkPrefix decodes the option data (after the Length octet).
func DecodeHomeNetworkPrefix(data []byte) (HomeNetworkPrefix, error) {
	if err := wantLen(data, 18); err != nil {
		return HomeNetworkPrefix{}, err
	}
	if data[1] > 128 {
		return HomeNetworkPrefix{}, fmt.Errorf("prefix length %d: %w", data[1], ErrBadValue)
	}
	addr := netip.AddrFrom16([16]byte(data[2:18]))
	return HomeNetworkPrefix{Prefix: netip.PrefixFrom(addr, int(data[1]))}, nil
}

// HandoffIndicator is the HI field of the Handoff Indicator option (RFC
// 5213 section 8.4; IANA "Handoff Indicator Option type values").
type HandoffIndicator uint8

const (
	HandoffReserved            HandoffIndicator = 0 // RFC 5213 section 8.4
	HandoffNewInterface        HandoffIndicator = 1 // attachment over a new interface
	HandoffDifferentInterfaces HandoffIndicator = 2 // handoff between two different interfaces of the mobile node
	HandoffSameInterface       HandoffIndicator = 3 // handoff between mobile access gateways for the same interface
	HandoffUnknown             HandoffIndicator = 4 // handoff state unknown
	HandoffNotChanged          HandoffIndicator = 5 // handoff state not changed (re-registration)
)

var handoffIndicatorNames = map[HandoffIndicator]string{
	HandoffReserved:            "Reserved",
	HandoffNewInterface:        "Attachment over a new interface",
	HandoffDifferentInterfaces: "Handoff between two different interfaces of the mobile node",
	HandoffSameInterface:       "Handoff between mobile access gateways for the same interface",
	HandoffUnknown:             "Handoff state unknown",
	HandoffNotChanged:          "Handoff state not changed (Re-registration)",
}

func (h HandoffIndicator) String() string {
	if s, ok := handoffIndicatorNames[h]; ok {
		return s
	}
	return "handoff indicator " + strconv.Itoa(int(h))
}

// MarshalText makes JSON output show the name.
func (h HandoffIndicator) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// HandoffIndicatorOption is the Handoff Indicator option (RFC 5213 section
// 8.4): Reserved (8), HI (8). No alignment requirement.
type HandoffIndicatorOption struct {
	Indicator HandoffIndicator
}

func (HandoffIndicatorOption) OptionType() OptionType { return OptHandoffIndicator }
func (HandoffIndicatorOption) Alignment() (x, y int)  { return 1, 0 }

func (o HandoffIndicatorOption) AppendData(b []byte) ([]byte, error) {
	return append(b, 0, byte(o.Indicator)), nil
}

// DecodeHandoffIndicatorOption decodes the option data (after the Length octet).
func DecodeHandoffIndicatorOption(data []byte) (HandoffIndicatorOption, error) {
	if err := wantLen(data, 2); err != nil {
		return HandoffIndicatorOption{}, err
	}
	return HandoffIndicatorOption{Indicator: HandoffIndicator(data[1])}, nil
}

// AccessTechnologyType is the ATT field of the Access Technology Type
// option (RFC 5213 section 8.5; IANA "Access Technology Type Option type
// values").
type AccessTechnologyType uint8

const (
	AccessTechnologyReserved   AccessTechnologyType = 0  // RFC 5213 section 8.5
	AccessTechnologyVirtual    AccessTechnologyType = 1  // RFC 5213 section 8.5
	AccessTechnologyPPP        AccessTechnologyType = 2  // RFC 5213 section 8.5
	AccessTechnologyIEEE8023   AccessTechnologyType = 3  // RFC 5213 section 8.5
	AccessTechnologyIEEE80211  AccessTechnologyType = 4  // IEEE 802.11a/b/g, RFC 5213 section 8.5
	AccessTechnologyIEEE80216e AccessTechnologyType = 5  // RFC 5213 section 8.5
	AccessTechnology3GPPGERAN  AccessTechnologyType = 6  // 3GPP TS 29.275
	AccessTechnology3GPPUTRAN  AccessTechnologyType = 7  // 3GPP TS 29.275
	AccessTechnology3GPPEUTRAN AccessTechnologyType = 8  // 3GPP TS 29.275
	AccessTechnology3GPP2eHRPD AccessTechnologyType = 9  // 3GPP2 X.P0057
	AccessTechnology3GPP2HRPD  AccessTechnologyType = 10 // 3GPP2 X.P0061
	AccessTechnology3GPP21xRTT AccessTechnologyType = 11 // 3GPP2 X.S0011
	AccessTechnology3GPP2UMB   AccessTechnologyType = 12 // 3GPP2 X.S0054
	AccessTechnology3GPPNBIoT  AccessTechnologyType = 13 // 3GPP TS 29.275
)

var accessTechnologyNames = map[AccessTechnologyType]string{
	AccessTechnologyReserved:   "Reserved",
	AccessTechnologyVirtual:    "Virtual",
	AccessTechnologyPPP:        "PPP",
	AccessTechnologyIEEE8023:   "IEEE 802.3",
	AccessTechnologyIEEE80211:  "IEEE 802.11a/b/g",
	AccessTechnologyIEEE80216e: "IEEE 802.16e",
	AccessTechnology3GPPGERAN:  "3GPP GERAN",
	AccessTechnology3GPPUTRAN:  "3GPP UTRAN",
	AccessTechnology3GPPEUTRAN: "3GPP E-UTRAN",
	AccessTechnology3GPP2eHRPD: "3GPP2 eHRPD",
	AccessTechnology3GPP2HRPD:  "3GPP2 HRPD",
	AccessTechnology3GPP21xRTT: "3GPP2 1xRTT",
	AccessTechnology3GPP2UMB:   "3GPP2 UMB",
	AccessTechnology3GPPNBIoT:  "3GPP NB-IOT",
}

func (a AccessTechnologyType) String() string {
	if s, ok := accessTechnologyNames[a]; ok {
		return s
	}
	return "access technology type " + strconv.Itoa(int(a))
}

// MarshalText makes JSON output show the name.
func (a AccessTechnologyType) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// AccessTechnologyTypeOption is the Access Technology Type option (RFC
// 5213 section 8.5): Reserved (8), ATT (8). No alignment requirement.
type AccessTechnologyTypeOption struct {
	Type AccessTechnologyType
}

func (AccessTechnologyTypeOption) OptionType() OptionType { return OptAccessTechnologyType }
func (AccessTechnologyTypeOption) Alignment() (x, y int)  { return 1, 0 }

func (o AccessTechnologyTypeOption) AppendData(b []byte) ([]byte, error) {
	return append(b, 0, byte(o.Type)), nil
}

// DecodeAccessTechnologyTypeOption decodes the option data (after the Length octet).
func DecodeAccessTechnologyTypeOption(data []byte) (AccessTechnologyTypeOption, error) {
	if err := wantLen(data, 2); err != nil {
		return AccessTechnologyTypeOption{}, err
	}
	return AccessTechnologyTypeOption{Type: AccessTechnologyType(data[1])}, nil
}

// MobileNodeLinkLayerIdentifier is the Mobile Node Link-layer Identifier
// option (RFC 5213 section 8.6): Reserved (16), Link-layer Identifier
// (variable, at least one octet). Alignment 8n+2.
type MobileNodeLinkLayerIdentifier struct {
	Identifier []byte
}

func (MobileNodeLinkLayerIdentifier) OptionType() OptionType {
	return OptMobileNodeLinkLayerIdentifier
}
func (MobileNodeLinkLayerIdentifier) Alignment() (x, y int) { return 8, 2 }

func (o MobileNodeLinkLayerIdentifier) AppendData(b []byte) ([]byte, error) {
	if len(o.Identifier) == 0 || len(o.Identifier) > 253 {
		return b, eerr("Mobile Node Link-layer Identifier option", "identifier must be 1 to 253 octets")
	}
	b = append(b, 0, 0)
	return append(b, o.Identifier...), nil
}

// DecodeMobileNodeLinkLayerIdentifier decodes the option data (after the Length octet).
func DecodeMobileNodeLinkLayerIdentifier(data []byte) (MobileNodeLinkLayerIdentifier, error) {
	if len(data) < 3 {
		return MobileNodeLinkLayerIdentifier{}, fmt.Errorf("length %d, want at least 3: %w", len(data), ErrBadLength)
	}
	return MobileNodeLinkLayerIdentifier{Identifier: data[2:]}, nil
}

// LinkLocalAddress is the Link-local Address option (RFC 5213 section
// 8.7). Alignment 8n+6.
type LinkLocalAddress struct {
	Address netip.Addr // IPv6; ALL_ZERO (::) asks the LMA for the address
}

func (LinkLocalAddress) OptionType() OptionType { return OptLinkLocalAddress }
func (LinkLocalAddress) Alignment() (x, y int)  { return 8, 6 }

func (o LinkLocalAddress) AppendData(b []byte) ([]byte, error) {
	if !o.Address.Is6() {
		return b, eerr("Link-local Address option", "address must be IPv6")
	}
	a := o.Address.As16()
	return append(b, a[:]...), nil
}

// DecodeLinkLocalAddress decodes the option data (after the Length octet).
func DecodeLinkLocalAddress(data []byte) (LinkLocalAddress, error) {
	if err := wantLen(data, 16); err != nil {
		return LinkLocalAddress{}, err
	}
	return LinkLocalAddress{Address: netip.AddrFrom16([16]byte(data))}, nil
}

// Timestamp is the Timestamp option (RFC 5213 section 8.8): a 64-bit
// fixed-point count of seconds since 1970-01-01 00:00 UTC, 48 bits of
// seconds then 16 bits of 1/65536 fractions. Alignment 8n+2.
type Timestamp struct {
	Seconds  uint64 // 48 bits
	Fraction uint16 // 1/65536 s
}

// TimestampFromTime converts t (at or after 1970) to the RFC 5213 format,
// truncating to 1/65536 s.
func TimestampFromTime(t time.Time) Timestamp {
	s := t.Unix()
	if s < 0 {
		return Timestamp{}
	}
	return Timestamp{
		Seconds:  uint64(s) & (1<<48 - 1),
		Fraction: uint16(uint64(t.Nanosecond()) << 16 / 1e9),
	}
}

// Time converts the timestamp back to a time.Time (UTC).
func (o Timestamp) Time() time.Time {
	ns := int64(uint64(o.Fraction) * 1e9 >> 16)
	return time.Unix(int64(o.Seconds), ns).UTC()
}

func (Timestamp) OptionType() OptionType { return OptTimestamp }
func (Timestamp) Alignment() (x, y int)  { return 8, 2 }

func (o Timestamp) AppendData(b []byte) ([]byte, error) {
	if o.Seconds >= 1<<48 {
		return b, eerr("Timestamp option", "seconds do not fit in 48 bits")
	}
	return binary.BigEndian.AppendUint64(b, o.Seconds<<16|uint64(o.Fraction)), nil
}

// DecodeTimestamp decodes the option data (after the Length octet).
func DecodeTimestamp(data []byte) (Timestamp, error) {
	if err := wantLen(data, 8); err != nil {
		return Timestamp{}, err
	}
	v := binary.BigEndian.Uint64(data)
	return Timestamp{Seconds: v >> 16, Fraction: uint16(v)}, nil
}
