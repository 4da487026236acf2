package dataplane

import (
	"net/netip"
	"testing"
)

// TestLookupRouteOrder: the userspace backend must pick the route the
// kernel picked when it sent the packet into the TUN device: longest
// destination first, then longest source (IPv6 subtrees).
func TestLookupRouteOrder(t *testing.T) {
	tbl := newRouteTable()
	mk := func(dst, src string) Selector {
		s := Selector{Dst: netip.MustParsePrefix(dst)}
		if src != "" {
			s.Src = netip.MustParsePrefix(src)
		}
		tbl.put(&userParent{sel: s})
		return s
	}
	def := mk("::/0", "")
	homeDef := mk("::/0", "2001:db8:a::/64")
	homeHost := mk("::/0", "2001:db8:a::1/128")
	cn := mk("2001:db8:c::/48", "")
	cnHost := mk("2001:db8:c::5/128", "")
	cnHostFromHome := mk("2001:db8:c::6/128", "2001:db8:a::1/128")
	mk("2001:db8:c::6/128", "")
	for _, tc := range []struct {
		src, dst string
		want     Selector
	}{
		{"2001:db8:5::1", "2001:db8:9::1", def},
		{"2001:db8:a::2", "2001:db8:9::1", homeDef},
		{"2001:db8:a::1", "2001:db8:9::1", homeHost},
		{"2001:db8:a::1", "2001:db8:c::1", cn},
		{"2001:db8:a::1", "2001:db8:c::5", cnHost},
		{"2001:db8:a::1", "2001:db8:c::6", cnHostFromHome},
		{"2001:db8:a::2", "2001:db8:c::6", Selector{Dst: netip.MustParsePrefix("2001:db8:c::6/128")}},
	} {
		r := tbl.lookup(netip.MustParseAddr(tc.src), netip.MustParseAddr(tc.dst))
		if r == nil || r.sel != tc.want {
			t.Errorf("%s -> %s: got %v, want %v", tc.src, tc.dst, r, tc.want)
		}
	}
	tbl.del(def)
	if r := tbl.lookup(netip.MustParseAddr("2001:db8:5::1"), netip.MustParseAddr("2001:db8:9::1")); r != nil {
		t.Errorf("no route expected, got %v", r.sel)
	}
}
