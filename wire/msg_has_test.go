package wire

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

var (
	hasHA1 = netip.MustParseAddr("2001:db8:1::11")
	hasHA2 = netip.MustParseAddr("2001:db8:1::12")
)

// RFC 5142 section 4: # of Addresses, Reserved, the addresses, options;
// the whole message padded to 8n.
func TestHomeAgentSwitchVectors(t *testing.T) {
	cases := []struct {
		name string
		msg  HomeAgentSwitch
		mh   string
	}{
		// No address: the mobile node discovers a home agent itself; 8
		// octets, Header Len 0.
		{"empty", HomeAgentSwitch{}, "3b 00 0c 00 0000 | 00 00"},
		{"one", HomeAgentSwitch{HomeAgentAddresses: []netip.Addr{hasHA1}},
			"3b 02 0c 00 0000 | 01 00 | 20010db8000100000000000000000011"},
		{"two", HomeAgentSwitch{HomeAgentAddresses: []netip.Addr{hasHA2, hasHA1}},
			"3b 04 0c 00 0000 | 02 00 | 20010db8000100000000000000000012 20010db8000100000000000000000011"},
		// Options start at 24 (8n): a Binding Refresh Advice (2n) needs no
		// padding before it; PadN(4) ends the message at 32.
		{"one+BRA", HomeAgentSwitch{HomeAgentAddresses: []netip.Addr{hasHA1}, Options: []Option{BindingRefreshAdvice{RefreshInterval: 5}}},
			"3b 03 0c 00 0000 | 01 00 | 20010db8000100000000000000000011 | 02 02 0005 | 01 02 0000"},
		// Reserved kept on decode, sent as given (zero in practice).
		{"reserved", HomeAgentSwitch{Reserved: 0xa5}, "3b 00 0c 00 0000 | 00 a5"},
	}
	for _, c := range cases {
		want := pmipHex(t, strings.ReplaceAll(c.mh, "|", ""))
		got, err := Marshal(c.msg, netip.Addr{}, netip.Addr{})
		if err != nil {
			t.Fatalf("%s: Marshal: %v", c.name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got % x\nwant % x", c.name, got, want)
		}
		m, err := Parser{ChecksumVerified: true}.Parse(want, netip.Addr{}, netip.Addr{})
		if err != nil {
			t.Fatalf("%s: Parse: %v", c.name, err)
		}
		if !goldenMessagesEqual(m, c.msg) {
			t.Errorf("%s: Parse = %#v, want %#v", c.name, m, c.msg)
		}
		if off, ok := OptionsOffset(want); !ok || off != HeaderLen+2+16*len(c.msg.HomeAgentAddresses) {
			t.Errorf("%s: OptionsOffset = %d, %v", c.name, off, ok)
		}
	}
}

// An authenticated switch (RFC 4285 section 5.1, as on a Binding
// Acknowledgement) verifies with the key and the care-of and home
// addresses it was computed over, and with nothing else.
func TestHomeAgentSwitchAuthenticated(t *testing.T) {
	key := []byte("0123456789abcdefghij")
	a := NewAuthenticator(key)
	m := HomeAgentSwitch{HomeAgentAddresses: []netip.Addr{hasHA2}}
	mh, err := a.AppendMessage(nil, m, 0x100, gCoA, gMN, gHA, gMN)
	if err != nil {
		t.Fatal(err)
	}
	if len(mh)%8 != 0 {
		t.Fatalf("length %d is not 8n", len(mh))
	}
	got, err := Parse(mh, gHA, gMN)
	if err != nil {
		t.Fatal(err)
	}
	has := got.(HomeAgentSwitch)
	if len(has.HomeAgentAddresses) != 1 || has.HomeAgentAddresses[0] != hasHA2 {
		t.Fatalf("addresses %v", has.HomeAgentAddresses)
	}
	auth, ok := has.Options[len(has.Options)-1].(MobilityMessageAuthentication)
	if !ok || auth.SPI != 0x100 || auth.Subtype != AuthMNHA {
		t.Fatalf("last option %#v", has.Options[len(has.Options)-1])
	}
	off, ok := OptionsOffset(mh)
	if !ok {
		t.Fatal("no options offset")
	}
	last, ok := LastOption(NewOptionIterator(mh[off:], off))
	if !ok {
		t.Fatal("no last option")
	}
	if err := a.Verify(mh, last, gCoA, gMN); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := a.Verify(mh, last, gCoA, hasHA1); err == nil {
		t.Fatal("verified with another home address")
	}
	if err := NewAuthenticator([]byte("another key")).Verify(mh, last, gCoA, gMN); err == nil {
		t.Fatal("verified with another key")
	}
}

func TestHomeAgentSwitchMalformed(t *testing.T) {
	parse := func(s string) error {
		_, err := Parser{ChecksumVerified: true}.Parse(pmipHex(t, strings.ReplaceAll(s, "|", "")), netip.Addr{}, netip.Addr{})
		return err
	}
	for _, c := range []struct {
		name, mh string
		want     error
	}{
		// # of Addresses 1 but Header Len 0: no room for the address.
		{"count beyond Header Len", "3b 00 0c 00 0000 | 01 00", ErrHeaderLenTooSmall},
		// Two addresses counted, one present (Header Len 2).
		{"count 2, one address", "3b 02 0c 00 0000 | 02 00 | 20010db8000100000000000000000011", ErrHeaderLenTooSmall},
		// Payload Proto not 59.
		{"payload proto", "06 00 0c 00 0000 | 00 00", ErrBadPayloadProto},
	} {
		if err := parse(c.mh); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	for _, m := range []HomeAgentSwitch{
		{HomeAgentAddresses: []netip.Addr{netip.MustParseAddr("192.0.2.1")}},
		{HomeAgentAddresses: []netip.Addr{{}}},
		{HomeAgentAddresses: make([]netip.Addr, 256)},
	} {
		if _, err := Marshal(m, netip.Addr{}, netip.Addr{}); err == nil {
			t.Errorf("Marshal of %d addresses (first %v) succeeded", len(m.HomeAgentAddresses), m.HomeAgentAddresses[0])
		}
	}
	// Inspect (monami decode) reports the short Header Len, never panics.
	im := Inspect(pmipHex(t, "3b000c000000 0100"))
	if len(im.Problems) == 0 || !errors.Is(im.Problems[0].Err, ErrHeaderLenTooSmall) {
		t.Fatalf("Inspect problems %v", im.Problems)
	}
}

// FuzzHomeAgentSwitch: decoding never panics; what decodes re-encodes to
// the same octets' meaning (a second round is stable).
func FuzzHomeAgentSwitch(f *testing.F) {
	a := NewAuthenticator([]byte("fuzz"))
	for _, m := range []HomeAgentSwitch{{}, {HomeAgentAddresses: []netip.Addr{hasHA1, hasHA2}},
		{HomeAgentAddresses: []netip.Addr{hasHA1}, Options: []Option{BindingRefreshAdvice{RefreshInterval: 1}}}} {
		b, err := Marshal(m, netip.Addr{}, netip.Addr{})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		if b, err = a.AppendMessage(nil, m, 300, gCoA, gMN, netip.Addr{}, netip.Addr{}); err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	p := Parser{ChecksumVerified: true}
	f.Fuzz(func(t *testing.T, mh []byte) {
		if len(mh) >= 3 {
			mh = append([]byte(nil), mh...) // the input is not ours to change
			mh[2] = byte(MHHomeAgentSwitch)
		}
		_ = Inspect(mh)
		_, _ = OptionsOffset(mh)
		m, err := p.Parse(mh, netip.Addr{}, netip.Addr{})
		if err != nil {
			return
		}
		b1, err := Marshal(m, netip.Addr{}, netip.Addr{})
		if err != nil {
			return // e.g. options re-aligned past 2048 octets
		}
		m2, err := p.Parse(b1, netip.Addr{}, netip.Addr{})
		if err != nil {
			t.Fatalf("decode of re-encoded % x: %v", b1, err)
		}
		if b2, err := Marshal(m2, netip.Addr{}, netip.Addr{}); err != nil || !reflect.DeepEqual(b1, b2) {
			t.Fatalf("encoding not stable:\n% x\n% x (%v)", b1, b2, err)
		}
	})
}
