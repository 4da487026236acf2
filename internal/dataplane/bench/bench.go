// Package bench measures the data plane backends against plain routing with
// iperf3 in a lab network:
//
//	sender --mdp0-- entry ==mdp1== exit --mdp2-- receiver
//	2001:db8:5::2   5::1  1::1    1::2 7::1     7::2
//
// The plain case routes entry <-> exit natively; the other cases tunnel
// 2001:db8:7::/64 from entry to exit and 2001:db8:5::/64 back.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"

	"monami/internal/dataplane"
	"monami/internal/lab"
)

// Case is one way of carrying the traffic.
type Case string

const (
	Plain        Case = "plain"
	Kernel       Case = "kernel"
	UserspaceNH  Case = "userspace-nh41"
	UserspaceUDP Case = "userspace-udp4191"
	// KernelDetour is the kernel backend without its BPF programs:
	// forwarded packets cross the detour veth (not run by default).
	KernelDetour Case = "kernel-detour"
)

// AllCases in the order they run.
var AllCases = []Case{Plain, Kernel, UserspaceNH, UserspaceUDP}

// Options for Run.
type Options struct {
	LabName    string        // lab (and namespace prefix) name
	Duration   time.Duration // per iperf3 run
	Streams    []int         // parallel stream counts, e.g. 1 and 4
	Cases      []Case
	Congestion string // iperf3 -C, empty for the default
	Window     string // iperf3 -w (socket buffer), empty for the default
	Rounds     int    // times to measure every case (default 1)
	// Pin puts the iperf3 client on CPU 0 and the server on CPU 1 (iperf3
	// -A) on a machine with two or more CPUs. Left to the scheduler, the
	// two sometimes share a CPU and sometimes not, and plain routing's
	// rate moves between two levels about 25% apart from run to run.
	// Pinned, it is faster and more often at the upper level, but the
	// userspace forwarders, which must then share both CPUs with iperf3,
	// are slower (next header 41: 1.6 instead of 1.9-2.0 Gbit/s).
	Pin bool
	// Endpoints, when positive, installs that many mobile nodes' endpoints
	// and routes on each tunnel end before the measured tunnel, whose
	// routes are then host routes as a home agent's are: its packets meet
	// full tables (see installMany).
	Endpoints int
	// FlowRules, when positive, adds two variants of every tunnel case
	// with that many flow routes installed on the tunnel entry (see
	// installFlowRules): <case>+flows-spread and <case>+flows-worst.
	FlowRules int
	Logger    *slog.Logger
	Progress  io.Writer // one line per finished run, may be nil
}

