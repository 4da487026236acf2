package mn

import (
	"net"
	"sort"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

// BenchmarkFailover measures the failover of the acceptance scenario (wlan
// 10 ms and lte 40 ms one way; the active wlan interface goes down under a
// 1 ms downstream flow) with the kernel data plane at both ends. Baseline,
// measured in the same run: the lte round-trip time, which is the floor of
// any make-before-break-less failover (Binding Update one way up, first
// re-routed packet one way down). Run with -benchtime=Nx.
//
//	go test -run '^$' -bench Failover -benchtime 5x ./internal/role/mn/
func BenchmarkFailover(b *testing.B) {
	x := upNet(b, "mmnb", "kernel")
	rec := newRecorder(b)
	rec.silence()
	m, _, _ := x.startMN(b, "kernel", "native", rec)
	waitRegistered(b, x, m, 1, 2)
	waitTunnel(b, m, "wlan0")
	rtt := lteRTT(b, x)
	ds := startDownstream(b, x, time.Millisecond)
	us := startUpstream(b, x, time.Millisecond)
	var gaps, firsts, bus, bas, ups []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := failover(b, x, m, rec, ds, us)
		b.Logf("run %d: %s", i, f)
		gaps, firsts = append(gaps, f.gap), append(firsts, f.firstOverLTE)
		bus, bas = append(bus, f.eventDelay+f.eventToBU), append(bas, f.eventToBA)
		ups = append(ups, f.upGap)
		linkUp(b, x)
		waitRegistered(b, x, m, 1, 2)
		waitTunnel(b, m, "wlan0")
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(rtt), "lte-rtt-ms")
	b.ReportMetric(ms(median(gaps)), "gap-ms")
	b.ReportMetric(ms(median(gaps))/ms(rtt), "gap/rtt")
	b.ReportMetric(ms(median(firsts)), "down-to-first-ms")
	b.ReportMetric(ms(median(bus)), "down-to-BU-ms")
	b.ReportMetric(ms(median(bas)), "event-to-BA-ms")
	b.ReportMetric(ms(median(ups)), "upstream-gap-ms")
	b.ReportMetric(0, "ns/op")
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// lteRTT measures the round trip to the lte gateway from the lte care-of
// address with ICMPv6 echoes (median of 5).
func lteRTT(b testing.TB, x *testNet) time.Duration {
	var c *icmp.PacketConn
	if err := x.mnNode.Do(func() (err error) { c, err = icmp.ListenPacket("ip6:ipv6-icmp", coa2.String()); return }); err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	gw := &net.IPAddr{IP: net.ParseIP("2001:db8:b::1")}
	var rtts []time.Duration
	buf := make([]byte, 1500)
	for i := 0; i < 5; i++ {
		msg := icmp.Message{Type: ipv6.ICMPTypeEchoRequest, Body: &icmp.Echo{ID: 0x4242, Seq: i, Data: []byte("rtt")}}
		wb, _ := msg.Marshal(nil)
		start := time.Now()
		if _, err := c.WriteTo(wb, gw); err != nil {
			b.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				b.Fatalf("echo reply: %v", err)
			}
			if r, err := icmp.ParseMessage(58, buf[:n]); err == nil && r.Type == ipv6.ICMPTypeEchoReply {
				if e, ok := r.Body.(*icmp.Echo); ok && e.Seq == i {
					break
				}
			}
		}
		rtts = append(rtts, time.Since(start))
	}
	return median(rtts)
}
