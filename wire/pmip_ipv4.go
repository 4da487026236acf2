package wire

// IPv4 mobility options: Dual-Stack Mobile IPv6 (RFC 5555 section 3) and
// IPv4 support for Proxy Mobile IPv6 (RFC 5844 section 3). Every one of
// them has the alignment requirement 4n, which puts its 32-bit field on a
// 4-octet boundary.

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

func init() {
	registerOption(OptIPv4HomeAddress, 4, 0, parseAs(DecodeIPv4HomeAddress))
	registerOption(OptIPv4AddressAcknowledgement, 4, 0, parseAs(DecodeIPv4AddressAcknowledgement))
	registerOption(OptNATDetection, 4, 0, parseAs(DecodeNATDetection))
	registerOption(OptIPv4CareOfAddress, 4, 0, parseAs(DecodeIPv4CareOfAddress))
	registerOption(OptIPv4HomeAddressRequest, 4, 0, parseAs(DecodeIPv4HomeAddressRequest))
	registerOption(OptIPv4HomeAddressReply, 4, 0, parseAs(DecodeIPv4HomeAddressReply))
	registerOption(OptIPv4DefaultRouterAddress, 4, 0, parseAs(DecodeIPv4DefaultRouterAddress))
	registerOption(OptIPv4DHCPSupportMode, 4, 0, parseAs(DecodeIPv4DHCPSupportMode))
}

func appendIPv4(b []byte, a netip.Addr, what string) ([]byte, error) {
	if !a.Is4() {
		return b, eerr(what, "address must be IPv4")
	}
	v := a.As4()
	return append(b, v[:]...), nil
}

func ipv4At(b []byte) netip.Addr { return netip.AddrFrom4([4]byte(b[:4])) }

// checkPrefixLen rejects IPv4 prefix lengths above 32 on encode.
func checkPrefixLen(n uint8, what string) error {
	if n > 32 {
		return eerr(what, "prefix length "+strconv.Itoa(int(n))+" is more than 32")
	}
	return nil
}

// IPv4HomeAddress is the IPv4 Home Address option (RFC 5555 section
// 3.1.1), sent by a mobile node in a Binding Update: Prefix-len (6 bits),
// P flag, Reserved (9 bits), IPv4 home address. Address 0.0.0.0 asks the
// home agent to allocate one.
type IPv4HomeAddress struct {
	PrefixLen uint8 // 0..32
	// P asks for a mobile network prefix (RFC 5555 section 3.1.1).
	MobileNetworkPrefix bool
	Address             netip.Addr
}

func (IPv4HomeAddress) OptionType() OptionType { return OptIPv4HomeAddress }
func (IPv4HomeAddress) Alignment() (x, y int)  { return 4, 0 }

func (o IPv4HomeAddress) AppendData(b []byte) ([]byte, error) {
	const what = "IPv4 Home Address option"
	if err := checkPrefixLen(o.PrefixLen, what); err != nil {
		return b, err
	}
	f := o.PrefixLen << 2
	if o.MobileNetworkPrefix {
		f |= 0x02
	}
	return appendIPv4(append(b, f, 0), o.Address, what)
}

// DecodeIPv4HomeAddress decodes the option data (after the Length octet).
func DecodeIPv4HomeAddress(data []byte) (IPv4HomeAddress, error) {
	if err := wantLen(data, 6); err != nil {
		return IPv4HomeAddress{}, err
	}
	o := IPv4HomeAddress{PrefixLen: data[0] >> 2, MobileNetworkPrefix: data[0]&0x02 != 0, Address: ipv4At(data[2:])}
	if o.PrefixLen > 32 {
		return IPv4HomeAddress{}, fmt.Errorf("prefix length %d, more than 32: %w", o.PrefixLen, ErrBadValue)
	}
	return o, nil
}

// IPv4AddressAckStatus is the Status of the IPv4 Address Acknowledgement
// option (RFC 5555 section 3.2.1; IANA "DSMIPv6 IPv4 Home Address Option
// Status Codes"). Values below 128 mean success.
type IPv4AddressAckStatus uint8

