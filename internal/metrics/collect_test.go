package metrics

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// haFake answers the home agent's topics with fixed views.
type haFake struct{ status map[string]any }

func (haFake) Role() string     { return "ha" }
func (haFake) Topics() []string { return []string{"bindings", "counters", "status"} }
func (f haFake) Snapshot(_ context.Context, topic string) (any, error) {
	switch topic {
	case "bindings":
		return []map[string]any{}, nil
	case "counters":
		return map[string]any{"signalling": map[string]any{"not_leader": 7}}, nil
	}
	return f.status, nil
}

// A cluster node exports whether it leads, and the messages it dropped
// as a standby; a home agent without a cluster has no leader gauge.
func TestHACollectorCluster(t *testing.T) {
	for _, tc := range []struct {
		status map[string]any
		want   string
	}{
		{map[string]any{"cluster": map[string]any{"leading": false}}, "monami_ha_cluster_leader 0"},
		{map[string]any{"cluster": map[string]any{"leading": true, "terms": 3}}, "monami_ha_cluster_leader 1"},
		{map[string]any{}, ""},
	} {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(&haCollector{p: haFake{tc.status}})
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var leader string
		var dropped bool
		terms := -1.0
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				switch mf.GetName() {
				case "monami_ha_cluster_leader":
					leader = "monami_ha_cluster_leader " + map[float64]string{0: "0", 1: "1"}[m.GetGauge().GetValue()]
				case "monami_ha_cluster_terms_total":
					terms = m.GetCounter().GetValue()
				case "monami_ha_signalling_events_total":
					for _, l := range m.GetLabel() {
						if l.GetValue() == "not_leader" && m.GetCounter().GetValue() == 7 {
							dropped = true
						}
					}
				}
			}
		}
		wantTerms := map[string]float64{"": -1, "monami_ha_cluster_leader 0": 0, "monami_ha_cluster_leader 1": 3}[tc.want]
		if terms != wantTerms {
			t.Errorf("status %v: terms_total %v, want %v (-1: absent)", tc.status, terms, wantTerms)
		}
		if leader != tc.want || !dropped {
			t.Errorf("status %v: leader %q (want %q), not_leader counted %v", tc.status, leader, tc.want, dropped)
		}
	}
}
