package wire

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func pmipHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPMIPOptionData: option data octets derived by hand from the RFC
// figures, both ways.
func TestPMIPOptionData(t *testing.T) {
	hoa4 := netip.MustParseAddr("192.0.2.77")
	cases := []struct {
		name string
		opt  Option
		data string // after the Length octet
	}{
		// RFC 5213 section 8.3: Reserved, Prefix Length, prefix.
		{"HNP", HomeNetworkPrefix{Prefix: netip.MustParsePrefix("2001:db8:aaaa:1::/64")},
			"00 40 20010db8aaaa00010000000000000000"},
		{"HNP /128", HomeNetworkPrefix{Prefix: netip.MustParsePrefix("2001:db8::5/128")},
			"00 80 20010db8000000000000000000000005"},
		// RFC 5213 section 8.4: Reserved, HI.
		{"HI", HandoffIndicatorOption{Indicator: HandoffSameInterface}, "00 03"},
		// RFC 5213 section 8.5: Reserved, ATT.
		{"ATT", AccessTechnologyTypeOption{Type: AccessTechnologyIEEE8023}, "00 03"},
		// RFC 5213 section 8.6: Reserved (16), identifier.
		{"MN LL-ID", MobileNodeLinkLayerIdentifier{Identifier: []byte{0x02, 0, 0x5e, 0x10, 0x20, 0x30}},
			"0000 02005e102030"},
		// RFC 5213 section 8.7.
		{"LLA", LinkLocalAddress{Address: netip.MustParseAddr("fe80::1")}, "fe800000000000000000000000000001"},
		// RFC 5213 section 8.8: 48-bit seconds, 16-bit fraction.
		// 1700000000 = 0x6553f100; 0.5 s = 0x8000.
		{"Timestamp", Timestamp{Seconds: 1_700_000_000, Fraction: 0x8000}, "00006553f100 8000"},
		// RFC 5847 section 3.2.
		{"Restart Counter", RestartCounter{Counter: 0x01020304}, "01020304"},
		// RFC 5555 section 3.1.1: Prefix-len (6) P (1) Reserved (9), address.
		// 32<<2 | P = 0x82.
		{"IPv4 HoA", IPv4HomeAddress{PrefixLen: 32, MobileNetworkPrefix: true, Address: hoa4}, "82 00 c000024d"},
		{"IPv4 HoA request", IPv4HomeAddress{PrefixLen: 24, Address: netip.IPv4Unspecified()}, "60 00 00000000"},
		// RFC 5555 section 3.2.1: Status, Pref-len (6) Reserved (2), address.
		{"IPv4 Ack", IPv4AddressAcknowledgement{Status: IPv4AckPrefixAllocationUnauthorized, PrefixLen: 30, Address: hoa4},
			"85 78 c000024d"},
		// RFC 5555 section 3.2.2: F, Reserved (15), Refresh time.
		{"NAT detected", NATDetection{UDPEncapsulationRequired: true, RefreshTime: 110}, "8000 0000006e"},
		{"no NAT", NATDetection{RefreshTime: 0xffffffff}, "0000 ffffffff"},
		// RFC 5555 section 3.1.2: Reserved (16), address.
		{"IPv4 CoA", IPv4CareOfAddress{Address: netip.MustParseAddr("198.51.100.10")}, "0000 c633640a"},
		// RFC 5844 section 3.1.1: Prefix-len (6) Reserved (10), address.
		{"IPv4 HoA Request", IPv4HomeAddressRequest{PrefixLen: 24, Address: netip.IPv4Unspecified()}, "60 00 00000000"},
		// RFC 5844 section 3.1.2: Status, Pref-len (6) Reserved (2), address.
		{"IPv4 HoA Reply", IPv4HomeAddressReply{Status: IPv4ReplyDynamicAssignmentNotAvailable, PrefixLen: 32, Address: hoa4},
			"84 80 c000024d"},
		// RFC 5844 section 3.2.1: Reserved (16), address.
		{"IPv4 DRA", IPv4DefaultRouterAddress{Address: netip.MustParseAddr("192.0.2.1")}, "0000 c0000201"},
		// RFC 5844 section 3.3: Reserved (15), S.
		{"DHCP server", IPv4DHCPSupportMode{DHCPServer: true}, "0001"},
		{"DHCP relay", IPv4DHCPSupportMode{}, "0000"},
	}
	for _, c := range cases {
		want := pmipHex(t, c.data)
		got, err := c.opt.AppendData(nil)
		if err != nil {
			t.Errorf("%s: AppendData: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: AppendData = % x, want % x", c.name, got, want)
		}
		dec, err := DecodeOption(RawOption{Type: c.opt.OptionType(), Data: want})
		if err != nil {
			t.Errorf("%s: decode: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(dec, c.opt) {
			t.Errorf("%s: decoded %#v, want %#v", c.name, dec, c.opt)
		}
		// The registered alignment is the one the value reports.
		x, y := c.opt.Alignment()
		e := optionRegistry[c.opt.OptionType()]
		if int(e.x) != x || int(e.y) != y {
			t.Errorf("%s: registered alignment %dn+%d, value says %dn+%d", c.name, e.x, e.y, x, y)
		}
	}
}

// TestPMIPMessageBytes: whole Mobility Headers derived by hand from the
// RFC figures (checksum left zero: no pseudo-header addresses).
func TestPMIPMessageBytes(t *testing.T) {
	hnp := HomeNetworkPrefix{Prefix: netip.MustParsePrefix("2001:db8:aaaa:1::/64")}
	cases := []struct {
		name string
		msg  Message
		mh   string
	}{
		// RFC 5846 section 6.1.1: B.R. Type 1, R. Trigger, Sequence #,
		// P V G Reserved, then PadN to a multiple of 8.
		{"BRI", BindingRevocationIndication{Trigger: RevocationPossibleOutOfSyncBCE, Sequence: 555, ProxyBinding: true, Global: true},
			"3b 01 10 00 0000 | 01 07 022b a0 00 | 01 02 0000"},
		// RFC 5846 section 6.1.2: B.R. Type 2, Status, Sequence #, P V G.
		{"BRA", BindingRevocationAcknowledgement{Status: BRStatusPartialSuccess, Sequence: 555, ProxyBinding: true, IPv4HomeAddressOnly: true},
			"3b 01 10 00 0000 | 02 01 022b c0 00 | 01 02 0000"},
		{"BRA failure", BindingRevocationAcknowledgement{Status: BRStatusProxyRevocationNotSupported, Sequence: 1, Global: true},
			"3b 01 10 00 0000 | 02 87 0001 20 00 | 01 02 0000"},
		// BRI with an HNP: options start at 12 = 8n+4, no padding
		// before it; 32 octets, Header Len 3.
		{"BRI+HNP", BindingRevocationIndication{Trigger: RevocationPerPeerPolicy, Sequence: 2, Options: []Option{hnp}},
			"3b 03 10 00 0000 | 01 80 0002 00 00 | 16 12 00 40 20010db8aaaa00010000000000000000"},
		// RFC 5847 section 3.1: Reserved, U R flags, Sequence Number.
		{"Heartbeat", Heartbeat{Sequence: 0xdeadbeef},
			"3b 01 0d 00 0000 | 00 00 deadbeef | 01 02 0000"},
		// Restart Counter at 4n+2: PadN(2) at 12, option at 14.
		{"Heartbeat+RC", Heartbeat{Unsolicited: true, Response: true, Sequence: 42, Options: []Option{RestartCounter{Counter: 0x01020304}}},
			"3b 02 0d 00 0000 | 00 03 0000002a | 01 00 | 1c 04 01020304 | 01 02 0000"},
		// RFC 7077 section 4.1: Sequence #, Notification Reason, A D
		// flags, Reserved.
		{"UPN flow mobility", UpdateNotification{Sequence: 9, Reason: ReasonFlowMobility, AckRequested: true},
			"3b 01 13 00 0000 | 0009 08 80 0000 | 01 02 0000"},
		{"UPN D", UpdateNotification{Sequence: 0x1234, Reason: ReasonForceReregistration, D: true},
			"3b 01 13 00 0000 | 1234 01 40 0000 | 01 02 0000"},
		// RFC 7077 section 4.2: Sequence #, Status, Reserved.
		{"UPA", UpdateNotificationAck{Sequence: 9, Status: UPAMNNotAttached},
			"3b 01 14 00 0000 | 0009 84 000000 | 01 02 0000"},
		// PBU (RFC 5213 section 8.1): A and P flags, HNP at 12, HI and
		// ATT need no alignment, Timestamp at 8n+2 after a PadN(2).
		{"PBU", BindingUpdate{Sequence: 17, Flags: BUFlagA | BUFlagP, Lifetime: 900, Options: []Option{
			hnp, HandoffIndicatorOption{Indicator: HandoffNewInterface}, AccessTechnologyTypeOption{Type: AccessTechnologyIEEE80211},
			Timestamp{Seconds: 1_700_000_000, Fraction: 0x8000}}},
			"3b 06 05 00 0000 | 0011 8200 0384 | 16 12 0040 20010db8aaaa00010000000000000000 | 17 02 0001 | 18 02 0004 | 01 00 | 1b 08 00006553f1008000 | 01 02 0000"},
		// IPv4 options at 4n: BA fixed data ends at 12.
		{"BA+IPv4", BindingAcknowledgement{Sequence: 300, Lifetime: 60, Options: []Option{
			IPv4AddressAcknowledgement{PrefixLen: 32, Address: netip.MustParseAddr("192.0.2.77")},
			NATDetection{UDPEncapsulationRequired: true, RefreshTime: 110}}},
			"3b 03 06 00 0000 | 00 00 012c 003c | 1e 06 00 80 c000024d | 1f 06 8000 0000006e | 01 02 0000"},
	}
	for _, c := range cases {
		want := pmipHex(t, strings.ReplaceAll(c.mh, "|", ""))
		got, err := Marshal(c.msg, netip.Addr{}, netip.Addr{})
		if err != nil {
			t.Errorf("%s: Marshal: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got % x\nwant % x", c.name, got, want)
		}
		m, err := Parser{ChecksumVerified: true}.Parse(want, netip.Addr{}, netip.Addr{})
		if err != nil {
			t.Errorf("%s: Parse: %v", c.name, err)
			continue
		}
		if !goldenMessagesEqual(m, c.msg) {
			t.Errorf("%s: Parse = %#v, want %#v", c.name, m, c.msg)
		}
	}
}

// TestPMIPMessageChecksum: a message marshalled with addresses verifies.
func TestPMIPMessageChecksum(t *testing.T) {
	for _, m := range []Message{
		BindingRevocationIndication{Sequence: 1}, BindingRevocationAcknowledgement{Sequence: 1},
		Heartbeat{Sequence: 1}, UpdateNotification{Sequence: 1}, UpdateNotificationAck{Sequence: 1},
	} {
		b := goldenMarshal(t, m, gMAG, gLMA)
		if !VerifyChecksum(b, gMAG, gLMA) || goldenChecksum(b, gMAG, gLMA) != 0 {
			t.Errorf("%T: checksum does not verify", m)
		}
		if _, err := Parse(b, gMAG, gMN); !errors.Is(err, ErrBadChecksum) {
			t.Errorf("%T: other pseudo-header: err %v, want ErrBadChecksum", m, err)
		}
	}
}

// TestPMIPMalformed: bad input gives the right sentinel, never a panic.
func TestPMIPMalformed(t *testing.T) {
	parse := func(s string) error {
		_, err := Parser{ChecksumVerified: true}.Parse(pmipHex(t, strings.ReplaceAll(s, "|", "")), netip.Addr{}, netip.Addr{})
		return err
	}
	cases := []struct {
		name string
		mh   string
		want error
	}{
		{"BR type 0", "3b 01 10 00 0000 | 00 07 022b a0 00 | 01 02 0000", ErrBadValue},
		{"BR type 3", "3b 01 10 00 0000 | 03 07 022b a0 00 | 01 02 0000", ErrBadValue},
		{"BR header len 0", "3b 00 10 00 0000 | 01 07", ErrHeaderLenTooSmall},
		{"Heartbeat header len 0", "3b 00 0d 00 0000 | 00 00", ErrHeaderLenTooSmall},
		{"UPN header len 0", "3b 00 13 00 0000 | 00 09", ErrHeaderLenTooSmall},
		{"UPA header len 0", "3b 00 14 00 0000 | 00 09", ErrHeaderLenTooSmall},
		{"Heartbeat truncated", "3b 02 0d 00 0000 | 00 00 deadbeef | 01 02 0000", ErrTruncated},
		// Restart Counter with Length 3 (needs 4), at 4n+2.
		{"RC length 3", "3b 02 0d 00 0000 | 00 03 0000002a | 01 00 | 1c 03 010203 | 01 03 000000", ErrBadLength},
		// Restart Counter at 4n (12): misaligned.
		{"RC misaligned", "3b 02 0d 00 0000 | 00 03 0000002a | 1c 04 01020304 | 01 04 00000000", ErrBadAlignment},
		// Option Length runs past the message.
		{"option overrun", "3b 01 0d 00 0000 | 00 00 deadbeef | 01 07 0000", ErrOptionOverrun},
		// HNP with Prefix Length 129.
		{"HNP /129", "3b 03 10 00 0000 | 01 80 0002 00 00 | 16 12 00 81 20010db8aaaa00010000000000000000", ErrBadValue},
		// HNP with Length 17.
		{"HNP length 17", "3b 03 10 00 0000 | 01 80 0002 00 00 | 16 11 00 40 20010db8aaaa000100000000000000 | 00", ErrBadLength},
		// Handoff Indicator with Length 3.
		{"HI length 3", "3b 02 10 00 0000 | 01 80 0002 00 00 | 17 03 000100 | 01 05 0000000000", ErrBadLength},
		// ATT with Length 1.
		{"ATT length 1", "3b 02 10 00 0000 | 01 80 0002 00 00 | 01 00 18 01 00 | 01 05 0000000000", ErrBadLength},
		// MN LL-ID without identifier (Length 2), at 8n+2 = 18.
		{"MNLLI empty", "3b 02 10 00 0000 | 01 80 0002 00 00 | 01 04 00000000 | 19 02 0000 | 01 00", ErrBadLength},
		// IPv4 HoA with Prefix-len 33 (33<<2 = 0x84), at 4n = 12.
		{"IPv4 HoA /33", "3b 02 10 00 0000 | 01 80 0002 00 00 | 1d 06 84 00 c000024d | 01 02 0000", ErrBadValue},
		{"IPv4 HoA length 5", "3b 02 10 00 0000 | 01 80 0002 00 00 | 1d 05 80 00 c00002 | 01 03 000000", ErrBadLength},
		{"IPv4 Ack /40", "3b 02 10 00 0000 | 01 80 0002 00 00 | 1e 06 00 a0 c000024d | 01 02 0000", ErrBadValue},
		{"IPv4 HoA Req /63", "3b 02 10 00 0000 | 01 80 0002 00 00 | 24 06 fc 00 c000024d | 01 02 0000", ErrBadValue},
		{"IPv4 HoA Rep /34", "3b 02 10 00 0000 | 01 80 0002 00 00 | 25 06 00 88 c000024d | 01 02 0000", ErrBadValue},
		{"NATD length 4", "3b 02 10 00 0000 | 01 80 0002 00 00 | 1f 04 8000 0000 | 01 04 00000000", ErrBadLength},
		{"DSM length 4", "3b 02 10 00 0000 | 01 80 0002 00 00 | 27 04 0000 0001 | 01 04 00000000", ErrBadLength},
		{"IPv4 CoA misaligned", "3b 02 10 00 0000 | 01 80 0002 00 00 | 01 00 20 06 0000 c633640a | 00 00", ErrBadAlignment},
		{"Timestamp length 7", "3b 03 10 00 0000 | 01 80 0002 00 00 | 01 04 00000000 | 1b 07 00006553f10080 | 01 03 000000", ErrBadLength},
		{"LLA length 15", "3b 03 10 00 0000 | 01 80 0002 00 00 | 01 00 | 1a 0f fe8000000000000000000000000000 | 00", ErrBadLength},
	}
	for _, c := range cases {
		if b := pmipHex(t, strings.ReplaceAll(c.mh, "|", "")); c.want != ErrTruncated && len(b) != (int(b[1])+1)*8 {
			t.Errorf("%s: test vector is %d octets, Header Len says %d", c.name, len(b), (int(b[1])+1)*8)
		}
		err := parse(c.mh)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		var pe *ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Errorf("%s: error %T is not a *ParseError", c.name, err)
		}
	}
}

