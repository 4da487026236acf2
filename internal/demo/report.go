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
	fmt.Fprintf(w, "\nTCP congestion control (read from the sender's socket): %s\n", s.Congestion)
	fmt.Fprintf(w, "failover gap (1 kHz UDP probe to the home address): %.1f ms\n", s.FailoverGapMs)
	fmt.Fprintf(w, "uplink failover gap (home address to cn):            %.1f ms\n", s.UplinkFailoverGapMs)
	fmt.Fprintf(w, "restore gap:                                         %.1f ms\n", s.RestoreGapMs)
	fmt.Fprintf(w, "TCP stall at failover (adds TCP loss recovery):      %.1f ms\n", s.AppStallMs)
	bound, down, up, why := s.GapVerdicts()
	fmt.Fprintf(w, "%-53s%s downlink, %s uplink\n", fmt.Sprintf("within %.0f ms (%s):", bound, s.failure()), down, up)
	for _, x := range why {
		fmt.Fprintf(w, "  %s\n", x)
	}
	if g := s.Goodput; g != nil {
		fmt.Fprintf(w, "%-53s%s\n", "goodput after failover ("+g.Congestion+"):", g.reached())
		fmt.Fprintf(w, "%-53s%s\n", fmt.Sprintf("  per second after it, %% of %.1f Mbit/s:", g.LinkMbps), percents(g.PercentBySecond))
	}
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

func (s *Summary) failure() string {
	if s.Silent {
		return "silent failure"
	}
	return "interface down"
}

// bar draws v Mbit/s as up to 16 characters (2.5 Mbit/s each).
func bar(v float64) string {
	n := int(v/2.5 + 0.5)
	return strings.Repeat("#", min(max(n, 0), 16))
}

// reached says when the goodput reached 80% of the new link's.
func (g *FailoverGoodput) reached() string {
	if g.TimeTo80Ms == nil {
		return fmt.Sprintf("80%% of %.1f Mbit/s NOT reached in the %.1f s on the new link (mean %.1f Mbit/s)",
			g.LinkMbps, g.PhaseMs/1000, g.MeanMbps)
	}
	return fmt.Sprintf("80%% of %.1f Mbit/s reached %.0f ms after the failure (mean %.1f Mbit/s over %.1f s)",
		g.LinkMbps, *g.TimeTo80Ms, g.MeanMbps, g.PhaseMs/1000)
}

func percents(ps []float64) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%.0f%%", p)
	}
	return b.String()
}

// WriteReport prints each run, then the goodput after failover side by side.
func (r *Report) WriteReport(w io.Writer) {
	for _, s := range r.Runs {
		fmt.Fprintf(w, "\n== failover with TCP congestion control %s\n", s.Congestion)
		s.WriteReport(w)
	}
	if r.NAT != nil {
		r.NAT.WriteReport(w)
	}
	if len(r.Runs) < 2 {
		return
	}
	fmt.Fprintf(w, "\n== goodput after failover from %s to %s, by congestion control\n", activeIf, backupIf)
	for _, s := range r.Runs {
		if s.Goodput != nil {
			fmt.Fprintf(w, "%-6s %s\n", s.Congestion+":", s.Goodput.reached())
		}
	}
}
