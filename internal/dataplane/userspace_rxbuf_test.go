package dataplane

import "testing"

// A receive loop that ends hands its buffers to the next socket's loop:
// a link coming back must not wait for 8 MiB to be allocated.
func TestRxFreeReusesBuffers(t *testing.T) {
	var f rxFree
	a := f.get(false)
	a.ms[0].Buffers[0] = a.bufs[0][tunOffset : tunOffset+10]
	a.ms[0].N = 10
	a.out = append(a.out, a.bufs[0])
	f.put(a)
	if b := f.get(true); b == a || !b.gro || len(b.pool) == 0 {
		t.Fatalf("a GRO socket got the plain set or no pool (gro=%v, pool=%d)", b.gro, len(b.pool))
	}
	b := f.get(false)
	if b != a {
		t.Fatal("the next plain socket allocated new buffers instead of reusing the idle set")
	}
	if len(b.ms[0].Buffers[0]) != 65535 || b.ms[0].N != 0 || len(b.out) != 0 {
		t.Fatalf("reused set not reset: buffer %d octets, N %d, out %d", len(b.ms[0].Buffers[0]), b.ms[0].N, len(b.out))
	}
	if allocs := testing.AllocsPerRun(10, func() { f.put(f.get(false)) }); allocs != 0 {
		t.Fatalf("get/put of an idle set allocates %.0f times", allocs)
	}
	for range rxFreeMax + 2 {
		f.put(newRxBuffers(false))
	}
	if len(f.sets) != rxFreeMax {
		t.Fatalf("%d idle sets kept, want at most %d", len(f.sets), rxFreeMax)
	}
}
