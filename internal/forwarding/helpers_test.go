package forwarding

import (
	"net/netip"
	"testing"
	"time"
)

var (
	t0  = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	hoa = netip.MustParseAddr("2001:db8:1::10")
	cn  = netip.MustParseAddr("2001:db8:99::1")
)

func coa(i int) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xa, byte(i), 14: 0, 15: 1})
}

// twoPaths is a mobile node with wlan (BID 1, preferred, weight 3) and lte
// (BID 2, weight 1).
func twoPaths() []Binding {
	return []Binding{
		{HoA: hoa, ID: 1, CoA: coa(1), Priority: 10, Weight: 3, Usable: true},
		{HoA: hoa, ID: 2, CoA: coa(2), Priority: 20, Weight: 1, Usable: true, Encap: EncapUDP, Port: 4191},
	}
}

func udpKey(sport, dport uint16) *FlowKey {
	return &FlowKey{Src: cn, Dst: hoa, NextHeader: 17, SrcPort: sport, DstPort: dport, HasPorts: true}
}

func ids(ps ...PathID) []PathID { return ps }

func mustRoute(t *testing.T, tb *Table, k *FlowKey, want []PathID) {
	t.Helper()
	got := tb.Route(hoa, k, nil)
	if len(got) != len(want) {
		t.Fatalf("route %+v = %v, want %v", *k, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("route %+v = %v, want %v", *k, got, want)
		}
	}
}

func setUsable(bs []Binding, id PathID, u bool) []Binding {
	out := append([]Binding(nil), bs...)
	for i := range out {
		if out[i].ID == id {
			out[i].Usable = u
		}
	}
	return out
}
