package ha

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"monami/internal/dataplane"
	"monami/wire"
)

const v4Topo = `
name: mhv4
nodes:
  - name: mn
  - name: ha
links:
  - name: acc
    a: {node: mn, if: eth0, addrs: ["192.0.2.10/24"]}
    b: {node: ha, if: eth0, addrs: ["192.0.2.1/24", "2001:db8:1::1/64"]}
`

// RFC 5555 sections 3.1, 4.1-4.3: a mobile node in an IPv4-only network
// sends its Binding Update in IPv4/UDP to port 4191, the inner IPv6 packet
// from its home address, with the IPv4 Care-of Address option. The home
// agent binds the home address to that IPv4 address (not "returning
// home", 133) and answers in IPv4/UDP to the address and port the update
// came from, with the NAT Detection option when that source is not the
// IPv4 care-of address (RFC 5555 section 4.2.2). A real UDP socket plays
// the mobile node against the home agent's real UDP transport.
func TestIPv4CareOfAddressBindingUpdate(t *testing.T) {
	l, h := upAgentLab(t, v4Topo)
	var conn *net.UDPConn
	if err := l.MustNode("mn").Do(func() (err error) {
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(192, 0, 2, 10)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	haV4 := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: wire.UDPEncapsulationPort}
	src := netip.MustParseAddr("192.0.2.10")
	seq := uint16(10)
	for _, c := range []struct {
		name string
		coa  netip.Addr
		nat  bool
	}{
		{"no NAT", src, false},
		{"behind NAT", netip.MustParseAddr("10.1.2.3"), true},
	} {
		seq++
		bu := wire.BindingUpdate{Sequence: seq, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: 15,
			Options: []wire.Option{wire.IPv4CareOfAddress{Address: c.coa}, wire.NAI("mn1@example.org"),
				wire.MobilityMessageReplayProtection{Timestamp: wire.NTPTimestamp(time.Now())}}}
		mh, err := wire.NewAuthenticator(key).AppendMessage(nil, bu, 300, hoa, hoa, hoa, haAddr)
		if err != nil {
			t.Fatal(err)
		}
		pkt, err := wire.MHPacket{IPv6: wire.IPv6Header{HopLimit: 64, Src: hoa, Dst: haAddr}}.AppendRaw(nil, mh)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteToUDP(pkt, haV4); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1500)
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, from, err := conn.ReadFromUDP(b)
		if err != nil {
			t.Fatalf("%s: no Binding Acknowledgement over IPv4/UDP: %v", c.name, err)
		}
		if from.Port != wire.UDPEncapsulationPort || !from.IP.Equal(haV4.IP) {
			t.Errorf("%s: answer from %v", c.name, from)
		}
		ip, m, err := wire.Parser{}.ParsePacket(b[:n])
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		ba, ok := m.(wire.BindingAcknowledgement)
		if !ok || ba.Status != wire.StatusAccepted || ip.IPv6.Dst != hoa || ip.IPv6.Src != haAddr {
			t.Fatalf("%s: answer %T %+v, %v -> %v", c.name, m, m, ip.IPv6.Src, ip.IPv6.Dst)
		}
		var nat *wire.NATDetection
		for _, o := range ba.Options {
			if x, ok := o.(wire.NATDetection); ok {
				nat = &x
			}
		}
		if c.nat != (nat != nil) || (nat != nil && (!nat.UDPEncapsulationRequired || nat.RefreshTime != NATKeepaliveInterval)) {
			t.Errorf("%s: NAT Detection option %+v", c.name, nat)
		}
		v, err := h.Snapshot(context.Background(), "bindings") // on the event loop: it is running
		if err != nil {
			t.Fatal(err)
		}
		bs, _ := v.([]BindingView)
		if len(bs) != 1 || bs[0].CareOfAddress != c.coa.String() || bs[0].UDPPeer != conn.LocalAddr().String() || bs[0].NAT != c.nat {
			t.Fatalf("%s: bindings %+v, want one to %v", c.name, bs, c.coa)
		}
		dp := h.dp.(*recordingDP)
		dp.mu.Lock()
		tun := dp.routes[dataplane.Selector{Dst: netip.PrefixFrom(hoa, 128)}]
		dp.mu.Unlock()
		// RFC 5555 section 4.3: the tunnel goes to the source address and
		// port of the Binding Update, the NAT's mapping when there is one
		// (the IPv4 care-of address behind it is not reachable), from the
		// address the update came to.
		local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
		if tun.Remote != src || tun.RemotePort != local.Port() || tun.Local != netip.MustParseAddr("192.0.2.1") || tun.Encap != dataplane.EncapUDP {
			t.Errorf("%s: home address tunnelled %v, want 192.0.2.1->%v/udp", c.name, tun, local)
		}
		t.Logf("%s: BA status %v, NAT Detection %+v, binding %s -> %s", c.name, ba.Status, nat, bs[0].HomeAddress, bs[0].CareOfAddress)
	}
}
