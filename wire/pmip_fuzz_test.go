package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// pmipSeedMessages are encodings of every message type this file's owner
// added, used as fuzz seeds.
func pmipSeedMessages(t testing.TB) [][]byte {
	hnp := HomeNetworkPrefix{Prefix: netip.MustParsePrefix("2001:db8:aaaa:1::/64")}
	hoa4 := netip.MustParseAddr("192.0.2.77")
	msgs := []Message{
		BindingRevocationIndication{Trigger: RevocationPerPeerPolicy, Sequence: 1, ProxyBinding: true, Global: true, Options: []Option{hnp}},
		BindingRevocationAcknowledgement{Status: BRStatusPartialSuccess, Sequence: 1, IPv4HomeAddressOnly: true,
			Options: []Option{IPv4HomeAddress{PrefixLen: 32, Address: hoa4}}},
		Heartbeat{Response: true, Sequence: 7, Options: []Option{RestartCounter{Counter: 3}}},
		UpdateNotification{Sequence: 2, Reason: ReasonFlowMobility, AckRequested: true, Options: []Option{hnp}},
		UpdateNotificationAck{Sequence: 2, Status: UPAReasonUnspecified},
		BindingUpdate{Sequence: 3, Flags: BUFlagA | BUFlagP, Lifetime: 10, Options: []Option{
			hnp, HandoffIndicatorOption{Indicator: HandoffUnknown}, AccessTechnologyTypeOption{Type: AccessTechnologyVirtual},
			MobileNodeLinkLayerIdentifier{Identifier: []byte{1, 2, 3, 4, 5, 6}}, LinkLocalAddress{Address: netip.MustParseAddr("fe80::2")},
			Timestamp{Seconds: 5, Fraction: 6}, IPv4HomeAddressRequest{PrefixLen: 24, Address: hoa4}, IPv4DHCPSupportMode{DHCPServer: true},
			IPv4CareOfAddress{Address: netip.MustParseAddr("198.51.100.1")}}},
		BindingAcknowledgement{Sequence: 3, Flags: BAFlagP, Options: []Option{
			IPv4AddressAcknowledgement{Status: IPv4AckSuccess, PrefixLen: 32, Address: hoa4},
			NATDetection{UDPEncapsulationRequired: true, RefreshTime: 110},
			IPv4HomeAddressReply{PrefixLen: 24, Address: hoa4}, IPv4DefaultRouterAddress{Address: netip.MustParseAddr("192.0.2.1")}}},
	}
	var out [][]byte
	for _, m := range msgs {
		b, err := Marshal(m, gMAG, gLMA)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzPMIPMessage: decoding never panics; whatever decodes re-encodes to a
// message that decodes to the same value (reserved bits are dropped, so
// the octets may differ once, never twice).
func FuzzPMIPMessage(f *testing.F) {
	for _, b := range pmipSeedMessages(f) {
		f.Add(b)
	}
	p := Parser{ChecksumVerified: true}
	f.Fuzz(func(t *testing.T, mh []byte) {
		m, err := p.Parse(mh, netip.Addr{}, netip.Addr{})
		if err != nil {
			return
		}
		b1, err := Marshal(m, netip.Addr{}, netip.Addr{})
		if err != nil {
			var ee *EncodeError
			if errors.As(err, &ee) && strings.Contains(ee.Reason, "more than 2048") {
				// Options some types accept at any position (BID at 2n,
				// AUTH, MESG-ID) are re-sent at their preferred alignment,
				// which can grow a message that was packed to the limit.
				return
			}
			t.Fatalf("re-encode %#v: %v", m, err)
		}
		m2, err := p.Parse(b1, netip.Addr{}, netip.Addr{})
		if err != nil {
			t.Fatalf("decode of re-encoded % x: %v", b1, err)
		}
		b2, err := Marshal(m2, netip.Addr{}, netip.Addr{})
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("encoding not stable:\n% x\n% x (%v)", b1, b2, err)
		}
	})
}

// pmipOptionTypes are the option types registered by pmip_*.go and
// msg_heartbeat.go.
var pmipOptionTypes = []OptionType{
	OptHomeNetworkPrefix, OptHandoffIndicator, OptAccessTechnologyType, OptMobileNodeLinkLayerIdentifier,
	OptLinkLocalAddress, OptTimestamp, OptRestartCounter, OptIPv4HomeAddress, OptIPv4AddressAcknowledgement,
	OptNATDetection, OptIPv4CareOfAddress, OptIPv4HomeAddressRequest, OptIPv4HomeAddressReply,
	OptIPv4DefaultRouterAddress, OptIPv4DHCPSupportMode,
}

// FuzzPMIPOptionData: every PMIP option decoder rejects or accepts any
// data without panicking, and accepted values survive encode/decode.
func FuzzPMIPOptionData(f *testing.F) {
	for i, t := range pmipOptionTypes {
		_ = t
		f.Add(uint8(i), []byte{0, 64, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
		f.Add(uint8(i), []byte{0x80, 0, 192, 0, 2, 1})
		f.Add(uint8(i), []byte{0, 1})
		f.Add(uint8(i), []byte{0, 0, 0, 0, 0x65, 0x53, 0xf1, 0, 0x80, 0})
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		if len(data) > 255 {
			return // an option's Length octet caps its data at 255
		}
		typ := pmipOptionTypes[int(which)%len(pmipOptionTypes)]
		o, err := DecodeOption(RawOption{Type: typ, Data: data})
		if err != nil {
			return
		}
		enc, err := o.AppendData(nil)
		if err != nil {
			t.Fatalf("%#v decoded but does not encode: %v", o, err)
		}
		if len(enc) != len(data) {
			t.Fatalf("%#v: encoded %d octets from %d", o, len(enc), len(data))
		}
		o2, err := DecodeOption(RawOption{Type: typ, Data: enc})
		if err != nil || !reflect.DeepEqual(o, o2) {
			t.Fatalf("%#v re-decoded as %#v (%v)", o, o2, err)
		}
	})
}

// FuzzUDPEncapsulated: the RFC 5555 UDP payload decoder never panics and
// accepts exactly what the encoder accepts.
func FuzzUDPEncapsulated(f *testing.F) {
	f.Add(goldenPacket(f, gMN, gHA, netip.Addr{}, netip.Addr{}, BindingUpdate{Sequence: 1, Flags: BUFlagA | BUFlagH}))
	f.Add(goldenIPv4UDP(gMN4, gHA4, 1, 2, []byte("hello")))
	f.Add([]byte{0x60})
	f.Add([]byte{0x45, 0, 0, 20})
	f.Fuzz(func(t *testing.T, payload []byte) {
		u, err := ParseUDPEncapsulated(payload)
		out, err2 := AppendUDPEncapsulated(nil, payload)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("parse err %v, append err %v", err, err2)
		}
		if err != nil {
			return
		}
		if u.Version != payload[0]>>4 || !bytes.Equal(u.Packet, payload) || !bytes.Equal(out, payload) {
			t.Fatalf("parsed %+v / appended % x from % x", u, out, payload)
		}
	})
}
