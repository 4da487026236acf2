package mn

import (
	"net/netip"
	"testing"
	"time"

	"monami/internal/binding"
	"monami/internal/config"
	"monami/internal/transport"
	"monami/wire"
)

var (
	coa4 = netip.MustParseAddr("10.0.0.10")
	ha4  = netip.MustParseAddr("192.0.2.2")
)

// RFC 5555 section 4.1: a Binding Update from an IPv4 care-of address
// carries the IPv4 Care-of Address option, and its authenticator covers
// the home address as the care-of address (the inner IPv6 source, which
// the home agent checks it against); it goes in IPv4/UDP to the home
// agent's IPv4 address, port 4191, without a Home Address option.
func TestIPv4BindingUpdate(t *testing.T) {
	m := signalNode(false)
	h := m.homes[0]
	h.ha4 = ha4
	bu := &binding.OutgoingBindingUpdate{HA: haIP, HoA: hoa, Source: coa4, Sequence: 7, Ack: true, Home: true, Lifetime: 15,
		BIDs:      []binding.BIDOption{{BID: 1, Priority: 1, CoA: coa1}, {BID: 2, Priority: 2, CoA: coa4}},
		Timestamp: 0x0102030405060708, HasTimestamp: true}
	mh, err := m.encodeBindingUpdate(nil, h, bu, true)
	if err != nil {
		t.Fatal(err)
	}
	wire.SetChecksum(mh, hoa, haIP)
	msg, err := wire.Parser{}.Parse(mh, hoa, haIP)
	if err != nil {
		t.Fatal(err)
	}
	var got *wire.IPv4CareOfAddress
	var bid2 wire.BindingIdentifier
	for _, o := range msg.MobilityOptions() {
		switch o := o.(type) {
		case wire.IPv4CareOfAddress:
			got = &o
		case wire.BindingIdentifier:
			if o.BindingID == 2 {
				bid2 = o
			}
		}
	}
	if got == nil || got.Address != coa4 {
		t.Fatalf("IPv4 Care-of Address option %+v", got)
	}
	if bid2.CareOfAddress != coa4 {
		t.Errorf("BID 2 option %+v, want the IPv4 care-of address (RFC 5648 section 6.1, Length 8)", bid2)
	}
	var v wire.BindingUpdateView
	if err := (wire.Parser{}).DecodeBindingUpdate(&v, mh, hoa, haIP); err != nil {
		t.Fatal(err)
	}
	last, _ := wire.LastOption(v.Options())
	if err := wire.NewAuthenticator(testKey).Verify(mh, last, hoa, hoa); err != nil {
		t.Errorf("authenticator over the home address: %v", err)
	}

	sig := transport.Signal{Via: transport.ViaUDP, Src: coa4, Dst: haIP, Ext: transport.ExtHAO, HomeAddress: hoa}
	signalIPv4(&sig, h, coa4)
	if sig.Src != hoa || sig.Ext != transport.ExtNone || sig.Peer != netip.AddrPortFrom(ha4, transport.UDPPort) || sig.Local.Addr() != coa4 {
		t.Errorf("signal %+v", sig)
	}
}

// The NAT Detection option's Refresh Time sets the keepalive interval; all
// ones means none is needed (RFC 5555 section 4.2.2). A keepalive is a
// refresh of the bindings when no Binding Update left from the IPv4
// care-of address for that long.
func TestNATKeepalive(t *testing.T) {
	for in, want := range map[uint32]time.Duration{0xffffffff: 0, 0: natKATimeout, 5: 5 * time.Second} {
		if got := natRefreshOf(in); got != want {
			t.Errorf("Refresh Time %d: %v, want %v", in, got, want)
		}
	}
	now := time.Unix(1000, 0)
	m := signalNode(true)
	m.now = func() time.Time { return now }
	m.outstanding = map[groupKey]uint16{}
	m.bul = binding.NewBindingUpdateList(binding.BULConfig{Lifetime: time.Minute})
	f := newAccessInterface(config.InterfaceEntry{Name: "lte0", BID: 2, Transport: config.TransportUDP})
	f.coa = coa4
	m.ifs = []*accessInterface{f}
	h := m.homes[0]
	m.bul.SetCareOfAddress(now, binding.CareOfBinding{HA: h.ha, HoA: h.hoa, BID: 2, CoA: coa4})
	f.serves[h.hoa] = true
	m.bul.Next(now)
	m.bul.HandleBA(now, &binding.BindingAck{HA: h.ha, HoA: h.hoa, Status: 0, Sequence: 0, Lifetime: 15})
	m.noteNATDetection(coa4, wire.NATDetection{UDPEncapsulationRequired: true, RefreshTime: 5})
	if f.natRefresh != 5*time.Second {
		t.Fatalf("refresh %v", f.natRefresh)
	}
	f.lastBU = now
	now = now.Add(4 * time.Second)
	if acts := m.keepaliveActions(); len(acts) != 0 {
		t.Fatalf("keepalive after 4 s of a 5 s interval: %+v", acts)
	}
	now = now.Add(time.Second)
	acts := m.keepaliveActions()
	if len(acts) != 1 || acts[0].Kind != binding.SendBindingUpdate || acts[0].BU.Source != coa4 {
		t.Fatalf("keepalive after 5 s: %+v", acts)
	}
}

// An interface with both keeps an IPv6 care-of address over an IPv4 one:
// the spare that takes over is IPv6 when there is one.
func TestSparePrefersIPv6(t *testing.T) {
	f := newAccessInterface(config.InterfaceEntry{Name: "lte0", BID: 2})
	f.coa = coa2
	for _, a := range []netip.Addr{coa2, coa4, netip.MustParseAddr("2001:db8:ff::1")} {
		f.usable[a] = true
	}
	if s, ok := f.spare(); !ok || s != netip.MustParseAddr("2001:db8:ff::1") {
		t.Fatalf("spare %v, want the IPv6 one", s)
	}
	delete(f.usable, netip.MustParseAddr("2001:db8:ff::1"))
	if s, ok := f.spare(); !ok || s != coa4 {
		t.Fatalf("spare %v, want %v", s, coa4)
	}
}
