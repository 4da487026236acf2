package demo

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// Aggregation acceptance (issue 11): shareFlows TCP flows between the
// correspondent and the home address, spread over both links by the
// policy's share, reach shareFraction of the sum of the links' single-TCP
// goodputs measured in the same run (MeasureBaseline, before the daemons
// start: one TCP per link, no tunnel), each way.
const (
	shareFlows    = 4
	shareFraction = 0.95
)

// Aggregation is one direction with one congestion control.
type Aggregation struct {
	Direction  string  `json:"direction"`
	Congestion string  `json:"congestion_control"`
	Flows      int     `json:"flows"`
	OursMbps   float64 `json:"monami_mbit_s"`
	// FlowMbps is each flow's goodput; BytesPerLink what each link
	// carried that way while they ran (interface counters).
	FlowMbps     []float64         `json:"flow_mbit_s"`
	BytesPerLink map[string]uint64 `json:"bytes_per_link"`
	// Baseline is the reference: single TCP per link and their sum, and
	// Linux MPTCP over both links, no monami.
	Baseline *Baseline `json:"baseline"`
	// Percent is OursMbps in percent of Baseline.SumSingleMbps.
	Percent float64 `json:"percent_of_sum"`
}

func (a *Aggregation) write(w io.Writer) {
	fmt.Fprintf(w, "aggregation %-4s (%s): monami %d flows %.1f Mbit/s = %.1f%% of single TCP wlan0 %.1f + lte0 %.1f = %.1f; Linux MPTCP %.1f Mbit/s (%d subflows)\n",
		a.Direction, a.Congestion, a.Flows, a.OursMbps, a.Percent,
		a.Baseline.SingleTCP[activeIf].Mbps, a.Baseline.SingleTCP[backupIf].Mbps, a.Baseline.SumSingleMbps,
		a.Baseline.MPTCP.Mbps, a.Baseline.MPTCP.Subflows)
	fmt.Fprintf(w, "  per flow %v Mbit/s; bytes per link %v\n", a.FlowMbps, a.BytesPerLink)
}

// shareBaselines measures the references, before the daemons start.
func (s *scenario) shareBaselines(ctx context.Context) (map[string]*Baseline, error) {
	out := map[string]*Baseline{}
	for _, cc := range s.opt.congestions() {
		for _, up := range []bool{false, true} {
			b, err := MeasureBaseline(ctx, s.lab, BaselineOptions{Up: up, Congestion: cc,
				Duration: s.opt.FlowDuration, Warmup: s.opt.FlowWarmup, Progress: s.opt.Progress})
			if err != nil {
				return nil, fmt.Errorf("baseline (%s, %s): %w", dirName(up), ccName(cc), err)
			}
			out[cc+"/"+b.Direction] = b
		}
	}
	return out, nil
}

// share runs the aggregation measurement through monami, each
// congestion control and direction in turn.
func (s *scenario) share(ctx context.Context, r *ScenarioReport, base map[string]*Baseline, t0 time.Time) error {
	for _, cc := range s.opt.congestions() {
		for _, up := range []bool{false, true} {
			r.Events = append(r.Events, Event{At: time.Since(t0), What: fmt.Sprintf("%d TCP flows %s (%s) through monami", shareFlows, dirName(up), ccName(cc))})
			a, err := s.shareOnce(ctx, up, cc)
			if err != nil {
				return err
			}
			a.Baseline = base[cc+"/"+dirName(up)]
			if a.Baseline.SumSingleMbps > 0 {
				a.Percent = round1(100 * a.OursMbps / a.Baseline.SumSingleMbps)
			}
			r.Aggregation = append(r.Aggregation, a)
			r.addCongestion(a.Congestion)
			r.check(fmt.Sprintf("aggregation %s (%s)", a.Direction, a.Congestion), fmt.Sprintf(">= %.0f%% of the single-TCP sum", 100*shareFraction),
				a.OursMbps >= shareFraction*a.Baseline.SumSingleMbps,
				"%.1f Mbit/s, %.1f%% of %.1f (MPTCP %.1f)", a.OursMbps, a.Percent, a.Baseline.SumSingleMbps, a.Baseline.MPTCP.Mbps)
		}
	}
	return nil
}

// shareOnce runs shareFlows TCP flows at once from or to the home address.
func (s *scenario) shareOnce(ctx context.Context, up bool, cc string) (*Aggregation, error) {
	a := &Aggregation{Direction: dirName(up), Flows: shareFlows, BytesPerLink: map[string]uint64{}}
	res := make([]FlowResult, shareFlows)
	errs := make([]error, shareFlows)
	var wg sync.WaitGroup
	for i := range shareFlows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = measureFlow(ctx, s.lab, flowSpec{local: homeAddress, port: bulkPort + i, down: !up,
				congestion: cc, duration: s.opt.FlowDuration, warmup: s.opt.FlowWarmup})
		}()
	}
	wg.Wait()
	for i, r := range res {
		if errs[i] != nil {
			return nil, fmt.Errorf("%w: TCP flow %d %s through monami: %v", errBroken, i+1, a.Direction, errs[i])
		}
		a.Congestion = r.Congestion
		a.OursMbps += r.Mbps
		a.FlowMbps = append(a.FlowMbps, round1(r.Mbps))
		for k, v := range r.BytesPerLink {
			a.BytesPerLink[k] = max(a.BytesPerLink[k], v)
		}
	}
	a.OursMbps = round1(a.OursMbps)
	return a, nil
}
