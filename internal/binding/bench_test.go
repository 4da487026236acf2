package binding

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

var benchPrefix = netip.MustParsePrefix("2001:db8:100::/48")

func benchHoA(n int) netip.Addr {
	a := benchPrefix.Addr().As16()
	binary.BigEndian.PutUint32(a[12:], uint32(n)+1)
	return netip.AddrFrom16(a)
}

func benchCoA(n, k int) netip.Addr {
	a := netip.MustParseAddr("2001:db8:f000::").As16()
	a[6] = byte(k)
	binary.BigEndian.PutUint32(a[12:], uint32(n)+1)
	return netip.AddrFrom16(a)
}

func benchReq(n int, seq uint16, perNode int) *BindingUpdateRequest {
	r := &BindingUpdateRequest{HoA: benchHoA(n), Source: benchCoA(n, 0), Sequence: seq, Ack: true, Home: true,
		Lifetime: 1000, Auth: Auth{Result: AuthIPsec}}
	for k := 0; k < perNode; k++ {
		r.BIDs = append(r.BIDs, BIDOption{BID: uint16(k + 1), CoA: benchCoA(n, k), Priority: uint8(k + 1)})
	}
	return r
}

func benchCache() *BindingCache {
	return NewBindingCache(Config{HomePrefixes: []HomePrefix{{Prefix: benchPrefix}}, MaxLifetime: time.Hour}, t0)
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkBindingCacheMemory registers 250k mobile nodes x 4 BIDs (1M
// bindings) through ProcessBindingUpdate and reports the live heap per
// binding after GC. Target: 1M bindings in < 1 GiB (< 1073 bytes/binding).
// Run with -benchtime=1x.
func BenchmarkBindingCacheMemory(b *testing.B) {
	const nodes, perNode = 250_000, 4
	for i := 0; i < b.N; i++ {
		before := heapInUse()
		c := benchCache()
		r := benchReq(0, 1, perNode)
		var d Decision
		start := time.Now()
		for n := 0; n < nodes; n++ {
			r.HoA = benchHoA(n)
			r.Source = benchCoA(n, 0)
			for k := range r.BIDs {
				r.BIDs[k].CoA = benchCoA(n, k)
			}
			c.ProcessBindingUpdateTo(t0, r, &d)
			if d.Status != stAccepted {
				b.Fatalf("node %d: %v %s", n, d.Status, d.Reason)
			}
		}
		insert := time.Since(start)
		after := heapInUse()
		if c.Len() != nodes*perNode {
			b.Fatalf("%d bindings", c.Len())
		}
		b.ReportMetric(float64(after-before)/float64(c.Len()), "heap-B/binding")
		b.ReportMetric(float64(after-before)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(insert.Nanoseconds())/float64(c.Len()), "insert-ns/binding")
		runtime.KeepAlive(c)
	}
}

// naiveBinding is the obvious representation (netip.Addr, time.Time, a map
// entry and a pointer per binding), measured in the same run as a baseline.
type naiveBinding struct {
	HoA, CoA   netip.Addr
	BID        uint16
	Priority   uint8
	Flags      BindingFlags
	Registered time.Time
	Expires    time.Time
	timer      *time.Timer
}

type naiveKey struct {
	hoa netip.Addr
	bid uint16
}

// BenchmarkNaiveMapMemory is the baseline for BenchmarkBindingCacheMemory:
// map[(HoA,BID)]*binding with one stopped time.Timer per binding.
func BenchmarkNaiveMapMemory(b *testing.B) {
	const nodes, perNode = 250_000, 4
	for i := 0; i < b.N; i++ {
		before := heapInUse()
		m := make(map[naiveKey]*naiveBinding)
		for n := 0; n < nodes; n++ {
			hoa := benchHoA(n)
			for k := 0; k < perNode; k++ {
				t := time.AfterFunc(time.Hour, func() {})
				t.Stop()
				m[naiveKey{hoa, uint16(k + 1)}] = &naiveBinding{HoA: hoa, CoA: benchCoA(n, k), BID: uint16(k + 1),
					Registered: t0, Expires: t0.Add(time.Hour), timer: t}
			}
		}
		after := heapInUse()
		b.ReportMetric(float64(after-before)/float64(len(m)), "heap-B/binding")
		b.ReportMetric(float64(after-before)/(1<<20), "heap-MiB")
		runtime.KeepAlive(m)
	}
}

// BenchmarkProcessBindingUpdate measures the pure home registration logic:
// a refresh of a 4-BID bulk registration in a cache of 100k mobile nodes
// (400k bindings). One op = one Binding Update (4 bindings).
func BenchmarkProcessBindingUpdate(b *testing.B) {
	const nodes, perNode = 100_000, 4
	c := benchCache()
	reqs := make([]*BindingUpdateRequest, nodes)
	var d Decision
	for n := range reqs {
		reqs[n] = benchReq(n, 1, perNode)
		c.ProcessBindingUpdateTo(t0, reqs[n], &d)
	}
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := reqs[i%nodes]
		r.Sequence++
		if i%nodes == 0 {
			now = now.Add(time.Second)
		}
		c.ProcessBindingUpdateTo(now, r, &d)
		if d.Status != stAccepted {
			b.Fatalf("%v %s", d.Status, d.Reason)
		}
	}
}

// BenchmarkBaselineMapRefresh is the floor for BenchmarkProcessBindingUpdate
// measured in the same run: four map look-ups and expiry updates of a plain
// map[(HoA,BID)]struct, no checks at all.
func BenchmarkBaselineMapRefresh(b *testing.B) {
	const nodes, perNode = 100_000, 4
	type key struct {
		hoa [16]byte
		bid uint16
	}
	type val struct {
		coa    [16]byte
		expiry int64
		seq    uint16
	}
	m := make(map[key]val, nodes*perNode)
	hoas := make([][16]byte, nodes)
	for n := range hoas {
		hoas[n] = benchHoA(n).As16()
		for k := 0; k < perNode; k++ {
			m[key{hoas[n], uint16(k + 1)}] = val{coa: benchCoA(n, k).As16()}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h := hoas[i%nodes]
		for k := 0; k < perNode; k++ {
			kk := key{h, uint16(k + 1)}
			v := m[kk]
			v.expiry = int64(i)
			v.seq++
			m[kk] = v
		}
	}
}

// BenchmarkBULNext measures the mobile node side: a refresh cycle of a
// 4-BID home registration (Next + HandleBA).
func BenchmarkBULNext(b *testing.B) {
	l := NewBindingUpdateList(BULConfig{Lifetime: 40 * time.Second})
	for k := 0; k < 4; k++ {
		l.SetCareOfAddress(t0, CareOfBinding{HA: haAddr, HoA: hoa1, BID: uint16(k + 1), CoA: benchCoA(1, k)})
	}
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, a := range l.Next(now) {
			if a.Kind == SendBindingUpdate {
				l.HandleBA(now, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: a.BU.Sequence, Lifetime: 10})
			}
		}
		now = now.Add(32 * time.Second)
	}
}
