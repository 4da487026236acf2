package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"reflect"
	"testing"
)

// Expected octets are laid out by hand from the RFC figures (RFC 6275
// sections 6.1.2-6.1.9 and 6.2, RFC 5648 section 6.1, RFC 4283 section 3,
// RFC 4285 section 6), with the Checksum field zero (checked separately).
// Each line starts at the offset in the comment.
var coreMessageVectors = []struct {
	name string
	msg  Message
	want string
}{
	{"BRR", BindingRefreshRequest{}, `
		3b 00 00 00 0000 | 0000`}, // 0: proto 59, HL 0, type 0; 6: Reserved
	{"BRR+BindingRefreshAdvice", BindingRefreshRequest{Options: []Option{BindingRefreshAdvice{RefreshInterval: 0x10}}}, `
		3b 01 00 00 0000 | 0000
		02 02 0010 | 01 02 0000`}, // 8: BRA (2n); 12: PadN to 16
	{"HoTI", HomeTestInit{HomeInitCookie: 0x1122334455667788}, `
		3b 01 01 00 0000 | 0000 | 1122334455667788`},
	{"CoTI", CareOfTestInit{CareOfInitCookie: 0x8877665544332211}, `
		3b 01 02 00 0000 | 0000 | 8877665544332211`},
	{"HoT", HomeTest{HomeNonceIndex: 0x0102, HomeInitCookie: 0x1122334455667788, HomeKeygenToken: 0xa1a2a3a4a5a6a7a8}, `
		3b 02 03 00 0000 | 0102 | 1122334455667788 | a1a2a3a4a5a6a7a8`},
	{"CoT", CareOfTest{CareOfNonceIndex: 0x0304, CareOfInitCookie: 0x1122334455667788, CareOfKeygenToken: 0xb1b2b3b4b5b6b7b8}, `
		3b 02 04 00 0000 | 0304 | 1122334455667788 | b1b2b3b4b5b6b7b8`},
	{"BU no options", BindingUpdate{Sequence: 0x1234, Flags: BUFlagA | BUFlagH | BUFlagK, Lifetime: 0x0010}, `
		3b 01 05 00 0000 | 1234 | d000 | 0010
		01 02 0000`}, // 12: PadN to 16
	{"BU all flags", BindingUpdate{Sequence: 1, Flags: BUFlagA | BUFlagH | BUFlagL | BUFlagK | BUFlagM | BUFlagR | BUFlagP | BUFlagF | BUFlagT | BUFlagB | BUFlagS | BUFlagD, Lifetime: 0xffff}, `
		3b 01 05 00 0000 | 0001 | fff0 | ffff
		01 02 0000`},
	{"BU+AlternateCoA", BindingUpdate{Sequence: 2, Flags: BUFlagA, Lifetime: 3, Options: []Option{AlternateCareOfAddress{CareOfAddress: netip.MustParseAddr("2001:db8::1")}}}, `
		3b 03 05 00 0000 | 0002 | 8000 | 0003
		01 00 | 03 10 20010db8000000000000000000000001`}, // 12: PadN(0); 14: Alt CoA at 8n+6; ends 32
	{"BU+NonceIndices", BindingUpdate{Sequence: 2, Options: []Option{NonceIndices{HomeNonceIndex: 1, CareOfNonceIndex: 2}}}, `
		3b 02 05 00 0000 | 0002 | 0000 | 0000
		04 04 0001 0002 | 01 04 00000000`}, // 12: NI (2n); 18: PadN to 24
	{"BU+BindingAuthorizationData", BindingUpdate{Sequence: 2, Options: []Option{BindingAuthorizationData{Authenticator: bytes.Repeat([]byte{0xaa}, 12)}}}, `
		3b 03 05 00 0000 | 0002 | 0000 | 0000
		01 04 00000000 | 05 0c aaaaaaaaaaaaaaaaaaaaaaaa`}, // 12: PadN(4); 18: BAD at 8n+2; ends 32
	{"BU bulk MCoA+MNID+replay+auth", BindingUpdate{Sequence: 7, Flags: BUFlagA | BUFlagH, Lifetime: 0x0100, Options: []Option{
		BindingIdentifier{BindingID: 1, Priority: 5, CareOfAddress: netip.MustParseAddr("2001:db8::1")},
		BindingIdentifier{BindingID: 2, SimultaneousHomeAndForeign: true, Priority: 127, CareOfAddress: netip.MustParseAddr("192.0.2.1")},
		BindingIdentifier{BindingID: 3},
		NAI("mn@x"),
		MobilityMessageReplayProtection{Timestamp: 0x0102030405060708},
		MobilityMessageAuthentication{Subtype: AuthMNHA, SPI: 0x100, AuthenticationData: bytes.Repeat([]byte{0xee}, 12)},
	}}, `
		3b 0c 05 00 0000 | 0007 | c000 | 0100
		01 04 00000000
		23 14 0001 00 05 20010db8000000000000000000000001
		01 00
		23 08 0002 00 ff c0000201
		01 04 00000000
		23 04 0003 00 00
		08 05 01 6d6e4078
		01 01 00
		0a 08 0102030405060708
		00
		09 11 01 00000100 eeeeeeeeeeeeeeeeeeeeeeee`},
	// 12: PadN(4); 18: BID v6 at 8n+2, ends 40; 40: PadN(0); 42: BID v4
	// (H, BID-PRI 127), ends 52; 52: PadN(4); 58: BID without CoA, ends 64;
	// 64: MNID NAI "mn@x", ends 71; 71: PadN(1); 74: replay at 8n+2, ends
	// 84; 84: Pad1; 85: auth at 4n+1, ends 104 = 13*8, Header Len 12.
	{"BA", BindingAcknowledgement{Status: StatusAccepted, Flags: BAFlagK, Sequence: 7, Lifetime: 0x00f0, Options: []Option{
		BindingIdentifier{BindingID: 2, Status: StatusMCoAUnknownCoA},
	}}, `
		3b 02 06 00 0000 | 00 | 80 | 0007 | 00f0
		01 04 00000000
		23 04 0002 a7 00`}, // 12: PadN(4); 18: BID with status 167; ends 24
	{"BA all flags, rejected", BindingAcknowledgement{Status: StatusMIPv6AuthFail, Flags: BAFlagK | BAFlagR | BAFlagP | BAFlagT | BAFlagB | BAFlagS | BAFlagD | 1, Sequence: 0xfffe}, `
		3b 01 06 00 0000 | 92 | ff | fffe | 0000
		01 02 0000`},
	{"BE", BindingError{Status: BEUnrecognizedMHType, HomeAddress: netip.MustParseAddr("2001:db8::5")}, `
		3b 02 07 00 0000 | 02 00 | 20010db8000000000000000000000005`},
	{"BE no HoA", BindingError{Status: BEUnknownBindingForHAO}, `
		3b 02 07 00 0000 | 01 00 | 00000000000000000000000000000000`},
	{"BU unknown option kept", BindingUpdate{Options: []Option{UnknownOption{Type: 200, Data: []byte{1, 2, 3}}}}, `
		3b 02 05 00 0000 | 0000 | 0000 | 0000
		c8 03 010203 | 01 05 0000000000`}, // 12: unknown type 200; 17: PadN(5) to 24
}

