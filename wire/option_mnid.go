package wire

import (
	"fmt"
	"strconv"
)

// Mobile Node Identifier option, RFC 4283 section 3:
//
//	Type | Length | Subtype | Identifier ...
//
// RFC 4283 sets no alignment requirement.

func init() {
	registerOption(OptMobileNodeIdentifier, 1, 0, parseAs(DecodeMobileNodeIdentifier))
}

// MNIDSubtype is the Subtype field (IANA "Mobile Node Identifier Option Subtypes").
type MNIDSubtype uint8

const (
	MNIDNAI         MNIDSubtype = 1 // Network Access Identifier, RFC 4283 section 3 (RFC 4282 syntax)
	MNIDIPv6Address MNIDSubtype = 2 // RFC 8371 (IANA registry)
	MNIDIMSI        MNIDSubtype = 3 // RFC 8371 (IANA registry)
	MNIDPTMSI       MNIDSubtype = 4 // RFC 8371 (IANA registry)
	MNIDEUI48       MNIDSubtype = 5 // RFC 8371 (IANA registry)
	MNIDEUI64       MNIDSubtype = 6 // RFC 8371 (IANA registry)
	MNIDGUTI        MNIDSubtype = 7 // RFC 8371 (IANA registry)
	MNIDDUID        MNIDSubtype = 8 // RFC 8371 (IANA registry)
)

var mnidNames = map[MNIDSubtype]string{
	MNIDNAI: "NAI", MNIDIPv6Address: "IPv6 Address", MNIDIMSI: "IMSI", MNIDPTMSI: "P-TMSI",
	MNIDEUI48: "EUI-48", MNIDEUI64: "EUI-64", MNIDGUTI: "GUTI", MNIDDUID: "DUID",
}

func (s MNIDSubtype) String() string {
	if n, ok := mnidNames[s]; ok {
		return n
	}
	return "subtype " + strconv.Itoa(int(s))
}

// mnidFixedLen is the identifier length for subtypes that fix one
// (RFC 8371), or 0. A switch, not a map: this runs on the receive path.
func mnidFixedLen(s MNIDSubtype) int {
	switch s {
	case MNIDIPv6Address:
		return 16
	case MNIDEUI48:
		return 6
	case MNIDEUI64:
		return 8
	}
	return 0
}

// MobileNodeIdentifier is the MN Identifier option.
type MobileNodeIdentifier struct {
	Subtype    MNIDSubtype
	Identifier []byte // for MNIDNAI, the NAI octets (RFC 4282)
}

// NAI returns a MobileNodeIdentifier carrying a Network Access Identifier.
func NAI(nai string) MobileNodeIdentifier {
	return MobileNodeIdentifier{Subtype: MNIDNAI, Identifier: []byte(nai)}
}

func (MobileNodeIdentifier) OptionType() OptionType { return OptMobileNodeIdentifier }
func (MobileNodeIdentifier) Alignment() (int, int)  { return 1, 0 }
func (o MobileNodeIdentifier) AppendData(b []byte) ([]byte, error) {
	if err := o.check(); err != nil {
		return b, eerr("Mobile Node Identifier", err.Error())
	}
	return append(append(b, byte(o.Subtype)), o.Identifier...), nil
}

func (o MobileNodeIdentifier) check() error {
	if len(o.Identifier) == 0 {
		return fmt.Errorf("empty identifier: %w", ErrBadLength)
	}
	if n := mnidFixedLen(o.Subtype); n != 0 && len(o.Identifier) != n {
		return fmt.Errorf("%s identifier of %d octets, want %d: %w", o.Subtype, len(o.Identifier), n, ErrBadLength)
	}
	return nil
}

// String is the identifier as text for NAIs, else hex.
func (o MobileNodeIdentifier) String() string {
	if o.Subtype == MNIDNAI {
		return string(o.Identifier)
	}
	return o.Subtype.String() + ":" + fmt.Sprintf("%x", o.Identifier)
}

// DecodeMobileNodeIdentifier decodes the option data; Identifier aliases d.
func DecodeMobileNodeIdentifier(d []byte) (MobileNodeIdentifier, error) {
	if len(d) < 2 {
		return MobileNodeIdentifier{}, fmt.Errorf("length %d, want at least 2: %w", len(d), ErrBadLength)
	}
	o := MobileNodeIdentifier{Subtype: MNIDSubtype(d[0]), Identifier: d[1:]}
	if err := o.check(); err != nil {
		return MobileNodeIdentifier{}, err
	}
	return o, nil
}
