package ha

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"monami/internal/dataplane"
)

// arrivals holds the per-endpoint receive counters a test feeds a
// recordingDP (none: an empty map, as a data plane without traffic).
var arrivals sync.Map // *recordingDP -> map[dataplane.EndpointKey]*atomic.Uint64

// EndpointCounters implements dataplane.EndpointCounter for the tests.
func (d *recordingDP) EndpointCounters() (map[dataplane.EndpointKey]uint64, error) {
	out := map[dataplane.EndpointKey]uint64{}
	if v, ok := arrivals.Load(d); ok {
		for k, n := range v.(map[dataplane.EndpointKey]*atomic.Uint64) {
			out[k] = n.Load()
		}
	}
	return out, nil
}

// The home agent moves a home address's downlink off a path that went
// silent, to its next binding, without any Binding Update, and back to the
// preferred binding when traffic arrives on it again.
func TestDownlinkLeavesASilentPath(t *testing.T) {
	x := start(t)
	ctr := map[dataplane.EndpointKey]*atomic.Uint64{
		{Local: haAddr, Peer: coa1}: new(atomic.Uint64),
		{Local: haAddr, Peer: coa2}: new(atomic.Uint64),
	}
	arrivals.Store(x.dp, ctr)
	defer arrivals.Delete(x.dp)
	x.sendBU(coa1, 60, key, bid{1, coa1, 10}, bid{2, coa2, 20})
	if tun, ok := x.route(); !ok || tun.Remote != coa1 {
		t.Fatalf("route %+v %v: want the preferred binding", tun, ok)
	}
	// Traffic arrives on coa1's path every 2 ms while flowing is set.
	var flowing atomic.Bool
	flowing.Store(true)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if flowing.Load() {
				ctr[dataplane.EndpointKey{Local: haAddr, Peer: coa1}].Add(1)
			}
		}
	}()
	waitRoute := func(want string, coa netip.Addr) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < 3*time.Second {
			if tun, ok := x.route(); ok && tun.Remote == coa {
				return time.Since(start)
			}
			time.Sleep(5 * time.Millisecond)
		}
		tun, _ := x.route()
		t.Fatalf("%s: route %+v after 3 s, want %v", want, tun, coa)
		return 0
	}
	time.Sleep(400 * time.Millisecond)
	if tun, _ := x.route(); tun.Remote != coa1 {
		t.Fatalf("route moved to %v while traffic arrives on the preferred path", tun.Remote)
	}
	flowing.Store(false) // coa1's path falls silent; nothing says so
	d := waitRoute("silent preferred path", coa2)
	t.Logf("downlink left the silent path after %v", d)
	var views []PathView
	if v, err := x.h.Snapshot(t.Context(), "paths"); err == nil {
		views = v.([]PathView)
	}
	if len(views) != 2 || views[0].CareOfAddress != coa1 || views[0].State != "down" {
		t.Errorf("paths topic %+v, want coa1 down", views)
	}
	// Binding Updates move the preferred binding away from the dead path
	// and back to it: the route does not stay on the dead path.
	x.sendBU(coa2, 60, key, bid{1, coa1, 30}, bid{2, coa2, 20})
	x.sendBU(coa2, 60, key, bid{1, coa1, 10}, bid{2, coa2, 20})
	waitRoute("preferred binding of a dead path registered again", coa2)
	time.Sleep(100 * time.Millisecond)
	if tun, _ := x.route(); tun.Remote != coa2 {
		t.Errorf("route went back to %v, a dead path", tun.Remote)
	}
	flowing.Store(true)
	waitRoute("traffic back on the preferred path", coa1)
}
