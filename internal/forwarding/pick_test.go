package forwarding

import (
	"math"
	"net/netip"
	"testing"
	"time"
)

func flowN(i int) *FlowKey {
	src := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x99, 12: byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
	return &FlowKey{Src: src, Dst: hoa, NextHeader: 6, SrcPort: uint16(40000 + i%20000), DstPort: 443, HasPorts: true}
}

func shareEntry(ws ...uint32) *Entry {
	e := &Entry{HoA: hoa, Mode: Share}
	for i, w := range ws {
		e.Paths = append(e.Paths, Path{ID: PathID(i + 1), CoA: coa(i + 1), Weight: w, Usable: true})
	}
	return e
}

func placeAll(e *Entry, n int) []PathID {
	out := make([]PathID, n)
	for i := range out {
		p := Pick(e, flowN(i))
		if len(p) != 1 {
			return nil
		}
		out[i] = p[0]
	}
	return out
}

// TestShareByWeight: flows spread in proportion to weight, one path each.
func TestShareByWeight(t *testing.T) {
	const n = 40000
	e := shareEntry(3, 1, 4)
	got := map[PathID]int{}
	for _, p := range placeAll(e, n) {
		got[p]++
	}
	for id, w := range map[PathID]float64{1: 3. / 8, 2: 1. / 8, 3: 4. / 8} {
		if f := float64(got[id]) / n; math.Abs(f-w) > 0.015 {
			t.Errorf("path %d has %.3f of the flows, want %.3f", id, f, w)
		}
	}
}

// TestShareStableReassignment: when a path fails, only its flows move,
// spread over the others by weight; when it returns (Return), exactly
// those flows come back.
func TestShareStableReassignment(t *testing.T) {
	const n = 20000
	e := shareEntry(2, 1, 1)
	before := placeAll(e, n)
	e.Paths[0].Usable = false
	during := placeAll(e, n)
	moved := map[PathID]int{}
	for i := range before {
		switch {
		case before[i] != 1 && during[i] != before[i]:
			t.Fatalf("flow %d moved from healthy path %d to %d", i, before[i], during[i])
		case before[i] == 1:
			if during[i] == 1 {
				t.Fatalf("flow %d still on the failed path", i)
			}
			moved[during[i]]++
		}
	}
	if r := float64(moved[2]) / float64(moved[2]+moved[3]); math.Abs(r-0.5) > 0.03 {
		t.Errorf("failed path's flows went %.2f to path 2, want about half", r)
	}
	e.Paths[0].Usable = true
	after := placeAll(e, n)
	for i := range before {
		if after[i] != before[i] {
			t.Fatalf("flow %d is on %d after the return, was on %d", i, after[i], before[i])
		}
	}
}

func TestShareNoUsablePath(t *testing.T) {
	e := shareEntry(1, 0)
	e.Paths[0].Usable = false
	if p := Pick(e, flowN(1)); len(p) != 0 {
		t.Errorf("picked %v with no usable weighted path", p)
	}
}

func TestFlowHashFields(t *testing.T) {
	base := *flowN(7)
	h := FlowHash(&base)
	for name, mod := range map[string]func(k *FlowKey){
		"src":   func(k *FlowKey) { k.Src = cn },
		"dst":   func(k *FlowKey) { k.Dst = cn },
		"sport": func(k *FlowKey) { k.SrcPort++ },
		"dport": func(k *FlowKey) { k.DstPort++ },
		"nh":    func(k *FlowKey) { k.NextHeader = 17 },
		"label": func(k *FlowKey) { k.FlowLabel = 5 },
		"spi":   func(k *FlowKey) { k.SPI, k.HasSPI = 9, true },
	} {
		k := base
		mod(&k)
		if FlowHash(&k) == h {
			t.Errorf("changing %s does not change the hash", name)
		}
	}
	k := base
	k.TrafficClass = 46
	if FlowHash(&k) != h {
		t.Error("traffic class changed the hash; a flow remarked mid-way would move")
	}
}

// TestAffinityStay: under Stay, flows that moved off a failed path stay
// where they went when it returns, new flows use it again, and an idle
// flow is forgotten (fake clock).
func TestAffinityStay(t *testing.T) {
	const n = 5000
	e := shareEntry(1, 1)
	e.Return = Stay
	a := NewAffinity(time.Minute, 0)
	now := t0
	orig := make([]PathID, n)
	for i := range orig {
		orig[i] = a.Pick(now, e, flowN(i))[0]
	}
	down := *e
	down.Paths = []Path{e.Paths[0], e.Paths[1]}
	down.Paths[0].Usable = false
	now = now.Add(time.Second)
	for i := range orig {
		if p := a.Pick(now, &down, flowN(i))[0]; p != 2 {
			t.Fatalf("flow %d on %d with path 1 down", i, p)
		}
	}
	now = now.Add(time.Second)
	back := 0
	for i := range orig {
		if a.Pick(now, e, flowN(i))[0] == 1 {
			back++
		}
	}
	if back != 0 {
		t.Errorf("%d flows went back to the returned path under Stay", back)
	}
	newOn1 := 0
	for i := n; i < 2*n; i++ {
		if a.Pick(now, e, flowN(i))[0] == 1 {
			newOn1++
		}
	}
	if newOn1 < n/3 {
		t.Errorf("only %d of %d new flows use the returned path", newOn1, n)
	}
	if a.Len() != 2*n {
		t.Errorf("remembers %d flows, want %d", a.Len(), 2*n)
	}
	if got := a.Expire(now.Add(time.Minute)); got != 0 {
		t.Errorf("expired %d flows at exactly the idle time", got)
	}
	if got := a.Expire(now.Add(time.Minute + time.Nanosecond)); got != 2*n {
		t.Errorf("expired %d flows, want all %d", got, 2*n)
	}
	// Forgotten flows are placed afresh by the hash.
	for i := range orig {
		if p := a.Pick(now.Add(2*time.Minute), e, flowN(i))[0]; p != orig[i] {
			t.Fatalf("forgotten flow %d placed on %d, hash says %d", i, p, orig[i])
		}
	}
	// Return entries keep no state.
	e.Return = Return
	b := NewAffinity(time.Minute, 0)
	b.Pick(now, e, flowN(1))
	if b.Len() != 0 {
		t.Error("Return entry remembered a flow")
	}
}

func TestAffinityBounded(t *testing.T) {
	e := shareEntry(1, 1)
	e.Return = Stay
	a := NewAffinity(time.Minute, 10)
	for i := range 100 {
		if len(a.Pick(t0, e, flowN(i))) != 1 {
			t.Fatal("no path")
		}
	}
	if a.Len() != 10 {
		t.Errorf("holds %d flows, bound 10", a.Len())
	}
}
