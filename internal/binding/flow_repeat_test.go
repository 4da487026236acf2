package binding

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// rawOf stands for the wire bytes of a request's flow options: any
// encoding that is equal exactly when the requests are.
func rawOf(r *FlowRequest) []byte { return fmt.Appendf(nil, "%v|%v", r.Options, r.Summary) }

func withRaw(r FlowRequest) *FlowRequest {
	r.Raw = rawOf(&r)
	return &r
}

// The refresh that changes nothing is remembered; the same bytes are then
// answered from memory as Process answers them, and the flows' Refreshed
// moves as Process would move it (RFC 6089 section 5: a refresh is
// answered as the first time).
func TestFlowRepeatAnswersAsProcess(t *testing.T) {
	req := func() FlowRequest {
		return FlowRequest{Options: []FlowOption{
			{FID: 1, Priority: 10, BIDs: []uint16{2}, Selector: tsVoice},
			{FID: 2, Priority: 20, BIDs: []uint16{1, 2}, Selector: tsBulk},
			{FID: 3, Priority: 30, BIDs: []uint16{9}, Selector: tsBulk}, // 131 each time
		}, Summary: []uint16{4}} // 132 each time
	}
	ft := NewFlowTable(FlowConfig{})
	d := ft.Process(t0, hoa1, withRaw(req()), bidsOf(1, 2))
	if statuses(d.Results) != "1:0 2:0 3:131 4:132" || len(d.Changes) != 2 {
		t.Fatalf("first: %q %q", statuses(d.Results), kinds(d.Changes))
	}
	raw := rawOf(withRaw(req()))
	if ft.Same(hoa1, raw) {
		t.Fatal("an update that added flows is remembered: the same bytes may be decided otherwise next time")
	}
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	slow := ft.Process(t1, hoa1, withRaw(req()), bidsOf(1, 2))
	if len(slow.Changes) != 0 || !ft.Same(hoa1, raw) {
		t.Fatalf("refresh: changes %q, remembered %v", kinds(slow.Changes), ft.Same(hoa1, raw))
	}
	fast, before, ok := ft.Repeat(t2, hoa1, raw, bidsOf(1, 2))
	if !ok || !reflect.DeepEqual(fast, slow.Results) || !before.Equal(t1) {
		t.Fatalf("repeat: ok %v, %+v, want %+v, before %v", ok, fast, slow.Results, before)
	}
	fs := ft.Lookup(hoa1)
	if len(fs) != 2 || !fs[0].Refreshed.Equal(t2) || !fs[1].Refreshed.Equal(t2) || !fs[0].Registered.Equal(t0) {
		t.Fatalf("after repeat: %+v", fs)
	}
	ft.Unrefresh(hoa1, t2, before)
	if fs = ft.Lookup(hoa1); !fs[0].Refreshed.Equal(t1) || !fs[1].Refreshed.Equal(t1) {
		t.Fatalf("after unrefresh: %+v", fs)
	}
}

// What must not take the fast path: other bytes, a BID the decision asked
// about that came or went, flows changed by bindings or restored, and the
// home address's last binding gone.
func TestFlowRepeatDeclines(t *testing.T) {
	req := func(prio uint16) *FlowRequest {
		return withRaw(FlowRequest{Options: []FlowOption{{FID: 1, Priority: prio, BIDs: []uint16{2}, Selector: tsVoice}}})
	}
	setup := func(t *testing.T) *FlowTable {
		ft := NewFlowTable(FlowConfig{})
		ft.Process(t0, hoa1, req(10), bidsOf(1, 2))
		ft.Process(t0, hoa1, req(10), bidsOf(1, 2))
		if _, _, ok := ft.Repeat(t0, hoa1, req(10).Raw, bidsOf(1, 2)); !ok {
			t.Fatal("an unchanged refresh is not repeated")
		}
		return ft
	}
	for _, c := range []struct {
		name string
		do   func(ft *FlowTable) // between the remembered update and the repeat
		raw  []byte
		has  func(uint16) bool
	}{
		{name: "option changed", raw: req(11).Raw, has: bidsOf(1, 2)},
		{name: "no flow option", raw: nil, has: bidsOf(1, 2)},
		{name: "referenced BID gone", raw: req(10).Raw, has: bidsOf(1)},
		{name: "paths changed", raw: req(10).Raw, has: bidsOf(1, 2),
			do: func(ft *FlowTable) { ft.BindingsChanged(hoa1, bidsOf(1), true) }},
		{name: "restored", raw: req(10).Raw, has: bidsOf(1, 2),
			do: func(ft *FlowTable) { ft.Restore(hoa1, ft.Lookup(hoa1)) }},
		{name: "last binding gone", raw: req(10).Raw, has: bidsOf(1, 2),
			do: func(ft *FlowTable) { ft.BindingsChanged(hoa1, bidsOf(), false) }},
		{name: "modified by another update", raw: req(10).Raw, has: bidsOf(1, 2),
			do: func(ft *FlowTable) { ft.Process(t0, hoa1, req(12), bidsOf(1, 2)) }},
		{name: "modified by an update without raw bytes", raw: req(10).Raw, has: bidsOf(1, 2),
			do: func(ft *FlowTable) {
				ft.Process(t0, hoa1, &FlowRequest{Options: []FlowOption{{FID: 1, Priority: 12}}}, bidsOf(1, 2))
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ft := setup(t)
			if c.do != nil {
				c.do(ft)
			}
			if rs, _, ok := ft.Repeat(t0, hoa1, c.raw, c.has); ok {
				t.Fatalf("repeated: %q", statuses(rs))
			}
		})
	}
	// A BID the decision did not ask about may come and go.
	ft := setup(t)
	if _, _, ok := ft.Repeat(t0, hoa1, req(10).Raw, bidsOf(2, 3)); !ok {
		t.Fatal("an unreferenced BID stopped the repeat")
	}
}

