package linkmon

import (
	"net/netip"
	"reflect"
	"testing"
)

var (
	coa1 = netip.MustParseAddr("2001:db8:a::10")
	coa2 = netip.MustParseAddr("2001:db8:a::11")
	ll   = netip.MustParseAddr("fe80::1")
)

func kinds(ev []Event) []string {
	var out []string
	for _, e := range ev {
		out = append(out, e.Kind.String()+" "+e.Address.String()+" "+e.Reason)
	}
	return out
}

func expect(t *testing.T, got []Event, want ...string) {
	t.Helper()
	if g := kinds(got); !reflect.DeepEqual(g, want) && !(len(g) == 0 && len(want) == 0) {
		t.Fatalf("events %q, want %q", g, want)
	}
}

func TestTrackerLifecycle(t *testing.T) {
	tr := NewTracker([]string{"eth0"})
	expect(t, tr.Addr(2, coa1, 0, 0, true)) // interface not known up yet
	expect(t, tr.Link(2, "eth0", true), "up 2001:db8:a::10 link up")
	expect(t, tr.Addr(2, ll, 0, 253, true)) // link-local: never a care-of address
	expect(t, tr.Addr(2, coa2, flagTentative, 0, true))
	expect(t, tr.Addr(2, coa2, 0, 0, true), "up 2001:db8:a::11 dad complete")
	expect(t, tr.Addr(2, coa2, flagDeprecated, 0, true), "down 2001:db8:a::11 deprecated")
	expect(t, tr.Link(2, "eth0", false), "down 2001:db8:a::10 link down")
	expect(t, tr.Addr(2, coa1, 0, 0, false)) // already down
	expect(t, tr.Addr(2, coa1, 0, 0, true))
	expect(t, tr.Link(2, "eth0", true), "up 2001:db8:a::10 link up")
	if u := tr.Usable(); len(u["eth0"]) != 1 || u["eth0"][0] != coa1 {
		t.Fatalf("usable %v", u)
	}
	expect(t, tr.LinkGone(2), "down 2001:db8:a::10 link removed")
	expect(t, tr.LinkGone(2))
}

func TestTrackerIgnoresUnwatched(t *testing.T) {
	tr := NewTracker([]string{"eth0"})
	expect(t, tr.Link(3, "eth1", true))
	expect(t, tr.Addr(3, coa1, 0, 0, true))
	// Renamed into the watch list: its addresses become usable.
	expect(t, tr.Link(3, "eth0", true), "up 2001:db8:a::10 link up")
}

func TestTrackerIPv4Ignored(t *testing.T) {
	tr := NewTracker(nil)
	tr.Link(2, "eth0", true)
	expect(t, tr.Addr(2, netip.MustParseAddr("192.0.2.1"), 0, 0, true))
}

// RFC 5555: an interface allowed IPv4 care-of addresses reports its IPv4
// addresses, private ones included (behind a NAT), never loopback or
// link-local ones; the others still ignore theirs.
func TestTrackerIPv4Allowed(t *testing.T) {
	tr := NewTracker([]string{"lte0", "wlan0"})
	tr.AllowIPv4("lte0")
	expect(t, tr.Link(3, "lte0", true))
	expect(t, tr.Link(4, "wlan0", true))
	expect(t, tr.Addr(3, netip.MustParseAddr("10.0.0.10"), 0, 0, true), "up 10.0.0.10 address added")
	expect(t, tr.Addr(3, netip.MustParseAddr("169.254.1.1"), 0, 0, true))
	expect(t, tr.Addr(4, netip.MustParseAddr("192.0.2.10"), 0, 0, true))
	expect(t, tr.Link(3, "lte0", false), "down 10.0.0.10 link down")
}
