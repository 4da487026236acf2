package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"
)

var testKey = []byte("0123456789abcdef")

// The authenticator below was computed with Python's hmac module over
// care-of address | home address | the 28 octets up to the SPI, laid out
// by hand (RFC 4285 section 5.1), not with this package.
const authBU = `
	3b 04 05 00 0000 | 0007 | c000 | 0100
	08 05 01 6d6e4078
	01 00
	09 11 01 00000100 | 0dcc5fc5220e397e8c93ce39`

func TestAuthenticatorKnownAnswer(t *testing.T) {
	want := unhex(t, authBU)
	a := NewAuthenticator(testKey)
	m := BindingUpdate{Sequence: 7, Flags: BUFlagA | BUFlagH, Lifetime: 0x100, Options: []Option{NAI("mn@x")}}
	got, err := a.AppendMessage(nil, m, 0x100, tCoA, tHoA, tCoA, tDst)
	if err != nil {
		t.Fatal(err)
	}
	sum := binary.BigEndian.Uint16(got[4:])
	if sum != refChecksum(got, tCoA, tDst) {
		t.Fatalf("checksum %#x, reference %#x", sum, refChecksum(got, tCoA, tDst))
	}
	got[4], got[5] = 0, 0
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
}

func TestAuthenticatorVerify(t *testing.T) {
	b := unhex(t, authBU)
	SetChecksum(b, tHoA, tDst) // sent with a Home Address option: pseudo source is the HoA
	var v BindingUpdateView
	if err := (Parser{}).DecodeBindingUpdate(&v, b, tHoA, tDst); err != nil {
		t.Fatal(err)
	}
	last, ok := LastOption(v.Options())
	if !ok || last.Type != OptMobilityMessageAuthentication {
		t.Fatalf("last option %v", last)
	}
	a := NewAuthenticator(testKey)
	if err := a.Verify(v.Bytes(), last, tCoA, tHoA); err != nil {
		t.Fatalf("verify: %v", err)
	}
	// The checksum is outside the authenticated data (taken as zero).
	b[4] ^= 0xff
	if err := a.Verify(b, last, tCoA, tHoA); err != nil {
		t.Fatalf("verify with other checksum: %v", err)
	}
	b[4] ^= 0xff
	// Wrong key, wrong addresses, a flipped bit before the SPI and in the
	// authenticator, wrong subtype: all fail.
	if err := NewAuthenticator([]byte("other key 123456")).Verify(b, last, tCoA, tHoA); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("wrong key: %v", err)
	}
	if err := a.Verify(b, last, tHoA, tCoA); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("swapped addresses: %v", err)
	}
	for _, i := range []int{1, 7, 14, 27, 39} {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		var v2 BindingUpdateView
		if err := (Parser{ChecksumVerified: true}).DecodeBindingUpdate(&v2, c, tHoA, tDst); err != nil {
			continue // framing broken: rejected before authentication
		}
		l, _ := LastOption(v2.Options())
		if err := a.Verify(c, l, tCoA, tHoA); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("flipped octet %d: %v", i, err)
		}
	}
	c := append([]byte(nil), b...)
	c[23] = byte(AuthMNAAA)
	l := last
	l.Data = c[23:40]
	if err := a.Verify(c, l, tCoA, tHoA); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("MN-AAA subtype: %v", err)
	}
}

func TestAuthenticatorRoundTripBA(t *testing.T) {
	a := NewAuthenticator(testKey)
	ba := BindingAcknowledgement{Status: StatusAccepted, Sequence: 9, Lifetime: 100, Options: []Option{
		BindingIdentifier{BindingID: 1, Status: StatusAccepted},
		BindingIdentifier{BindingID: 2, Status: StatusMCoAUnknownCoA},
		MobilityMessageReplayProtection{Timestamp: NTPTimestamp(time.Unix(1700000000, 0))},
	}}
	b, err := a.AppendMessage(nil, ba, 0x1234, tCoA, tHoA, tDst, tHoA)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(b, tDst, tHoA)
	if err != nil {
		t.Fatal(err)
	}
	got := m.(BindingAcknowledgement)
	auth, ok := got.Options[len(got.Options)-1].(MobilityMessageAuthentication)
	if !ok || auth.SPI != 0x1234 || auth.Subtype != AuthMNHA || len(auth.AuthenticationData) != 12 {
		t.Fatalf("auth option %#v", got.Options)
	}
	it := NewOptionIterator(b[12:], 12)
	last, _ := LastOption(it)
	if err := a.Verify(b, last, tCoA, tHoA); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AppendMessage(nil, got, 1, tCoA, tHoA, tDst, tHoA); err == nil {
		t.Fatal("a second authentication option was accepted")
	}
}

