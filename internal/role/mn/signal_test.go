package mn

import (
	"errors"
	"io"
	"log/slog"
	"testing"

	"monami/internal/binding"
	"monami/internal/config"
	"monami/internal/transport"
	"monami/wire"
)

var testKey = []byte("0123456789abcdef")

func signalNode(insecure bool) *MobileNode {
	h := &homeRegistration{hoa: hoa, ha: haIP, spi: 300}
	if !insecure {
		h.auth = wire.NewAuthenticator(testKey)
	}
	return &MobileNode{cfg: &config.MobileNode{ID: "mn1@example.org"}, homes: []*homeRegistration{h},
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// The Binding Update decodes as a home agent decodes it, with the BID
// options, the RFC 4283 NAI, the RFC 4285 timestamp and a verifying MN-HA
// authenticator as the last option.
func TestBindingUpdateEncoding(t *testing.T) {
	m := signalNode(false)
	bu := &binding.OutgoingBindingUpdate{HA: haIP, HoA: hoa, Source: coa1, Sequence: 42, Ack: true, Home: true, Lifetime: 15,
		BIDs:      []binding.BIDOption{{BID: 1, Priority: 1, CoA: coa1}, {BID: 2, Priority: 2, CoA: coa2}},
		Timestamp: 0x0102030405060708, HasTimestamp: true}
	mh, err := m.encodeBindingUpdate(nil, m.homes[0], bu, false)
	if err != nil {
		t.Fatal(err)
	}
	wire.SetChecksum(mh, hoa, haIP)
	var v wire.BindingUpdateView
	if err := (wire.Parser{}).DecodeBindingUpdate(&v, mh, hoa, haIP); err != nil {
		t.Fatal(err)
	}
	if v.Sequence != 42 || v.Lifetime != 15 || !v.Flags.Has(wire.BUFlagA|wire.BUFlagH) {
		t.Errorf("header %+v", v)
	}
	msg, err := v.Message()
	if err != nil {
		t.Fatal(err)
	}
	var types []wire.OptionType
	for _, o := range msg.Options {
		types = append(types, o.OptionType())
	}
	want := []wire.OptionType{wire.OptBindingIdentifier, wire.OptBindingIdentifier, wire.OptMobileNodeIdentifier,
		wire.OptMobilityMessageReplay, wire.OptMobilityMessageAuthentication}
	if len(types) != len(want) {
		t.Fatalf("options %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("options %v, want %v", types, want)
		}
	}
	if b := msg.Options[1].(wire.BindingIdentifier); b.BindingID != 2 || b.Priority != 2 || b.CareOfAddress != coa2 {
		t.Errorf("second BID option %+v", b)
	}
	if n := msg.Options[2].(wire.MobileNodeIdentifier); string(n.Identifier) != "mn1@example.org" || n.Subtype != wire.MNIDNAI {
		t.Errorf("MN identifier %+v", n)
	}
	last, ok := wire.LastOption(v.Options())
	if !ok {
		t.Fatal("no last option")
	}
	if err := wire.NewAuthenticator(testKey).Verify(mh, last, coa1, hoa); err != nil {
		t.Errorf("authenticator: %v", err)
	}
	if err := wire.NewAuthenticator([]byte("another key 0123")).Verify(mh, last, coa1, hoa); err == nil {
		t.Error("authenticator verifies with another key")
	}
	if err := wire.NewAuthenticator(testKey).Verify(mh, last, coa2, hoa); err == nil {
		t.Error("authenticator verifies for another care-of address")
	}

	// security.insecure: no MN-ID, no authentication option.
	mi := signalNode(true)
	bu.HasTimestamp = false
	mh, err = mi.encodeBindingUpdate(nil, mi.homes[0], bu, true)
	if err != nil {
		t.Fatal(err)
	}
	msg2, err := wire.Parser{ChecksumVerified: true}.Parse(mh, hoa, haIP)
	if err != nil {
		t.Fatal(err)
	}
	if !msg2.(wire.BindingUpdate).Flags.Has(wire.BUFlagF) {
		t.Error("F flag (RFC 5555 section 3.1.3) missing on a BU for UDP encapsulation")
	}
	if n := len(msg2.MobilityOptions()); n != 2 {
		t.Errorf("insecure BU has %d options, want the 2 BID options", n)
	}
}

// ackSignal builds a Binding Acknowledgement as the home agent sends it: to
// the care-of address with the home address in a type 2 routing header,
// signed over care-of address | home address | MH (RFC 4285 section 5.1).
func ackSignal(t *testing.T, key []byte, spi uint32, ba wire.BindingAcknowledgement) transport.Signal {
	t.Helper()
	var mh []byte
	var err error
	if key != nil {
		mh, err = wire.NewAuthenticator(key).AppendMessage(nil, ba, spi, coa1, hoa, haIP, hoa)
	} else {
		mh, err = wire.AppendMessage(nil, ba, haIP, hoa)
	}
	if err != nil {
		t.Fatal(err)
	}
	return transport.Signal{Via: transport.ViaMH, Src: haIP, Dst: coa1, Ext: transport.ExtRH2, HomeAddress: hoa, MH: mh}
}

func TestBindingAckVerification(t *testing.T) {
	m := signalNode(false)
	ba := wire.BindingAcknowledgement{Status: wire.StatusAccepted, Sequence: 42, Lifetime: 15, Options: []wire.Option{
		wire.BindingIdentifier{BindingID: 1}, wire.BindingIdentifier{BindingID: 2, Status: wire.StatusInsufficientResources},
		wire.BindingRefreshAdvice{RefreshInterval: 10}, wire.MobilityMessageReplayProtection{Timestamp: 99},
	}}
	sig := ackSignal(t, testKey, 300, ba)
	got, h, err := m.decodeBindingAck(&sig)
	if err != nil {
		t.Fatal(err)
	}
	if h != m.homes[0] || got.HA != haIP || got.HoA != hoa || got.Sequence != 42 || got.Lifetime != 15 ||
		got.RefreshInterval != 10 || !got.HasTimestamp || got.Timestamp != 99 || len(got.BIDs) != 2 ||
		got.BIDs[1].BID != 2 || got.BIDs[1].Status != wire.StatusInsufficientResources {
		t.Errorf("decoded %+v", got)
	}

	for name, sig := range map[string]transport.Signal{
		"wrong key":       ackSignal(t, []byte("another key 0123"), 300, ba),
		"wrong SPI":       ackSignal(t, testKey, 301, ba),
		"unsigned":        ackSignal(t, nil, 0, ba),
		"tampered":        tamper(ackSignal(t, testKey, 300, ba)),
		"for another CoA": func() transport.Signal { s := ackSignal(t, testKey, 300, ba); s.Dst = coa2; return s }(),
	} {
		got, _, err := m.decodeBindingAck(&sig)
		if !errors.Is(err, errUnauthenticated) {
			t.Errorf("%s: err %v, want unauthenticated", name, err)
		}
		if name == "unsigned" && (got == nil || got.Status != wire.StatusAccepted) {
			t.Errorf("unsigned: the status should still be readable for the log: %+v", got)
		}
	}

	// Not ours.
	other := ackSignal(t, testKey, 300, ba)
	other.Src = coa2
	if _, _, err := m.decodeBindingAck(&other); err == nil || errors.Is(err, errUnauthenticated) {
		t.Errorf("BA from a stranger: %v", err)
	}
	// security.insecure accepts unsigned answers.
	mi := signalNode(true)
	uns := ackSignal(t, nil, 0, ba)
	if _, _, err := mi.decodeBindingAck(&uns); err != nil {
		t.Errorf("insecure, unsigned: %v", err)
	}
}

// tamper changes the Lifetime; the checksum is not re-verified (the
// transport did), the authenticator must catch it.
func tamper(s transport.Signal) transport.Signal {
	s.MH = append([]byte(nil), s.MH...)
	s.MH[11]++
	return s
}