// Result is one iperf3 run, or (in Report.Results) the median of a case's
// runs over all rounds.
type Result struct {
	Round       int     `json:"round,omitempty"`
	Case        Case    `json:"case"`
	Streams     int     `json:"streams"`
	Gbps        float64 `json:"gbit_per_s"`
	Retransmits int     `json:"retransmits"`
	Ratio       float64 `json:"ratio_to_plain"` // 0 when plain was not measured
	// RatioMin and RatioMax (in Report.Results, with two rounds or more)
	// are the lowest and highest per-round ratios: how far one run can
	// be from the median on this machine.
	RatioMin float64 `json:"ratio_min,omitempty"`
	RatioMax float64 `json:"ratio_max,omitempty"`
	// ProcCPU is the CPU time this process (the userspace data planes;
	// not iperf3) used during the run, in cores; with Gbps it gives the
	// forwarder's cost per Gbit/s, steadier on a busy machine than the rate.
	ProcCPU float64 `json:"process_cpu_cores,omitempty"`
	// HostCPU is the whole machine's busy CPU during the run, in cores
	// (/proc/stat: iperf3, forwarding, tunnels and anything else), and
	// CPUPerGbit that divided by the rate: the cost of a Gbit/s. On a
	// machine whose rate moves with other load the cost moves less.
	HostCPU float64 `json:"host_cpu_cores,omitempty"`
	// Steal is the CPU time the hypervisor gave to others while this
	// machine wanted it, in cores (/proc/stat steal): above a few
	// hundredths the rates measure the neighbours too.
	Steal      float64 `json:"steal_cores,omitempty"`
	CPUPerGbit float64 `json:"host_cpu_per_gbit,omitempty"`
	// CostRatio is CPUPerGbit over plain routing's (same round and
	// stream count): what the tunnel costs per bit relative to routing.
	CostRatio float64 `json:"cost_ratio_to_plain,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// Report is a whole bench run.
type Report struct {
	Start       time.Time `json:"start"`
	Pinned      bool      `json:"iperf3_pinned"`
	DurationSec float64   `json:"duration_per_run_s"`
	LoadBefore  string    `json:"loadavg_before"`
	LoadAfter   string    `json:"loadavg_after"`
	CPUs        int       `json:"cpus"`
	Rounds      int       `json:"rounds"`
	Results     []Result  `json:"results"` // medians per case and stream count
	Runs        []Result  `json:"runs"`    // every run
	Scale       []Scale   `json:"scale,omitempty"`
}

// summarize takes, per case and stream count, the median rate and the
// median of the per-round ratios to plain.
func summarize(runs []Result, cases []Case, streams []int) []Result {
	var out []Result
	for _, c := range cases {
		for _, s := range streams {
			var rates, ratios, costs, costRatios []float64
			var retr []float64
			errText := ""
			for _, r := range runs {
				if r.Case != c || r.Streams != s {
					continue
				}
				if r.Error != "" {
					errText = r.Error
					continue
				}
				rates = append(rates, r.Gbps)
				retr = append(retr, float64(r.Retransmits))
				if r.Ratio > 0 {
					ratios = append(ratios, r.Ratio)
				}
				if r.CPUPerGbit > 0 {
					costs = append(costs, r.CPUPerGbit)
				}
				if r.CostRatio > 0 {
					costRatios = append(costRatios, r.CostRatio)
				}
			}
			res := Result{Case: c, Streams: s, Gbps: median(rates), Ratio: median(ratios), Retransmits: int(median(retr)),
				CPUPerGbit: median(costs), CostRatio: median(costRatios)}
			if len(ratios) > 1 {
				res.RatioMin, res.RatioMax = slices.Min(ratios), slices.Max(ratios)
			}
			if len(rates) == 0 {
				res.Error = errText
			}
			out = append(out, res)
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = append([]float64(nil), v...)
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

var (
	addrEntry    = netip.MustParseAddr("2001:db8:1::1")
	addrExit     = netip.MustParseAddr("2001:db8:1::2")
	addrReceiver = "2001:db8:7::2"
	addrSender   = netip.MustParseAddr("2001:db8:5::2")
	prefSender   = netip.MustParsePrefix("2001:db8:5::/64")
	prefReceiver = netip.MustParsePrefix("2001:db8:7::/64")
)

const (
	benchTable = 2700
	benchPref  = 2700
)

func topology(name string) *lab.Topology {
	return &lab.Topology{
		Name: name,
		Nodes: []lab.Node{
			{Name: "sender", Routes: []lab.Route{{Dst: "default6", Via: "2001:db8:5::1"}}},
			{Name: "entry", Kind: lab.KindRouter, Routes: []lab.Route{{Dst: "2001:db8:7::/64", Via: "2001:db8:1::2"}}},
			{Name: "exit", Kind: lab.KindRouter, Routes: []lab.Route{{Dst: "2001:db8:5::/64", Via: "2001:db8:1::1"}}},
			{Name: "receiver", Routes: []lab.Route{{Dst: "default6", Via: "2001:db8:7::1"}}},
		},
		Links: []lab.Link{
			{A: lab.End{Node: "sender", If: "mdp0", Addrs: []string{"2001:db8:5::2/64"}},
				B: lab.End{Node: "entry", If: "mdp0", Addrs: []string{"2001:db8:5::1/64"}}},
			{A: lab.End{Node: "entry", If: "mdp1", Addrs: []string{"2001:db8:1::1/64"}},
				B: lab.End{Node: "exit", If: "mdp1", Addrs: []string{"2001:db8:1::2/64"}}},
			{A: lab.End{Node: "exit", If: "mdp2", Addrs: []string{"2001:db8:7::1/64"}},
				B: lab.End{Node: "receiver", If: "mdp2", Addrs: []string{"2001:db8:7::2/64"}}},
		},
	}
}

// Run builds the lab, measures every case and stream count, and tears the
// lab down again.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if len(o.Streams) == 0 {
		o.Streams = []int{1, 4}
	}
	if len(o.Cases) == 0 {
		o.Cases = AllCases
	}
	if o.Rounds < 1 {
		o.Rounds = 1
	}
	if o.FlowRules > 0 {
		o.Cases = withFlowVariants(o.Cases)
	}
	rep := &Report{Start: time.Now().UTC(), DurationSec: o.Duration.Seconds(), LoadBefore: lab.LoadAvg(), CPUs: cpus(), Rounds: o.Rounds}
	_ = lab.Teardown(o.LabName) // leftovers of a crashed run
	l, err := lab.Up(ctx, topology(o.LabName))
	if err != nil {
		return nil, err
	}
	defer l.Down()
	// One iperf3 server for the whole run; the lab's Down kills it too.
	pin := o.Pin && cpus() >= 2
	srvArgs := []string{"-s"}
	if pin {
		srvArgs = append(srvArgs, "-A", "1")
	}
	srv := l.MustNode("receiver").Command(ctx, "iperf3", srvArgs...)
	var srvOut bytes.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	rep.Pinned = pin
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("iperf3 server: %w", err)
	}
	defer func() {
		srv.Process.Kill()
		srv.Wait()
	}()
	if err := waitListen(ctx, l.MustNode("receiver"), 5201); err != nil {
		return nil, fmt.Errorf("iperf3 server: %w (%s)", err, strings.TrimSpace(srvOut.String()))
	}
	if o.Rounds < 1 {
		o.Rounds = 1
	}
	// Each round measures every case once, so that a ratio compares runs
	// minutes apart at most; the summary takes medians. Every other round
	// runs the cases in reverse order: a drift of the machine during a
	// round (other load, caches, frequency) then favours no case.
	for round := 1; round <= o.Rounds; round++ {
		first := len(rep.Runs)
		order := slices.Clone(o.Cases)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, c := range order {
			stop, sc, err := setup(l, c, o)
			if sc != nil {
				sc.Round, sc.Case = round, c
				if err != nil {
					sc.Error = err.Error()
				}
				rep.Scale = append(rep.Scale, *sc)
			}
			if err != nil {
				for _, s := range o.Streams {
					rep.Runs = append(rep.Runs, Result{Round: round, Case: c, Streams: s, Error: err.Error()})
				}
				continue
			}
			for _, s := range o.Streams {
				if err := ctx.Err(); err != nil {
					stop()
					return rep, err
				}
				r := Result{Round: round, Case: c, Streams: s}
				cpu0, t0 := procCPU(), time.Now()
				host0, steal0 := lab.HostBusy()
				r.Gbps, r.Retransmits, err = iperf(ctx, l, s, o.Duration, o.Congestion, o.Window, pin)
				el := time.Since(t0).Seconds()
				r.ProcCPU = (procCPU() - cpu0).Seconds() / el
				if host1, steal1 := lab.HostBusy(); host0 > 0 && host1 > host0 {
					r.HostCPU = (host1 - host0).Seconds() / el
					r.Steal = (steal1 - steal0).Seconds() / el
				}
				if err != nil {
					r.Error = err.Error()
				}
				if r.Gbps > 0 && r.HostCPU > 0 {
					r.CPUPerGbit = r.HostCPU / r.Gbps
				}
				rep.Runs = append(rep.Runs, r)
				if o.Progress != nil {
					fmt.Fprintf(o.Progress, "round %d %-18s %d stream(s): %6.2f Gbit/s (host CPU %.2f cores, process CPU %.2f cores, steal %.2f cores) %s\n", round, c, s, r.Gbps, r.HostCPU, r.ProcCPU, r.Steal, r.Error)
				}
			}
			stop()
		}
		ratiosToPlain(rep.Runs[first:])
	}
	rep.Results = summarize(rep.Runs, o.Cases, o.Streams)
	rep.LoadAfter = lab.LoadAvg()
	return rep, nil
}

// ratiosToPlain sets the ratios of one round's runs to plain routing's run
// with the same stream count.
func ratiosToPlain(round []Result) {
	plain, plainCost := map[int]float64{}, map[int]float64{}
	for _, r := range round {
		if r.Case == Plain && r.Error == "" {
			plain[r.Streams], plainCost[r.Streams] = r.Gbps, r.CPUPerGbit
		}
	}
	for i := range round {
		r := &round[i]
		if p := plain[r.Streams]; p > 0 && r.Error == "" {
			r.Ratio = r.Gbps / p
		}
		if p := plainCost[r.Streams]; p > 0 && r.CPUPerGbit > 0 {
			r.CostRatio = r.CPUPerGbit / p
		}
	}
}

// setup installs the tunnel for c (after o.Endpoints others) and returns
// what removes it.
func setup(l *lab.Lab, c Case, o Options) (func(), *Scale, error) {
	if c == Plain {
		return func() {}, nil, nil
	}
	c, flows := flowVariant(c)
	backend, encap, noBPF := dataplane.BackendKernel, dataplane.EncapIPv6, false
	switch c {
	case Kernel:
	case KernelDetour:
		noBPF = true
	case UserspaceNH:
		backend = dataplane.BackendUserspace
	case UserspaceUDP:
		backend, encap = dataplane.BackendUserspace, dataplane.EncapUDP
	default:
		return nil, nil, fmt.Errorf("unknown case %q", c)
	}
	var dps []dataplane.DataPlane
	stop := func() {
		for _, dp := range dps {
			dp.Close()
		}
	}
	start := func(node string) (dataplane.DataPlane, error) {
		ns, err := netns.GetFromPath(l.MustNode(node).NetnsPath())
		if err != nil {
			return nil, err
		}
		defer ns.Close()
		dp, err := dataplane.New(dataplane.Config{Backend: backend, Table: benchTable, RulePriority: benchPref,
			NetNS: ns, NFTable: "mdpbench", TunName: "mdpbench0", Logger: o.Logger, NoBPF: noBPF})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", node, err)
		}
		dps = append(dps, dp)
		return dp, nil
	}
	entry, err := start("entry")
	if err != nil {
		stop()
		return nil, nil, err
	}
	exit, err := start("exit")
	if err != nil {
		stop()
		return nil, nil, err
	}
	toReceiver, toSender := prefReceiver, prefSender
	var sc *Scale
	if o.Endpoints > 0 {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "%s: installing %d mobile nodes on each tunnel end\n", c, o.Endpoints)
		}
		s, err := installMany([]dataplane.DataPlane{entry, exit}, []netip.Addr{addrEntry, addrExit}, encap, o.Endpoints, o.Progress)
		sc = &s
		if err != nil {
			stop()
			return nil, sc, err
		}
		toReceiver, toSender = netip.PrefixFrom(netip.MustParseAddr(addrReceiver), 128), netip.PrefixFrom(addrSender, 128)
	}
	err = errors.Join(
		entry.AddRoute(dataplane.Route{Selector: dataplane.Selector{Dst: toReceiver},
			Tunnel: dataplane.Tunnel{Local: addrEntry, Remote: addrExit, Encap: encap}}),
		entry.AddEndpoint(dataplane.Endpoint{Local: addrEntry, Peer: addrExit, Encap: encap, InnerSrc: []netip.Prefix{toReceiver}}),
		exit.AddRoute(dataplane.Route{Selector: dataplane.Selector{Dst: toSender},
			Tunnel: dataplane.Tunnel{Local: addrExit, Remote: addrEntry, Encap: encap}}),
		exit.AddEndpoint(dataplane.Endpoint{Local: addrExit, Peer: addrEntry, Encap: encap, InnerSrc: []netip.Prefix{toSender}}),
	)
	if err == nil && flows != "" {
		var last dataplane.Selector
		last, err = installFlowRules(entry, flows, o.FlowRules, toReceiver,
			dataplane.Tunnel{Local: addrEntry, Remote: addrExit, Encap: encap}, o.Progress)
		closeAll := stop
		stop = func() {
			reportStreamRule(entry, last, o.Progress)
			closeAll()
		}
	}
	if err != nil {
		stop()
		return nil, sc, err
	}
	return stop, sc, nil
}

// iperf runs one iperf3 test from sender to receiver and returns the
// receiver's rate in Gbit/s.
func iperf(ctx context.Context, l *lab.Lab, streams int, d time.Duration, cc, window string, pin bool) (float64, int, error) {
	sctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	args := []string{"-c", addrReceiver, "-t", fmt.Sprint(int(d.Round(time.Second) / time.Second)), "-P", fmt.Sprint(streams), "-J"}
	if cc != "" {
		args = append(args, "-C", cc)
	}
	if pin {
		args = append(args, "-A", "0")
	}
	if window != "" {
		args = append(args, "-w", window)
	}
	var out []byte
	var err error
	for try := 0; try < 50; try++ { // the server needs a moment to listen
		out, err = l.MustNode("sender").Command(sctx, "iperf3", args...).Output()
		if err == nil || sctx.Err() != nil || !strings.Contains(string(out), "Connection refused") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var res struct {
		End struct {
			SumSent struct {
				Retransmits int `json:"retransmits"`
			} `json:"sum_sent"`
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		if err == nil {
			err = jerr
		}
		return 0, 0, fmt.Errorf("iperf3: %w", err)
	}
	if res.Error != "" {
		return 0, 0, fmt.Errorf("iperf3: %s", res.Error)
	}
	return res.End.SumReceived.BitsPerSecond / 1e9, res.End.SumSent.Retransmits, nil
}

// waitListen waits until a TCP socket listens on port in node (read from
// the namespace's tcp6 table).
func waitListen(ctx context.Context, node *lab.NodeNS, port int) error {
	want := fmt.Sprintf(":%04X ", port)
	for i := 0; i < 100; i++ {
		found := false
		err := node.Do(func() error {
			b, err := os.ReadFile("/proc/thread-self/net/tcp6") // /proc/net follows the main thread
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(b), "\n") {
				f := strings.Fields(line)
				if len(f) > 3 && strings.HasSuffix(f[1]+" ", want) && f[3] == "0A" {
					found = true
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if found {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("nothing listens on port %d after 10 s", port)
}

// procCPU is the user and system CPU time this process has used.
func procCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func cpus() int {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "processor") {
			n++
		}
	}
	return n
}