func TestMNAAAAuthenticatorKnownAnswer(t *testing.T) {
	mh := unhex(t, `3b 04 05 00 abcd | 0007 | c000 | 0100 | 08 05 01 6d6e4078 | 01 00 | 09 11 01 00000100`)
	got := MNAAAAuthenticator(testKey, tCoA, tHoA, mh)
	want := unhex(t, "ad5cb28462f994346511b7571d12e61129a9ddbc") // Python hmac/hashlib
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x want %x", got, want)
	}
}

func TestNTPTimestamp(t *testing.T) {
	tm := time.Date(2026, 11, 23, 3, 0, 0, 500000000, time.UTC)
	ts := NTPTimestamp(tm)
	if ts>>32 != uint64(tm.Unix()+2208988800) || ts&0xffffffff != 0x80000000 {
		t.Fatalf("got %#x", ts)
	}
	if back := (MobilityMessageReplayProtection{Timestamp: ts}).Time(); !back.Equal(tm) {
		t.Fatalf("back %v", back)
	}
}

func TestAuthenticatorVerifyNoAlloc(t *testing.T) {
	b := unhex(t, authBU)
	a := NewAuthenticator(testKey)
	it := NewOptionIterator(b[12:], 12)
	last, _ := LastOption(it)
	if n := testing.AllocsPerRun(100, func() {
		if a.Verify(b, last, tCoA, tHoA) != nil {
			panic("verify")
		}
	}); n != 0 {
		t.Fatalf("Verify allocates %v times", n)
	}
}

// walkAllOptions lists every option of the Mobility Header mh, Pad1 and
// PadN included, as (type, offset, end).
func walkAllOptions(t *testing.T, mh []byte) [][3]int {
	t.Helper()
	e := messageRegistry[mh[2]]
	if !e.ok || e.dataLen < 0 {
		t.Fatalf("MH type %d has no options", mh[2])
	}
	var out [][3]int
	for i := HeaderLen + e.fixed(mh[HeaderLen:]); i < len(mh); {
		if mh[i] == byte(OptPad1) {
			out = append(out, [3]int{int(OptPad1), i, i + 1})
			i++
			continue
		}
		if i+2 > len(mh) || i+2+int(mh[i+1]) > len(mh) {
			t.Fatalf("option framing broken at %d: %x", i, mh)
		}
		end := i + 2 + int(mh[i+1])
		out = append(out, [3]int{int(mh[i]), i, end})
		i = end
	}
	return out
}

