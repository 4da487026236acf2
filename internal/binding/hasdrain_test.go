package binding

import (
	"net/netip"
	"testing"
	"time"
)

func TestDrainRetransmitsUntilAcknowledged(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a, b := netip.MustParseAddr("2001:db8:1::10"), netip.MustParseAddr("2001:db8:1::20")
	ha2 := netip.MustParseAddr("2001:db8:1::12")
	d := NewDrain(t0, []netip.Addr{ha2}, []netip.Addr{b, a})
	if got := d.Due(t0); len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("first Due = %v, want both, sorted", got)
	}
	if got := d.Due(t0.Add(999 * time.Millisecond)); len(got) != 0 {
		t.Fatalf("Due before INITIAL_BINDACK_TIMEOUT = %v", got)
	}
	if !d.Acknowledged(a) || d.Acknowledged(a) {
		t.Fatal("Acknowledged: want true once, then false")
	}
	// b: retransmitted after 1, 2, 4 ... 32 s, then every 32 s.
	var at []time.Duration
	now := t0
	for i := 0; i < 9; i++ {
		next, ok := d.Deadline()
		if !ok {
			t.Fatal("no deadline while b is pending")
		}
		now = next
		if got := d.Due(now); len(got) != 1 || got[0] != b {
			t.Fatalf("Due at %v = %v", now.Sub(t0), got)
		}
		at = append(at, now.Sub(t0))
	}
	want := []time.Duration{1, 3, 7, 15, 31, 63, 95, 127, 159}
	for i := range want {
		if at[i] != want[i]*time.Second {
			t.Fatalf("retransmissions at %v, want %v s", at, want)
		}
	}
	if p := d.Pending(); len(p) != 1 || p[0].HoA != b || p[0].Sent != 10 {
		t.Fatalf("Pending = %+v", p)
	}
	d.Acknowledged(b)
	if _, ok := d.Deadline(); ok {
		t.Fatal("deadline with nothing pending")
	}
}

func TestDrainRefusesOnlyNewRegistrations(t *testing.T) {
	d := NewDrain(time.Unix(0, 0), nil, nil)
	for _, c := range []struct {
		registered bool
		lifetime   uint16
		refused    bool
	}{{false, 10, true}, {true, 10, false}, {true, 0, false}, {false, 0, false}} {
		if got := d.Refuses(c.registered, c.lifetime); got != c.refused {
			t.Errorf("Refuses(registered %v, lifetime %d) = %v", c.registered, c.lifetime, got)
		}
	}
}

func TestChooseHomeAgent(t *testing.T) {
	p := netip.MustParseAddr
	cur := p("2001:db8:1::11")
	for _, c := range []struct {
		name   string
		listed []netip.Addr
		tried  []netip.Addr
		want   netip.Addr
	}{
		{"first", []netip.Addr{p("2001:db8:1::12"), p("2001:db8:1::13")}, nil, p("2001:db8:1::12")},
		{"skips the current one", []netip.Addr{cur, p("2001:db8:1::13")}, nil, p("2001:db8:1::13")},
		{"skips a tried one", []netip.Addr{p("2001:db8:1::12"), p("2001:db8:1::13")}, []netip.Addr{p("2001:db8:1::12")}, p("2001:db8:1::13")},
		{"skips unusable", []netip.Addr{p("::"), p("fe80::1"), p("ff02::2"), p("::ffff:192.0.2.1"), p("2001:db8:1::14")}, nil, p("2001:db8:1::14")},
		{"none", []netip.Addr{cur}, nil, netip.Addr{}},
		{"empty: discovery, not done", nil, nil, netip.Addr{}},
	} {
		got, ok := ChooseHomeAgent(c.listed, cur, c.tried)
		if got != c.want || ok != c.want.IsValid() {
			t.Errorf("%s: %v %v, want %v", c.name, got, ok, c.want)
		}
	}
}

// RFC 5142 section 5 in the cache: while draining, a registered home
// address refreshes and deregisters; an unregistered one is refused 129.
func TestCacheRefusesNewRegistrationsWhileDraining(t *testing.T) {
	c := newTestCache(nil)
	mustAccept(t, c, t0, bu(1, bid(1, coaA)))
	c.RefuseNewRegistrations(true)
	mustAccept(t, c, t0.Add(time.Second), bu(2, bid(1, coaA)))
	r := bu(1, bid(1, coaB))
	r.HoA = hoa2
	if d := c.ProcessBindingUpdate(t0, r); d.Status != stAdministrativelyProhib || !d.SendAck {
		t.Fatalf("new home address while draining: status %v ack %v (%s)", d.Status, d.SendAck, d.Reason)
	}
	dereg := bu(3, bid(1, coaA))
	dereg.Lifetime = 0
	mustAccept(t, c, t0.Add(2*time.Second), dereg)
	if d := c.ProcessBindingUpdate(t0.Add(3*time.Second), bu(4, bid(1, coaA))); d.Status != stAdministrativelyProhib {
		t.Fatalf("re-registration after deregistering while draining: status %v", d.Status)
	}
	c.RefuseNewRegistrations(false)
	mustAccept(t, c, t0.Add(4*time.Second), bu(5, bid(1, coaA)))
}

// Forget drops a home agent's entries without a Binding Update (one that
// refused the registration holds nothing to deregister).
func TestBULForget(t *testing.T) {
	l := NewBindingUpdateList(BULConfig{})
	ha2 := netip.MustParseAddr("2001:db8:1::12")
	l.SetCareOfAddress(t0, CareOfBinding{HA: haAddr, HoA: hoa1, BID: 1, CoA: coaA})
	l.SetCareOfAddress(t0, CareOfBinding{HA: ha2, HoA: hoa1, BID: 1, CoA: coaA})
	l.Forget(ha2, hoa1)
	es := l.Entries()
	if len(es) != 1 || es[0].HA != haAddr {
		t.Fatalf("entries after Forget: %+v", es)
	}
	for _, a := range l.Next(t0) {
		if a.BU != nil && a.BU.HA == ha2 {
			t.Fatalf("a Binding Update to the forgotten home agent: %+v", a.BU)
		}
	}
}
