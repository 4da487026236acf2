package metrics

import (
	"encoding/json"
	"net/http"

	"monami/internal/ctlapi"
)

// Health is the /healthz answer.
type Health struct {
	Status    string `json:"status"`     // ok or failing
	Role      string `json:"role"`       // ha, mn
	EventLoop string `json:"event_loop"` // ok, or why a snapshot failed
	Dataplane string `json:"dataplane"`  // ok, or why its counters cannot be read
	// Store reports the binding store once the home agent has one.
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
	code := http.StatusOK
	if h.EventLoop != "ok" || h.Dataplane != "ok" {
		h.Status, code = "failing", http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(h)
}
