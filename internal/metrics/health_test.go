package metrics

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// clusterFake is a home agent whose event loop and data plane are fine,
// with a given cluster status.
type clusterFake struct{ status map[string]any }

func (clusterFake) Role() string     { return "ha" }
func (clusterFake) Topics() []string { return []string{"counters", "status"} }
func (f clusterFake) Snapshot(_ context.Context, topic string) (any, error) {
	if topic == "counters" {
		return map[string]any{"signalling": map[string]any{}, "dataplane": map[string]any{}}, nil
	}
	return f.status, nil
}

// /healthz of a cluster node: the leader serves (200), a standby is
// healthy (200, not 503: a load balancer must not think it broken), a node
// without an etcd quorum is not (503), and a single home agent has no
// cluster field.
func TestHealthCluster(t *testing.T) {
	for _, tc := range []struct {
		cluster map[string]any
		code    int
		want    string
	}{
		{map[string]any{"leading": true, "etcd": "ok"}, 200, "serving"},
		{map[string]any{"leading": false, "etcd": "ok"}, 200, "standby"},
		{map[string]any{"leading": false, "etcd": "unknown"}, 200, "standby"},
		{map[string]any{"leading": false, "etcd": "context deadline exceeded"}, 503, "no etcd quorum: context deadline exceeded"},
		{map[string]any{"leading": true, "etcd": "context deadline exceeded"}, 503, "no etcd quorum: context deadline exceeded"},
		{nil, 200, ""},
	} {
		st := map[string]any{}
		if tc.cluster != nil {
			st["cluster"] = tc.cluster
		}
		w := httptest.NewRecorder()
		serveHealth(w, httptest.NewRequest(http.MethodGet, "/healthz", nil), clusterFake{st})
		var h Health
		if err := json.Unmarshal(w.Body.Bytes(), &h); err != nil {
			t.Fatal(err)
		}
		if w.Code != tc.code || h.Cluster != tc.want {
			t.Errorf("cluster %v: %d %q, want %d %q (%s)", tc.cluster, w.Code, h.Cluster, tc.code, tc.want, w.Body)
		}
	}
}