// TestPMIPEncodeErrors: values that cannot be encoded give an EncodeError.
func TestPMIPEncodeErrors(t *testing.T) {
	bad := []Option{
		HomeNetworkPrefix{},
		HomeNetworkPrefix{Prefix: netip.MustParsePrefix("192.0.2.0/24")},
		MobileNodeLinkLayerIdentifier{},
		MobileNodeLinkLayerIdentifier{Identifier: make([]byte, 254)},
		LinkLocalAddress{},
		LinkLocalAddress{Address: netip.MustParseAddr("192.0.2.1")},
		Timestamp{Seconds: 1 << 48},
		IPv4HomeAddress{PrefixLen: 33, Address: netip.MustParseAddr("192.0.2.1")},
		IPv4HomeAddress{PrefixLen: 32, Address: gMN},
		IPv4HomeAddress{PrefixLen: 32},
		IPv4AddressAcknowledgement{PrefixLen: 40, Address: netip.MustParseAddr("192.0.2.1")},
		IPv4CareOfAddress{Address: gMN},
		IPv4HomeAddressRequest{PrefixLen: 63},
		IPv4HomeAddressReply{Address: gMN},
		IPv4DefaultRouterAddress{},
	}
	for _, o := range bad {
		_, err := Marshal(BindingUpdate{Options: []Option{o}}, netip.Addr{}, netip.Addr{})
		var ee *EncodeError
		if !errors.As(err, &ee) {
			t.Errorf("%#v: err = %v, want *EncodeError", o, err)
		}
	}
}

