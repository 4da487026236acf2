package bench

import (
	"testing"
)

func TestSummarizeCost(t *testing.T) {
	runs := []Result{
		{Round: 1, Case: Plain, Streams: 1, Gbps: 10, CPUPerGbit: 0.1},
		{Round: 1, Case: Kernel, Streams: 1, Gbps: 9, CPUPerGbit: 0.12, Ratio: 0.9, CostRatio: 1.2},
		{Round: 2, Case: Plain, Streams: 1, Gbps: 12, CPUPerGbit: 0.1},
		{Round: 2, Case: Kernel, Streams: 1, Gbps: 11, CPUPerGbit: 0.11, Ratio: 11.0 / 12, CostRatio: 1.1},
		{Round: 3, Case: Kernel, Streams: 1, Error: "boom"},
	}
	res := summarize(runs, []Case{Plain, Kernel}, []int{1})
	k := res[1]
	near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	if !near(k.Gbps, 10) || !near(k.CostRatio, 1.15) || !near(k.CPUPerGbit, 0.115) || k.Error != "" {
		t.Errorf("kernel summary %+v", k)
	}
	if !near(k.RatioMin, 0.9) || !near(k.RatioMax, 11.0/12) {
		t.Errorf("kernel ratio range %v-%v, want 0.9-0.917", k.RatioMin, k.RatioMax)
	}
}

// TestRatiosToPlain: a reversed round measures plain last; its ratios
// still come from that round's plain run.
func TestRatiosToPlain(t *testing.T) {
	round := []Result{
		{Case: Kernel, Streams: 1, Gbps: 9, CPUPerGbit: 0.12},
		{Case: Kernel, Streams: 4, Gbps: 8, Error: "boom"},
		{Case: Plain, Streams: 1, Gbps: 10, CPUPerGbit: 0.1},
	}
	ratiosToPlain(round)
	if r := round[0]; r.Ratio != 0.9 || r.CostRatio < 1.19 || r.CostRatio > 1.21 {
		t.Errorf("kernel: ratio %v, cost ratio %v; want 0.9, 1.2", r.Ratio, r.CostRatio)
	}
	if round[1].Ratio != 0 || round[2].Ratio != 1 {
		t.Errorf("ratios %v (failed run), %v (plain); want 0 and 1", round[1].Ratio, round[2].Ratio)
	}
}
