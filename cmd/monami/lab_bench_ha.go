package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/spf13/cobra"

	"monami/internal/lab/habench"
)

func init() {
	var o habench.Options
	var asJSON bool
	var clientProfile string
	cmd := &cobra.Command{
		Use:   "ha",
		Short: "Register many simulated mobile nodes with a real home agent, end to end",
		Long: `ha builds mns -- ha -- cn in network namespaces, starts a real ` + "`monami ha`" + ` (kernel
data plane by default) configured with one security association per mobile node,
and registers every mobile node from its own care-of address: authenticated
Binding Updates (RFC 4285, a BID option each) over the native Mobility Header
transport, at most --window outstanding, retransmitted after 1 s. Each
acknowledgement with status 0 means the binding's data plane state is in place.
It then sends a datagram from the correspondent to a sample of home addresses,
answers each from the home address through its reverse tunnel, and counts what
went through both ways. Reports acknowledged registrations per second, latency
percentiles, the home agent's memory, and exits non-zero unless every mobile
node was accepted and every sampled tunnel carried traffic both ways.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !asJSON {
				o.Progress = cmd.ErrOrStderr()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if clientProfile != "" {
				stopProfile, err := startCPUProfile(clientProfile)
				if err != nil {
					return err
				}
				defer stopProfile()
			}
			rep, err := habench.Run(ctx, o)
			if rep != nil {
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					if jerr := enc.Encode(rep); jerr != nil {
						return jerr
					}
				} else {
					printHABench(cmd, rep)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.MobileNodes, "mobile-nodes", 10000, "mobile nodes to register")
	f.IntVar(&o.Window, "window", habench.DefaultWindow, "Binding Updates outstanding at most (mobile nodes registering at the same moment)")
	f.IntVar(&o.Sample, "sample", 100, "home addresses probed both ways after registration")
	f.StringVar(&o.Backend, "backend", "kernel", "the home agent's data plane: kernel or userspace")
	f.StringVar(&o.Store, "store", "bolt", "the home agent's binding store: bolt (a file in the lab's state directory), memory, or etcd (a 3-member etcd cluster in namespaces; the home agent runs as a one-node cluster)")
	f.IntVar(&o.BIDs, "bids", 1, "bindings per Binding Update (RFC 5648 bulk registration when above 1)")
	f.IntVar(&o.FIDs, "fids", 0, "Flow Identification options per Binding Update (RFC 6089)")
	f.IntVar(&o.Refreshes, "refreshes", 0, "rounds of refreshing Binding Updates from every mobile node after registering")
	f.StringVar(&o.HACPUProfile, "ha-cpuprofile", "", "have the home agent write a Go CPU profile to this file")
	f.StringVar(&clientProfile, "cpuprofile", "", "write a Go CPU profile of the bench client (the simulated mobile nodes) to this file")
	f.StringVar(&o.LabName, "name", "habench", "lab name (namespaces are <name>-<node>)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	labBenchCmd.AddCommand(cmd)
}

func printHABench(cmd *cobra.Command, r *habench.Report) {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "home agent (%s data plane, %s store): %d mobile nodes, %d accepted in %.2f s: %.0f registrations/s (window %d, %d retransmitted)\n",
		r.Backend, r.Store, r.MobileNodes, r.Accepted, r.Seconds, r.PerSecond, r.Window, r.Retransmits)
	if len(r.Rejected) > 0 {
		keys := make([]string, 0, len(r.Rejected))
		for k := range r.Rejected {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(out, "  not accepted: %d %s\n", r.Rejected[k], k)
		}
	}
	l := r.LatencyMS
	fmt.Fprintf(out, "latency from first send to acknowledgement: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", l.P50, l.P90, l.P99, l.Max)
	fmt.Fprintf(out, "CPU: %s\n", cpuSplit(r.CPU, r.Seconds))
	fmt.Fprintf(out, "each update: %d binding(s), %d flow(s)\n", r.BIDs, r.FIDs)
	if f := r.Refresh; f != nil {
		fmt.Fprintf(out, "refreshes: %d of %d accepted in %.2f s: %.0f updates/s (%d retransmitted); p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
			f.Accepted, f.Updates, f.Seconds, f.PerSecond, f.Retransmits, f.LatencyMS.P50, f.LatencyMS.P99, f.LatencyMS.Max)
		fmt.Fprintf(out, "refresh CPU: %s; %.0f updates per home agent CPU second\n", cpuSplit(f.CPU, f.Seconds), f.PerHACPUSecond)
	}
	fmt.Fprintf(out, "sample of %d tunnels: %d reached through the home agent, %d answers passed its ingress check\n", r.Sample, r.Downlink, r.Uplink)
	fmt.Fprintf(out, "home agent RSS %.0f MiB; machine memory in use grew by %.0f MiB; load average before %s, after %s\n",
		r.HARSSMiB, r.MemUsedMiB, r.LoadBefore, r.LoadAfter)
}

// cpuSplit says how many cores each party kept busy over a phase.
func cpuSplit(c habench.CPU, seconds float64) string {
	if seconds <= 0 {
		return "unknown"
	}
	s := fmt.Sprintf("bench client %.2f cores, home agent %.2f cores", c.Client/seconds, c.HomeAgent/seconds)
	if c.Etcd > 0 {
		s += fmt.Sprintf(", etcd members %.2f cores", c.Etcd/seconds)
	}
	return s
}
