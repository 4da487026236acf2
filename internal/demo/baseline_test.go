package demo

import (
	"context"
	"testing"
	"time"

	"monami/internal/testenv"
)

// TestMPTCPBaseline: on the demo network without monami, one Linux MPTCP
// connection uses both links (two subflows, bytes on each interface) and
// beats the best single TCP connection; every figure is there.
func TestMPTCPBaseline(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "ip")
	b, err := RunBaseline(context.Background(), "mdm", BaselineOptions{
		Congestion: CUBIC, Duration: 5 * time.Second, Warmup: 2 * time.Second, Progress: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", b)
	best := 0.0
	for _, a := range accessLinks {
		r := b.SingleTCP[a.ifname]
		if r.Mbps <= 0 || r.Congestion != CUBIC {
			t.Errorf("single TCP over %s: %+v", a.ifname, r)
		}
		best = max(best, r.Mbps)
		// The single flow crossed its own link only.
		for _, o := range accessLinks {
			if o.ifname != a.ifname && r.BytesPerLink[o.ifname] > r.BytesPerLink[a.ifname]/10 {
				t.Errorf("single TCP over %s: bytes per link %v", a.ifname, r.BytesPerLink)
			}
		}
	}
	m := b.MPTCP
	if m.Subflows != 2 || m.Congestion != CUBIC {
		t.Errorf("MPTCP: %+v, want 2 subflows and cubic", m)
	}
	for _, a := range accessLinks {
		if m.BytesPerLink[a.ifname] < 1<<20 {
			t.Errorf("MPTCP carried %d bytes on %s, want both links used", m.BytesPerLink[a.ifname], a.ifname)
		}
	}
	if m.Mbps <= best*1.1 {
		t.Errorf("MPTCP %.1f Mbit/s, want above the best single link (%.1f) by 10%%", m.Mbps, best)
	}
}
