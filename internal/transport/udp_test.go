package transport

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"monami/internal/testenv"
	"monami/wire"
)

func listenUDP(t testing.TB, n *testNS, cfg UDPConfig) *UDP {
	t.Helper()
	var u *UDP
	n.do(t, func() {
		var err error
		if u, err = ListenUDP(cfg); err != nil {
			t.Fatalf("%s: ListenUDP: %v", n.name, err)
		}
	})
	t.Cleanup(func() { u.Close() })
	return u
}

// TestUDPEncapsulation runs RFC 5555 signalling over IPv4 (inner source is
// the home address, no HAO: RFC 5555 section 4.1) and over IPv6 (HAO and RH2
// inside the UDP payload), with replies addressed through the learnt peer.
func TestUDPEncapsulation(t *testing.T) {
	p := newPair(t)
	dump := p.ha.tcpdump(t, p.haIf)
	ha := listenUDP(t, p.ha, UDPConfig{})
	mn := listenUDP(t, p.mn, UDPConfig{Endpoints: []UDPEndpoint{
		{Addr: netip.AddrPortFrom(p.mnV4, 0), Interface: p.mnIf},
		{Addr: netip.AddrPortFrom(p.coa, 0)},
	}})
	mnAddrs := mn.LocalAddrs()
	haPP, mnPP := p.ha.snmp6(t, "Icmp6OutParmProblems"), p.mn.snmp6(t, "Icmp6OutParmProblems")

	cases := []struct {
		name   string
		bu     Signal
		peer   netip.AddrPort // what the HA must see
		haAddr netip.AddrPort
	}{
		{"ipv4", Signal{Src: p.hoa, Dst: p.ha6, Peer: netip.AddrPortFrom(p.haV4, UDPPort)},
			mnAddrs[0], netip.AddrPortFrom(p.haV4, UDPPort)},
		{"ipv6-hao", Signal{Src: p.coa, Dst: p.ha6, Ext: ExtHAO, HomeAddress: p.hoa, Peer: netip.AddrPortFrom(p.ha6, UDPPort)},
			mnAddrs[1], netip.AddrPortFrom(p.ha6, UDPPort)},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			buMsg := wire.BindingUpdate{Sequence: uint16(100 + i), Flags: wire.BUFlagA | wire.BUFlagH | wire.BUFlagF, Lifetime: 30}
			c.bu.MH = mustMarshal(t, buMsg, c.bu)
			if err := mn.Send(ctxT(t, time.Second), c.bu); err != nil {
				t.Fatalf("Send BU: %v", err)
			}
			got := recvSignal(t, ha)
			want := c.bu
			want.Via, want.Peer, want.Local, want.IfIndex, want.HopLimit = ViaUDP, c.peer, c.haAddr, p.haIndex, DefaultHopLimit
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("HA received\n%+v\nwant\n%+v", got, want)
			}
			if m, ok := parseSignal(t, got).(wire.BindingUpdate); !ok || m.Sequence != buMsg.Sequence {
				t.Fatalf("HA parsed %#v", m)
			}
			if peer, ok := ha.Peer(p.hoa); !ok || peer != c.peer {
				t.Fatalf("learnt peer %v %v, want %v", peer, ok, c.peer)
			}

			// Reply without naming the peer: the learnt one is used.
			ba := Signal{Src: p.ha6, Dst: p.hoa, Local: got.Local}
			if got.Ext == ExtHAO {
				ba = Signal{Src: p.ha6, Dst: got.Src, Ext: ExtRH2, HomeAddress: got.HomeAddress, Local: got.Local}
			}
			baMsg := wire.BindingAcknowledgement{Status: wire.StatusAccepted, Sequence: buMsg.Sequence, Lifetime: 30}
			ba.MH = mustMarshal(t, baMsg, ba)
			if err := ha.Send(ctxT(t, time.Second), ba); err != nil {
				t.Fatalf("Send BA: %v", err)
			}
			got = recvSignal(t, mn)
			if got.Via != ViaUDP || got.Peer != c.haAddr || got.Src != ba.Src || got.Dst != ba.Dst ||
				got.Ext != ba.Ext || got.HomeAddress != ba.HomeAddress || got.IfIndex != p.mnIndex {
				t.Fatalf("MN received %+v", got)
			}
			if m, ok := parseSignal(t, got).(wire.BindingAcknowledgement); !ok || !reflect.DeepEqual(m, baMsg) {
				t.Fatalf("MN parsed %#v", m)
			}
		})
	}

	// Without a known peer Send says so.
	if err := ha.Send(context.Background(), Signal{Src: p.ha6, Dst: netip.MustParseAddr("2001:db8:40e::999"),
		MH: make([]byte, 8)}); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("Send to unknown peer: %v", err)
	}

	// The same port carries data: non-MH packets go to the Data callback.
	// (Covered by TestUDPData; here only signalling was sent.)
	if st := ha.Stats(); st.Received != 2 || st.BadChecksum != 0 || st.Malformed != 0 || st.NotSignalling != 0 {
		t.Fatalf("HA stats %+v", st)
	}
	if v := p.ha.snmp6(t, "Icmp6OutParmProblems"); v != haPP {
		t.Errorf("HA sent %d Parameter Problems", v-haPP)
	}
	if v := p.mn.snmp6(t, "Icmp6OutParmProblems"); v != mnPP {
		t.Errorf("MN sent %d Parameter Problems", v-mnPP)
	}
	udp0 := p.ha.exec(t, "ss", "-Hnua")
	if !strings.Contains(udp0, ":4191") {
		t.Fatalf("HA not listening on 4191: %s", udp0)
	}
	if err := ha.Close(); err != nil {
		t.Fatal(err)
	}
	if out := p.ha.exec(t, "ss", "-Hnua"); strings.Contains(out, ":4191") {
		t.Fatalf("UDP socket left after Close: %s", out)
	}
	checkPcap(t, dump.stop(t), map[string]int{
		"udp.port == 4191 && mip6.mhtype == 5": 2, "udp.port == 4191 && mip6.mhtype == 6": 2,
		"udp && ip && mipv6": 2, "udp && ipv6.opt.type == 201": 1, "udp && ipv6.routing.type == 2": 1,
		"icmpv6.type == 4": 0,
	})
}

