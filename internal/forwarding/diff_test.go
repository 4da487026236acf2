package forwarding

import (
	"testing"
	"time"
)

func TestDiff(t *testing.T) {
	fb := func(fid uint16, port uint16, bid PathID) FlowBinding {
		return FlowBinding{HoA: hoa, FID: fid, Priority: fid, BIDs: ids(bid), Selector: Match{DstPort: Exact(port)}}
	}
	in := Input{Bindings: twoPaths(), FlowBindings: []FlowBinding{fb(1, 80, 1), fb(2, 443, 2), fb(3, 22, 1)}}
	a := Compute(t0, in)
	if d := Diff(nil, a); len(d) != 4 || d[0].Op != Add {
		t.Fatalf("from nothing: %v", d)
	}
	if d := Diff(a, nil); len(d) != 4 || d[0].Op != Remove {
		t.Fatalf("to nothing: %v", d)
	}
	// Remove FID 3, move FID 2 to BID 1, add FID 4.
	in.FlowBindings = []FlowBinding{fb(1, 80, 1), fb(2, 443, 1), fb(4, 53, 2)}
	b := Compute(t0, in)
	d := Diff(a, b)
	want := []struct {
		op   Op
		port uint16
	}{{Remove, 22}, {Update, 443}, {Add, 53}}
	if len(d) != len(want) {
		t.Fatalf("got %d changes, want %d: %+v", len(d), len(want), d)
	}
	for i, w := range want {
		if d[i].Op != w.op || d[i].Entry().Selector.DstPort.Lo != w.port {
			t.Errorf("change %d: %s %s, want %s dport=%d", i, d[i].Op, d[i].Entry().Selector, w.op, w.port)
		}
	}
	if d[1].Old.Paths[0].ID != 2 || d[1].New.Paths[0].ID != 1 {
		t.Errorf("update carries %v -> %v", d[1].Old.Paths, d[1].New.Paths)
	}
}

// TestDiffOnlyWhatUsesAPath: a path going down changes the entries that
// use it, not the others.
func TestDiffOnlyWhatUsesAPath(t *testing.T) {
	in := Input{Bindings: twoPaths()}
	for i := range 100 {
		in.FlowBindings = append(in.FlowBindings, FlowBinding{HoA: hoa, FID: uint16(i + 1), Priority: uint16(i + 1),
			BIDs: ids(PathID(i%2 + 1)), Selector: Match{DstPort: Exact(uint16(1000 + i))}})
	}
	a := Compute(t0, in)
	in.Bindings = setUsable(in.Bindings, 2, false)
	d := Diff(a, Compute(t0, in))
	// 50 flow bindings on BID 2, plus the default (which lists every path).
	if len(d) != 51 {
		t.Fatalf("%d changes, want 51", len(d))
	}
	for _, c := range d {
		if c.Op != Update {
			t.Fatalf("unexpected %s", c.Op)
		}
	}
}

// TestWithRecomputesOneHome: With changes one home address and shares the
// rest; Diff reports only that home's changes, and the result equals a
// full Compute.
func TestWithRecomputesOneHome(t *testing.T) {
	other := coa(200)
	in := Input{Bindings: append(twoPaths(), Binding{HoA: other, ID: 1, CoA: coa(9), Usable: true, Expires: t0.Add(time.Hour)})}
	in.FlowBindings = []FlowBinding{
		{HoA: hoa, FID: 1, Priority: 1, BIDs: ids(2), Selector: Match{DstPort: Exact[uint16](80)}},
		{HoA: other, FID: 1, Priority: 1, BIDs: ids(1), Selector: Match{DstPort: Exact[uint16](80)}},
	}
	a := Compute(t0, in)
	in.Bindings = setUsable(in.Bindings, 2, false)
	in.FlowBindings = append(in.FlowBindings, FlowBinding{HoA: hoa, FID: 2, Priority: 2, BIDs: ids(1), Selector: Match{DstPort: Exact[uint16](53)}})
	b := a.With(t0, hoa, in)
	if b.homes[other] != a.homes[other] {
		t.Error("With copied an unchanged home address")
	}
	d := Diff(a, b)
	if len(d) != 3 { // default and FID 1 updated, FID 2 added
		t.Fatalf("%d changes: %+v", len(d), d)
	}
	for _, c := range d {
		if c.Entry().HoA != hoa {
			t.Errorf("change of %s", c.Entry().HoA)
		}
	}
	if full := Compute(t0, in); len(Diff(full, b)) != 0 || full.Len() != b.Len() || !b.NextChange().Equal(t0.Add(time.Hour)) {
		t.Errorf("With differs from Compute: %v, len %d vs %d, next %v", Diff(full, b), full.Len(), b.Len(), b.NextChange())
	}
	// A home address whose bindings are all gone loses its entries.
	in.Bindings = in.Bindings[2:]
	c := b.With(t0, hoa, in)
	if c.Len() != 2 || len(c.Entries(hoa)) != 0 || len(Diff(b, c)) != 3 {
		t.Errorf("after the last binding went: len %d, diff %d", c.Len(), len(Diff(b, c)))
	}
}

// TestUpdateInPlace: Update gives the changes Diff would and keeps
// NextChange right when the home address holding it changes.
func TestUpdateInPlace(t *testing.T) {
	other := coa(200)
	bs := append(twoPaths(), Binding{HoA: other, ID: 1, CoA: coa(9), Usable: true, Expires: t0.Add(time.Hour)})
	bs[0].Expires = t0.Add(time.Minute)
	in := Input{Bindings: bs, FlowBindings: []FlowBinding{{HoA: hoa, FID: 1, Priority: 1, BIDs: ids(2), Selector: Match{DstPort: Exact[uint16](80)}}}}
	tb := Compute(t0, in)
	if !tb.NextChange().Equal(t0.Add(time.Minute)) {
		t.Fatalf("NextChange %v", tb.NextChange())
	}
	in.Bindings[0].Expires = time.Time{}
	in.Bindings = setUsable(in.Bindings, 2, false)
	want := Diff(tb, tb.With(t0, hoa, in))
	got := tb.Update(t0, hoa, in)
	if len(got) != 2 || len(got) != len(want) {
		t.Fatalf("Update: %d changes, Diff: %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Op != want[i].Op || !got[i].Entry().Equal(want[i].Entry()) {
			t.Errorf("change %d: %s %s vs %s %s", i, got[i].Op, got[i].Entry().Selector, want[i].Op, want[i].Entry().Selector)
		}
	}
	if !tb.NextChange().Equal(t0.Add(time.Hour)) {
		t.Errorf("NextChange %v after the earliest expiry went, want t0+1h", tb.NextChange())
	}
	if d := Diff(Compute(t0, in), tb); len(d) != 0 {
		t.Errorf("updated table differs from a full Compute: %+v", d)
	}
}
