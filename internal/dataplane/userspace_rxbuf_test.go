package dataplane

import (
	"fmt"
	"testing"
	"time"

	"monami/internal/testenv"
)

// A receive loop that ends hands its buffers to the next socket's loop:
// a link coming back must not wait for 8 MiB to be allocated.
func TestRxFreeReusesBuffers(t *testing.T) {
	var f rxFree
	a := f.get(false)
	a.ms[0].Buffers[0] = a.bufs[0][tunOffset : tunOffset+10]
	a.ms[0].N = 10
	a.out = append(a.out, a.bufs[0])
	f.put(a)
	if b := f.get(true); b == a || !b.gro || len(b.pool) == 0 {
		t.Fatalf("a GRO socket got the plain set or no pool (gro=%v, pool=%d)", b.gro, len(b.pool))
	}
	b := f.get(false)
	if b != a {
		t.Fatal("the next plain socket allocated new buffers instead of reusing the idle set")
	}
	if len(b.ms[0].Buffers[0]) != 65535 || b.ms[0].N != 0 || len(b.out) != 0 {
		t.Fatalf("reused set not reset: buffer %d octets, N %d, out %d", len(b.ms[0].Buffers[0]), b.ms[0].N, len(b.out))
	}
	if allocs := testing.AllocsPerRun(10, func() { f.put(f.get(false)) }); allocs != 0 {
		t.Fatalf("get/put of an idle set allocates %.0f times", allocs)
	}
	for range rxFreeMax + 2 {
		f.put(newRxBuffers(false))
	}
	if len(f.sets) != rxFreeMax {
		t.Fatalf("%d idle sets kept, want at most %d", len(f.sets), rxFreeMax)
	}
}

// TestUserspaceSocketReopen is a care-of link going down and coming back
// at the tunnel entry a: its route and endpoint go, so the socket of its
// address closes; they come back, the socket opens again. The new
// socket's receive loop takes the buffers of the one that ended (no new
// set allocated) and traffic passes both ways at once.
func TestUserspaceSocketReopen(t *testing.T) {
	testenv.RequireRoot(t)
	for i, bc := range backendCases {
		if bc.backend != BackendUserspace {
			continue
		}
		t.Run(bc.name, func(t *testing.T) {
			n := upTestNet(t, fmt.Sprintf("ufrx%d", i))
			dpA, _ := setupTunnel(t, n, bc)
			ua := dpA.(*userDP)
			udpEcho(t, n.b, addrSvc, n.a, addrAHome)
			made, _ := ua.rxFree.counts()
			route := Route{Selector: Selector{Dst: prefSvc}, Tunnel: Tunnel{Local: addrA, Remote: addrB, Encap: bc.encap}}
			endpoint := Endpoint{Local: addrA, Peer: addrB, Encap: bc.encap}
			for flap := range 3 {
				if err := dpA.DelRoute(route.Selector); err != nil {
					t.Fatal(err)
				}
				if err := dpA.DelEndpoint(addrA, addrB, bc.encap); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(5 * time.Second)
				for _, idle := ua.rxFree.counts(); idle == 0; _, idle = ua.rxFree.counts() {
					if time.Now().After(deadline) {
						t.Fatalf("flap %d: the closed socket's receive loop did not end", flap)
					}
					time.Sleep(time.Millisecond)
				}
				if err := dpA.AddEndpoint(endpoint); err != nil {
					t.Fatal(err)
				}
				if err := dpA.AddRoute(route); err != nil {
					t.Fatal(err)
				}
				udpEcho(t, n.b, addrSvc, n.a, addrAHome)
				if m, _ := ua.rxFree.counts(); m != made {
					t.Fatalf("flap %d: %d receive buffer sets allocated, want still %d: the reopened socket did not reuse the idle set", flap, m, made)
				}
			}
		})
	}
}
