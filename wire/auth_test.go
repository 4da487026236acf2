package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
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
