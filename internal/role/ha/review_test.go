package ha

import (
	"net/netip"
	"testing"
	"time"

	"monami/internal/dataplane"
	"monami/internal/transport"
	"monami/wire"
)

// exchange sends one signal and returns the answer, or fails.
func (x *harness) exchange(sig transport.Signal) transport.Signal {
	x.t.Helper()
	x.tp.in <- sig
	select {
	case <-x.tp.cond:
	case <-time.After(5 * time.Second):
		x.t.Fatal("no answer")
	}
	x.tp.mu.Lock()
	defer x.tp.mu.Unlock()
	return x.tp.sent[len(x.tp.sent)-1]
}

// signedBU builds a Binding Update from src for hoa, with the MN
// Identifier only when nai is set.
func (x *harness) signedBU(src netip.Addr, lifetime uint16, flags wire.BUFlags, nai string, bids ...bid) []byte {
	x.t.Helper()
	x.seq++
	bu := wire.BindingUpdate{Sequence: x.seq, Flags: wire.BUFlagA | wire.BUFlagH | flags, Lifetime: lifetime}
	for _, b := range bids {
		bu.Options = append(bu.Options, wire.BindingIdentifier{BindingID: b.id, Priority: b.prio, CareOfAddress: b.coa})
	}
	if nai != "" {
		bu.Options = append(bu.Options, wire.NAI(nai))
	}
	bu.Options = append(bu.Options, wire.MobilityMessageReplayProtection{Timestamp: wire.NTPTimestamp(time.Now())})
	mh, err := wire.NewAuthenticator(key).AppendMessage(nil, bu, 300, src, hoa, hoa, haAddr)
	if err != nil {
		x.t.Fatal(err)
	}
	return mh
}

func parseBA(t *testing.T, s transport.Signal) wire.BindingAcknowledgement {
	t.Helper()
	m, err := wire.Parser{ChecksumVerified: true}.Parse(s.MH, s.Src, s.Dst)
	if err != nil {
		t.Fatal(err)
	}
	ba, ok := m.(wire.BindingAcknowledgement)
	if !ok {
		t.Fatalf("answer is %T", m)
	}
	return ba
}

// RFC 6275 section 9.5.1: without a Home Address option the home address
// is the source address: a mobile node returning home deregisters so.
func TestReturnHomeWithoutHomeAddressOption(t *testing.T) {
	x := start(t)
	x.sendBU(coa1, 15, key, bid{1, coa1, 10})
	mh := x.signedBU(hoa, 0, 0, "mn1@example.org")
	ans := x.exchange(transport.Signal{Via: transport.ViaMH, Src: hoa, Dst: haAddr, MH: mh})
	if ba := parseBA(t, ans); ba.Status != wire.StatusAccepted {
		t.Fatalf("status %v", ba.Status)
	}
	if ans.Ext != transport.ExtNone || ans.Dst != hoa {
		t.Fatalf("answer to %v via %v, want plain to the home address", ans.Dst, ans.Ext)
	}
	if len(x.bindings()) != 0 {
		t.Fatalf("bindings left: %+v", x.bindings())
	}
}

func TestUnknownIdentityAndMissingIdentifier(t *testing.T) {
	x := start(t)
	mh := x.signedBU(coa1, 15, 0, "stranger@example.org", bid{1, coa1, 10})
	ba := parseBA(t, x.exchange(transport.Signal{Via: transport.ViaMH, Src: coa1, Dst: haAddr, Ext: transport.ExtHAO, HomeAddress: hoa, MH: mh}))
	if ba.Status != wire.StatusMIPv6IDMismatch || len(x.bindings()) != 0 {
		t.Fatalf("unknown NAI: status %v, bindings %v", ba.Status, x.bindings())
	}
	// Without an MN Identifier the association is found by home address
	// and the SPI checked.
	mh = x.signedBU(coa1, 15, 0, "", bid{1, coa1, 10})
	ba = parseBA(t, x.exchange(transport.Signal{Via: transport.ViaMH, Src: coa1, Dst: haAddr, Ext: transport.ExtHAO, HomeAddress: hoa, MH: mh}))
	if ba.Status != wire.StatusAccepted || len(x.bindings()) != 1 {
		t.Fatalf("no MN-ID: status %v, bindings %v", ba.Status, x.bindings())
	}
}

