package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

func TestAppendPad(t *testing.T) {
	// RFC 6275 sections 6.2.2 and 6.2.3: Pad1 is one zero octet; PadN is
	// type 1, length, zeros.
	tests := map[int]string{
		0:   ``,
		1:   `00`,
		2:   `01 00`,
		3:   `01 01 00`,
		7:   `01 05 0000000000`,
		257: `01 ff` + string(bytes.Repeat([]byte("00"), 255)),
		258: `01 fe` + string(bytes.Repeat([]byte("00"), 254)) + `01 00`,
		259: `01 ff` + string(bytes.Repeat([]byte("00"), 255)) + `01 00`,
	}
	for n, want := range tests {
		got := appendPad(nil, n)
		if !bytes.Equal(got, unhex(t, want)) {
			t.Errorf("pad %d: got %x", n, got)
		}
		it := NewOptionIterator(got, 0)
		if it.Next() || it.Err() != nil {
			t.Errorf("pad %d is not pure padding: %v", n, it.Err())
		}
	}
}

func TestPadFor(t *testing.T) {
	for _, tc := range []struct{ off, x, y, want int }{
		{12, 8, 2, 6}, {18, 8, 2, 0}, {19, 8, 2, 7}, {12, 8, 6, 2}, {13, 4, 1, 0}, {12, 4, 1, 1}, {12, 2, 0, 0}, {13, 2, 0, 1}, {7, 1, 0, 0},
	} {
		if got := padFor(tc.off, tc.x, tc.y); got != tc.want {
			t.Errorf("padFor(%d, %dn+%d) = %d, want %d", tc.off, tc.x, tc.y, got, tc.want)
		}
	}
}

// Option data laid out from the RFC figures.
func TestCoreOptionsExactData(t *testing.T) {
	tests := []struct {
		o    Option
		data string
	}{
		{BindingRefreshAdvice{RefreshInterval: 0xabcd}, `abcd`},
		{AlternateCareOfAddress{CareOfAddress: netip.MustParseAddr("2001:db8::7")}, `20010db8000000000000000000000007`},
		{NonceIndices{HomeNonceIndex: 0x0102, CareOfNonceIndex: 0x0304}, `0102 0304`},
		{BindingAuthorizationData{Authenticator: []byte{1, 2, 3}}, `010203`},
		{BindingIdentifier{BindingID: 0x0102, Status: StatusMCoAProhibited, SimultaneousHomeAndForeign: true, Priority: 3}, `0102 a6 83`},
		{BindingIdentifier{BindingID: 9, Priority: 0x7f, CareOfAddress: netip.MustParseAddr("198.51.100.7")}, `0009 00 7f c6336407`},
		{BindingIdentifier{BindingID: 9, CareOfAddress: netip.MustParseAddr("::ffff:198.51.100.7")}, `0009 00 00 00000000000000000000ffffc6336407`},
		{NAI("a@b.c"), `01 614062 2e63`},
		{MobileNodeIdentifier{Subtype: MNIDEUI48, Identifier: []byte{2, 0, 0x5e, 0, 0x53, 1}}, `05 02005e005301`},
		{MobilityMessageAuthentication{Subtype: AuthMNAAA, SPI: HMACSHA1SPI, AuthenticationData: []byte{0xa, 0xb}}, `02 00000003 0a0b`},
		{MobilityMessageReplayProtection{Timestamp: 0x0102030405060708}, `0102030405060708`},
	}
	for _, tc := range tests {
		got, err := tc.o.AppendData(nil)
		if err != nil {
			t.Fatalf("%#v: %v", tc.o, err)
		}
		want := unhex(t, tc.data)
		if !bytes.Equal(got, want) {
			t.Errorf("%T: got %x want %x", tc.o, got, want)
		}
		back, err := DecodeOption(RawOption{Type: tc.o.OptionType(), Data: want})
		if err != nil || !reflect.DeepEqual(back, tc.o) {
			t.Errorf("decode %x: %#v, %v; want %#v", want, back, err, tc.o)
		}
	}
}