// RFC 4285 section 5: the authentication option is the last option, so no
// padding may follow it; it still starts at 4n+1.
func TestAuthOptionIsLastOption(t *testing.T) {
	bid := func(id uint16, coa netip.Addr) Option {
		return BindingIdentifier{BindingID: id, Priority: 5, CareOfAddress: coa}
	}
	ts := MobilityMessageReplayProtection{Timestamp: NTPTimestamp(time.Unix(1e9, 0))}
	msgs := map[string]Message{
		"BU no options":      BindingUpdate{Sequence: 1, Flags: BUFlagA | BUFlagH, Lifetime: 10},
		"BU NAI":             BindingUpdate{Sequence: 2, Flags: BUFlagA | BUFlagH, Lifetime: 10, Options: []Option{NAI("mn@x")}},
		"BU NAI odd":         BindingUpdate{Sequence: 3, Flags: BUFlagA | BUFlagH, Lifetime: 10, Options: []Option{NAI("mn1@example.net")}},
		"BU NAI+TS":          BindingUpdate{Sequence: 4, Flags: BUFlagA | BUFlagH, Lifetime: 10, Options: []Option{NAI("mn1@example.net"), ts}},
		"BU NAI+TS+BIDs":     BindingUpdate{Sequence: 5, Flags: BUFlagA | BUFlagH, Lifetime: 10, Options: []Option{NAI("ab@c.net"), ts, bid(1, tCoA), bid(2, netip.MustParseAddr("192.0.2.1")), BindingIdentifier{BindingID: 3}}},
		"BU AltCoA":          BindingUpdate{Sequence: 6, Flags: BUFlagA | BUFlagH, Lifetime: 10, Options: []Option{AlternateCareOfAddress{CareOfAddress: tCoA}}},
		"BA":                 BindingAcknowledgement{Sequence: 7, Lifetime: 10},
		"BA TS+BRA":          BindingAcknowledgement{Sequence: 8, Lifetime: 10, Options: []Option{ts, BindingRefreshAdvice{RefreshInterval: 5}}},
		"BA BIDs+TS":         BindingAcknowledgement{Sequence: 9, Lifetime: 10, Options: []Option{BindingIdentifier{BindingID: 1}, ts, BindingIdentifier{BindingID: 2, Status: StatusMCoAUnknownCoA}}},
		"BU NAI 3 of 8+TS":   BindingUpdate{Sequence: 10, Flags: BUFlagA | BUFlagH, Lifetime: 10, Options: []Option{ts, NAI("a@b")}},
		"BU NAI 4 of 8":      BindingUpdate{Sequence: 11, Flags: BUFlagA | BUFlagH, Lifetime: 10, Options: []Option{NAI("ab@c")}},
		"BU NAI 5 of 8+AltC": BindingUpdate{Sequence: 12, Flags: BUFlagA | BUFlagH, Lifetime: 10, Options: []Option{AlternateCareOfAddress{CareOfAddress: tCoA}, NAI("abc@d")}},
	}
	a := NewAuthenticator(testKey)
	check := func(t *testing.T, mh []byte) {
		t.Helper()
		if _, err := Parse(mh, tHoA, tDst); err != nil {
			t.Fatalf("parse: %v (%x)", err, mh)
		}
		all := walkAllOptions(t, mh)
		if len(all) == 0 {
			t.Fatalf("no options: %x", mh)
		}
		last := all[len(all)-1]
		if OptionType(last[0]) != OptMobilityMessageAuthentication {
			t.Fatalf("option %v follows the authentication option: %v (%x)", OptionType(last[0]), all, mh)
		}
		if last[1]%4 != 1 || last[2] != len(mh) {
			t.Fatalf("authentication option at %d..%d of %d, want 4n+1 and last", last[1], last[2], len(mh))
		}
	}
	for name, m := range msgs {
		t.Run(name, func(t *testing.T) {
			mh, err := a.AppendMessage(nil, m, 0x100, tCoA, tHoA, tHoA, tDst)
			if err != nil {
				t.Fatal(err)
			}
			check(t, mh)
			opt, ok := LastOption(optionsOf(mh))
			if !ok {
				t.Fatal("no last option")
			}
			if err := a.Verify(mh, opt, tCoA, tHoA); err != nil {
				t.Fatalf("verify: %v", err)
			}
			// The generic encoder places a given authentication option the
			// same way.
			auth := MobilityMessageAuthentication{Subtype: AuthMNHA, SPI: 0x100, AuthenticationData: bytes.Repeat([]byte{0xee}, MNHAAuthenticatorLen)}
			var g Message
			switch m := m.(type) {
			case BindingUpdate:
				m.Options = append(append([]Option(nil), m.Options...), auth)
				g = m
			case BindingAcknowledgement:
				m.Options = append(append([]Option(nil), m.Options...), auth)
				g = m
			}
			gb, err := Marshal(g, tHoA, tDst)
			if err != nil {
				t.Fatal(err)
			}
			check(t, gb)
		})
	}
}
