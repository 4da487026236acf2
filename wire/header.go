package wire

import (
	"encoding/binary"
)

// Mobility Header layout (RFC 6275 section 6.1.1):
//
//	Payload Proto (1) | Header Len (1) | MH Type (1) | Reserved (1) |
//	Checksum (2) | Message Data ...
//
// Header Len counts 8-octet units, not including the first 8 octets, so a
// Mobility Header is always a multiple of 8 octets long.
const (
	// HeaderLen is the length of the fixed fields before the Message Data.
	HeaderLen = 6
	// MinMHLen is the smallest Mobility Header (Header Len 0).
	MinMHLen = 8
	// MaxMHLen is the largest Mobility Header (Header Len 255).
	MaxMHLen = (255 + 1) * 8
)

// Header is the fixed part of a Mobility Header.
type Header struct {
	PayloadProto uint8
	HeaderLen    uint8 // 8-octet units beyond the first 8
	Type         MHType
	Reserved     uint8
	Checksum     uint16
}

// Len is the total length of the Mobility Header in octets.
func (h Header) Len() int { return (int(h.HeaderLen) + 1) * 8 }

// ParseHeader reads the fixed header of the Mobility Header at the start
// of b and checks that b holds the whole Mobility Header. Octets after it
// (there are none when Payload Proto is 59) are not looked at.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < MinMHLen {
		return Header{}, perr(0, "Mobility Header", ErrTruncated)
	}
	h := Header{
		PayloadProto: b[0],
		HeaderLen:    b[1],
		Type:         MHType(b[2]),
		Reserved:     b[3],
		Checksum:     binary.BigEndian.Uint16(b[4:]),
	}
	if h.Len() > len(b) {
		return h, perr(1, "Mobility Header (Header Len "+itoa(int(h.HeaderLen))+")", ErrTruncated)
	}
	return h, nil
}

// appendHeader appends a Mobility Header fixed part with Header Len and
// Checksum zero; finishMH fills them in.
func appendHeader(b []byte, t MHType) []byte {
	return append(b, IPProtoNone, 0, byte(t), 0, 0, 0)
}