func TestCoreOptionsBadLength(t *testing.T) {
	for _, tc := range []struct {
		t OptionType
		n []int
	}{
		{OptBindingRefreshAdvice, []int{0, 1, 3}},
		{OptAlternateCareOfAddress, []int{0, 15, 17}},
		{OptNonceIndices, []int{0, 3, 5}},
		{OptBindingIdentifier, []int{0, 3, 5, 7, 9, 19, 21}},
		{OptMobileNodeIdentifier, []int{0, 1}},
		{OptMobilityMessageAuthentication, []int{0, 4, 5}},
		{OptMobilityMessageReplay, []int{0, 7, 9}},
	} {
		for _, n := range tc.n {
			_, err := DecodeOption(RawOption{Type: tc.t, Data: make([]byte, n), Offset: 20})
			var pe *ParseError
			if !errors.Is(err, ErrBadLength) || !errors.As(err, &pe) || pe.Offset != 20 {
				t.Errorf("%v with %d octets: %v", tc.t, n, err)
			}
		}
	}
}

func TestBindingUpdateViewMatchesParse(t *testing.T) {
	for _, v := range coreMessageVectors {
		bu, ok := v.msg.(BindingUpdate)
		if !ok {
			continue
		}
		b, err := Marshal(bu, tSrc, tDst)
		if err != nil {
			t.Fatal(err)
		}
		var view BindingUpdateView
		if err := (Parser{}).DecodeBindingUpdate(&view, b, tSrc, tDst); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		got, err := view.Message()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(bu)) {
			t.Errorf("%s: view %#v, want %#v", v.name, got, bu)
		}
		if !bytes.Equal(view.Bytes(), b) {
			t.Errorf("%s: Bytes differ", v.name)
		}
	}
	// Not a Binding Update.
	b, _ := Marshal(BindingAcknowledgement{}, tSrc, tDst)
	var view BindingUpdateView
	if err := (Parser{}).DecodeBindingUpdate(&view, b, tSrc, tDst); !errors.Is(err, ErrBadValue) {
		t.Fatalf("BA as BU: %v", err)
	}
}

func TestDecodeBindingUpdateNoAlloc(t *testing.T) {
	b, _ := Marshal(coreMessageVectors[11].msg, tSrc, tDst)
	var v BindingUpdateView
	n := testing.AllocsPerRun(200, func() {
		if err := (Parser{}).DecodeBindingUpdate(&v, b, tSrc, tDst); err != nil {
			panic(err)
		}
		it := v.Options()
		for it.Next() {
			o := it.Option()
			switch o.Type {
			case OptBindingIdentifier:
				_, _ = DecodeBindingIdentifier(o.Data)
			case OptMobileNodeIdentifier:
				_, _ = DecodeMobileNodeIdentifier(o.Data)
			case OptMobilityMessageReplay:
				_, _ = DecodeMobilityMessageReplayProtection(o.Data)
			case OptMobilityMessageAuthentication:
				_, _ = DecodeMobilityMessageAuthentication(o.Data)
			}
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per decode", n)
	}
}

func TestStringsAndJSON(t *testing.T) {
	if s := (BUFlagA | BUFlagH | 0x0001).String(); s != "A|H|0x1" {
		t.Errorf("BUFlags %q", s)
	}
	if s := (BAFlagK | BAFlagP).String(); s != "K|P" {
		t.Errorf("BAFlags %q", s)
	}
	if s := StatusMCoAUnknownCoA.String(); s != "MCOA UNKNOWN COA" {
		t.Errorf("status %q", s)
	}
	if StatusMCoANotComplete.Accepted() != true || StatusReasonUnspecified.Accepted() {
		t.Error("Accepted")
	}
	if s := MHType(99).String(); s != "MH type 99" {
		t.Errorf("%q", s)
	}
	if s := OptBindingIdentifier.String(); s != "Binding Identifier" {
		t.Errorf("%q", s)
	}
	j, err := json.Marshal(BindingUpdate{Flags: BUFlagA | BUFlagH, Options: []Option{NAI("x@y")}})
	if err != nil || !bytes.Contains(j, []byte(`"Flags":"A|H"`)) {
		t.Errorf("json %s %v", j, err)
	}
}
