package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"monami/internal/demo"
)

func init() {
	var (
		o      demo.BaselineOptions
		name   string
		up     bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "mptcp",
		Short: "Linux MPTCP over both of the demo network's links, without monami: the aggregation baseline",
		Long: `mptcp builds the demo network (wlan 40 Mbit/s 10 ms, lte 20 Mbit/s 40 ms; see
monami lab demo --topology) with no monami daemon and measures, one after the
other, a single TCP connection over each access link alone, their sum, and one
kernel MPTCP connection over both (the mobile node connects from its wlan
address; an "ip mptcp endpoint ... dev lte0 subflow" adds the second subflow).
Goodput is what the receiving application reads after the warm-up.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Congestion != "" && o.Congestion != demo.CUBIC && o.Congestion != demo.BBR {
				return fmt.Errorf("--congestion %q: want cubic or bbr (or nothing for the machine's default)", o.Congestion)
			}
			if o.Duration < 2*time.Second || o.Warmup < 0 || o.Warmup >= o.Duration {
				return fmt.Errorf("--time %s, --warmup %s: want a warm-up shorter than a time of at least 2s", o.Duration, o.Warmup)
			}
			o.Up = up
			if !asJSON {
				o.Progress = cmd.ErrOrStderr()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			b, err := demo.RunBaseline(ctx, name, o)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(b)
			}
			return writeBaseline(cmd, b)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&up, "up", false, "measure mobile node to correspondent (default: correspondent to mobile node)")
	f.StringVar(&o.Congestion, "congestion", "", "TCP congestion control of the senders: cubic or bbr (default: the machine's)")
	f.DurationVar(&o.Duration, "time", 8*time.Second, "duration of each transfer")
	f.DurationVar(&o.Warmup, "warmup", 2*time.Second, "start of each transfer left out of its goodput")
	f.StringVar(&name, "name", "mptcp", "lab name (namespaces are <name>-<node>)")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	labBenchCmd.AddCommand(cmd)
}

func writeBaseline(cmd *cobra.Command, b *demo.Baseline) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "direction %s, %.0f s per transfer, first %.0f s left out\n", b.Direction, b.DurationMs/1000, b.WarmupMs/1000)
	fmt.Fprintln(tw, "connection\tcongestion\tgoodput Mbit/s\tMB on wlan0\tMB on lte0\t")
	row := func(what string, r demo.FlowResult) {
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.1f\t\n", what, r.Congestion, r.Mbps,
			float64(r.BytesPerLink["wlan0"])/1e6, float64(r.BytesPerLink["lte0"])/1e6)
	}
	row("single TCP, wlan0", b.SingleTCP["wlan0"])
	row("single TCP, lte0", b.SingleTCP["lte0"])
	fmt.Fprintf(tw, "sum of the single TCPs\t\t%.1f\t\t\t\n", b.SumSingleMbps)
	row(fmt.Sprintf("MPTCP, %d subflows", b.MPTCP.Subflows), b.MPTCP)
	fmt.Fprintf(tw, "MPTCP / sum\t\t%.2f\t\t\t\n", b.MPTCP.Mbps/b.SumSingleMbps)
	return tw.Flush()
}
