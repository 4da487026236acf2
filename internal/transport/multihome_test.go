package transport

import (
	"net/netip"
	"testing"
	"time"

	"monami/internal/testenv"
	"monami/wire"
)

// TestMultihomed gives the mobile node two access links to the home agent
// and checks that Send leaves by the link the Signal selects: by source
// address through source-based policy routing, or by IfIndex, for native
// and UDP signalling, and that the home agent sees the arrival interface.
func TestMultihomed(t *testing.T) {
	testenv.RequireRoot(t)
	tag := newTag()
	mnNS, haNS := newNS(t, tag+"mn"), newNS(t, tag+"ha")
	coaA, haA := netip.MustParseAddr("2001:db8:a::2"), netip.MustParseAddr("2001:db8:a::1")
	coaB, haB := netip.MustParseAddr("2001:db8:b::2"), netip.MustParseAddr("2001:db8:b::1")
	coaB4, haB4 := netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.1")
	haAddr := netip.MustParseAddr("2001:db8:ffff::1")
	hoa := netip.MustParseAddr("2001:db8:40e::100")
	mnA, haIfA := veth(t, mnNS, haNS, tag+"ma", tag+"ha", []netip.Prefix{netip.PrefixFrom(coaA, 64)}, []netip.Prefix{netip.PrefixFrom(haA, 64)})
	mnB, haIfB := veth(t, mnNS, haNS, tag+"mb", tag+"hb",
		[]netip.Prefix{netip.PrefixFrom(coaB, 64), netip.PrefixFrom(coaB4, 24)},
		[]netip.Prefix{netip.PrefixFrom(haB, 64), netip.PrefixFrom(haB4, 24)})
	haNS.exec(t, "ip", "-6", "addr", "add", haAddr.String()+"/128", "dev", "lo")
	// Main table: the home agent via link A; from CoA B: table 102 via B.
	mnNS.exec(t, "ip", "-6", "route", "add", haAddr.String(), "via", haA.String(), "dev", tag+"ma")
	mnNS.exec(t, "ip", "-6", "route", "add", "default", "via", haB.String(), "dev", tag+"mb", "table", "102")
	mnNS.exec(t, "ip", "-6", "rule", "add", "from", coaB.String(), "table", "102")

	mn := openNative(t, mnNS)
	ha := openNative(t, haNS)
	for _, c := range []struct {
		name    string
		src     netip.Addr
		ifindex int
		haIf    int
	}{
		{"main table", coaA, 0, haIfA},
		{"source routing", coaB, 0, haIfB},
		{"ifindex", coaA, mnA, haIfA},
	} {
		bu := Signal{Src: c.src, Dst: haAddr, Ext: ExtHAO, HomeAddress: hoa, IfIndex: c.ifindex}
		bu.MH = mustMarshal(t, wire.BindingUpdate{Sequence: 1, Flags: wire.BUFlagA | wire.BUFlagH}, bu)
		if err := mn.Send(ctxT(t, time.Second), bu); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := recvSignal(t, ha)
		if got.Src != c.src || got.IfIndex != c.haIf || got.HomeAddress != hoa {
			t.Fatalf("%s: HA got %+v, want from %v on if %d", c.name, got, c.src, c.haIf)
		}
		ba := Signal{Src: haAddr, Dst: got.Src, Ext: ExtRH2, HomeAddress: hoa}
		ba.MH = mustMarshal(t, wire.BindingAcknowledgement{Sequence: 1}, ba)
		if err := ha.Send(ctxT(t, time.Second), ba); err != nil {
			t.Fatal(err)
		}
		wantIf := mnA
		if c.src == coaB {
			wantIf = mnB
		}
		if r := recvSignal(t, mn); r.Dst != c.src || r.IfIndex != wantIf || r.Ext != ExtRH2 {
			t.Fatalf("%s: MN got %+v, want on if %d", c.name, r, wantIf)
		}
	}

	// UDP: one socket per access interface.
	hu := listenUDP(t, haNS, UDPConfig{})
	mu := listenUDP(t, mnNS, UDPConfig{Endpoints: []UDPEndpoint{
		{Addr: netip.AddrPortFrom(netip.IPv4Unspecified(), 0), Interface: tag + "mb"},
		{Addr: netip.AddrPortFrom(coaA, 0), Interface: tag + "ma"},
	}})
	for i, c := range []struct {
		bu   Signal
		haIf int
		peer netip.Addr
	}{
		{Signal{Src: hoa, Dst: haAddr, Peer: netip.AddrPortFrom(haB4, UDPPort)}, haIfB, coaB4},
		{Signal{Src: coaA, Dst: haAddr, Ext: ExtHAO, HomeAddress: hoa, Peer: netip.AddrPortFrom(haAddr, UDPPort)}, haIfA, coaA},
	} {
		c.bu.MH = mustMarshal(t, wire.BindingUpdate{Sequence: uint16(i)}, c.bu)
		if err := mu.Send(ctxT(t, time.Second), c.bu); err != nil {
			t.Fatal(err)
		}
		got := recvSignal(t, hu)
		if got.IfIndex != c.haIf || got.Peer.Addr() != c.peer || got.Peer.Port() != mu.LocalAddrs()[i].Port() {
			t.Fatalf("UDP %d: HA got %+v", i, got)
		}
	}
}
