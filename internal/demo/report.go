package demo

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteReport prints the timeline (one row per slot: throughput per link
// and at the application, events between rows) and the summary.
func (s *Summary) WriteReport(w io.Writer) {
	links := make([]string, 0, len(s.BytesPerLink))
	for k := range s.BytesPerLink {
		links = append(links, k)
	}
	sort.Strings(links)
	fmt.Fprintf(w, "\n%8s", "t")
	for _, l := range links {
		fmt.Fprintf(w, "  %-22s", l+" Mbit/s")
	}
	fmt.Fprintf(w, "  %s\n", "app Mbit/s")
	ev := 0
	for _, smp := range s.Timeline {
		for ev < len(s.Events) && s.Events[ev].At < smp.At+slot {
			fmt.Fprintf(w, "%7.3fs  ** %s\n", s.Events[ev].At.Seconds(), s.Events[ev].What)
			ev++
		}
		fmt.Fprintf(w, "%7.2fs", smp.At.Seconds())
		for _, l := range links {
			v := smp.LinkBps[l]
			fmt.Fprintf(w, "  %5.1f %-16s", v, bar(v))
		}
		fmt.Fprintf(w, "  %5.1f\n", smp.AppBps)
	}
	fmt.Fprintf(w, "\nfailover gap (1 kHz UDP probe to the home address): %.1f ms\n", s.FailoverGapMs)
	fmt.Fprintf(w, "uplink failover gap (home address to cn):            %.1f ms\n", s.UplinkFailoverGapMs)
	fmt.Fprintf(w, "restore gap:                                         %.1f ms\n", s.RestoreGapMs)
	fmt.Fprintf(w, "TCP stall at failover (adds TCP loss recovery):      %.1f ms\n", s.AppStallMs)
	fmt.Fprintf(w, "probes received: %d of %d (longest sender pause %.1f ms)\n", s.Probe.Received, s.Probe.Sent, s.Probe.SenderStallMs)
	fmt.Fprintf(w, "uplink probes received: %d of %d (longest sender pause %.1f ms)\n", s.UplinkProbe.Received, s.UplinkProbe.Sent, s.UplinkProbe.SenderStallMs)
	for _, l := range links {
		fmt.Fprintf(w, "bytes received on %-6s %12d\n", l+":", s.BytesPerLink[l])
	}
	fmt.Fprintf(w, "bindings seen: %s\n", strings.Join(s.BindingsSeen, "; "))
	state := "survived"
	if !s.TCP.Intact {
		state = "BROKEN: " + s.TCP.Error
	}
	fmt.Fprintf(w, "TCP connection %s: %d bytes sent, %d received\n", state, s.TCP.Sent, s.TCP.Received)
}

// bar draws v Mbit/s as up to 16 characters (2.5 Mbit/s each).
func bar(v float64) string {
	n := int(v/2.5 + 0.5)
	return strings.Repeat("#", min(max(n, 0), 16))
}
