package demo

import (
	"context"
	"strings"
	"testing"

	"monami/internal/testenv"
)

// TestSilentFailureKeepsTCP: the access router drops everything through
// wlan0 while the link stays up. Downlink and uplink both move to lte within
// 300 ms, measured like the demo's failover gap (1 kHz probes with kernel
// timestamps, each way), the TCP stream survives, and ctl shows each path's
// figures.
func TestSilentFailureKeepsTCP(t *testing.T) {
	testenv.RequireRoot(t)
	for _, tc := range []struct{ backend, transport string }{
		{"kernel", "native"}, {"userspace", "native"}, {"userspace", "udp"},
	} {
		t.Run(tc.backend+"-"+tc.transport, func(t *testing.T) {
			opt := Options{Backend: tc.backend, Transport: tc.transport, Silent: true}
			name := "mds" + tc.backend[:1] + tc.transport[:1]
			untilResolved(t, func() bool { return silentAttempt(t, name, opt) })
		})
	}
}

func silentAttempt(t *testing.T, name string, opt Options) (unresolved bool) {
	s, pcap, stopCapture, closeLab := registered(t, name, opt)
	defer closeLab()
	sum, err := s.failover(context.Background())
	stopCapture()
	if sum != nil {
		var b strings.Builder
		sum.WriteReport(&b)
		t.Log(b.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	if !sum.TCP.Intact || sum.TCP.Received == 0 {
		t.Errorf("TCP: %+v", sum.TCP)
	}
	if sum.BytesPerLink[backupIf] == 0 {
		t.Errorf("bytes per link %v: the stream never moved to %s", sum.BytesPerLink, backupIf)
	}
	t.Logf("SILENT FAILURE: downlink gap %.1f ms (sender pause %.1f ms), uplink gap %.1f ms (sender pause %.1f ms)",
		sum.FailoverGapMs, sum.Probe.SenderStallMs, sum.UplinkFailoverGapMs, sum.UplinkProbe.SenderStallMs)
	_, down, up, why := sum.GapVerdicts()
	v := max(down, up)
	for _, w := range why {
		if v == Fail {
			t.Error(w)
		} else {
			t.Logf("not resolved: %s", w)
		}
	}
	// ctl shows the measured figures of both paths.
	var paths []struct {
		Interface string `json:"interface"`
		Liveness  []struct {
			State   string  `json:"state"`
			SRTTms  float64 `json:"srtt_ms"`
			LossPct float64 `json:"loss_percent"`
			Samples int     `json:"loss_samples"`
		} `json:"liveness"`
	}
	s.ctl(t, "mn", "paths", &paths)
	for _, p := range paths {
		t.Logf("ctl mn paths: %s %+v", p.Interface, p.Liveness)
		if len(p.Liveness) != 1 || p.Liveness[0].SRTTms <= 0 || p.Liveness[0].Samples == 0 {
			t.Errorf("ctl mn paths %s: liveness %+v, want state, RTT and loss", p.Interface, p.Liveness)
		}
	}
	checkSignalling(t, pcap, signallingWant{minBU: 1})
	return v == Unresolved
}
