package wire

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"
)

// RFC 4285 options: Mobility Message Authentication (AUTH-OPTION-TYPE, 9)
// and Mobility Message Replay Protection (MESG-ID-OPTION-TYPE, 10).
//
// Authentication option (RFC 4285 section 5; alignment 4n+1):
//
//	Type | Length | Subtype | Mobility SPI (32) | Authentication Data ...
//
// Replay Protection option (RFC 4285 section 6; alignment 8n+2):
//
//	Type | Length (8) | Timestamp (64)

func init() {
	// Alignment is not checked on receive: a wrong guess here would drop
	// authenticated traffic from peers, and the authenticator covers the
	// octets whatever their position.
	registerOption(OptMobilityMessageAuthentication, 1, 0, parseAs(DecodeMobilityMessageAuthentication))
	registerOption(OptMobilityMessageReplay, 1, 0, parseAs(DecodeMobilityMessageReplayProtection))
}

// AuthSubtype is the Subtype of the authentication option (IANA "Subtype
// Field of the MN-HA and MN-AAA Authentication Mobility Options").
type AuthSubtype uint8

const (
	AuthMNHA  AuthSubtype = 1 // MN-HA, RFC 4285 section 5.1
	AuthMNAAA AuthSubtype = 2 // MN-AAA, RFC 4285 section 5.2
)

func (s AuthSubtype) String() string {
	switch s {
	case AuthMNHA:
		return "MN-HA"
	case AuthMNAAA:
		return "MN-AAA"
	}
	return "subtype " + strconv.Itoa(int(s))
}

// HMACSHA1SPI is the well-known Mobility SPI that selects HMAC_SHA1 for
// MN-AAA authentication (RFC 4285 section 5.2; IANA "Enumerating
// Algorithms"). SPIs 0-255 are reserved (RFC 4285 section 5.1).
const HMACSHA1SPI = 3

const authFixedLen = 5 // Subtype + Mobility SPI

// MobilityMessageAuthentication is the Mobility Message Authentication
// option. It must be the last option of its message (RFC 4285 section 5.1).
type MobilityMessageAuthentication struct {
	Subtype            AuthSubtype
	SPI                uint32
	AuthenticationData []byte
}

func (MobilityMessageAuthentication) OptionType() OptionType {
	return OptMobilityMessageAuthentication
}

// Alignment 4n+1 puts the Mobility SPI on a 4-octet boundary.
func (MobilityMessageAuthentication) Alignment() (int, int) { return 4, 1 }

func (o MobilityMessageAuthentication) AppendData(b []byte) ([]byte, error) {
	b = append(b, byte(o.Subtype))
	b = binary.BigEndian.AppendUint32(b, o.SPI)
	return append(b, o.AuthenticationData...), nil
}

// DecodeMobilityMessageAuthentication decodes the option data;
// AuthenticationData aliases d.
func DecodeMobilityMessageAuthentication(d []byte) (MobilityMessageAuthentication, error) {
	if len(d) < authFixedLen+1 {
		return MobilityMessageAuthentication{}, fmt.Errorf("length %d, want at least %d: %w", len(d), authFixedLen+1, ErrBadLength)
	}
	return MobilityMessageAuthentication{
		Subtype:            AuthSubtype(d[0]),
		SPI:                binary.BigEndian.Uint32(d[1:]),
		AuthenticationData: d[authFixedLen:],
	}, nil
}

// MobilityMessageReplayProtection is the Mobility Message Replay
// Protection option. Timestamp is kept as the raw 64 bits; NTPTimestamp
// and Time read it as an NTP timestamp (seconds since 1900 in the high 32
// bits, fraction in the low 32), the format MIPv4 replay protection uses.
type MobilityMessageReplayProtection struct {
	Timestamp uint64
}

func (MobilityMessageReplayProtection) OptionType() OptionType { return OptMobilityMessageReplay }

// Alignment 8n+2 puts the 64-bit Timestamp on an 8-octet boundary.
func (MobilityMessageReplayProtection) Alignment() (int, int) { return 8, 2 }

func (o MobilityMessageReplayProtection) AppendData(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint64(b, o.Timestamp), nil
}

// DecodeMobilityMessageReplayProtection decodes the option data (Length 8).
func DecodeMobilityMessageReplayProtection(d []byte) (MobilityMessageReplayProtection, error) {
	if err := wantLen(d, 8); err != nil {
		return MobilityMessageReplayProtection{}, err
	}
	return MobilityMessageReplayProtection{Timestamp: binary.BigEndian.Uint64(d)}, nil
}

// ntpEpochOffset is the seconds from 1900-01-01 to 1970-01-01.
const ntpEpochOffset = 2208988800

// NTPTimestamp converts t to the 64-bit NTP format.
func NTPTimestamp(t time.Time) uint64 {
	sec := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return sec<<32 | frac
}

// Time converts the Timestamp to a time (era 0: 1900-2036).
func (o MobilityMessageReplayProtection) Time() time.Time {
	sec := int64(o.Timestamp>>32) - ntpEpochOffset
	nsec := int64((o.Timestamp & 0xffffffff) * 1e9 >> 32)
	return time.Unix(sec, nsec).UTC()
}
