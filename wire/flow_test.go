package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

var sampleIPv6TS = IPv6TrafficSelector{
	Flags:                IPv6TSStartSourceAddress | IPv6TSEndSourceAddress | IPv6TSStartDestinationPort | IPv6TSEndDestinationPort | IPv6TSStartNextHeader,
	StartSourceAddress:   netip.MustParseAddr("2001:db8:cafe::1"),
	EndSourceAddress:     netip.MustParseAddr("2001:db8:cafe::ff"),
	StartDestinationPort: 5000,
	EndDestinationPort:   5100,
	StartNextHeader:      17,
}

// Expected octets laid out by hand from RFC 6089 section 4.1 (FID,
// FID-PRI, Reserved, Status, sub-options as Type, Len, data) and RFC 6088.
var flowOptionCases = []struct {
	name string
	opt  Option
	hex  string // option data only
}{
	{
		name: "flow identification, no sub-options",
		opt:  FlowIdentification{FID: 1, Priority: 10},
		hex:  "0001 000a 00 00",
	},
	{
		name: "flow identification in a BA, status FID not found",
		opt:  FlowIdentification{FID: 0x1234, Priority: 1, Status: FIDStatusFIDNotFound},
		hex:  "1234 0001 00 84",
	},
	{
		name: "flow identification with binding reference and IPv6 traffic selector",
		opt: FlowIdentification{FID: 7, Priority: 3, SubOptions: []FlowSubOption{
			BindingReferenceSubOption{BIDs: []uint16{1, 2}},
			TrafficSelectorSubOption{Selector: sampleIPv6TS},
		}},
		hex: "0007 0003 00 00" +
			" 02 04 0001 0002" + // BID Reference: BIDs 1 and 2
			" 03 2b 02 00" + // Traffic Selector: len 43, TS Format 2, Reserved
			" c032 0000" + // flags A B K L O
			" 20010db8cafe00000000000000000001" +
			" 20010db8cafe000000000000000000ff" +
			" 1388 13ec 11",
	},
	{
		name: "flow identification with IPv4 traffic selector",
		opt: FlowIdentification{FID: 2, Priority: 2, SubOptions: []FlowSubOption{
			TrafficSelectorSubOption{Selector: IPv4TrafficSelector{
				Flags:                   IPv4TSStartDestinationAddress | IPv4TSStartProtocol | IPv4TSEndProtocol,
				StartDestinationAddress: netip.MustParseAddr("198.51.100.7"),
				StartProtocol:           6,
				EndProtocol:             17,
			}},
		}},
		hex: "0002 0002 00 00 03 0c 01 00 200c 0000 c6336407 06 11",
	},
	{
		name: "flow identification with RFC 7109 sub-options",
		opt: FlowIdentification{FID: 9, Priority: 4, SubOptions: []FlowSubOption{
			FlowBindingActionSubOption{Action: FlowBindingMove},
			TargetCareOfAddressSubOption{CareOfAddress: netip.MustParseAddr("2001:db8::9")},
			TargetCareOfAddressSubOption{CareOfAddress: netip.MustParseAddr("192.0.2.9")},
		}},
		hex: "0009 0004 00 00 04 02 00 0f 05 12 0000 20010db8000000000000000000000009 05 06 0000 c0000209",
	},
	{
		name: "flow identification keeps an unknown sub-option",
		opt: FlowIdentification{FID: 1, Priority: 1, SubOptions: []FlowSubOption{
			UnknownFlowSubOption{Type: 251, Data: []byte{0xaa, 0xbb}},
		}},
		hex: "0001 0001 00 00 fb 02 aabb",
	},
	{
		name: "flow summary",
		opt:  FlowSummary{FIDs: []uint16{1, 7, 0xffff}},
		hex:  "0001 0007 ffff",
	},
}

