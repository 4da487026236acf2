package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"monami/internal/testenv"
)

// scrape GETs path from a daemon's metrics endpoint inside its namespace.
func (s *scenario) scrape(t *testing.T, node, path string) (int, string) {
	t.Helper()
	n := s.lab.MustNode(node)
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := n.Do(func() (err error) { c, err = (&net.Dialer{}).DialContext(ctx, network, addr); return err })
		return c, err
	}}
	cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + metricsListen + path)
	if err != nil {
		t.Fatalf("%s %s: %v", node, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of the sample whose name and labels start with
// series (e.g. `monami_binding_acks_total{code="0",role="ha",status="Binding Update accepted"}`),
// or -1 when there is none.
func metric(text, series string) float64 {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(l, series)), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// TestMetricsDuringDemo scrapes /metrics of both daemons of the demo: the
// binding gauge and the Binding Update counters move when the mobile node
// registers, and /healthz is ok.
func TestMetricsDuringDemo(t *testing.T) {
	testenv.RequireRoot(t)
	s := newScenario(t, "mdm", Options{Backend: "kernel"})
	if err := s.writeConfigs(); err != nil {
		t.Fatal(err)
	}
	s.start(t, "ha")
	_, before := s.scrape(t, "ha", "/metrics")
	for _, series := range []string{"monami_up{role=\"ha\"}", "monami_ha_bindings", "monami_ha_binding_updates_received_total"} {
		if v := metric(before, series); v < 0 {
			t.Fatalf("ha /metrics has no %s:\n%s", series, before)
		}
	}
	if v := metric(before, "monami_ha_bindings"); v != 0 {
		t.Fatalf("monami_ha_bindings %v before the mobile node started", v)
	}
	s.start(t, "mn")
	if err := s.waitBindings(context.Background(), 2, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	_, after := s.scrape(t, "ha", "/metrics")
	// The home agent holds both bindings once it has sent its answers;
	// the mobile node counts them once they have arrived.
	_, mn := s.scrape(t, "mn", "/metrics")
	for deadline := time.Now().Add(5 * time.Second); metric(mn, `monami_mn_binding_update_list_entries{state="registered"}`) < 2 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		_, mn = s.scrape(t, "mn", "/metrics")
	}
	for _, c := range []struct {
		text, series string
		min          float64
	}{
		{after, "monami_up{role=\"ha\"}", 1},
		{after, "monami_ha_bindings", 2},
		{after, "monami_ha_mobile_nodes_registered", 1},
		{after, "monami_ha_binding_updates_received_total", 1},
		{after, `monami_binding_acks_total{code="0",role="ha",status="Binding Update accepted"}`, 1},
		{mn, "monami_mn_binding_updates_sent_total", 1},
		{mn, `monami_binding_acks_total{code="0",role="mn",status="Binding Update accepted"}`, 1},
		{mn, `monami_mn_binding_update_list_entries{state="registered"}`, 2},
		{after, `monami_dataplane_packets_total{direction="in",role="ha"}`, 0},
	} {
		if v := metric(c.text, c.series); v < c.min {
			t.Errorf("%s = %v, want at least %v", c.series, v, c.min)
		}
	}
	t.Logf("ha: bindings %v, BUs %v, accepted %v; mn: BUs sent %v",
		metric(after, "monami_ha_bindings"), metric(after, "monami_ha_binding_updates_received_total"),
		metric(after, `monami_binding_acks_total{code="0",role="ha",status="Binding Update accepted"}`), metric(mn, "monami_mn_binding_updates_sent_total"))
	for _, node := range []string{"ha", "mn"} {
		if code, body := s.scrape(t, node, "/healthz"); code != http.StatusOK || !strings.Contains(body, `"status":"ok"`) {
			t.Errorf("%s /healthz: %d %s", node, code, body)
		}
	}
	if t.Failed() {
		fmt.Println(after, mn)
	}
}
