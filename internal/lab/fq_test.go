package lab

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"monami/internal/testenv"
)

const fqYAML = `
name: %s
nodes: [{name: a}, {name: b}]
links:
  - name: q
    a: {node: a, if: e0, addrs: ["2001:db8:e::1/64"]}
    b: {node: b, if: e0, addrs: ["2001:db8:e::2/64"]}
    impair: {rate: 10mbit}
    qdisc: %s
`

// TestFlowQueues: behind a 10 Mbit/s rate limit that a UDP flood at four
// times the rate holds full, a second flow waits behind the flood's queue
// with qdisc fifo (40-80 ms measured here, median about 60: the flood's
// socket send buffer, about 90 datagrams, holds it below the 100 ms
// queue), and about one
// frame per busy flow with qdisc fq (its own queue: under 2 ms). A change
// of rate resizes fq's per-flow queues.
func TestFlowQueues(t *testing.T) {
	for _, tc := range []struct{ lab, qdisc string }{{"fqtfifo", QdiscFIFO}, {"fqtfq", QdiscFQ}} {
		t.Run(tc.qdisc, func(t *testing.T) {
			l := upFQLab(t, fmt.Sprintf(fqYAML, tc.lab, tc.qdisc))
			a, b := l.MustNode("a"), l.MustNode("b")
			stop := flood(t, a, "[2001:db8:e::2]:7000", 40_000_000)
			defer stop()
			time.Sleep(300 * time.Millisecond) // the queue fills in 100 ms
			port := 7100
			measure(t, "second flow's delay, "+tc.qdisc, func() (bool, string) {
				// A new port each round: two flows share a queue when their
				// hashes meet (1 in fqBuckets), as in fq_codel.
				port++
				d := oneWay(t, a, b, "2001:db8:e::2", port, 50, 10*time.Millisecond)
				if len(d) < 40 {
					t.Fatalf("%d of 50 probes arrived", len(d))
				}
				med := median(d)
				ok := med > 30*time.Millisecond
				if tc.qdisc == QdiscFQ {
					ok = med < 20*time.Millisecond
				}
				return ok, fmt.Sprintf("MEASURED %s: a second flow beside a flood of a 10 Mbit/s link with a 100 ms queue: one way median %v, min %v, max %v (load %s)",
					tc.qdisc, med.Round(time.Microsecond), d[0].Round(time.Microsecond), d[len(d)-1].Round(time.Microsecond), loadavg())
			})
			if tc.qdisc != QdiscFQ {
				return
			}
			out := tcShow(t, a, "qdisc")
			if n := strings.Count(out, "bfifo"); n != fqBuckets || !strings.Contains(out, "qdisc htb 10: parent 1:1") {
				t.Fatalf("want an htb under tbf with %d bfifo leaves:\n%s", fqBuckets, out)
			}
			if f := tcShow(t, a, "filter", "parent", "10:"); !strings.Contains(f, fqProg) {
				t.Fatalf("no %s filter:\n%s", fqProg, f)
			}
			// 100 ms at 10 Mbit/s is 125000 octets; at 20 Mbit/s 250000.
			if n := strings.Count(out, "limit 125000b"); n != fqBuckets {
				t.Errorf("%d of %d flow queues hold 125000 octets:\n%s", n, fqBuckets, out)
			}
			if err := l.SetImpairment("q", Impairment{Rate: 20_000_000}); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(tcShow(t, a, "qdisc"), "limit 250000b"); n != fqBuckets {
				t.Errorf("after the rate change, %d of %d flow queues hold 250000 octets", n, fqBuckets)
			}
			// The classes follow: four times the new rate.
			if n := strings.Count(tcShow(t, a, "class"), "rate 80Mbit ceil 80Mbit"); n != fqBuckets+1 {
				t.Errorf("after the rate change, %d of %d HTB classes at 80Mbit:\n%s", n, fqBuckets+1, tcShow(t, a, "class"))
			}
		})
	}
}

// upFQLab is upLab for the fq tests' names (this helper's prefix).
func upFQLab(t *testing.T, yml string) *Lab {
	t.Helper()
	testenv.RequireRoot(t)
	topo, err := Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadState(topo.Name); err == nil {
		_ = Teardown(topo.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Up(ctx, topo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("down: %v", err)
		}
		assertClean(t, topo)
	})
	return l
}

// flood sends 1000-octet UDP datagrams from n to dst at about bps until
// stopped, unconnected: nothing listens, and the ICMPv6 errors would fail
// a connected socket's next send.
func flood(t *testing.T, n *NodeNS, dst string, bps int) (stop func()) {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp6", dst)
	if err != nil {
		t.Fatal(err)
	}
	var c net.PacketConn
	if err := n.Do(func() error {
		var err error
		c, err = net.ListenPacket("udp6", "[::]:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		msg := make([]byte, 1000)
		perTick := bps / 8 / len(msg) / 100 // every 10 ms
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				for range perTick {
					c.WriteTo(msg, to)
				}
			}
		}
	}()
	return func() { close(done); c.Close() }
}

func tcShow(t *testing.T, n *NodeNS, what string, args ...string) string {
	t.Helper()
	out, err := n.Exec(context.Background(), "tc", append([]string{what, "show", "dev", "e0"}, args...)...)
	if err != nil {
		t.Fatalf("tc %s show: %v: %s", what, err, out)
	}
	return string(out)
}