const (
	IPv4AckSuccess                       IPv4AddressAckStatus = 0   // RFC 5555 section 3.2.1
	IPv4AckReasonUnspecified             IPv4AddressAckStatus = 128 // failure, reason unspecified
	IPv4AckAdministrativelyProhibited    IPv4AddressAckStatus = 129
	IPv4AckIncorrectHomeAddress          IPv4AddressAckStatus = 130
	IPv4AckInvalidAddress                IPv4AddressAckStatus = 131
	IPv4AckDynamicAssignmentNotAvailable IPv4AddressAckStatus = 132
	IPv4AckPrefixAllocationUnauthorized  IPv4AddressAckStatus = 133
)

var ipv4AckStatusNames = map[IPv4AddressAckStatus]string{
	IPv4AckSuccess:                       "Success",
	IPv4AckReasonUnspecified:             "Failure, reason unspecified",
	IPv4AckAdministrativelyProhibited:    "Administratively prohibited",
	IPv4AckIncorrectHomeAddress:          "Incorrect IPv4 home address",
	IPv4AckInvalidAddress:                "Invalid IPv4 address",
	IPv4AckDynamicAssignmentNotAvailable: "Dynamic IPv4 home address assignment not available",
	IPv4AckPrefixAllocationUnauthorized:  "Prefix allocation unauthorized",
}

func (s IPv4AddressAckStatus) String() string {
	if n, ok := ipv4AckStatusNames[s]; ok {
		return n
	}
	return "IPv4 address acknowledgement status " + strconv.Itoa(int(s))
}