func TestCoreMessagesExactBytes(t *testing.T) {
	for _, v := range coreMessageVectors {
		t.Run(v.name, func(t *testing.T) {
			want := unhex(t, v.want)
			got := mustMarshalNoSum(t, v.msg)
			if !bytes.Equal(got, want) {
				t.Fatalf("encode:\n got %x\nwant %x", got, want)
			}
		})
	}
}

func TestCoreMessagesRoundTrip(t *testing.T) {
	for _, v := range coreMessageVectors {
		t.Run(v.name, func(t *testing.T) {
			b, err := Marshal(v.msg, tSrc, tDst)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := binary.BigEndian.Uint16(b[4:]), refChecksum(b, tSrc, tDst); got != want {
				t.Fatalf("checksum %#04x, reference %#04x", got, want)
			}
			m, err := Parse(b, tSrc, tDst)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !reflect.DeepEqual(normalize(m), normalize(v.msg)) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", m, v.msg)
			}
		})
	}
}

// normalize maps empty option lists to nil so DeepEqual compares content.
func normalize(m Message) Message {
	switch x := m.(type) {
	case BindingUpdate:
		if len(x.Options) == 0 {
			x.Options = nil
		}
		return x
	case BindingAcknowledgement:
		if len(x.Options) == 0 {
			x.Options = nil
		}
		return x
	case BindingError:
		if len(x.Options) == 0 {
			x.Options = nil
		}
		if !x.HomeAddress.IsValid() {
			x.HomeAddress = netip.IPv6Unspecified()
		}
		return x
	case BindingRefreshRequest:
		if len(x.Options) == 0 {
			x.Options = nil
		}
		return x
	case HomeTestInit:
		if len(x.Options) == 0 {
			x.Options = nil
		}
		return x
	case CareOfTestInit:
		if len(x.Options) == 0 {
			x.Options = nil
		}
		return x
	case HomeTest:
		if len(x.Options) == 0 {
			x.Options = nil
		}
		return x
	case CareOfTest:
		if len(x.Options) == 0 {
			x.Options = nil
		}
		return x
	}
	return m
}
