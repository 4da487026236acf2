package ha

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"testing"
	"time"

	"monami/internal/ctlapi"
	"monami/internal/transport"
	"monami/wire"
)

// The drain (RFC 5142 section 5) in process: the registered mobile node
// gets an authenticated Home Agent Switch at its care-of address naming the
// alternate; its refresh still passes; its deregistration answers the
// switch; a new registration is refused with 129.
func TestDrainSendsHomeAgentSwitch(t *testing.T) {
	x := start(t)
	if ba := x.sendBU(coa1, 15, key, bid{1, coa1, 10}); ba.Status != wire.StatusAccepted {
		t.Fatalf("registration %v", ba.Status)
	}
	ctx := context.Background()
	if _, err := x.h.Command(ctx, "drain", json.RawMessage(`{"to": ["2001:db8:1::1"]}`)); !errors.Is(err, ctlapi.ErrBadRequest) {
		t.Fatalf("drain to itself: %v, want a bad request", err)
	}
	ha2 := netip.MustParseAddr("2001:db8:1::12")
	v, err := x.h.Command(ctx, "drain", json.RawMessage(`{"to": ["2001:db8:1::12"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if st := v.(DrainStatus); !st.Draining || len(st.Pending) != 1 || st.Pending[0].HoA != hoa || st.Pending[0].Sent != 1 {
		t.Fatalf("drain status %+v", st)
	}
	select {
	case <-x.tp.cond:
	case <-time.After(5 * time.Second):
		t.Fatal("no Home Agent Switch sent")
	}
	x.tp.mu.Lock()
	s := x.tp.sent[len(x.tp.sent)-1]
	x.tp.mu.Unlock()
	if s.Src != haAddr || s.Dst != coa1 || s.HomeAddress != hoa {
		t.Fatalf("switch addressed %v -> %v (home address %v)", s.Src, s.Dst, s.HomeAddress)
	}
	m, err := wire.Parser{ChecksumVerified: true}.Parse(s.MH, haAddr, hoa)
	if err != nil {
		t.Fatal(err)
	}
	has, ok := m.(wire.HomeAgentSwitch)
	if !ok || len(has.HomeAgentAddresses) != 1 || has.HomeAgentAddresses[0] != ha2 {
		t.Fatalf("sent %#v", m)
	}
	off, _ := wire.OptionsOffset(s.MH)
	last, ok := wire.LastOption(wire.NewOptionIterator(s.MH[off:], off))
	if !ok || wire.NewAuthenticator(key).Verify(s.MH, last, coa1, hoa) != nil {
		t.Fatal("the switch does not verify with the mobile node's key")
	}
	if ba := x.sendBU(coa1, 15, key, bid{1, coa1, 10}); ba.Status != wire.StatusAccepted {
		t.Fatalf("refresh while draining: %v", ba.Status)
	}
	if ba := x.sendBU(coa1, 0, key, bid{1, coa1, 10}); ba.Status != wire.StatusAccepted {
		t.Fatalf("deregistration while draining: %v", ba.Status)
	}
	v, err = x.h.Snapshot(ctx, "drain")
	if err != nil {
		t.Fatal(err)
	}
	if st := v.(DrainStatus); len(st.Pending) != 0 || st.Bindings != 0 {
		t.Fatalf("after the deregistration: %+v", st)
	}
	if ba := x.sendBU(coa1, 15, key, bid{1, coa1, 10}); ba.Status != wire.StatusAdministrativelyProhibited {
		t.Fatalf("new registration while draining: %v, want 129", ba.Status)
	}
	v, _ = x.h.Snapshot(ctx, "counters")
	if n := v.(struct {
		Signalling Counters `json:"signalling"`
		Dataplane  any      `json:"dataplane"`
	}).Signalling.SwitchesSent; n != 1 {
		t.Fatalf("home_agent_switches_sent %d", n)
	}
}

// A mobile node that registered over RFC 5555 UDP gets the switch over UDP,
// to the port its registration came from.
func TestDrainSwitchTakesTheRegistrationsPath(t *testing.T) {
	x := start(t)
	peer := netip.AddrPortFrom(coa1, 40123)
	mh := x.signedBU(coa1, 15, wire.BUFlagF, "mn1@example.org", bid{1, coa1, 10})
	if ba := parseBA(t, x.exchange(transport.Signal{Via: transport.ViaUDP, Src: coa1, Dst: haAddr, Ext: transport.ExtHAO,
		HomeAddress: hoa, MH: mh, Peer: peer})); ba.Status != wire.StatusAccepted {
		t.Fatal(ba.Status)
	}
	if _, err := x.h.Command(context.Background(), "drain", json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-x.tp.cond:
	case <-time.After(5 * time.Second):
		t.Fatal("no Home Agent Switch sent")
	}
	x.tp.mu.Lock()
	s := x.tp.sent[len(x.tp.sent)-1]
	x.tp.mu.Unlock()
	if wire.MHType(s.MH[2]) != wire.MHHomeAgentSwitch || s.Via != transport.ViaUDP || s.Peer != peer || s.Dst != coa1 {
		t.Fatalf("switch sent %v via %v to %v (peer %v)", wire.MHType(s.MH[2]), s.Via, s.Dst, s.Peer)
	}
	// No alternate in ha.yaml and none given: an empty list (RFC 5142
	// section 4: the mobile node discovers one).
	m, err := wire.Parser{ChecksumVerified: true}.Parse(s.MH, haAddr, hoa)
	if err != nil || len(m.(wire.HomeAgentSwitch).HomeAgentAddresses) != 0 {
		t.Fatalf("%#v %v", m, err)
	}
}