// MarshalText makes JSON output show the name.
func (s IPv4AddressAckStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// IPv4AddressAcknowledgement is the IPv4 Address Acknowledgement option
// (RFC 5555 section 3.2.1), the home agent's answer in a Binding
// Acknowledgement: Status (8), Pref-len (6 bits), Reserved (2 bits), IPv4
// home address.
type IPv4AddressAcknowledgement struct {
	Status    IPv4AddressAckStatus
	PrefixLen uint8 // 0..32
	Address   netip.Addr
}

func (IPv4AddressAcknowledgement) OptionType() OptionType { return OptIPv4AddressAcknowledgement }
func (IPv4AddressAcknowledgement) Alignment() (x, y int)  { return 4, 0 }

func (o IPv4AddressAcknowledgement) AppendData(b []byte) ([]byte, error) {
	const what = "IPv4 Address Acknowledgement option"
	if err := checkPrefixLen(o.PrefixLen, what); err != nil {
		return b, err
	}
	return appendIPv4(append(b, byte(o.Status), o.PrefixLen<<2), o.Address, what)
}

// DecodeIPv4AddressAcknowledgement decodes the option data (after the Length octet).
func DecodeIPv4AddressAcknowledgement(data []byte) (IPv4AddressAcknowledgement, error) {
	if err := wantLen(data, 6); err != nil {
		return IPv4AddressAcknowledgement{}, err
	}
	o := IPv4AddressAcknowledgement{Status: IPv4AddressAckStatus(data[0]), PrefixLen: data[1] >> 2, Address: ipv4At(data[2:])}
	if o.PrefixLen > 32 {
		return IPv4AddressAcknowledgement{}, fmt.Errorf("prefix length %d, more than 32: %w", o.PrefixLen, ErrBadValue)
	}
	return o, nil
}

// NATDetection is the NAT Detection option (RFC 5555 section 3.2.2),
// sent by the home agent: F flag, Reserved (15 bits), Refresh time (32).
type NATDetection struct {
	// F: a NAT was detected and the mobile node must use UDP
	// encapsulation (RFC 5555 section 3.2.2).
	UDPEncapsulationRequired bool
	// RefreshTime in seconds between keepalives; 0 means ignore,
	// 0xffffffff means keepalives are not needed (no NAT detected).
	RefreshTime uint32
}

func (NATDetection) OptionType() OptionType { return OptNATDetection }
func (NATDetection) Alignment() (x, y int)  { return 4, 0 }

func (o NATDetection) AppendData(b []byte) ([]byte, error) {
	var f byte
	if o.UDPEncapsulationRequired {
		f = 0x80
	}
	return binary.BigEndian.AppendUint32(append(b, f, 0), o.RefreshTime), nil
}

// DecodeNATDetection decodes the option data (after the Length octet).
func DecodeNATDetection(data []byte) (NATDetection, error) {
	if err := wantLen(data, 6); err != nil {
		return NATDetection{}, err
	}
	return NATDetection{UDPEncapsulationRequired: data[0]&0x80 != 0, RefreshTime: binary.BigEndian.Uint32(data[2:])}, nil
}

// IPv4CareOfAddress is the IPv4 Care-of Address option (RFC 5555 section
// 3.1.2), sent by a mobile node in a Binding Update from an IPv4 network:
// Reserved (16), IPv4 care-of address.
type IPv4CareOfAddress struct {
	Address netip.Addr
}

func (IPv4CareOfAddress) OptionType() OptionType { return OptIPv4CareOfAddress }
func (IPv4CareOfAddress) Alignment() (x, y int)  { return 4, 0 }

func (o IPv4CareOfAddress) AppendData(b []byte) ([]byte, error) {
	return appendIPv4(append(b, 0, 0), o.Address, "IPv4 Care-of Address option")
}

// DecodeIPv4CareOfAddress decodes the option data (after the Length octet).
func DecodeIPv4CareOfAddress(data []byte) (IPv4CareOfAddress, error) {
	if err := wantLen(data, 6); err != nil {
		return IPv4CareOfAddress{}, err
	}
	return IPv4CareOfAddress{Address: ipv4At(data[2:])}, nil
}

// IPv4HomeAddressRequest is the IPv4 Home Address Request option (RFC 5844
// section 3.1.1), sent by a MAG in a Proxy Binding Update: Prefix-len (6
// bits), Reserved (10 bits), IPv4 home address (0.0.0.0: let the LMA
// allocate one).
type IPv4HomeAddressRequest struct {
	PrefixLen uint8 // 0..32
	Address   netip.Addr
}

func (IPv4HomeAddressRequest) OptionType() OptionType { return OptIPv4HomeAddressRequest }
func (IPv4HomeAddressRequest) Alignment() (x, y int)  { return 4, 0 }

func (o IPv4HomeAddressRequest) AppendData(b []byte) ([]byte, error) {
	const what = "IPv4 Home Address Request option"
	if err := checkPrefixLen(o.PrefixLen, what); err != nil {
		return b, err
	}
	return appendIPv4(append(b, o.PrefixLen<<2, 0), o.Address, what)
}

// DecodeIPv4HomeAddressRequest decodes the option data (after the Length octet).
func DecodeIPv4HomeAddressRequest(data []byte) (IPv4HomeAddressRequest, error) {
	if err := wantLen(data, 6); err != nil {
		return IPv4HomeAddressRequest{}, err
	}
	o := IPv4HomeAddressRequest{PrefixLen: data[0] >> 2, Address: ipv4At(data[2:])}
	if o.PrefixLen > 32 {
		return IPv4HomeAddressRequest{}, fmt.Errorf("prefix length %d, more than 32: %w", o.PrefixLen, ErrBadValue)
	}
	return o, nil
}

// IPv4HomeAddressReplyStatus is the Status of the IPv4 Home Address Reply
// option (RFC 5844 section 3.1.2; IANA "IPv4 Home Address Reply Status
// Codes"). Values below 128 mean success.
type IPv4HomeAddressReplyStatus uint8

const (
	IPv4ReplySuccess                       IPv4HomeAddressReplyStatus = 0   // RFC 5844 section 3.1.2
	IPv4ReplyReasonUnspecified             IPv4HomeAddressReplyStatus = 128 // failure, reason unspecified
	IPv4ReplyAdministrativelyProhibited    IPv4HomeAddressReplyStatus = 129
	IPv4ReplyIncorrectHomeAddress          IPv4HomeAddressReplyStatus = 130
	IPv4ReplyInvalidAddress                IPv4HomeAddressReplyStatus = 131
	IPv4ReplyDynamicAssignmentNotAvailable IPv4HomeAddressReplyStatus = 132
)

var ipv4ReplyStatusNames = map[IPv4HomeAddressReplyStatus]string{
	IPv4ReplySuccess:                       "Success",
	IPv4ReplyReasonUnspecified:             "Failure, reason unspecified",
	IPv4ReplyAdministrativelyProhibited:    "Administratively prohibited",
	IPv4ReplyIncorrectHomeAddress:          "Incorrect IPv4 home address",
	IPv4ReplyInvalidAddress:                "Invalid IPv4 address",
	IPv4ReplyDynamicAssignmentNotAvailable: "Dynamic IPv4 home address assignment not available",
}

func (s IPv4HomeAddressReplyStatus) String() string {
	if n, ok := ipv4ReplyStatusNames[s]; ok {
		return n
	}
	return "IPv4 home address reply status " + strconv.Itoa(int(s))
}

// MarshalText makes JSON output show the name.
func (s IPv4HomeAddressReplyStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// IPv4HomeAddressReply is the IPv4 Home Address Reply option (RFC 5844
// section 3.1.2), sent by the LMA in a Proxy Binding Acknowledgement:
// Status (8), Pref-len (6 bits), Reserved (2 bits), IPv4 home address.
type IPv4HomeAddressReply struct {
	Status    IPv4HomeAddressReplyStatus
	PrefixLen uint8 // 0..32
	Address   netip.Addr
}

func (IPv4HomeAddressReply) OptionType() OptionType { return OptIPv4HomeAddressReply }
func (IPv4HomeAddressReply) Alignment() (x, y int)  { return 4, 0 }

func (o IPv4HomeAddressReply) AppendData(b []byte) ([]byte, error) {
	const what = "IPv4 Home Address Reply option"
	if err := checkPrefixLen(o.PrefixLen, what); err != nil {
		return b, err
	}
	return appendIPv4(append(b, byte(o.Status), o.PrefixLen<<2), o.Address, what)
}

// DecodeIPv4HomeAddressReply decodes the option data (after the Length octet).
func DecodeIPv4HomeAddressReply(data []byte) (IPv4HomeAddressReply, error) {
	if err := wantLen(data, 6); err != nil {
		return IPv4HomeAddressReply{}, err
	}
	o := IPv4HomeAddressReply{Status: IPv4HomeAddressReplyStatus(data[0]), PrefixLen: data[1] >> 2, Address: ipv4At(data[2:])}
	if o.PrefixLen > 32 {
		return IPv4HomeAddressReply{}, fmt.Errorf("prefix length %d, more than 32: %w", o.PrefixLen, ErrBadValue)
	}
	return o, nil
}

// IPv4DefaultRouterAddress is the IPv4 Default-Router Address option (RFC
// 5844 section 3.2.1): Reserved (16), IPv4 default-router address.
type IPv4DefaultRouterAddress struct {
	Address netip.Addr
}

func (IPv4DefaultRouterAddress) OptionType() OptionType { return OptIPv4DefaultRouterAddress }
func (IPv4DefaultRouterAddress) Alignment() (x, y int)  { return 4, 0 }

func (o IPv4DefaultRouterAddress) AppendData(b []byte) ([]byte, error) {
	return appendIPv4(append(b, 0, 0), o.Address, "IPv4 Default-Router Address option")
}

// DecodeIPv4DefaultRouterAddress decodes the option data (after the Length octet).
func DecodeIPv4DefaultRouterAddress(data []byte) (IPv4DefaultRouterAddress, error) {
	if err := wantLen(data, 6); err != nil {
		return IPv4DefaultRouterAddress{}, err
	}
	return IPv4DefaultRouterAddress{Address: ipv4At(data[2:])}, nil
}

// IPv4DHCPSupportMode is the IPv4 DHCP Support Mode option (RFC 5844
// section 3.3): Reserved (15 bits), S flag.
type IPv4DHCPSupportMode struct {
	// S: the MAG acts as a DHCP server; false means DHCP relay.
	DHCPServer bool
}

func (IPv4DHCPSupportMode) OptionType() OptionType { return OptIPv4DHCPSupportMode }
func (IPv4DHCPSupportMode) Alignment() (x, y int)  { return 4, 0 }

func (o IPv4DHCPSupportMode) AppendData(b []byte) ([]byte, error) {
	var s byte
	if o.DHCPServer {
		s = 0x01
	}
	return append(b, 0, s), nil
}

// DecodeIPv4DHCPSupportMode decodes the option data (after the Length octet).
func DecodeIPv4DHCPSupportMode(data []byte) (IPv4DHCPSupportMode, error) {
	if err := wantLen(data, 2); err != nil {
		return IPv4DHCPSupportMode{}, err
	}
	return IPv4DHCPSupportMode{DHCPServer: data[1]&0x01 != 0}, nil
}
