package binding_test

import (
	"fmt"
	"net/netip"
	"time"

	"monami/internal/binding"
)

// A home agent role feeds each authenticated Binding Update to the cache,
// applies the returned changes to its data plane and sends the BA.
func ExampleBindingCache_ProcessBindingUpdate() {
	now := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	c := binding.NewBindingCache(binding.Config{
		HomePrefixes: []binding.HomePrefix{{Prefix: netip.MustParsePrefix("2001:db8:1::/64")}},
	}, now)
	d := c.ProcessBindingUpdate(now, &binding.BindingUpdateRequest{
		Source:   netip.MustParseAddr("2001:db8:a::1"),
		HoA:      netip.MustParseAddr("2001:db8:1::1"),
		Sequence: 1, Ack: true, Home: true, Lifetime: 150,
		BIDs: []binding.BIDOption{
			{BID: 1, CoA: netip.MustParseAddr("2001:db8:a::1"), Priority: 2},
			{BID: 2, CoA: netip.MustParseAddr("fe80::1")},
		},
		Auth: binding.Auth{Result: binding.AuthIPsec},
	})
	fmt.Println("BA:", d.Status, "lifetime", d.GrantedLifetime())
	for _, b := range d.BIDs {
		fmt.Println("  BID", b.BID, b.Status)
	}
	for _, ch := range d.Changes {
		fmt.Println("change:", ch.Kind, ch.Binding.BID, ch.Binding.CoA)
	}
	// Output:
	// BA: MCOA NOTCOMPLETE lifetime 10m0s
	//   BID 1 Binding Update accepted
	//   BID 2 Invalid Care-of Address
	// change: added 1 2001:db8:a::1
	// change: primary 1 2001:db8:a::1
}

// A mobile node role reports link events to the list, sends what Next
// returns, feeds BAs back and sleeps until Deadline.
func ExampleBindingUpdateList() {
	now := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	ha, hoa := netip.MustParseAddr("2001:db8:1::ffff"), netip.MustParseAddr("2001:db8:1::1")
	l := binding.NewBindingUpdateList(binding.BULConfig{Lifetime: 10 * time.Minute})
	l.SetCareOfAddress(now, binding.CareOfBinding{HA: ha, HoA: hoa, BID: 1, CoA: netip.MustParseAddr("2001:db8:a::1")})
	l.SetCareOfAddress(now, binding.CareOfBinding{HA: ha, HoA: hoa, BID: 2, CoA: netip.MustParseAddr("2001:db8:b::1")})
	for _, a := range l.Next(now) {
		fmt.Println(a.Kind, "seq", a.BU.Sequence, "BIDs", len(a.BU.BIDs), "lifetime", a.BU.Lifetime)
		ack := &binding.BindingAck{HA: ha, HoA: hoa, Sequence: a.BU.Sequence, Lifetime: a.BU.Lifetime,
			BIDs: []binding.BIDStatus{{BID: 1}, {BID: 2}}}
		for _, r := range l.HandleBA(now.Add(50*time.Millisecond), ack) {
			fmt.Println(r.Kind, "BID", r.Binding.BID, r.Lifetime)
		}
	}
	d, _ := l.Deadline()
	fmt.Println("next wake-up in", d.Sub(now))
	// Output:
	// send-bu seq 0 BIDs 2 lifetime 150
	// registered BID 1 10m0s
	// registered BID 2 10m0s
	// next wake-up in 8m0s
}
