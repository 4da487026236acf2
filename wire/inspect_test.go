package wire

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// wantProblem is one expected problem: severity, offset from the start of
// the Mobility Header, a piece of its text and (when not nil) its sentinel.
type wantProblem struct {
	sev  Severity
	off  int
	text string
	err  error
}

// Hand-built Mobility Headers, octet by octet (BU fixed part: Sequence 1,
// Flags A, Lifetime 1; options start at offset 12).
var inspectCases = []struct {
	name  string
	in    string
	want  []wantProblem
	check func(t *testing.T, m InspectedMessage)
}{
	{"well-formed BU with an unknown option", `3b 01 05 00 0000 | 0001 8000 0001 | c8 02 abcd`, nil,
		func(t *testing.T, m InspectedMessage) {
			bu := m.Message.(BindingUpdate)
			u, ok := bu.Options[0].(UnknownOption)
			if !ok || u.Type != 200 || string(u.Data) != "\xab\xcd" {
				t.Errorf("unknown option kept as %#v", bu.Options)
			}
		}},
	{"shorter than the fixed header", `3b 00 05`, []wantProblem{{SeverityMalformed, 0, "3 octets", ErrTruncated}}, nil},
	{"Payload Proto 6", `06 00 00 00 0000 | 0000`, []wantProblem{{SeverityError, 0, "Payload Proto 6", ErrBadValue}},
		func(t *testing.T, m InspectedMessage) {
			if _, ok := m.Message.(BindingRefreshRequest); !ok {
				t.Errorf("message %#v", m.Message)
			}
		}},
	{"Reserved not zero", `3b 00 00 07 0000 | 0000`, []wantProblem{{SeverityWarning, 3, "Reserved octet is 7", nil}}, nil},
	{"Header Len beyond the packet", `3b 02 05 00 0000 | 0001 8000 0001 | 02 02 0010`,
		[]wantProblem{{SeverityMalformed, 1, "says 24 octets, the packet holds 16", ErrTruncated}},
		func(t *testing.T, m InspectedMessage) {
			bu := m.Message.(BindingUpdate)
			if m.Len != 16 || len(bu.Options) != 1 || bu.Options[0].(BindingRefreshAdvice).RefreshInterval != 0x10 {
				t.Errorf("Len %d, options %#v", m.Len, bu.Options)
			}
		}},
	{"octets after Header Len", `3b 00 00 00 0000 | 0000 | ffff`,
		[]wantProblem{{SeverityWarning, 8, "2 octets follow", ErrBadLength}}, nil},
	{"Header Len too small for BU", `3b 00 05 00 0000 | 0001`,
		[]wantProblem{{SeverityMalformed, 1, "needs 6 octets of message data", ErrHeaderLenTooSmall}},
		func(t *testing.T, m InspectedMessage) {
			if m.Message != nil || len(m.Fixed) != 2 {
				t.Errorf("message %#v, fixed %x", m.Message, m.Fixed)
			}
		}},
	{"unknown MH type", `3b 00 fa 00 0000 | 0102`, nil,
		func(t *testing.T, m InspectedMessage) {
			if m.Known || m.Message != nil || string(m.Fixed) != "\x01\x02" {
				t.Errorf("%#v", m)
			}
		}},
	{"Binding Revocation of an unknown B.R. Type", `3b 01 10 00 0000 | 09 00 0000 0000 | 01 02 0000`,
		[]wantProblem{{SeverityError, 6, "B.R. Type 9", ErrBadValue}},
		func(t *testing.T, m InspectedMessage) {
			if m.Message != nil || len(m.Options) != 1 || !m.Options[0].Padding() {
				t.Errorf("%#v", m)
			}
		}},
	{"option overruns the message", `3b 01 05 00 0000 | 0001 8000 0001 | 23 08 0000`,
		[]wantProblem{{SeverityMalformed, 13, "Binding Identifier option (type 35): Length 8 runs past the message end, 2 octets left", ErrOptionOverrun}},
		func(t *testing.T, m InspectedMessage) {
			bu := m.Message.(BindingUpdate)
			o := m.Options[0]
			if bu.Sequence != 1 || len(bu.Options) != 0 || o.Length != 8 || len(o.Data) != 2 || o.Option != nil {
				t.Errorf("message %#v, option %#v", bu, o)
			}
		}},
	{"good option, then one that overruns", `3b 02 05 00 0000 | 0001 8000 0001 | 02 02 0010 | 23 10 0001 0000 0000`,
		[]wantProblem{{SeverityMalformed, 17, "Length 16 runs past", ErrOptionOverrun}},
		func(t *testing.T, m InspectedMessage) {
			if bu := m.Message.(BindingUpdate); len(bu.Options) != 1 || len(m.Options) != 2 {
				t.Errorf("message %#v, options %#v", bu, m.Options)
			}
		}},
	{"option type without its Length octet", `3b 01 05 00 0000 | 0001 8000 0001 | 00 00 00 02`,
		[]wantProblem{{SeverityMalformed, 15, "ends before its Length octet", ErrTruncated}}, nil},
	{"fixed-size option of the wrong length", `3b 01 05 00 0000 | 0001 8000 0001 | 02 01 00 00`,
		[]wantProblem{{SeverityMalformed, 12, "Binding Refresh Advice option (length 1)", ErrBadLength}}, nil},
	{"misaligned Alternate Care-of Address", `3b 03 05 00 0000 | 0001 8000 0001 | 03 10 20010db8000000000000000000000001 | 01 00`,
		[]wantProblem{{SeverityWarning, 12, "not aligned to 8n+6 as RFC 6275 section 6.2 asks", ErrBadAlignment}},
		func(t *testing.T, m InspectedMessage) {
			a, ok := m.Options[0].Option.(AlternateCareOfAddress)
			if !ok || a.CareOfAddress != netip.MustParseAddr("2001:db8::1") {
				t.Errorf("option %#v not decoded", m.Options[0])
			}
		}},
	{"misaligned BID", `3b 02 05 00 0000 | 0001 8000 0001 | 00 23 04 0001 0000 | 01 03 000000`,
		[]wantProblem{{SeverityWarning, 13, "not aligned to 2n+0", ErrBadAlignment}}, nil},
	{"PadN not zero", `3b 01 05 00 0000 | 0001 8000 0001 | 01 02 abcd`,
		[]wantProblem{{SeverityWarning, 14, "PadN option carries non-zero octets", nil}}, nil},
	{"Flow Identification, every field", `3b 04 05 00 0000 | 0001 8000 0001 |
		2d 1a 0001 000a 00 00 | 02 02 0001 | 03 0e 01 00 3000 0000 c6336400 c63364ff`, nil,
		func(t *testing.T, m InspectedMessage) {
			o := m.Options[0]
			fi := o.Option.(FlowIdentification)
			ts := fi.TrafficSelector().(IPv4TrafficSelector)
			if fi.FID != 1 || fi.Priority != 10 || len(o.SubOptions) != 2 || len(o.Reserved) != 1 ||
				ts.EndDestinationAddress != netip.MustParseAddr("198.51.100.255") || len(o.SubOptions[1].Reserved) != 3 {
				t.Errorf("%#v", o)
			}
		}},
	{"Flow Identification with bad fields and sub-options", `3b 05 05 00 0000 | 0001 8000 0001 |
		2d 1b 0000 000a 55 00 | 02 03 000100 | 03 0e 01 07 3003 0101 c6336400 c63364ff | 01 05 0000000000`,
		[]wantProblem{
			{SeverityError, 14, "FID 0 is reserved", ErrBadValue},
			{SeverityWarning, 18, "Reserved is 85, should be zero", nil},
			{SeverityMalformed, 22, "Binding Reference sub-option (length 3, want a positive multiple of 2)", ErrBadLength},
			{SeverityWarning, 28, "Traffic Selector sub-option (type 3): Reserved is 7", nil},
			{SeverityWarning, 30, "SelectorReservedFlags is 3", nil},
			{SeverityWarning, 31, "SelectorReserved is 257", nil},
		},
		func(t *testing.T, m InspectedMessage) {
			o := m.Options[0]
			fi := o.Option.(FlowIdentification)
			if len(fi.SubOptions) != 1 || fi.TrafficSelector() == nil || o.SubOptions[0].SubOption != nil {
				t.Errorf("%#v", o)
			}
		}},
	{"Traffic Selector sub-option overruns its option", `3b 02 05 00 0000 | 0001 8000 0001 | 2d 0a 0001 0001 0000 | 03 08 0100`,
		[]wantProblem{{SeverityMalformed, 21, "Length 8 runs past the Flow Identification option's end, 2 octets left", ErrOptionOverrun}}, nil},
	{"Flow Identification shorter than its fixed fields", `3b 02 05 00 0000 | 0001 8000 0001 | 2d 04 0001 0001 | 01 04 00000000`,
		[]wantProblem{{SeverityMalformed, 13, "Length 4, the fixed fields need 6", ErrBadLength}}, nil},
	{"Flow Summary of odd length", `3b 02 05 00 0000 | 0001 8000 0001 | 2c 03 000100 | 01 05 0000000000`,
		[]wantProblem{{SeverityMalformed, 12, "Flow Summary option (length 3)", ErrBadLength}}, nil},
	{"Flow Summary with FID 0", `3b 01 05 00 0000 | 0001 8000 0001 | 2c 02 0000`,
		[]wantProblem{{SeverityError, 14, "FID 0 is reserved", ErrBadValue}}, nil},
}