func TestFlowOptionsTable(t *testing.T) {
	for _, c := range flowOptionCases {
		t.Run(c.name, func(t *testing.T) {
			want := flowHex(t, c.hex)
			got, err := c.opt.AppendData(nil)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode:\n got %x\nwant %x", got, want)
			}
			back, err := DecodeOption(RawOption{Type: c.opt.OptionType(), Data: want})
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(back, c.opt) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", back, c.opt)
			}
		})
	}
}

func TestFlowSubOptionPaddingSkipped(t *testing.T) {
	// Pad1, PadN(2 octets of data), BID Reference {5}.
	subs, err := ParseFlowSubOptions(flowHex(t, "00 01 02 0000 02 02 0005"))
	if err != nil {
		t.Fatal(err)
	}
	want := []FlowSubOption{BindingReferenceSubOption{BIDs: []uint16{5}}}
	if !reflect.DeepEqual(subs, want) {
		t.Fatalf("got %#v", subs)
	}
}

func TestFlowIdentificationAccessors(t *testing.T) {
	o := flowOptionCases[2].opt.(FlowIdentification)
	if r, ok := o.BindingReference(); !ok || !reflect.DeepEqual(r.BIDs, []uint16{1, 2}) {
		t.Errorf("BindingReference() = %v, %v", r, ok)
	}
	if ts := o.TrafficSelector(); !reflect.DeepEqual(ts, TrafficSelector(sampleIPv6TS)) {
		t.Errorf("TrafficSelector() = %#v", ts)
	}
	if !FIDStatusSuccess.Accepted() || FIDStatusMalformed.Accepted() {
		t.Error("Accepted() wrong")
	}
	if FIDStatusTSFormatNotSupported.String() != "Traffic selector format not supported" {
		t.Error(FIDStatusTSFormatNotSupported.String())
	}
}

func TestFlowOptionsMalformed(t *testing.T) {
	cases := []struct {
		name string
		typ  OptionType
		hex  string
		want error
		off  int // expected ParseError offset, from the option's Type octet at 0
	}{
		{"FID option too short", OptFlowIdentification, "0001 0001 00", ErrBadLength, 0},
		{"FID zero", OptFlowIdentification, "0000 0001 00 00", ErrBadValue, 2},
		{"FID-PRI zero", OptFlowIdentification, "0001 0000 00 00", ErrBadValue, 4},
		{"sub-option truncated", OptFlowIdentification, "0001 0001 00 00 02", ErrTruncated, 8},
		{"sub-option overruns", OptFlowIdentification, "0001 0001 00 00 02 04 0001", ErrOptionOverrun, 9},
		{"BID reference odd length", OptFlowIdentification, "0001 0001 00 00 02 03 000100", ErrBadLength, 10},
		{"BID reference empty", OptFlowIdentification, "0001 0001 00 00 02 00", ErrBadLength, 10},
		{"TS sub-option too short", OptFlowIdentification, "0001 0001 00 00 03 01 02", ErrBadLength, 10},
		{"TS format 0", OptFlowIdentification, "0001 0001 00 00 03 02 00 00", ErrBadValue, 10},
		{"TS flags need more octets", OptFlowIdentification, "0001 0001 00 00 03 06 02 00 8000 0000", ErrBadLength, 12},
		{"flow binding action bad length", OptFlowIdentification, "0001 0001 00 00 04 01 0b", ErrBadLength, 10},
		{"target CoA bad length", OptFlowIdentification, "0001 0001 00 00 05 04 0000 0000", ErrBadLength, 10},
		{"flow summary empty", OptFlowSummary, "", ErrBadLength, 0},
		{"flow summary odd", OptFlowSummary, "000100", ErrBadLength, 0},
		{"flow summary FID 0", OptFlowSummary, "0001 0000", ErrBadValue, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeOption(RawOption{Type: c.typ, Data: flowHex(t, c.hex)})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("%T is not a *ParseError", err)
			}
			if pe.Offset != c.off {
				t.Errorf("offset %d, want %d (%v)", pe.Offset, c.off, err)
			}
		})
	}
}