// TestUDPData checks that non-signalling packets on the RFC 5555 port reach
// the Data callback and that SendPacket carries them.
func TestUDPData(t *testing.T) {
	p := newPair(t)
	type pkt struct {
		b           []byte
		peer, local netip.AddrPort
	}
	got := make(chan pkt, 1)
	ha := listenUDP(t, p.ha, UDPConfig{Data: func(b []byte, peer, local netip.AddrPort, _ int) {
		got <- pkt{append([]byte(nil), b...), peer, local}
	}})
	_ = ha
	mn := listenUDP(t, p.mn, UDPConfig{Endpoints: []UDPEndpoint{{Addr: netip.AddrPortFrom(netip.IPv4Unspecified(), 0)}}})
	// An inner IPv6 packet with no next header (59).
	inner := make([]byte, 40)
	inner[0], inner[6], inner[7] = 0x60, protoNone, 64
	copy(inner[8:], p.hoa.AsSlice())
	copy(inner[24:], netip.MustParseAddr("2001:db8:cafe::1").AsSlice())
	if err := mn.SendPacket(netip.AddrPortFrom(p.haV4, UDPPort), p.mnV4, 0, inner); err == nil {
		t.Fatal("SendPacket accepted an IPv6 packet with payload length 0")
	}
	inner = append(inner, make([]byte, 8)...)
	inner[5] = 8
	if err := mn.SendPacket(netip.AddrPortFrom(p.haV4, UDPPort), p.mnV4, 0, inner); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		if string(g.b) != string(inner) || g.peer.Addr() != p.mnV4 || g.peer.Port() != mn.LocalAddrs()[0].Port() ||
			g.local != netip.AddrPortFrom(p.haV4, UDPPort) {
			t.Fatalf("Data got %+v", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no data packet")
	}
}

// TestUDPBehindNAT puts an IPv4 NAT (nftables masquerade to a port range)
// between mobile node and home agent: the home agent sees the translated
// address and port and its reply, sent to that peer, gets back through the
// NAT (RFC 5555 section 4.1).
func TestUDPBehindNAT(t *testing.T) {
	testenv.RequireRoot(t)
	tag := newTag()
	mnNS, natNS, haNS := newNS(t, tag+"mn"), newNS(t, tag+"nat"), newNS(t, tag+"ha")
	mnV4 := netip.MustParseAddr("10.77.0.2")
	natIn := netip.MustParseAddr("10.77.0.1")
	natOut := netip.MustParseAddr("192.0.2.254")
	haV4 := netip.MustParseAddr("192.0.2.1")
	ha6 := netip.MustParseAddr("2001:db8:c0a::1")
	hoa := netip.MustParseAddr("2001:db8:40e::100")
	veth(t, mnNS, natNS, tag+"m", tag+"n", []netip.Prefix{netip.PrefixFrom(mnV4, 24)}, []netip.Prefix{netip.PrefixFrom(natIn, 24)})
	veth(t, natNS, haNS, tag+"o", tag+"h", []netip.Prefix{netip.PrefixFrom(natOut, 24)},
		[]netip.Prefix{netip.PrefixFrom(haV4, 24), netip.PrefixFrom(ha6, 64)})
	mnNS.exec(t, "ip", "route", "add", "default", "via", natIn.String())
	natNS.exec(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	natNS.exec(t, "nft", "add table ip mtr_nat; add chain ip mtr_nat post { type nat hook postrouting priority 100; }; "+
		"add rule ip mtr_nat post oifname "+tag+"o udp dport 4191 masquerade to :50000-50100")

	ha := listenUDP(t, haNS, UDPConfig{})
	mn := listenUDP(t, mnNS, UDPConfig{Endpoints: []UDPEndpoint{{Addr: netip.AddrPortFrom(mnV4, 0)}}})
	bu := Signal{Src: hoa, Dst: ha6, Peer: netip.AddrPortFrom(haV4, UDPPort)}
	bu.MH = mustMarshal(t, wire.BindingUpdate{Sequence: 9, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: 30}, bu)
	if err := mn.Send(ctxT(t, time.Second), bu); err != nil {
		t.Fatal(err)
	}
	got := recvSignal(t, ha)
	if got.Peer.Addr() != natOut || got.Peer.Port() < 50000 || got.Peer.Port() > 50100 {
		t.Fatalf("HA sees peer %v, want %v:50000-50100 (NAT)", got.Peer, natOut)
	}
	ba := Signal{Src: ha6, Dst: hoa, Peer: got.Peer}
	ba.MH = mustMarshal(t, wire.BindingAcknowledgement{Sequence: 9, Lifetime: 30}, ba)
	if err := ha.Send(ctxT(t, time.Second), ba); err != nil {
		t.Fatal(err)
	}
	if r := recvSignal(t, mn); r.Peer != netip.AddrPortFrom(haV4, UDPPort) || r.Dst != hoa {
		t.Fatalf("MN received %+v", r)
	}
}

// TestUDPConcurrentSend exercises Send from several goroutines (race
// detector) and Close while receivers are blocked.
func TestUDPConcurrentSend(t *testing.T) {
	p := newPair(t)
	ha := listenUDP(t, p.ha, UDPConfig{})
	mn := listenUDP(t, p.mn, UDPConfig{Endpoints: []UDPEndpoint{{Addr: netip.AddrPortFrom(p.coa, 0)}}})
	const n = 64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := Signal{Src: p.coa, Dst: p.ha6, Ext: ExtHAO, HomeAddress: p.hoa, Peer: netip.AddrPortFrom(p.ha6, UDPPort)}
			s.MH = mustMarshal(t, wire.BindingUpdate{Sequence: uint16(i)}, s)
			if err := mn.Send(context.Background(), s); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	seen := map[uint16]bool{}
	for len(seen) < n {
		s := recvSignal(t, ha)
		seen[parseSignal(t, s).(wire.BindingUpdate).Sequence] = true
	}
	done := make(chan error)
	go func() { _, err := mn.Recv(context.Background()); done <- err }()
	time.Sleep(20 * time.Millisecond)
	mn.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("blocked Recv after Close: %v", err)
	}
}