func TestInspect(t *testing.T) {
	for _, tc := range inspectCases {
		t.Run(tc.name, func(t *testing.T) {
			b := unhex(t, tc.in)
			m := Inspect(b)
			got := m.AllProblems()
			if len(got) != len(tc.want) {
				t.Fatalf("problems %v, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Severity != w.sev || g.Offset != w.off || !strings.Contains(g.Text, w.text) || (w.err != nil && !errors.Is(g.Err, w.err)) {
					t.Errorf("problem %d = %v (err %v), want %v at %d with %q (%v)", i, g, g.Err, w.sev, w.off, w.text, w.err)
				}
			}
			if tc.check != nil {
				tc.check(t, m)
			}
			checkInspected(t, b, m)
		})
	}
}

func TestProblemString(t *testing.T) {
	p := Problem{Severity: SeverityMalformed, Offset: 40, Text: "Binding Identifier option (type 35): Length 3 runs past the message end, 1 octets left"}
	if got, want := p.String(), "[Malformed, offset 40: Binding Identifier option (type 35): Length 3 runs past the message end, 1 octets left]"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
}

// checkInspected checks that Inspect agrees with the strict decoder: the
// strict decoder refuses a message exactly when Inspect reports an Error
// or worse (or a misalignment, which Parse refuses unless LaxAlignment),
// and when both decode, they decode the same.
func checkInspected(t *testing.T, b []byte, m InspectedMessage) {
	t.Helper()
	if m.Len > len(b) || m.Len < 0 {
		t.Fatalf("Len %d of %d octets", m.Len, len(b))
	}
	misaligned := false
	for _, p := range m.AllProblems() {
		if p.Offset < 0 || p.Offset > len(b) || p.Text == "" || p.Severity < SeverityWarning || p.Severity > SeverityMalformed {
			t.Fatalf("bad problem %#v in %d octets", p, len(b))
		}
		misaligned = misaligned || errors.Is(p.Err, ErrBadAlignment)
	}
	strict, err := Parser{ChecksumVerified: true}.Parse(b, tSrc, tDst)
	lax, laxErr := Parser{ChecksumVerified: true, LaxAlignment: true}.Parse(b, tSrc, tDst)
	if errors.Is(err, ErrUnknownMHType) {
		if m.Known || m.Message != nil {
			t.Fatalf("unknown MH type, but Inspect decoded %#v", m)
		}
		return
	}
	if (laxErr != nil) != (m.Worst() >= SeverityError) {
		t.Fatalf("lax Parse: %v; Inspect's worst problem %v: %v", laxErr, m.Worst(), m.AllProblems())
	}
	if laxErr == nil && errors.Is(err, ErrBadAlignment) != misaligned {
		t.Fatalf("Parse: %v; Inspect flags misalignment %v", err, misaligned)
	}
	if laxErr == nil {
		if !sameMessage(lax, m.Message) {
			t.Fatalf("Parse gives %#v, Inspect %#v", lax, m.Message)
		}
		if err == nil && !sameMessage(strict, m.Message) {
			t.Fatalf("Parse gives %#v, Inspect %#v", strict, m.Message)
		}
	}
}