func TestFlowOptionsEncodeErrors(t *testing.T) {
	for _, o := range []Option{
		FlowIdentification{Priority: 1},
		FlowIdentification{FID: 1},
		FlowIdentification{FID: 1, Priority: 1, SubOptions: []FlowSubOption{nil}},
		FlowIdentification{FID: 1, Priority: 1, SubOptions: []FlowSubOption{BindingReferenceSubOption{}}},
		FlowIdentification{FID: 1, Priority: 1, SubOptions: []FlowSubOption{TrafficSelectorSubOption{}}},
		FlowIdentification{FID: 1, Priority: 1, SubOptions: []FlowSubOption{UnknownFlowSubOption{Type: FlowSubOptPadN}}},
		FlowIdentification{FID: 1, Priority: 1, SubOptions: []FlowSubOption{TrafficSelectorSubOption{Selector: IPv4TrafficSelector{Flags: IPv4TSEndDS}}}},
		FlowIdentification{FID: 1, Priority: 1, SubOptions: []FlowSubOption{TargetCareOfAddressSubOption{}}},
		FlowSummary{},
		FlowSummary{FIDs: []uint16{0}},
	} {
		if b, err := o.AppendData(nil); err == nil {
			t.Errorf("%#v encoded to %x, want an error", o, b)
		}
	}
}

// TestFlowIdentificationInBindingUpdate encodes a Binding Update carrying
// Binding Identifier and Flow Identification options and decodes it back
// through the generic message parser (alignment, padding and checksum).
func TestFlowIdentificationInBindingUpdate(t *testing.T) {
	src := netip.MustParseAddr("2001:db8:1::100")
	dst := netip.MustParseAddr("2001:db8:1::1")
	bu := BindingUpdate{Sequence: 42, Flags: BUFlagA | BUFlagH, Lifetime: 100, Options: []Option{
		BindingIdentifier{BindingID: 1, Priority: 1, CareOfAddress: netip.MustParseAddr("2001:db8:a::100")},
		flowOptionCases[2].opt,
		FlowSummary{FIDs: []uint16{7}},
	}}
	mh, err := Marshal(bu, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(mh, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, Message(bu)) {
		t.Fatalf("got %#v\nwant %#v", m, bu)
	}
}

func FuzzFlowSubOptions(f *testing.F) {
	for _, c := range flowOptionCases {
		if c.opt.OptionType() == OptFlowIdentification {
			f.Add(flowHex(f, c.hex)[6:])
		}
	}
	f.Add(flowHex(f, "00 01 02 0000 02 02 0005"))
	f.Fuzz(func(t *testing.T, b []byte) {
		subs, err := ParseFlowSubOptions(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(b) {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		enc, err := AppendFlowSubOptions(nil, subs)
		if err != nil {
			t.Fatalf("decoded %x to %#v but cannot encode: %v", b, subs, err)
		}
		again, err := ParseFlowSubOptions(enc)
		if err != nil || !reflect.DeepEqual(again, subs) {
			t.Fatalf("re-decode of %x: %#v, %v; want %#v", enc, again, err, subs)
		}
	})
}

func FuzzFlowOptions(f *testing.F) {
	for _, c := range flowOptionCases {
		f.Add(byte(c.opt.OptionType()), flowHex(f, c.hex))
	}
	f.Fuzz(func(t *testing.T, typ byte, b []byte) {
		if typ&1 == 0 {
			typ = byte(OptFlowSummary)
		} else {
			typ = byte(OptFlowIdentification)
		}
		o, err := DecodeOption(RawOption{Type: OptionType(typ), Data: b})
		if err != nil {
			return
		}
		enc, err := o.AppendData(nil)
		if err != nil {
			t.Fatalf("decoded %x to %#v but cannot encode: %v", b, o, err)
		}
		again, err := DecodeOption(RawOption{Type: OptionType(typ), Data: enc})
		if err != nil || !reflect.DeepEqual(again, o) {
			t.Fatalf("re-decode of %x: %#v, %v; want %#v", enc, again, err, o)
		}
	})
}
