package dataplane

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"monami/internal/testenv"
)

// TestEndpointCounters: only packets the ingress check admits count, on
// their endpoint, with both backends.
func TestEndpointCounters(t *testing.T) {
	testenv.RequireRoot(t)
	for i, bc := range backendCases {
		t.Run(bc.name, func(t *testing.T) {
			n := upTestNet(t, fmt.Sprintf("mdpec%d", i))
			_, dpB := setupTunnel(t, n, bc)
			ec, ok := dpB.(EndpointCounter)
			if !ok {
				t.Fatalf("%T has no EndpointCounters", dpB)
			}
			key := EndpointKey{addrB, addrA}
			ln := listenUDP(t, n.b, addrSvc)
			// Warm up the neighbour caches and sockets first.
			warm := false
			for i := 0; i < 10 && !warm; i++ {
				sendTunnelled(t, n.a, addrA, addrB, bc.encap, addrS, addrSvc, ln.port, "warm")
				warm = len(ln.collect(200*time.Millisecond)) > 0
			}
			if !warm {
				t.Fatal("no tunnelled packet delivered in 10 tries")
			}
			before, err := ec.EndpointCounters()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := before[key]; !ok {
				t.Fatalf("no counter for %v in %v", key, before)
			}
			sendTunnelled(t, n.a, addrEvil, addrB, bc.encap, addrS, addrSvc, ln.port, "evil-outer")
			sendTunnelled(t, n.a, addrA, addrB, bc.encap, netip.MustParseAddr("2001:db8:99::1"), addrSvc, ln.port, "evil-inner")
			for range 3 {
				sendTunnelled(t, n.a, addrA, addrB, bc.encap, addrS, addrSvc, ln.port, "good")
			}
			if got := ln.collect(time.Second); len(got) != 3 {
				t.Fatalf("delivered %q", got)
			}
			after, err := ec.EndpointCounters()
			if err != nil {
				t.Fatal(err)
			}
			if d := after[key] - before[key]; d != 3 {
				t.Errorf("endpoint %v counted +%d, want +3 (admitted only)", key, d)
			}
			if len(after) != len(before) {
				t.Errorf("endpoints %v, were %v", after, before)
			}
		})
	}
}