// sameMessage compares decoded messages field by field, slices by
// content (Parse copies, Inspect aliases).
func sameMessage(a, b Message) bool {
	return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

func flowSeed(t testing.TB) []byte {
	bu := BindingUpdate{Sequence: 9, Flags: BUFlagA, Lifetime: 10, Options: []Option{
		BindingIdentifier{BindingID: 1, Priority: 1},
		FlowIdentification{FID: 1, Priority: 2, SubOptions: []FlowSubOption{
			BindingReferenceSubOption{BIDs: []uint16{1, 2}},
			TrafficSelectorSubOption{Selector: IPv6TrafficSelector{Flags: IPv6TSStartNextHeader, StartNextHeader: 17}},
			TrafficSelectorSubOption{Selector: IPv4TrafficSelector{Flags: IPv4TSStartDestinationPort, StartDestinationPort: 53}},
		}},
		FlowSummary{FIDs: []uint16{1, 2}},
	}}
	b, err := Marshal(bu, tSrc, tDst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzInspect(f *testing.F) {
	for _, s := range coreMHSeeds(f) {
		f.Add(s)
	}
	f.Add(flowSeed(f))
	for _, tc := range inspectCases {
		f.Add(unhex(f, tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkInspected(t, b, Inspect(b))
	})
}
