package wire

import (
	"errors"
	"net/netip"
	"testing"
)

// withSum fills the checksum of a hand-built Mobility Header so tests reach
// the check they are about.
func withSum(t *testing.T, s string) []byte {
	b := unhex(t, s)
	if len(b) >= 6 {
		SetChecksum(b[:min(len(b), (int(b[1])+1)*8)], tSrc, tDst)
	}
	return b
}

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		sum    bool
		p      Parser
		want   error
		offset int
	}{
		{"empty", ``, false, Parser{}, ErrTruncated, 0},
		{"shorter than 8", `3b 00 05 00 0000 00`, false, Parser{}, ErrTruncated, 0},
		{"Header Len beyond buffer", `3b 01 05 00 0000 0000`, false, Parser{}, ErrTruncated, 1},
		{"bad checksum", `3b 01 05 00 1234 | 0001 | 8000 | 0001 | 01 02 0000`, false, Parser{}, ErrBadChecksum, 4},
		{"Header Len too small for BU", `3b 00 05 00 0000 | 0001`, true, Parser{}, ErrHeaderLenTooSmall, 1},
		{"Header Len too small for BE", `3b 01 07 00 0000 | 0100 | 20010db8000000000000`, true, Parser{}, ErrHeaderLenTooSmall, 1},
		{"unknown MH type", `3b 00 fa 00 0000 | 0000`, true, Parser{}, ErrUnknownMHType, 2},
		{"Payload Proto not 59", `06 01 05 00 0000 | 0001 | 8000 | 0001 | 01 02 0000`, true, Parser{}, ErrBadValue, 0},
		{"Payload Proto not 59, BRR", `11 00 00 00 0000 | 0000`, true, Parser{}, ErrBadValue, 0},
		{"option overruns message", `3b 01 05 00 0000 | 0001 | 8000 | 0001 | 01 08 0000`, true, Parser{}, ErrOptionOverrun, 13},
		{"option type without length octet", `3b 01 05 00 0000 | 0001 | 8000 | 0001 | 00 00 00 02`, true, Parser{}, ErrTruncated, 15},
		{"fixed-size option wrong length", `3b 01 05 00 0000 | 0001 | 8000 | 0001 | 02 01 00 00`, true, Parser{}, ErrBadLength, 12},
		{"BID bad length", `3b 01 05 00 0000 | 0001 | 8000 | 0001 | 23 02 0001`, true, Parser{}, ErrBadLength, 12},
		{"MN-ID empty identifier", `3b 01 05 00 0000 | 0001 | 8000 | 0001 | 08 01 01 00`, true, Parser{}, ErrBadLength, 12},
		{"EUI-64 MN-ID of 7 octets", `3b 02 05 00 0000 | 0001 | 8000 | 0001 | 08 08 06 01020304050607 | 01 00`, true, Parser{}, ErrBadLength, 12},
		{"misaligned Alternate CoA", `3b 03 05 00 0000 | 0001 | 8000 | 0001 | 03 10 20010db8000000000000000000000001 | 01 00`, true, Parser{}, ErrBadAlignment, 12},
		{"misaligned BID", `3b 02 05 00 0000 | 0001 | 8000 | 0001 | 00 23 04 0001 0000 | 01 03 000000`, true, Parser{}, ErrBadAlignment, 13},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b []byte
			if tc.sum {
				b = withSum(t, tc.in)
			} else {
				b = unhex(t, tc.in)
			}
			m, err := tc.p.Parse(b, tSrc, tDst)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v (%v), want %v", err, m, tc.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			if pe.Offset != tc.offset {
				t.Errorf("offset %d, want %d (%v)", pe.Offset, tc.offset, err)
			}
			// The fast path agrees for Binding Updates.
			if len(b) > 2 && b[2] == byte(MHBindingUpdate) {
				var v BindingUpdateView
				if err2 := tc.p.DecodeBindingUpdate(&v, b, tSrc, tDst); err2 == nil {
					it := v.Options()
					for it.Next() {
						if _, err2 = DecodeOption(it.Option()); err2 != nil {
							break
						}
					}
					if err2 == nil {
						err2 = it.Err()
					}
					if !errors.Is(err2, tc.want) {
						t.Errorf("fast path: got %v, want %v", err2, tc.want)
					}
				} else if !errors.Is(err2, tc.want) {
					t.Errorf("fast path: got %v, want %v", err2, tc.want)
				}
			}
		})
	}
}

