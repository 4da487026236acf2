package demo

import (
	"context"
	"fmt"
	"io"
	"time"

	"monami/internal/lab"
)

// Baseline is the reference for the aggregation acceptance of issue 11,
// measured on the demo network with no monami in the path: one TCP
// connection over each access link alone, their sum, and one Linux MPTCP
// connection over both links.
type Baseline struct {
	// Direction is "down" (correspondent to mobile node) or "up".
	Direction  string                `json:"direction"`
	DurationMs float64               `json:"duration_ms"`
	WarmupMs   float64               `json:"warmup_ms"`
	SingleTCP  map[string]FlowResult `json:"single_tcp"`
	// SumSingleMbps is the sum of the links' single-TCP goodputs.
	SumSingleMbps float64    `json:"sum_single_tcp_mbit_s"`
	MPTCP         FlowResult `json:"mptcp"`
}

// BaselineOptions tune MeasureBaseline; zero values take the defaults.
type BaselineOptions struct {
	// Up measures mobile node to correspondent instead of the reverse.
	Up bool
	// Congestion is the senders' TCP congestion control ("" for the
	// namespace's default).
	Congestion string
	// Duration of each transfer (default 6 s), of which the first Warmup
	// (default 2 s) is not counted.
	Duration, Warmup time.Duration
	Progress         io.Writer
}

func (o *BaselineOptions) defaults() error {
	if o.Duration == 0 {
		o.Duration = 6 * time.Second
	}
	if o.Warmup == 0 {
		o.Warmup = 2 * time.Second
	}
	if o.Warmup >= o.Duration {
		return fmt.Errorf("baseline: warm-up %s must be shorter than the duration %s", o.Warmup, o.Duration)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return CheckCongestion(o.Congestion)
}

// MeasureBaseline measures, one after the other, single TCP over wlan,
// single TCP over lte and MPTCP over both, on a running demo lab (the demo
// topology) in which no monami daemon runs. The mobile node is the MPTCP
// client: its first subflow leaves from its wlan address, and an endpoint
// with the subflow flag on lte0 (`ip mptcp endpoint add ... dev lte0
// subflow`) adds the second. It leaves the lab as it found it.
func MeasureBaseline(ctx context.Context, l *lab.Lab, o BaselineOptions) (*Baseline, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	undoRoutes, err := sourceRouting(ctx, l)
	if err != nil {
		return nil, err
	}
	defer undoRoutes()
	undoMPTCP, err := enableMPTCP(ctx, l)
	if err != nil {
		return nil, err
	}
	defer undoMPTCP()

	b := &Baseline{Direction: "down", DurationMs: ms(o.Duration), WarmupMs: ms(o.Warmup), SingleTCP: map[string]FlowResult{}}
	if o.Up {
		b.Direction = "up"
	}
	spec := flowSpec{down: !o.Up, congestion: o.Congestion, duration: o.Duration, warmup: o.Warmup}
	for _, a := range accessLinks {
		f := spec
		f.local = a.addr
		r, err := measureFlow(ctx, l, f)
		if err != nil {
			return nil, fmt.Errorf("single TCP over %s: %w", a.ifname, err)
		}
		fmt.Fprintf(o.Progress, "single TCP over %s (%s): %.1f Mbit/s\n", a.ifname, r.Congestion, r.Mbps)
		b.SingleTCP[a.ifname] = r
		b.SumSingleMbps += r.Mbps
	}
	f := spec
	f.local, f.mptcp = accessLinks[0].addr, true
	if b.MPTCP, err = measureFlow(ctx, l, f); err != nil {
		return nil, fmt.Errorf("MPTCP: %w", err)
	}
	fmt.Fprintf(o.Progress, "MPTCP over both (%s, %d subflows): %.1f Mbit/s\n", b.MPTCP.Congestion, b.MPTCP.Subflows, b.MPTCP.Mbps)
	return b, nil
}

// enableMPTCP turns on the kernel's MPTCP in the mobile node and the
// correspondent, allows a second subflow, and gives the mobile node its lte
// address as a subflow endpoint.
func enableMPTCP(ctx context.Context, l *lab.Lab) (undo func(), err error) {
	mn, cn := l.MustNode("mn"), l.MustNode("cn")
	undo = func() { _, _ = mn.Exec(context.WithoutCancel(ctx), "ip", "mptcp", "endpoint", "flush") }
	for _, n := range []*lab.NodeNS{mn, cn} {
		for _, c := range [][]string{
			{"sysctl", "-q", "-w", "net.mptcp.enabled=1"},
			{"ip", "mptcp", "limits", "set", "subflow", "2", "add_addr_accepted", "2"},
		} {
			if _, err := n.Exec(ctx, c[0], c[1:]...); err != nil {
				return nil, fmt.Errorf("MPTCP: %w", err)
			}
		}
	}
	lte := accessLinks[1]
	if _, err := mn.Exec(ctx, "ip", "mptcp", "endpoint", "add", lte.addr, "dev", lte.ifname, "subflow"); err != nil {
		return nil, fmt.Errorf("MPTCP: %w", err)
	}
	return undo, nil
}

// RunBaseline builds the demo lab, measures the baseline in it and removes it.
func RunBaseline(ctx context.Context, name string, o BaselineOptions) (*Baseline, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	topo, err := lab.Parse(topologyYAML)
	if err != nil {
		return nil, fmt.Errorf("demo topology: %w", err)
	}
	if name == "" {
		name = "mptcp"
	}
	topo.Name = name
	l, err := lab.Up(ctx, topo)
	if err != nil {
		return nil, err
	}
	defer l.Down()
	return MeasureBaseline(ctx, l, o)
}
