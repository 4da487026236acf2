package metrics

import (
	"encoding/json"
	"net/http"
	"strings"

	"monami/internal/ctlapi"
)

// Health is the /healthz answer.
type Health struct {
	Status    string `json:"status"`     // ok or failing
	Role      string `json:"role"`       // ha, mn
	EventLoop string `json:"event_loop"` // ok, or why a snapshot failed
	Dataplane string `json:"dataplane"`  // ok, or why its counters cannot be read
	// Cluster, for a home agent node of a cluster: "serving" (it leads),
	// "standby" (healthy, ready to take over) or "no etcd quorum: ..." (it
	// can neither serve nor take over: 503).
	Cluster string `json:"cluster,omitempty"`
}

// serveHealth answers 200 when the role's event loop answers and its data
// plane can be read, else 503, so a load balancer or systemd watchdog
// script can act on the status code alone.
func serveHealth(w http.ResponseWriter, r *http.Request, p ctlapi.Provider) {
	h := Health{Status: "ok", Role: p.Role(), EventLoop: "ok", Dataplane: "ok"}
	var c struct {
		Dataplane *dataplaneCounters `json:"dataplane"`
	}
	if err := snapshot(r.Context(), p, "counters", &c); err != nil {
		h.EventLoop, h.Dataplane = err.Error(), "unknown"
	} else if c.Dataplane == nil {
		// The roles leave the data plane out of the snapshot when
		// reading its counters fails.
		h.Dataplane = "counters unavailable"
	}
	if h.EventLoop == "ok" && p.Role() == "ha" {
		h.Cluster = clusterHealth(r, p)
	}
	code := http.StatusOK
	if h.EventLoop != "ok" || h.Dataplane != "ok" || strings.HasPrefix(h.Cluster, noQuorum) {
		h.Status, code = "failing", http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(h)
}

const noQuorum = "no etcd quorum: "

// clusterHealth tells a cluster node's states apart: a standby is healthy
// (it would take over), a node that cannot reach an etcd quorum is not,
// whether it led or not (a leader cut off has stepped down by then). ""
// without a cluster.
func clusterHealth(r *http.Request, p ctlapi.Provider) string {
	var st struct {
		Cluster *struct {
			Leading bool   `json:"leading"`
			Etcd    string `json:"etcd"`
		} `json:"cluster"`
	}
	if err := snapshot(r.Context(), p, "status", &st); err != nil || st.Cluster == nil {
		return ""
	}
	switch c := st.Cluster; {
	case c.Etcd != "ok" && c.Etcd != "unknown":
		return noQuorum + c.Etcd
	case c.Leading:
		return "serving"
	default:
		return "standby"
	}
}
