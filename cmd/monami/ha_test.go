package main

import (
	"os"
	"syscall"
	"testing"

	"monami/internal/role/ha"
)

// TestStopMode: SIGTERM keeps forwarding for the next start unless
// --drain; SIGINT always drains (README, "Stopping the home agent").
func TestStopMode(t *testing.T) {
	for _, c := range []struct {
		sig   os.Signal
		drain bool
		want  ha.StopMode
	}{
		{syscall.SIGTERM, false, ha.StopUpgrade},
		{syscall.SIGTERM, true, ha.StopDrain},
		{os.Interrupt, false, ha.StopDrain},
		{os.Interrupt, true, ha.StopDrain},
	} {
		if got := stopMode(c.sig, c.drain); got != c.want {
			t.Errorf("stopMode(%v, drain %v) = %v, want %v", c.sig, c.drain, got, c.want)
		}
	}
}
