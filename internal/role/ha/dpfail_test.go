package ha

import (
	"errors"
	"testing"

	"monami/wire"
)

var errFull = errors.New("table full")

// A first registration whose tunnel endpoint cannot be installed is
// answered 130 for the update and its BID, and leaves no binding, route
// or endpoint behind: nothing is acknowledged that cannot forward.
func TestDataPlaneFailureRefusesFirstRegistration(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(d *recordingDP)
	}{
		{"endpoint", func(d *recordingDP) { d.failEndpoint = errFull }},
		{"route", func(d *recordingDP) { d.failRoute = errFull }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := start(t)
			x.dp.mu.Lock()
			tc.set(x.dp)
			x.dp.mu.Unlock()
			ba := x.sendBU(coa1, 15, key, bid{1, coa1, 10})
			if ba.Status != wire.StatusInsufficientResources || ba.Lifetime != 0 || bidStatuses(ba) != "1:130 " {
				t.Fatalf("BA status %d lifetime %d BIDs %s, want 130, 0, 1:130", ba.Status, ba.Lifetime, bidStatuses(ba))
			}
			if b := x.bindings(); len(b) != 0 {
				t.Errorf("bindings after a refused registration: %+v", b)
			}
			if tun, ok := x.route(); ok {
				t.Errorf("route left behind: %v", tun)
			}
			x.dp.mu.Lock()
			n := len(x.dp.endpoints)
			x.dp.mu.Unlock()
			if n != 0 {
				t.Errorf("%d endpoints left behind", n)
			}
		})
	}
}

// A binding moving to a care-of address the data plane cannot reach
// stays where it was, and keeps forwarding there.
func TestDataPlaneFailureKeepsPreviousBinding(t *testing.T) {
	x := start(t)
	if ba := x.sendBU(coa1, 15, key, bid{1, coa1, 10}); ba.Status != wire.StatusAccepted {
		t.Fatal(ba.Status)
	}
	x.dp.mu.Lock()
	x.dp.failRoute = errFull
	x.dp.mu.Unlock()
	ba := x.sendBU(coa2, 15, key, bid{1, coa2, 10})
	if ba.Status != wire.StatusInsufficientResources {
		t.Fatalf("BA status %d, want 130", ba.Status)
	}
	b := x.bindings()
	if len(b) != 1 || b[0].CareOfAddress != coa1.String() {
		t.Fatalf("bindings %+v, want the one at %v", b, coa1)
	}
	if tun, ok := x.route(); !ok || tun.Remote != coa1 {
		t.Errorf("route %v %v, want to %v", tun, ok, coa1)
	}
	x.dp.mu.Lock()
	_, old := x.dp.endpoints[coa1]
	_, stray := x.dp.endpoints[coa2]
	x.dp.failRoute = nil
	x.dp.mu.Unlock()
	if !old || stray {
		t.Errorf("endpoints: %v kept %v, %v added %v", coa1, old, coa2, stray)
	}
	if ba := x.sendBU(coa2, 15, key, bid{1, coa2, 10}); ba.Status != wire.StatusAccepted {
		t.Fatalf("after the data plane recovered: status %d", ba.Status)
	}
	if tun, _ := x.route(); tun.Remote != coa2 {
		t.Errorf("route to %v after recovery, want %v", tun.Remote, coa2)
	}
}
