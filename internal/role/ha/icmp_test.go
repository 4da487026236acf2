package ha

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/ipv6"

	"monami/internal/config"
	"monami/internal/lab"
	"monami/internal/testenv"
	"monami/wire"
)

const ppTopo = `
name: mhpp
nodes:
  - name: mn
  - name: ha
links:
  - name: acc
    a: {node: mn, if: eth0, addrs: ["2001:db8:1::10/64", "2001:db8:a::10/64"]}
    b: {node: ha, if: eth0, addrs: ["2001:db8:1::1/64", "2001:db8:a::1/64"]}
`

// RFC 6275 section 9.2: a Mobility Header whose Header Len is too small for
// its type, or whose Payload Proto is not 59, draws ICMPv6 Parameter Problem
// code 0 pointing at that field, sent to the packet's source address. Real
// namespaces, the home agent's real native transport, and a raw ICMPv6
// socket on the sender's side.
func TestParameterProblemForBadMobilityHeader(t *testing.T) {
	l, h := upAgentLab(t, ppTopo)
	var send *ipv6.PacketConn // header included: the test writes whole packets
	var icmp *ipv6.PacketConn
	if err := l.MustNode("mn").Do(func() error {
		c, err := net.ListenPacket("ip6:255", "::")
		if err != nil {
			return err
		}
		send = ipv6.NewPacketConn(c)
		c, err = net.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			return err
		}
		icmp = ipv6.NewPacketConn(c)
		var f ipv6.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv6.ICMPTypeParameterProblem)
		if err := icmp.SetControlMessage(ipv6.FlagDst, true); err != nil {
			return err
		}
		return icmp.SetICMPFilter(&f)
	}); err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	defer icmp.Close()
	time.Sleep(2 * time.Second) // duplicate address detection on the veth

	buShort := []byte{59, 0, 5, 0, 0, 0, 0, 1}                             // Header Len 0: a BU needs 16 octets
	buShortLong := []byte{59, 0, 5, 0, 0, 0, 0, 1, 0, 3, 0, 0, 0, 0, 0, 0} // same, 8 more octets after it
	buProto := []byte{58, 1, 5, 0, 0, 0, 0, 1, 0, 3, 0, 0, 0, 0, 0, 0}     // Payload Proto 58
	brrProto := []byte{6, 0, 0, 0, 0, 0, 0, 0}                             // BRR, Payload Proto 6
	for _, c := range []struct {
		name     string
		src, hao netip.Addr
		mh       []byte
		ptr      int // in the invoking packet
	}{
		{"Header Len too small", hoa, netip.Addr{}, buShort, 40 + 1},
		{"Header Len too small, trailing octets", hoa, netip.Addr{}, buShortLong, 40 + 1},
		{"Payload Proto 58, from a care-of address with HAO", coa1, hoa, buProto, 40 + 24 + 0},
		{"Payload Proto 6, other MH type", hoa, netip.Addr{}, brrProto, 40 + 0},
	} {
		p := wire.MHPacket{IPv6: wire.IPv6Header{HopLimit: 64, Src: c.src, Dst: haAddr}, HomeAddress: c.hao}
		pkt, err := p.AppendRaw(nil, append([]byte(nil), c.mh...))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.mh) > (int(c.mh[1])+1)*8 { // checksum over all the payload, as the kernel checks it
			at := len(pkt) - len(c.mh)
			pkt[at+4], pkt[at+5] = 0, 0
			cs, cd := p.ChecksumAddrs()
			binary.BigEndian.PutUint16(pkt[at+4:], wire.Checksum(pkt[at:], cs, cd))
		}
		if _, err := send.WriteTo(pkt, nil, &net.IPAddr{IP: haAddr.AsSlice()}); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1500)
		icmp.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, cm, from, err := icmp.ReadFrom(b)
		if err != nil {
			t.Errorf("%s: no Parameter Problem: %v", c.name, err)
			continue
		}
		b = b[:n]
		// "directly to the Source Address of the packet": the care-of
		// address when a Home Address option was present.
		if cm == nil || !cm.Dst.Equal(c.src.AsSlice()) {
			t.Errorf("%s: error sent to %v, want %v", c.name, cm, c.src)
		}
		if from.(*net.IPAddr).IP.String() != haAddr.String() || b[0] != 4 || b[1] != 0 {
			t.Errorf("%s: from %v type %d code %d", c.name, from, b[0], b[1])
		}
		if ptr := binary.BigEndian.Uint32(b[4:]); int(ptr) != c.ptr {
			t.Errorf("%s: pointer %d, want %d", c.name, ptr, c.ptr)
		}
		inv := b[8:]
		if len(inv) <= c.ptr || netip.AddrFrom16([16]byte(inv[8:24])) != c.src || inv[c.ptr] != pkt[c.ptr] {
			t.Errorf("%s: quoted packet % x does not match the one sent % x", c.name, inv, pkt)
		}
		t.Logf("%s: Parameter Problem code 0 from %v, pointer %d", c.name, from, c.ptr)
	}
	deadline := time.Now().Add(time.Second)
	for h.cnt.view().ParameterProblems != 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := h.cnt.view().ParameterProblems; got != 4 {
		t.Errorf("parameter_problems %d, want 4", got)
	}
}

// upAgentLab builds the lab of topo and runs the home agent of haYAML in its
// "ha" node with its real transports (native MH and UDP 4191) and a
// recording data plane.
func upAgentLab(t *testing.T, topo string) (*lab.Lab, *HomeAgent) {
	t.Helper()
	testenv.RequireRoot(t)
	ctx := context.Background()
	tp, err := lab.Parse([]byte(topo))
	if err != nil {
		t.Fatal(err)
	}
	_ = lab.Teardown(tp.Name)
	l, err := lab.Up(ctx, tp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Down() })
	cfg, err := config.ParseHomeAgent("ha.yaml", []byte(haYAML))
	if err != nil {
		t.Fatal(err)
	}
	var h *HomeAgent
	if err := l.MustNode("ha").Do(func() error {
		h, err = New(cfg, Options{DataPlane: newRecordingDP(), NoControlSocket: true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { h.Run(hctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l, h
}