func TestUnknownMHTypeCarriesType(t *testing.T) {
	b := withSum(t, `3b 00 fa 00 0000 | 0000`)
	_, err := Parse(b, tSrc, tDst)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.MHType != 250 {
		t.Fatalf("got %v, want a ParseError with MHType 250", err)
	}
}

func TestLaxAlignmentAccepts(t *testing.T) {
	b := withSum(t, `3b 03 05 00 0000 | 0001 | 8000 | 0001 | 03 10 20010db8000000000000000000000001 | 01 00`)
	m, err := Parser{LaxAlignment: true}.Parse(b, tSrc, tDst)
	if err != nil {
		t.Fatal(err)
	}
	bu := m.(BindingUpdate)
	if len(bu.Options) != 1 || bu.Options[0].(AlternateCareOfAddress).CareOfAddress != netip.MustParseAddr("2001:db8::1") {
		t.Fatalf("got %#v", bu)
	}
}

func TestChecksumVerifiedSkipsCheck(t *testing.T) {
	b := unhex(t, `3b 01 05 00 1234 | 0001 | 8000 | 0001 | 01 02 0000`)
	if _, err := (Parser{ChecksumVerified: true}).Parse(b, tSrc, tDst); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownOptionSkipped(t *testing.T) {
	// RFC 6275 section 9.2: unknown options are skipped; here type 250
	// sits between two known ones.
	b := withSum(t, `3b 02 05 00 0000 | 0001 | 8000 | 0001 | fa 02 abcd | 04 04 0001 0002 | 01 00`)
	m, err := Parse(b, tSrc, tDst)
	if err != nil {
		t.Fatal(err)
	}
	opts := m.(BindingUpdate).Options
	if len(opts) != 2 || opts[0].OptionType() != 250 || opts[1].(NonceIndices) != (NonceIndices{1, 2}) {
		t.Fatalf("got %#v", opts)
	}
}

func TestTrailingBytesAfterMHIgnored(t *testing.T) {
	b := withSum(t, `3b 00 00 00 0000 | 0000`)
	b = append(b, 0xde, 0xad)
	if _, err := Parse(b, tSrc, tDst); err != nil {
		t.Fatal(err)
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		m    Message
	}{
		{"IPv4 alternate CoA", BindingUpdate{Options: []Option{AlternateCareOfAddress{CareOfAddress: netip.MustParseAddr("192.0.2.1")}}}},
		{"zero alternate CoA", BindingUpdate{Options: []Option{AlternateCareOfAddress{}}}},
		{"BID-PRI over 7 bits", BindingUpdate{Options: []Option{BindingIdentifier{BindingID: 1, Priority: 128}}}},
		{"empty MN-ID", BindingUpdate{Options: []Option{MobileNodeIdentifier{Subtype: MNIDNAI}}}},
		{"option over 255 octets", BindingUpdate{Options: []Option{NAI(string(make([]byte, 255)))}}},
		{"nil option", BindingUpdate{Options: []Option{nil}}},
		{"padding as option", BindingUpdate{Options: []Option{UnknownOption{Type: OptPadN}}}},
		{"message over 2048 octets", BindingUpdate{Options: repeatOpt(UnknownOption{Type: 200, Data: make([]byte, 200)}, 11)}},
		{"IPv4 home address in Binding Error", BindingError{HomeAddress: netip.MustParseAddr("192.0.2.1")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(tc.m, tSrc, tDst)
			var ee *EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("got %x, %v; want an *EncodeError", b, err)
			}
		})
	}
}

func repeatOpt(o Option, n int) []Option {
	out := make([]Option, n)
	for i := range out {
		out[i] = o
	}
	return out
}
