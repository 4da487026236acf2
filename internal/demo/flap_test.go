package demo

import (
	"context"
	"strings"
	"testing"

	"monami/internal/testenv"
)

// TestFlapKeepsPath is issue 14's Flapping acceptance, for both data
// plane backends: wlan0 goes down and up 50 times, 200 ms apart, under a
// TCP stream and the 1 kHz probe each way. After every change the probe
// gap of each direction stays within the interface-down failover bound
// (100 ms), the TCP connection survives, and tshark decodes the signalling
// (a Binding Update for each change, each answered) without a warning.
// A gap the machine made (the probe sender paused, or the kernel reported
// the change late: judgeChange) is not resolved and earns another attempt.
func TestFlapKeepsPath(t *testing.T) {
	testenv.RequireRoot(t)
	for _, backend := range []string{"kernel", "userspace"} {
		t.Run(backend, func(t *testing.T) {
			name := "flt" + backend[:1]
			opt := Options{Backend: backend}
			untilResolved(t, func() bool { return flapAttempt(t, name, opt) })
		})
	}
}

func flapAttempt(t *testing.T, name string, opt Options) (unresolved bool) {
	t.Helper()
	s, pcap, stopCapture, closeLab := registered(t, name, opt)
	defer closeLab()
	waitQuiet(t)
	sum, err := s.flap(context.Background())
	stopCapture()
	if sum != nil {
		var b strings.Builder
		sum.WriteReport(&b)
		t.Log(b.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FLAP %s: longest gap down %.1f ms, up %.1f ms; TCP intact %v", opt.Backend, sum.Downlink.LongestMs, sum.Uplink.LongestMs, sum.TCP.Intact)
	// A deregistration per down and a registration per up, but for the
	// registrations lost with the link and the changes the mobile node
	// saw only together with the next one.
	checkSignalling(t, pcap, signallingWant{minBU: s.opt.Flaps})
	v, why := sum.Failures()
	switch {
	case v == Fail:
		t.Errorf("%s", strings.Join(why, "; "))
	case v == Unresolved:
		t.Logf("not resolved: %s", strings.Join(why, "; "))
	}
	return v == Unresolved
}
