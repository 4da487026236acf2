// Package metrics serves a daemon's Prometheus endpoint (/metrics) and its
// health (/healthz). It keeps no state of its own: every scrape asks the
// role for the same snapshots `monami ctl` shows (internal/ctlapi), so the
// role stays the single writer of its state and the figures agree with
// ctl's.
package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"monami/internal/ctlapi"
)

// snapshotTimeout bounds one snapshot: a scrape must not hang on a busy
// event loop.
const snapshotTimeout = 2 * time.Second

// Server is a running metrics endpoint.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen opens the endpoint's socket on addr (host:port), before the
// daemon builds its data plane, so a port in use stops it early.
func Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen %s: %w", addr, err)
	}
	return &Server{ln: ln}, nil
}

// Serve serves /metrics and /healthz for the role p until Close.
func (s *Server) Serve(p ctlapi.Provider, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	switch p.Role() {
	case "ha":
		reg.MustRegister(&haCollector{p: p})
	case "mn":
		reg.MustRegister(&mnCollector{p: p})
	default:
		return fmt.Errorf("metrics: no collector for role %q", p.Role())
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogAdapter{log}}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { serveHealth(w, r, p) })
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	log.Info("metrics endpoint up", "listen", s.ln.Addr().String())
	return nil
}

// Addr is the address the endpoint listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops serving.
func (s *Server) Close() error {
	if s.srv == nil {
		return s.ln.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// snapshot fetches a topic and decodes it into v through its JSON form,
// the contract the control API already keeps stable for `monami ctl`.
func snapshot(ctx context.Context, p ctlapi.Provider, topic string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	data, err := p.Snapshot(ctx, topic)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", topic, err)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", topic, err)
	}
	return json.Unmarshal(b, v)
}

type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Println(v ...any) { a.log.Warn("metrics", "err", fmt.Sprint(v...)) }
