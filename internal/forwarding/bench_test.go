package forwarding

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// rulesTable installs n policy rules on one home address, each a UDP
// destination port (exact ports when ranged is false, two-port ranges
// when true, which the port index cannot bucket), alternating between the
// two paths, in share mode for every third.
func rulesTable(n int, ranged bool) *Table {
	in := Input{Bindings: twoPaths()}
	for i := range n {
		m := Match{NextHeader: Exact[uint8](17), DstPort: Exact(uint16(10000 + 2*i))}
		if ranged {
			m.DstPort = Between(uint16(10000+2*i), uint16(10001+2*i))
		}
		a := Action{Paths: []PathRef{{ID: PathID(i%2 + 1)}, {ID: PathID(2 - i%2)}}}
		in.Rules = append(in.Rules, Rule{Priority: uint16(i + 1), Selector: m, Action: a})
	}
	return Compute(t0, in)
}

// benchKeys are packets spread over the rules, the last rule and no rule.
func benchKeys(n int) []FlowKey {
	ks := make([]FlowKey, 256)
	for i := range ks {
		ks[i] = *udpKey(uint16(30000+i), uint16(10000+2*(i*7%max(n, 1))))
	}
	if n > 0 {
		ks[0].DstPort = uint16(10000 + 2*(n-1))
	}
	ks[1].DstPort = 9
	return ks
}

// BenchmarkRoute measures Lookup+Pick per packet with 1,000 rules
// installed, against no rule (the home address's default only) in the
// same run: the figure to read is ratio-vs-no-rules (1.0 = classifying
// costs nothing).
func BenchmarkRoute(b *testing.B) {
	for _, tc := range []struct {
		name   string
		ranged bool
	}{{"exact-ports", false}, {"port-ranges", true}} {
		b.Run(tc.name, func(b *testing.B) {
			base, big := rulesTable(0, tc.ranged), rulesTable(1000, tc.ranged)
			kb, kk := benchKeys(0), benchKeys(1000)
			buf := make([]PathID, 0, 4)
			var tBase, tBig time.Duration
			const block = 1024
			for i := 0; i < b.N; i += block {
				s := time.Now()
				for j := range block {
					buf = base.Route(hoa, &kb[j&255], buf[:0])
				}
				m := time.Now()
				for j := range block {
					buf = big.Route(hoa, &kk[j&255], buf[:0])
				}
				tBig += time.Since(m)
				tBase += m.Sub(s)
			}
			nb := float64((b.N + block - 1) / block * block)
			b.ReportMetric(float64(tBig.Nanoseconds())/nb, "ns/route-1000-rules")
			b.ReportMetric(float64(tBase.Nanoseconds())/nb, "ns/route-no-rules")
			b.ReportMetric(float64(tBig)/float64(tBase), "ratio-vs-no-rules")
		})
	}
}

func BenchmarkPickShare(b *testing.B) {
	e := shareEntry(3, 1, 2)
	k := flowN(5)
	buf := make([]PathID, 0, 4)
	for b.Loop() {
		buf = AppendPick(buf[:0], e, k)
	}
}

// flowBindingsInput is a home agent with n flow bindings: n/10 mobile
// nodes, each with two bindings and ten flow bindings with an IPv6
// selector of a destination prefix, next header and a port.
func flowBindingsInput(n int) Input {
	var in Input
	for m := range n / 10 {
		h := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 1, 12: byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)})
		for bid := PathID(1); bid <= 2; bid++ {
			in.Bindings = append(in.Bindings, Binding{HoA: h, ID: bid, CoA: coa(int(bid)), Priority: uint8(bid), Usable: true})
		}
		for f := range 10 {
			in.FlowBindings = append(in.FlowBindings, FlowBinding{HoA: h, FID: uint16(f + 1), Priority: uint16(f + 1),
				BIDs: ids(PathID(f%2 + 1)), Selector: Match{
					Dst:        PrefixRange(netip.MustParsePrefix("2001:db8:99::/48")),
					NextHeader: Exact[uint8](6), DstPort: Exact(uint16(1000 + f)),
				}})
		}
	}
	return in
}

// BenchmarkFlowBindingsMemory reports the heap that 100,000 flow bindings
// take once computed into a Table (target: within 200 MiB), counting the
// input too.
func BenchmarkFlowBindingsMemory(b *testing.B) {
	const n = 100000
	var heap, table float64
	for b.Loop() {
		runtime.GC()
		var m0, m1, m2 runtime.MemStats
		runtime.ReadMemStats(&m0)
		in := flowBindingsInput(n)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		tb := Compute(t0, in)
		runtime.GC()
		runtime.ReadMemStats(&m2)
		if tb.Len() != n+n/10 {
			b.Fatalf("%d entries", tb.Len())
		}
		heap = float64(m2.HeapAlloc-m0.HeapAlloc) / (1 << 20)
		table = float64(m2.HeapAlloc-m1.HeapAlloc) / (1 << 20)
		runtime.KeepAlive(in)
		runtime.KeepAlive(tb)
	}
	b.ReportMetric(heap, "MiB-heap-input+table")
	b.ReportMetric(table, "MiB-heap-table")
	b.ReportMetric(table*(1<<20)/n, "B/flow-binding")
	b.ReportMetric(heap/200, "fraction-of-200MiB")
}

// BenchmarkComputeAndDiff: recomputing 100,000 flow bindings after one
// path went down, and diffing against the previous table.
func BenchmarkComputeAndDiff(b *testing.B) {
	in := flowBindingsInput(100000)
	old := Compute(t0, in)
	in.Bindings[0].Usable = false
	var changes int
	for b.Loop() {
		changes = len(Diff(old, Compute(t0, in)))
	}
	b.ReportMetric(float64(changes), "changes")
}

// BenchmarkWithAndDiff: one mobile node's path went down among 10,000
// holding 100,000 flow bindings; With recomputes its home address only and
// Diff skips the shared ones.
func BenchmarkWithAndDiff(b *testing.B) {
	in := flowBindingsInput(100000)
	old := Compute(t0, in)
	h := in.Bindings[0].HoA
	one := Input{Bindings: in.Bindings[:2:2], FlowBindings: in.FlowBindings[:10:10]}
	one.Bindings = setUsable(one.Bindings, 1, false)
	var changes int
	for b.Loop() {
		changes = len(Diff(old, old.With(t0, h, one)))
	}
	b.ReportMetric(float64(changes), "changes")
}

// BenchmarkUpdate: the same change made in place with Update, which is
// what a home agent's loop does per Binding Update.
func BenchmarkUpdate(b *testing.B) {
	in := flowBindingsInput(100000)
	tb := Compute(t0, in)
	h := in.Bindings[0].HoA
	up := Input{Bindings: in.Bindings[:2:2], FlowBindings: in.FlowBindings[:10:10]}
	down := Input{Bindings: setUsable(up.Bindings, 1, false), FlowBindings: up.FlowBindings}
	var changes int
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			changes = len(tb.Update(t0, h, down))
		} else {
			changes = len(tb.Update(t0, h, up))
		}
	}
	b.ReportMetric(float64(changes), "changes")
}