// flowSpec builds a random request from a small space, so that the same
// request comes back often and the flows change now and then.
type flowSpec struct {
	opts []struct {
		fid, prio uint16
		bids      []uint16
		sel       int // 0 none, 1 voice, 2 bulk
	}
	summary []uint16
}

func (s *flowSpec) request() FlowRequest {
	var r FlowRequest
	for _, o := range s.opts {
		fo := FlowOption{FID: o.fid, Priority: o.prio, BIDs: o.bids}
		switch o.sel {
		case 1:
			fo.Selector = tsVoice
		case 2:
			fo.Selector = tsBulk
		}
		r.Options = append(r.Options, fo)
	}
	r.Summary = append(r.Summary, s.summary...)
	return r
}

func randomSpec(rng chooser) *flowSpec {
	s := &flowSpec{}
	for n := rng.IntN(4); n > 0; n-- {
		o := struct {
			fid, prio uint16
			bids      []uint16
			sel       int
		}{fid: uint16(1 + rng.IntN(4)), prio: uint16(1 + rng.IntN(4)), sel: rng.IntN(3)}
		if rng.IntN(4) > 0 {
			o.bids = []uint16{uint16(1 + rng.IntN(3))}
			if rng.IntN(3) == 0 {
				o.bids = append(o.bids, uint16(1+rng.IntN(3)))
			}
		}
		s.opts = append(s.opts, o)
	}
	if rng.IntN(3) == 0 {
		s.summary = []uint16{uint16(1 + rng.IntN(5))}
	}
	return s
}

func randomHas(rng chooser) []uint16 {
	var bids []uint16
	for b := uint16(1); b <= 3; b++ {
		if rng.IntN(4) > 0 {
			bids = append(bids, b)
		}
	}
	return bids
}

// chooser is a source of choices: math/rand for the test, the fuzzer's
// bytes for the fuzz target.
type chooser interface{ IntN(n int) int }

// fuzzBytes chooses by the fuzzer's bytes, then 0.
type fuzzBytes []byte

func (b *fuzzBytes) IntN(n int) int {
	if len(*b) == 0 {
		return 0
	}
	v := int((*b)[0])
	*b = (*b)[1:]
	return v % n
}

// Two tables side by side, one always deciding (Process without raw
// bytes), one trying Repeat first as the home agent does, fed the same
// random updates, binding changes and undos: every answer and every flow
// binding (Refreshed included) stays the same.
func TestFlowRepeatMatchesProcess(t *testing.T) {
	repeats := runTwins(t, rand.New(rand.NewPCG(11, 6089)), 20000)
	if repeats < 1000 {
		t.Fatalf("only %d repeats: the test does not exercise the fast path", repeats)
	}
	t.Logf("%d of 20000 steps repeated", repeats)
}

// FuzzFlowRepeat is TestFlowRepeatMatchesProcess with the fuzzer choosing.
func FuzzFlowRepeat(f *testing.F) {
	f.Add([]byte{5, 0, 0, 5, 0, 0, 5, 0, 0, 5, 0, 0})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0, 0, 0, 0, 19, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		src := fuzzBytes(in)
		runTwins(t, &src, len(in)/2)
	})
}

func runTwins(t *testing.T, rng chooser, steps int) (repeats int) {
	t.Helper()
	cfg := FlowConfig{MaxFlowsPerNode: 3}
	slow, fast := NewFlowTable(cfg), NewFlowTable(cfg)
	pool := []*flowSpec{randomSpec(rng), randomSpec(rng), randomSpec(rng)}
	has := []uint16{1, 2, 3}
	now := t0
	for step := 0; step < steps; step++ {
		now = now.Add(time.Second)
		switch k := rng.IntN(20); {
		case k == 0:
			has = randomHas(rng)
			a, b := slow.BindingsChanged(hoa1, bidsOf(has...), len(has) > 0), fast.BindingsChanged(hoa1, bidsOf(has...), len(has) > 0)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("step %d: bindings changed %q vs %q", step, kinds(a), kinds(b))
			}
			continue
		case k == 1:
			pool[rng.IntN(len(pool))] = randomSpec(rng)
		}
		spec := pool[rng.IntN(len(pool))]
		undo := rng.IntN(10) == 0
		prevSlow, prevFast := slow.Lookup(hoa1), fast.Lookup(hoa1)

		sreq := spec.request()
		want := slow.Process(now, hoa1, &sreq, bidsOf(has...))
		freq := spec.request()
		freq.Raw = rawOf(&freq)
		var got []FlowResult
		if rs, before, ok := fast.Repeat(now, hoa1, freq.Raw, bidsOf(has...)); ok {
			repeats++
			got = rs
			if undo {
				fast.Unrefresh(hoa1, now, before)
			}
		} else {
			got = fast.Process(now, hoa1, &freq, bidsOf(has...)).Results
			if undo {
				fast.Restore(hoa1, prevFast)
			}
		}
		if undo {
			slow.Restore(hoa1, prevSlow)
		}
		if !reflect.DeepEqual(got, want.Results) {
			t.Fatalf("step %d (%+v, has %v): answers %+v, want %+v", step, sreq, has, got, want.Results)
		}
		if a, b := slow.Lookup(hoa1), fast.Lookup(hoa1); !reflect.DeepEqual(a, b) {
			t.Fatalf("step %d: flows %+v, want %+v", step, b, a)
		}
	}
	return repeats
}
