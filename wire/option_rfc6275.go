package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// RFC 6275 section 6.2 Mobility Options other than padding.

func init() {
	registerOption(OptBindingRefreshAdvice, 2, 0, parseAs(DecodeBindingRefreshAdvice))
	registerOption(OptAlternateCareOfAddress, 8, 6, parseAs(DecodeAlternateCareOfAddress))
	registerOption(OptNonceIndices, 2, 0, parseAs(DecodeNonceIndices))
	// RFC 6275 section 6.2.7: "does not have alignment requirements as
	// such", so receivers check none; senders use 8n+2.
	registerOption(OptBindingAuthorizationData, 1, 0, parseAs(DecodeBindingAuthorizationData))
}

// parseAs adapts a typed decoder to an OptionParser.
func parseAs[T Option](dec func([]byte) (T, error)) OptionParser {
	return func(d []byte) (Option, error) {
		v, err := dec(d)
		if err != nil {
			return nil, err
		}
		return v, nil
	}
}

func wantLen(data []byte, n int) error {
	if len(data) != n {
		return fmt.Errorf("length %d, want %d: %w", len(data), n, ErrBadLength)
	}
	return nil
}

// appendAddr16 appends an IPv6 address; IPv4 or zero addresses are
// refused rather than silently mapped.
func appendAddr16(b []byte, a netip.Addr, what string) ([]byte, error) {
	if !a.Is6() {
		return b, eerr(what, "address "+a.String()+" is not IPv6")
	}
	x := a.As16()
	return append(b, x[:]...), nil
}

func addr16(b []byte) netip.Addr { return netip.AddrFrom16([16]byte(b[:16])) }

// BindingRefreshAdvice is RFC 6275 section 6.2.4 (alignment 2n).
type BindingRefreshAdvice struct {
	RefreshInterval uint16 // units of 4 seconds
}

func (BindingRefreshAdvice) OptionType() OptionType { return OptBindingRefreshAdvice }
func (BindingRefreshAdvice) Alignment() (int, int)  { return 2, 0 }
func (o BindingRefreshAdvice) AppendData(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint16(b, o.RefreshInterval), nil
}

// DecodeBindingRefreshAdvice decodes the option data (Length 2).
func DecodeBindingRefreshAdvice(d []byte) (BindingRefreshAdvice, error) {
	if err := wantLen(d, 2); err != nil {
		return BindingRefreshAdvice{}, err
	}
	return BindingRefreshAdvice{RefreshInterval: binary.BigEndian.Uint16(d)}, nil
}

// AlternateCareOfAddress is RFC 6275 section 6.2.5 (alignment 8n+6).
type AlternateCareOfAddress struct {
	CareOfAddress netip.Addr
}

func (AlternateCareOfAddress) OptionType() OptionType { return OptAlternateCareOfAddress }
func (AlternateCareOfAddress) Alignment() (int, int)  { return 8, 6 }
func (o AlternateCareOfAddress) AppendData(b []byte) ([]byte, error) {
	return appendAddr16(b, o.CareOfAddress, "Alternate Care-of Address")
}

// DecodeAlternateCareOfAddress decodes the option data (Length 16).
func DecodeAlternateCareOfAddress(d []byte) (AlternateCareOfAddress, error) {
	if err := wantLen(d, 16); err != nil {
		return AlternateCareOfAddress{}, err
	}
	return AlternateCareOfAddress{CareOfAddress: addr16(d)}, nil
}

// NonceIndices is RFC 6275 section 6.2.6 (alignment 2n).
type NonceIndices struct {
	HomeNonceIndex   uint16
	CareOfNonceIndex uint16
}

func (NonceIndices) OptionType() OptionType { return OptNonceIndices }
func (NonceIndices) Alignment() (int, int)  { return 2, 0 }
func (o NonceIndices) AppendData(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, o.HomeNonceIndex)
	return binary.BigEndian.AppendUint16(b, o.CareOfNonceIndex), nil
}

// DecodeNonceIndices decodes the option data (Length 4).
func DecodeNonceIndices(d []byte) (NonceIndices, error) {
	if err := wantLen(d, 4); err != nil {
		return NonceIndices{}, err
	}
	return NonceIndices{
		HomeNonceIndex:   binary.BigEndian.Uint16(d),
		CareOfNonceIndex: binary.BigEndian.Uint16(d[2:]),
	}, nil
}

// BindingAuthorizationData is RFC 6275 section 6.2.7. It must be the last
// option; senders align it at 8n+2. The Authenticator is 96 bits when
// computed as in RFC 6275 section 5.2.6, but the option does not fix it.
type BindingAuthorizationData struct {
	Authenticator []byte
}

func (BindingAuthorizationData) OptionType() OptionType { return OptBindingAuthorizationData }
func (BindingAuthorizationData) Alignment() (int, int)  { return 8, 2 }
func (o BindingAuthorizationData) AppendData(b []byte) ([]byte, error) {
	return append(b, o.Authenticator...), nil
}

// DecodeBindingAuthorizationData decodes the option data; it aliases d.
func DecodeBindingAuthorizationData(d []byte) (BindingAuthorizationData, error) {
	return BindingAuthorizationData{Authenticator: d}, nil
}
