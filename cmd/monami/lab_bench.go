package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"monami/internal/dataplane/bench"
)

// labBenchCmd is `monami lab bench`, the parent of the lab's benchmarks.
var labBenchCmd = &cobra.Command{
	Use:   "bench",
	Short: "Benchmarks in a lab network built for the purpose",
}

func init() {
	labCmd.AddCommand(labBenchCmd)

	var (
		dur     time.Duration
		streams []int
		cases   []string
		asJSON  bool
		name    string
		cc      string
		verbose bool
		cpuProf string
		rounds  int
		pin     bool
		window  string
		eps     int
		flows   int
	)
	dp := &cobra.Command{
		Use:   "dataplane",
		Short: "iperf3 through plain routing, the kernel backend and the userspace backend (nh 41, UDP 4191)",
		Long: `dataplane builds sender -- entry == exit -- receiver in network namespaces and runs
iperf3 (TCP, sender to receiver) through
  plain              entry and exit route natively (the baseline)
  kernel             outer header added by a BPF program on each tunnel route (LWT xmit),
                     seg6local End.DT6 decapsulation, nftables ingress check
  kernel-detour      (only with --cases) the same without BPF: forwarded packets cross a
                     veth and a second seg6 route, as on kernels without LWT BPF
  userspace-nh41     TUN + raw next header 41 sockets
  userspace-udp4191  TUN + UDP port 4191 sockets
with each stream count, and prints Gbit/s and the ratio to plain with the
same stream count. With --rounds N every case is measured N times,
interleaved (every other round in reverse order, so that a drift favours no
case); with --flow-rules N every tunnel case also runs with N flow routes installed
(<case>+flows-spread, <case>+flows-worst), and the medians are reported. The machine's load average before and after is printed
too: the figures only mean something on a quiet machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := bench.Options{LabName: name, Duration: dur, Streams: streams, Congestion: cc, Rounds: rounds, Pin: pin, Window: window, Endpoints: eps, FlowRules: flows}
			if flows < 0 || flows > 60000 {
				return fmt.Errorf("flow-rules %d: want 0..60000", flows)
			}
			if eps < 0 || eps > 1_000_000 {
				return fmt.Errorf("endpoints %d: want 0..1000000", eps)
			}
			if flows < 0 || flows > 100_000 {
				return fmt.Errorf("flow-rules %d: want 0..100000", flows)
			}
			for _, c := range cases {
				ok := false
				for _, k := range append(bench.AllCases, bench.KernelDetour) {
					if string(k) == c {
						ok = true
					}
				}
				if !ok {
					return fmt.Errorf("unknown case %q (want plain, kernel, kernel-detour, userspace-nh41, userspace-udp4191)", c)
				}
				o.Cases = append(o.Cases, bench.Case(c))
			}
			for _, s := range streams {
				if s < 1 || s > 128 {
					return fmt.Errorf("streams %d: want 1..128", s)
				}
			}
			if rounds < 1 || rounds > 20 {
				return fmt.Errorf("rounds %d: want 1..20", rounds)
			}
			if dur < time.Second {
				return fmt.Errorf("time %v: want at least 1s", dur)
			}
			if verbose {
				o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
			}
			if !asJSON {
				o.Progress = cmd.ErrOrStderr()
			}
			if cpuProf != "" {
				f, err := os.Create(cpuProf)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := bench.Run(ctx, o)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			out := cmd.OutOrStdout()
			pinned := "iperf3 client on CPU 0, server on CPU 1"
			if !rep.Pinned {
				pinned = "iperf3 not pinned"
			}
			fmt.Fprintf(out, "iperf3 %s per run, %d round(s), medians; %d CPUs (%s), load average before %s, after %s\n",
				dur, rep.Rounds, rep.CPUs, pinned, rep.LoadBefore, rep.LoadAfter)
			if st := maxSteal(rep.Runs); st >= 0.05 {
				fmt.Fprintf(out, "warning: the hypervisor took up to %.2f cores from this machine during a run (steal); the rates measure its neighbours too\n", st)
			}
			printScale(out, rep.Scale)
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "case\tstreams\tGbit/s\tretransmits\tratio to plain (rounds' range)\tCPU s per Gbit\tcost ratio to plain\t")
			for _, r := range rep.Results {
				ratio, costRatio, cost := "-", "-", "-"
				if r.Ratio > 0 {
					ratio = fmt.Sprintf("%.2f", r.Ratio)
					if r.RatioMax > 0 && r.RatioMin != r.RatioMax {
						ratio += fmt.Sprintf(" (%.2f-%.2f)", r.RatioMin, r.RatioMax)
					}
				}
				if r.CostRatio > 0 {
					costRatio = fmt.Sprintf("%.2f", r.CostRatio)
				}
				if r.CPUPerGbit > 0 {
					cost = fmt.Sprintf("%.3f", r.CPUPerGbit)
				}
				if r.Error != "" {
					fmt.Fprintf(tw, "%s\t%d\terror: %s\t\t\t\t\t\n", r.Case, r.Streams, r.Error)
					continue
				}
				fmt.Fprintf(tw, "%s\t%d\t%.2f\t%d\t%s\t%s\t%s\t\n", r.Case, r.Streams, r.Gbps, r.Retransmits, ratio, cost, costRatio)
			}
			return tw.Flush()
		},
	}
	dp.Flags().DurationVar(&dur, "time", 10*time.Second, "duration of each iperf3 run")
	dp.Flags().IntSliceVar(&streams, "streams", []int{1, 4}, "parallel TCP stream counts to measure")
	dp.Flags().StringSliceVar(&cases, "cases", nil, "cases to run (default: plain,kernel,userspace-nh41,userspace-udp4191; also kernel-detour, the kernel backend without its BPF programs)")
	dp.Flags().IntVar(&rounds, "rounds", 1, "measure every case this many times (interleaved) and report medians")
	dp.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	dp.Flags().BoolVar(&pin, "pin", false, "put the iperf3 client on CPU 0 and the server on CPU 1 (plain routing runs faster and more often at its upper level; the userspace forwarders, which then share both CPUs with iperf3, slower)")
	dp.Flags().StringVar(&name, "name", "dpbench", "lab name (namespaces are <name>-<node>)")
	dp.Flags().StringVar(&cc, "congestion", "", "TCP congestion control for iperf3 -C (e.g. bbr)")
	dp.Flags().StringVar(&window, "window", "", "socket buffer size for iperf3 -w (e.g. 1M); default: the kernel's autotuning")
	dp.Flags().StringVar(&cpuProf, "cpuprofile", "", "write a Go CPU profile of the userspace data planes to this file")
	dp.Flags().BoolVarP(&verbose, "verbose", "v", false, "log data plane events to stderr")
	dp.Flags().IntVar(&eps, "endpoints", 0, "first install this many mobile nodes (an endpoint and a host route each, as a home agent does) on each tunnel end; the measured tunnel comes last; reports the install rate, the cost of a change at 1k, 10k and 100k installed, and the memory used")
	dp.Flags().IntVar(&flows, "flow-rules", 0, "also measure every tunnel case with this many flow routes (TCP destination-port rules) on the tunnel entry: <case>+flows-spread (over flow-rules/10 home addresses, the measured one included) and <case>+flows-worst (all on the measured tunnel's route, the stream matching the last)")
	labBenchCmd.AddCommand(dp)
}

// maxSteal is the largest steal (in cores) of the runs.
func maxSteal(runs []bench.Result) float64 {
	m := 0.0
	for _, r := range runs {
		m = max(m, r.Steal)
	}
	return m
}

// printScale prints what installing the mobile nodes cost, per case.
func printScale(out io.Writer, sc []bench.Scale) {
	if len(sc) == 0 {
		return
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tmobile nodes\tinstall/s\tadd us @installed\tremove us @installed\tmem used MiB\tslab MiB\tpercpu MiB\tprocess RSS MiB\t")
	for _, s := range sc {
		if s.Error != "" {
			fmt.Fprintf(tw, "%s\t%d\terror: %s\t\t\t\t\t\t\t\n", s.Case, s.Endpoints, s.Error)
			continue
		}
		var add, rm []string
		for _, m := range s.At {
			add = append(add, fmt.Sprintf("%.0f@%d", m.AddUS, m.Installed))
			rm = append(rm, fmt.Sprintf("%.0f@%d", m.RemoveUS, m.Installed))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%.0f\t%.0f\t%.1f\t%.0f\t\n", s.Case, s.Endpoints, s.PerSecond,
			strings.Join(add, " "), strings.Join(rm, " "), s.MemUsedMiB, s.SlabMiB, s.PercpuMiB, s.RSSMiB)
	}
	tw.Flush()
	fmt.Fprintln(out, "(mobile nodes per data plane; memory for both tunnel ends together)")
}
