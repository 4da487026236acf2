package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Binding Identifier mobility option, RFC 5648 section 6.1, with the
// BID-PRI field that RFC 6089 carves out of the Reserved bits:
//
//	Type | Length | Binding ID (16) | Status (8) | H (1) | BID-PRI (7) |
//	[IPv4 or IPv6 care-of address]
//
// Length is 4 (no care-of address), 8 (IPv4) or 20 (IPv6). Several BID
// options in one Binding Update make a bulk registration (RFC 5648
// section 5.3).

func init() {
	// Receivers check 2n, which the 16-bit Binding ID needs; see Alignment.
	registerOption(OptBindingIdentifier, 2, 0, parseAs(DecodeBindingIdentifier))
}

const (
	bidFlagH      = 0x80 // Simultaneous Home and Foreign Binding (RFC 5648 section 6.1)
	bidPriMask    = 0x7f // BID-PRI (RFC 6089)
	bidLenNoCoA   = 4
	bidLenIPv4CoA = 8
	bidLenIPv6CoA = 20
)

// BindingIdentifier is the Binding Identifier option.
type BindingIdentifier struct {
	BindingID uint16 // zero is reserved (RFC 5648 section 6.1)
	// Status overrides the Binding Acknowledgement status for this BID
	// when non-zero; also used in Care-of Test (RFC 5648 section 6.1).
	Status Status
	// SimultaneousHomeAndForeign is the H flag (RFC 5648 section 6.1).
	SimultaneousHomeAndForeign bool
	// Priority is BID-PRI (RFC 6089): 7 bits, lower is
	// preferred, zero reserved in RFC 6089 but sent by RFC 5648-only peers.
	Priority uint8
	// CareOfAddress is the zero Addr when the option carries none, an
	// IPv4 address (Length 8) or an IPv6 address (Length 20).
	CareOfAddress netip.Addr
}

func (BindingIdentifier) OptionType() OptionType { return OptBindingIdentifier }

// Alignment: sent at 8n+2, which meets the 2n receivers check and puts an
// IPv6 care-of address on an 8-octet boundary.
func (BindingIdentifier) Alignment() (int, int) { return 8, 2 }

func (o BindingIdentifier) AppendData(b []byte) ([]byte, error) {
	if o.Priority > bidPriMask {
		return b, eerr("Binding Identifier", fmt.Sprintf("BID-PRI %d does not fit in 7 bits", o.Priority))
	}
	f := o.Priority
	if o.SimultaneousHomeAndForeign {
		f |= bidFlagH
	}
	b = binary.BigEndian.AppendUint16(b, o.BindingID)
	b = append(b, byte(o.Status), f)
	switch {
	case !o.CareOfAddress.IsValid():
		return b, nil
	case o.CareOfAddress.Is4():
		a := o.CareOfAddress.As4()
		return append(b, a[:]...), nil
	default:
		a := o.CareOfAddress.As16()
		return append(b, a[:]...), nil
	}
}

// DecodeBindingIdentifier decodes the option data (Length 4, 8 or 20).
func DecodeBindingIdentifier(d []byte) (BindingIdentifier, error) {
	var o BindingIdentifier
	err := o.Decode(d)
	return o, err
}

// Decode decodes the option data (Length 4, 8 or 20) into o, for a hot
// path that keeps one value: a struct returned by value and then copied
// costs a store-forwarding stall.
func (o *BindingIdentifier) Decode(d []byte) error {
	switch len(d) {
	case bidLenNoCoA:
		o.CareOfAddress = netip.Addr{}
	case bidLenIPv4CoA:
		o.CareOfAddress = netip.AddrFrom4([4]byte(d[4:8]))
	case bidLenIPv6CoA:
		o.CareOfAddress = addr16(d[4:])
	default:
		*o = BindingIdentifier{}
		return fmt.Errorf("length %d, want 4, 8 or 20: %w", len(d), ErrBadLength)
	}
	o.BindingID = binary.BigEndian.Uint16(d)
	o.Status = Status(d[2])
	o.SimultaneousHomeAndForeign = d[3]&bidFlagH != 0
	o.Priority = d[3] & bidPriMask
	return nil
}
