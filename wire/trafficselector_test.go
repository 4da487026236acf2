package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// flowHex reads hex with white space between groups.
func flowHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Expected octets are laid out by hand from the figures of RFC 6088
// sections 3.1 and 3.2: flags (A = most significant bit), 16 reserved
// bits, then the present fields in flag order.
var tsCases = []struct {
	name string
	ts   TrafficSelector
	hex  string
}{
	{
		name: "ipv4 empty selector",
		ts:   IPv4TrafficSelector{},
		hex:  "0000 0000",
	},
	{
		name: "ipv4 source address range, destination port range, protocol",
		ts: IPv4TrafficSelector{
			Flags:                IPv4TSStartSourceAddress | IPv4TSEndSourceAddress | IPv4TSStartDestinationPort | IPv4TSEndDestinationPort | IPv4TSStartProtocol,
			StartSourceAddress:   netip.MustParseAddr("192.0.2.1"),
			EndSourceAddress:     netip.MustParseAddr("192.0.2.254"),
			StartDestinationPort: 5000,
			EndDestinationPort:   5999,
			StartProtocol:        17,
		},
		// flags A B I J M = 1100 0000 1100 1000 = c0 c8
		hex: "c0c8 0000  c0000201 c00002fe  1388 176f  11",
	},
	{
		name: "ipv4 every field",
		ts: IPv4TrafficSelector{
			Flags:                   0xfffc,
			StartSourceAddress:      netip.MustParseAddr("10.0.0.1"),
			EndSourceAddress:        netip.MustParseAddr("10.0.0.2"),
			StartDestinationAddress: netip.MustParseAddr("10.0.1.1"),
			EndDestinationAddress:   netip.MustParseAddr("10.0.1.2"),
			StartIPsecSPI:           0x01020304,
			EndIPsecSPI:             0x05060708,
			StartSourcePort:         1,
			EndSourcePort:           2,
			StartDestinationPort:    3,
			EndDestinationPort:      4,
			StartDS:                 0x28,
			EndDS:                   0x2e,
			StartProtocol:           6,
			EndProtocol:             17,
		},
		hex: "fffc 0000 0a000001 0a000002 0a000101 0a000102 01020304 05060708" +
			" 0001 0002 0003 0004 28 2e 06 11",
	},
	{
		name: "ipv6 source prefix range, flow label range, destination port, next header",
		ts: IPv6TrafficSelector{
			Flags:                IPv6TSStartSourceAddress | IPv6TSEndSourceAddress | IPv6TSStartFlowLabel | IPv6TSEndFlowLabel | IPv6TSStartDestinationPort | IPv6TSStartNextHeader,
			StartSourceAddress:   netip.MustParseAddr("2001:db8:1::"),
			EndSourceAddress:     netip.MustParseAddr("2001:db8:1::ffff"),
			StartFlowLabel:       0x12345,
			EndFlowLabel:         0xfffff,
			StartDestinationPort: 443,
			StartNextHeader:      6,
		},
		// flags A B G H K O = 1100 0011 0010 0010 = c3 22
		hex: "c322 0000" +
			" 20010db8000100000000000000000000" +
			" 20010db800010000000000000000ffff" +
			" 00012345 000fffff 01bb 06",
	},
	{
		name: "ipv6 every field",
		ts: IPv6TrafficSelector{
			Flags:                   0xffff,
			StartSourceAddress:      netip.MustParseAddr("2001:db8::1"),
			EndSourceAddress:        netip.MustParseAddr("2001:db8::2"),
			StartDestinationAddress: netip.MustParseAddr("2001:db8::3"),
			EndDestinationAddress:   netip.MustParseAddr("2001:db8::4"),
			StartIPsecSPI:           0x100,
			EndIPsecSPI:             0x200,
			StartFlowLabel:          1,
			EndFlowLabel:            2,
			StartSourcePort:         10,
			EndSourcePort:           11,
			StartDestinationPort:    12,
			EndDestinationPort:      13,
			StartTrafficClass:       0xb8,
			EndTrafficClass:         0xb9,
			StartNextHeader:         17,
			EndNextHeader:           58,
		},
		hex: "ffff 0000" +
			" 20010db8000000000000000000000001 20010db8000000000000000000000002" +
			" 20010db8000000000000000000000003 20010db8000000000000000000000004" +
			" 00000100 00000200 00000001 00000002 000a 000b 000c 000d b8 b9 11 3a",
	},
}

func TestTrafficSelectorTable(t *testing.T) {
	for _, c := range tsCases {
		t.Run(c.name, func(t *testing.T) {
			want := flowHex(t, c.hex)
			got, err := c.ts.AppendSelector(nil)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode:\n got %x\nwant %x", got, want)
			}
			back, err := ParseTrafficSelector(c.ts.TSFormat(), want)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(back, c.ts) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", back, c.ts)
			}
			var n int
			switch s := c.ts.(type) {
			case IPv4TrafficSelector:
				n = s.Len()
			case IPv6TrafficSelector:
				n = s.Len()
			}
			if n != len(want) {
				t.Errorf("Len() = %d, want %d", n, len(want))
			}
		})
	}
}

