package binding

import (
	"encoding/binary"
	"testing"

	"monami/wire"
)

// FuzzFlowTable drives the flow table with Binding Updates and binding
// changes decoded from the input: a result per option in order, no FID
// twice in a home address, no two flows with one FID-PRI, Active a subset
// of BIDs, and Len the sum of the lists.
func FuzzFlowTable(f *testing.F) {
	f.Add([]byte{1, 0, 1, 0, 10, 3, 1, 0, 2, 0, 20, 3, 2, 0, 1, 0, 10, 0, 3, 1, 2, 0})
	f.Add([]byte{0, 0, 5, 0, 5, 1, 0, 0, 5, 0, 5, 2, 4, 0, 5})
	f.Fuzz(func(t *testing.T, in []byte) {
		ft := NewFlowTable(FlowConfig{MaxFlowsPerNode: 4})
		live := map[uint16]bool{1: true, 2: true}
		has := func(b uint16) bool { return live[b] }
		for len(in) >= 6 {
			op, hoa := in[0]%4, hoa1
			if in[1]&1 == 1 {
				hoa = hoa2
			}
			fid, prio, sub := binary.BigEndian.Uint16(in[2:]), max(uint16(in[4]), 1), in[5]
			in = in[6:]
			switch op {
			case 0, 1: // a Flow Identification option, with sub-options by the bits of sub
				o := FlowOption{FID: fid, Priority: prio}
				if sub&1 != 0 {
					o.BIDs = []uint16{uint16(sub>>4) % 4}
				}
				if sub&2 != 0 {
					o.Selector = tsVoice
				}
				if sub&4 != 0 {
					o.Selector = wire.UnknownTrafficSelector{Format: 9}
				}
				req := &FlowRequest{Options: []FlowOption{o}}
				if op == 1 {
					req.Summary = []uint16{fid + 1}
				}
				d := ft.Process(t0, hoa, req, has)
				if len(d.Results) < 1 || d.Results[0].FID != fid {
					t.Fatalf("results %+v for FID %d", d.Results, fid)
				}
			case 2: // a binding comes or goes
				b := uint16(sub % 4)
				live[b] = !live[b]
				any := false
				for _, v := range live {
					any = any || v
				}
				ft.BindingsChanged(hoa, has, any)
			case 3:
				ft.Process(t0, hoa, &FlowRequest{Summary: []uint16{fid}}, has)
			}
			checkFlowInvariants(t, ft)
		}
	})
}

func checkFlowInvariants(t *testing.T, ft *FlowTable) {
	t.Helper()
	n := 0
	for hoa, fs := range ft.nodes {
		fids, prios := map[uint16]bool{}, map[uint16]bool{}
		for _, f := range fs {
			if f.HoA != hoa || fids[f.FID] || prios[f.Priority] {
				t.Fatalf("flow %+v repeats a FID or FID-PRI of %v", f, hoa)
			}
			fids[f.FID], prios[f.Priority] = true, true
			for _, a := range f.Active {
				found := false
				for _, b := range f.BIDs {
					found = found || a == b
				}
				if !found {
					t.Fatalf("active BID %d not referenced by %+v", a, f)
				}
			}
		}
		n += len(fs)
	}
	if n != ft.Len() {
		t.Fatalf("Len %d, lists hold %d", ft.Len(), n)
	}
}