func TestTimestampTime(t *testing.T) {
	tm := time.Date(2026, 11, 23, 4, 5, 6, 500_000_000, time.UTC)
	ts := TimestampFromTime(tm)
	if ts.Seconds != uint64(tm.Unix()) || ts.Fraction != 0x8000 {
		t.Fatalf("TimestampFromTime = %+v", ts)
	}
	if !ts.Time().Equal(tm) {
		t.Fatalf("Time() = %v, want %v", ts.Time(), tm)
	}
	// 1/65536 s resolution: truncation, never more than one unit off.
	tm2 := time.Date(2026, 1, 1, 0, 0, 0, 123_456_789, time.UTC)
	if d := tm2.Sub(TimestampFromTime(tm2).Time()); d < 0 || d > time.Second/65536 {
		t.Fatalf("round trip off by %v", d)
	}
	if TimestampFromTime(time.Unix(-5, 0)) != (Timestamp{}) {
		t.Fatal("pre-1970 time not clamped to zero")
	}
}

func TestPMIPStrings(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{HandoffNewInterface.String(), "Attachment over a new interface"},
		{HandoffIndicator(9).String(), "handoff indicator 9"},
		{AccessTechnologyIEEE80211.String(), "IEEE 802.11a/b/g"},
		{AccessTechnologyType(200).String(), "access technology type 200"},
		{IPv4AckPrefixAllocationUnauthorized.String(), "Prefix allocation unauthorized"},
		{IPv4ReplySuccess.String(), "Success"},
		{RevocationPerPeerPolicy.String(), "Per-Peer Policy"},
		{RevocationTrigger(251).String(), "testing trigger 251"},
		{RevocationTrigger(9).String(), "revocation trigger 9"},
		{BRStatusFailedMNAttached.String(), "Revocation Failed - MN is Attached"},
		{BRTypeIndication.String(), "Binding Revocation Indication"},
		{BRType(7).String(), "B.R. type 7"},
		{ReasonFlowMobility.String(), "FLOW-MOBILITY"},
		{UPAMNNotAttached.String(), "MN not attached"},
		{UpdateNotificationStatus(3).String(), "update notification status 3"},
	} {
		if c.got != c.want {
			t.Errorf("String() = %q, want %q", c.got, c.want)
		}
	}
}