// RFC 5648: the BID options come back with their priority.
func TestAckEchoesPriority(t *testing.T) {
	x := start(t)
	ba := x.sendBU(coa1, 15, key, bid{1, coa1, 10}, bid{2, coa2, 33})
	got := map[uint16]uint8{}
	for _, o := range ba.Options {
		if b, ok := o.(wire.BindingIdentifier); ok {
			got[b.BindingID] = b.Priority
		}
	}
	if got[1] != 10 || got[2] != 33 {
		t.Fatalf("BID-PRI in the BA: %v", got)
	}
}

// The same care-of address moving to UDP with the F flag changes only the
// encapsulation; the data plane must follow.
func TestEncapsulationChangeAlone(t *testing.T) {
	x := start(t)
	x.sendBU(coa1, 15, key, bid{1, coa1, 10})
	if tun, _ := x.route(); tun.Encap != dataplane.EncapIPv6 {
		t.Fatalf("first encap %v", tun.Encap)
	}
	mh := x.signedBU(coa1, 15, wire.BUFlagF, "mn1@example.org", bid{1, coa1, 10})
	ba := parseBA(t, x.exchange(transport.Signal{Via: transport.ViaUDP, Src: coa1, Dst: haAddr, Ext: transport.ExtHAO,
		HomeAddress: hoa, MH: mh, Peer: netip.AddrPortFrom(coa1, 4191)}))
	if ba.Status != wire.StatusAccepted {
		t.Fatal(ba.Status)
	}
	if tun, _ := x.route(); tun.Encap != dataplane.EncapUDP {
		t.Fatalf("route encap %v after the F flag over UDP", tun.Encap)
	}
	x.dp.mu.Lock()
	ep := x.dp.endpoints[coa1]
	x.dp.mu.Unlock()
	if ep.Encap != dataplane.EncapUDP {
		t.Fatalf("endpoint encap %v", ep.Encap)
	}
}

// RFC 6275 section 9.2: an unknown MH type is answered with Binding Error
// status 2.
func TestUnknownMobilityHeaderTypeGetsBindingError(t *testing.T) {
	x := start(t)
	mh := []byte{59, 0, 200, 0, 0, 0, 0, 0}
	ans := x.exchange(transport.Signal{Via: transport.ViaMH, Src: coa1, Dst: haAddr, MH: mh})
	m, err := wire.Parser{ChecksumVerified: true}.Parse(ans.MH, ans.Src, ans.Dst)
	if err != nil {
		t.Fatal(err)
	}
	be, ok := m.(wire.BindingError)
	if !ok || be.Status != wire.BEUnrecognizedMHType || ans.Dst != coa1 {
		t.Fatalf("answer %T %+v to %v", m, m, ans.Dst)
	}
}

// RFC 5648 section 6.2: a Binding Identifier option with a bad length, or
// with an unspecified care-of address, is answered with MCOA MALFORMED
// (164); nothing is registered.
func TestMalformedBindingIdentifierAnswered(t *testing.T) {
	x := start(t)
	badLen := wire.UnknownOption{Type: wire.OptBindingIdentifier, Data: []byte{0, 1, 0, 0, 1, 2}}
	for name, opt := range map[string]wire.Option{
		"length 6":        badLen,
		"unspecified CoA": wire.BindingIdentifier{BindingID: 1, CareOfAddress: netip.IPv6Unspecified()},
	} {
		x.seq++
		bu := wire.BindingUpdate{Sequence: x.seq, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: 15,
			Options: []wire.Option{opt, wire.NAI("mn1@example.org"),
				wire.MobilityMessageReplayProtection{Timestamp: wire.NTPTimestamp(time.Now())}}}
		mh, err := wire.NewAuthenticator(key).AppendMessage(nil, bu, 300, coa1, hoa, hoa, haAddr)
		if err != nil {
			t.Fatal(err)
		}
		ba := parseBA(t, x.exchange(transport.Signal{Via: transport.ViaMH, Src: coa1, Dst: haAddr,
			Ext: transport.ExtHAO, HomeAddress: hoa, MH: mh}))
		if ba.Status != wire.StatusMCoAMalformed || len(x.bindings()) != 0 {
			t.Errorf("%s: status %v, bindings %v; want 164 MCOA MALFORMED and none", name, ba.Status, x.bindings())
		}
	}
}

// A plain Binding Update from a new care-of address moves the one binding,
// and the home address's tunnel follows it.
func TestPlainBindingUpdateMovesTunnel(t *testing.T) {
	x := start(t)
	x.sendBU(coa1, 15, key)
	x.sendBU(coa2, 15, key)
	if tun, ok := x.route(); !ok || tun.Remote != coa2 {
		t.Fatalf("home address tunnelled to %v after moving to %v", tun.Remote, coa2)
	}
}
