package transport

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"monami/wire"
)

// BenchmarkRoundTrip measures a BU -> BA exchange between two namespaces
// over each transport (root). Baseline: the same sized UDP ping-pong over
// plain sockets, measured in the same run.
func BenchmarkRoundTrip(b *testing.B) {
	p := newPair(b)
	ctx := context.Background()
	run := func(b *testing.B, mn, ha Transport, bu Signal, reply func(Signal) Signal) {
		buMsg := wire.BindingUpdate{Sequence: 1, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: 60}
		bu.MH = mustMarshal(b, buMsg, bu)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := mn.Send(ctx, bu); err != nil {
				b.Fatal(err)
			}
			got, err := ha.Recv(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := ha.Send(ctx, reply(got)); err != nil {
				b.Fatal(err)
			}
			if _, err := mn.Recv(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	baMH := func(s Signal) Signal {
		s.MH = make([]byte, 16) // BA, Header Len 1; Send fills the checksum
		s.MH[0], s.MH[1], s.MH[2] = wire.IPProtoNone, 1, byte(wire.MHBindingAcknowledgement)
		return s
	}
	b.Run("baseline-udp-pingpong", func(b *testing.B) {
		var mc, hc *net.UDPConn
		p.ha.do(b, func() {
			c, err := net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ha6, 0)))
			if err != nil {
				b.Fatal(err)
			}
			hc = c
		})
		p.mn.do(b, func() {
			c, err := net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.coa, 0)))
			if err != nil {
				b.Fatal(err)
			}
			mc = c
		})
		defer mc.Close()
		defer hc.Close()
		msg, buf := make([]byte, 120), make([]byte, 2048)
		to := hc.LocalAddr().(*net.UDPAddr)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := mc.WriteToUDP(msg, to); err != nil {
				b.Fatal(err)
			}
			_, from, err := hc.ReadFromUDP(buf)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := hc.WriteToUDP(msg, from); err != nil {
				b.Fatal(err)
			}
			if _, _, err := mc.ReadFromUDP(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("native-hao-rh2", func(b *testing.B) {
		mn, ha := openNative(b, p.mn), openNative(b, p.ha)
		run(b, mn, ha, Signal{Src: p.coa, Dst: p.ha6, Ext: ExtHAO, HomeAddress: p.hoa},
			func(g Signal) Signal {
				return baMH(Signal{Src: p.ha6, Dst: g.Src, Ext: ExtRH2, HomeAddress: g.HomeAddress})
			})
		mn.Close()
		ha.Close()
	})
	b.Run("native-plain", func(b *testing.B) {
		mn, ha := openNative(b, p.mn), openNative(b, p.ha)
		run(b, mn, ha, Signal{Src: p.coa, Dst: p.ha6},
			func(g Signal) Signal { return baMH(Signal{Src: p.ha6, Dst: g.Src}) })
		mn.Close()
		ha.Close()
	})
	b.Run("udp-ipv6-hao", func(b *testing.B) {
		ha := listenUDP(b, p.ha, UDPConfig{})
		mn := listenUDP(b, p.mn, UDPConfig{Endpoints: []UDPEndpoint{{Addr: netip.AddrPortFrom(p.coa, 0)}}})
		run(b, mn, ha, Signal{Src: p.coa, Dst: p.ha6, Ext: ExtHAO, HomeAddress: p.hoa, Peer: netip.AddrPortFrom(p.ha6, UDPPort)},
			func(g Signal) Signal {
				return baMH(Signal{Src: p.ha6, Dst: g.Src, Ext: ExtRH2, HomeAddress: g.HomeAddress, Peer: g.Peer})
			})
		mn.Close()
		ha.Close()
	})
}
