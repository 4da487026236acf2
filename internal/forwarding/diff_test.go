package forwarding

import "testing"

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