func TestTrafficSelectorReservedBitsIgnored(t *testing.T) {
	// RFC 6088: reserved bits are ignored by the receiver. The two low
	// flag bits of the IPv4 format are reserved too.
	s, err := ParseIPv4TrafficSelector(flowHex(t, "0003 ffff"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Flags != 0 {
		t.Fatalf("flags = %v, want none", s.Flags)
	}
}

func TestTrafficSelectorMalformed(t *testing.T) {
	cases := []struct {
		name   string
		format TSFormat
		hex    string
		want   error
	}{
		{"ipv4 empty", TSFormatIPv4Binary, "", ErrTruncated},
		{"ipv4 flags only", TSFormatIPv4Binary, "00", ErrTruncated},
		{"ipv4 A set, address missing", TSFormatIPv4Binary, "8000 0000", ErrBadLength},
		{"ipv4 A set, address short", TSFormatIPv4Binary, "8000 0000 c00002", ErrBadLength},
		{"ipv4 trailing octet", TSFormatIPv4Binary, "8000 0000 c0000201 00", ErrBadLength},
		{"ipv4 B without A", TSFormatIPv4Binary, "4000 0000 c0000201", ErrBadValue},
		{"ipv4 N without M", TSFormatIPv4Binary, "0004 0000 11", ErrBadValue},
		{"ipv6 A set, IPv4-sized address", TSFormatIPv6Binary, "8000 0000 c0000201", ErrBadLength},
		{"ipv6 H without G", TSFormatIPv6Binary, "0100 0000 00000001", ErrBadValue},
		{"ipv6 flow label over 20 bits", TSFormatIPv6Binary, "0200 0000 00100000", ErrBadValue},
		{"ipv6 truncated", TSFormatIPv6Binary, "ff", ErrTruncated},
		{"ipv6 all flags, no fields", TSFormatIPv6Binary, "ffff 0000", ErrBadLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTrafficSelector(c.format, flowHex(t, c.hex))
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err %T is not a *ParseError", err)
			}
		})
	}
}

func TestTrafficSelectorEncodeErrors(t *testing.T) {
	cases := []struct {
		name string
		ts   TrafficSelector
	}{
		{"value without flag", IPv4TrafficSelector{StartSourcePort: 80}},
		{"address without flag", IPv6TrafficSelector{EndDestinationAddress: netip.MustParseAddr("::1")}},
		{"end flag without start", IPv4TrafficSelector{Flags: IPv4TSEndDS, EndDS: 1}},
		{"flag without address", IPv4TrafficSelector{Flags: IPv4TSStartSourceAddress}},
		{"IPv6 address in IPv4 selector", IPv4TrafficSelector{Flags: IPv4TSStartSourceAddress, StartSourceAddress: netip.MustParseAddr("::1")}},
		{"IPv4 address in IPv6 selector", IPv6TrafficSelector{Flags: IPv6TSStartSourceAddress, StartSourceAddress: netip.MustParseAddr("192.0.2.1")}},
		{"reserved flag bits", IPv4TrafficSelector{Flags: 1}},
		{"flow label over 20 bits", IPv6TrafficSelector{Flags: IPv6TSStartFlowLabel, StartFlowLabel: 1 << 20}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if b, err := c.ts.AppendSelector(nil); err == nil {
				t.Fatalf("encoded %x, want an error", b)
			}
		})
	}
}

func TestTrafficSelectorUnknownFormat(t *testing.T) {
	ts, err := ParseTrafficSelector(7, []byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	u, ok := ts.(UnknownTrafficSelector)
	if !ok || u.Format != 7 || !bytes.Equal(u.Data, []byte{1, 2, 3}) {
		t.Fatalf("got %#v", ts)
	}
}

func TestTrafficSelectorFlagNames(t *testing.T) {
	f := IPv6TSStartSourceAddress | IPv6TSEndNextHeader
	if got, want := f.String(), "A:StartSourceAddress|P:EndNextHeader"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	s := IPv4TrafficSelector{Flags: IPv4TSStartProtocol}
	if !s.FieldPresent("StartProtocol") || s.FieldPresent("EndProtocol") || s.FieldPresent("StartSourceAddress") {
		t.Error("FieldPresent does not follow the flags")
	}
	if !s.FieldPresent("Flags") {
		t.Error("FieldPresent(Flags) = false")
	}
}

func fuzzTrafficSelector(f *testing.F, format TSFormat) {
	for _, c := range tsCases {
		if c.ts.TSFormat() == format {
			f.Add(flowHex(f, c.hex))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := ParseTrafficSelector(format, b)
		if err != nil {
			return
		}
		enc, err := ts.AppendSelector(nil)
		if err != nil {
			t.Fatalf("decoded %x to %+v but cannot encode it: %v", b, ts, err)
		}
		// Reserved bits are dropped on decode, so compare re-decoded
		// values and the octets after the flag field.
		again, err := ParseTrafficSelector(format, enc)
		if err != nil || !reflect.DeepEqual(again, ts) {
			t.Fatalf("re-decode of %x: %+v, %v; want %+v", enc, again, err, ts)
		}
		if !bytes.Equal(enc[4:], b[4:]) {
			t.Fatalf("fields changed: %x -> %x", b, enc)
		}
	})
}

func FuzzIPv4TrafficSelector(f *testing.F) { fuzzTrafficSelector(f, TSFormatIPv4Binary) }

func FuzzIPv6TrafficSelector(f *testing.F) { fuzzTrafficSelector(f, TSFormatIPv6Binary) }
