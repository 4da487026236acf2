package lab

import (
	"testing"
	"time"
)

func TestParseHostStat(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  100 5 50 1000 7 3 2 1 40 4\ncpu0 50 2 25 500 3 1 1 0 20 2\n"
	busy, steal := ParseHostStat(stat)
	if want := 160 * time.Second / ClockTicks; busy != want {
		t.Errorf("busy %v, want %v (user+nice+system+irq+softirq, guest already in user)", busy, want)
	}
	if want := 1 * time.Second / ClockTicks; steal != want {
		t.Errorf("steal %v, want %v", steal, want)
	}
	for _, bad := range []string{"", "intr 1 2 3", "cpu 1 2 x 4 5 6", "cpu 1 2"} {
		if b, s := ParseHostStat(bad); b != 0 || s != 0 {
			t.Errorf("ParseHostStat(%q) = %v, %v, want 0", bad, b, s)
		}
	}
}