// TestUDPEncapsulated covers RFC 5555 UDP payload framing.
func TestUDPEncapsulated(t *testing.T) {
	v6 := goldenPacket(t, gMN, gHA, netip.Addr{}, netip.Addr{}, BindingUpdate{Sequence: 1, Flags: BUFlagA | BUFlagH})
	v4 := goldenIPv4UDP(gMN4, gHA4, 1, 2, []byte("hello"))
	for _, c := range []struct {
		name string
		p    []byte
		ver  uint8
	}{{"IPv6", v6, 6}, {"IPv4", v4, 4}} {
		got, err := ParseUDPEncapsulated(c.p)
		if err != nil || got.Version != c.ver || !reflect.DeepEqual(got.Packet, c.p) {
			t.Errorf("%s: ParseUDPEncapsulated = %+v, %v", c.name, got, err)
		}
		out, err := AppendUDPEncapsulated([]byte{0xee}, c.p)
		if err != nil || out[0] != 0xee || !reflect.DeepEqual(out[1:], c.p) {
			t.Errorf("%s: AppendUDPEncapsulated = % x, %v", c.name, out, err)
		}
	}
	mod := func(b []byte, f func([]byte)) []byte {
		c := append([]byte(nil), b...)
		f(c)
		return c
	}
	bad := []struct {
		name string
		p    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"IPv6 short", v6[:39], ErrTruncated},
		{"IPv4 short", v4[:19], ErrTruncated},
		{"version 5", mod(v6, func(b []byte) { b[0] = 0x50 }), ErrBadValue},
		{"IPv6 trailing octet", append(append([]byte(nil), v6...), 0), ErrBadLength},
		{"IPv6 payload length short", v6[:len(v6)-1], ErrBadLength},
		{"IPv6 jumbogram", mod(v6, func(b []byte) { b[4], b[5] = 0, 0 }), ErrBadLength},
		{"IPv4 total length", mod(v4, func(b []byte) { b[3]++ }), ErrBadLength},
		{"IPv4 IHL 4", mod(v4, func(b []byte) { b[0] = 0x44 }), ErrBadLength},
		{"IPv4 IHL past total", mod(v4[:20], func(b []byte) { b[0] = 0x46; b[2], b[3] = 0, 20 }), ErrBadLength},
	}
	for _, c := range bad {
		if _, err := ParseUDPEncapsulated(c.p); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		var ee *EncodeError
		if _, err := AppendUDPEncapsulated(nil, c.p); !errors.As(err, &ee) {
			t.Errorf("%s: AppendUDPEncapsulated err = %v, want *EncodeError", c.name, err)
		}
	}
}

func TestPMIPJSON(t *testing.T) {
	b, err := json.Marshal(BindingRevocationIndication{Trigger: RevocationPerPeerPolicy, Options: []Option{
		HandoffIndicatorOption{Indicator: HandoffNewInterface}, AccessTechnologyTypeOption{Type: AccessTechnology3GPPEUTRAN}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Trigger":"Per-Peer Policy"`, `"Indicator":"Attachment over a new interface"`, `"Type":"3GPP E-UTRAN"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
}
