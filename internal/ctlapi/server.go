// Package ctlapi is the local control API of a monami daemon: JSON over HTTP
// on a unix socket, read by `monami ctl`. A role exposes what it knows as
// named topics (bindings, bul, counters, ...); the API only moves snapshots,
// so a role takes them inside its own event loop and stays the single writer
// of its state.
package ctlapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// APIVersion prefixes every path, so a newer ctl can tell an older daemon.
const APIVersion = "v1"

// Provider is what a role offers to the control API.
type Provider interface {
	// Role names the daemon's role ("ha", "mn", ...).
	Role() string
	// Topics lists the topic names Snapshot accepts.
	Topics() []string
	// Snapshot returns a JSON-marshalable view of one topic. It is called
	// from the HTTP server's goroutines: the role must hand the request to
	// its event loop (or otherwise synchronise) before reading state.
	Snapshot(ctx context.Context, topic string) (any, error)
}

// ErrUnknownTopic is returned by a Provider for a topic it does not have.
var ErrUnknownTopic = errors.New("unknown topic")

// Response is the envelope of every answer.
type Response struct {
	Role  string    `json:"role"`
	Topic string    `json:"topic"`
	Time  time.Time `json:"time"`
	Data  any       `json:"data,omitempty"`
	Error string    `json:"error,omitempty"`
}

// Server serves a Provider on a unix socket.
type Server struct {
	path string
	ln   net.Listener
	srv  *http.Server
	log  *slog.Logger
	// madeDir is the socket's directory when Listen created it; Close
	// removes it again.
	madeDir string
}

// socketDir makes sure the socket's directory exists. Like a systemd
// RuntimeDirectory, the last component (/run/monami on a fresh boot, /run
// being a tmpfs) is created, mode 0700, logged, and removed at stop, so a
// daemon leaves nothing behind. A missing parent is an error: a mistyped
// control_socket must not grow a directory tree as root. It returns the
// directory it created, or "".
func socketDir(path string, log *slog.Logger) (string, error) {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return "", fmt.Errorf("control socket %s: %s is not a directory", path, dir)
		}
		return "", nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("control socket %s: directory %s does not exist and neither does its parent (control_socket mistyped?)", path, dir)
		}
		return "", fmt.Errorf("control socket %s: %w", path, err)
	}
	log.Info("created control socket directory; removed at stop", "dir", dir)
	return dir, nil
}

// Listen creates the socket (mode 0600: the API shows keys' SPIs and
// addresses, and only root may steer the daemon) and starts serving.
// A stale socket left by a crashed daemon is removed; a live one is an
// error, and so is any other file at path (the daemon runs as root: a
// mistyped control_socket must not delete a regular file).
func Listen(path string, p Provider, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	madeDir, err := socketDir(path, log)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Server, error) {
		if madeDir != "" {
			os.Remove(madeDir)
		}
		return nil, err
	}
	if err := removeStaleSocket(path); err != nil {
		return fail(err)
	}
	// The umask makes the socket 0600 from its creation on, so there is no
	// window in which another user can connect before the Chmod below.
	// (The umask is process-wide; Listen runs at start-up.)
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return fail(fmt.Errorf("control socket: %w", err))
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fail(fmt.Errorf("control socket: %w", err))
	}
	s := &Server{path: path, ln: ln, log: log, madeDir: madeDir}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /"+APIVersion+"/", func(w http.ResponseWriter, r *http.Request) {
		s.serveTopic(w, r, p)
	})
	mux.HandleFunc("POST /"+APIVersion+"/", func(w http.ResponseWriter, r *http.Request) {
		s.serveCommand(w, r, p)
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("control API stopped", "err", err)
		}
	}()
	return s, nil
}

// removeStaleSocket removes path if it is a unix socket nobody listens
// on. Nothing at path is fine; a live socket or any other kind of file is
// an error naming path.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("control socket %s: exists and is not a socket (%v); not replacing it", path, fi.Mode().Type())
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another daemon is listening", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("control socket %s: removing stale socket: %w", path, err)
	}
	return nil
}

func (s *Server) serveTopic(w http.ResponseWriter, r *http.Request, p Provider) {
	topic := strings.Trim(strings.TrimPrefix(r.URL.Path, "/"+APIVersion+"/"), "/")
	resp := Response{Role: p.Role(), Topic: topic, Time: time.Now().UTC()}
	status := http.StatusOK
	if topic == "" || topic == "topics" {
		t := append([]string(nil), p.Topics()...)
		sort.Strings(t)
		resp.Topic, resp.Data = "topics", t
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		data, err := p.Snapshot(ctx, topic)
		switch {
		case errors.Is(err, ErrUnknownTopic):
			status, resp.Error = http.StatusNotFound, fmt.Sprintf("unknown topic %q (have: %s)", topic, strings.Join(p.Topics(), ", "))
		case err != nil:
			status, resp.Error = http.StatusInternalServerError, err.Error()
		default:
			resp.Data = data
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(resp); err != nil {
		s.log.Debug("control API write", "err", err)
	}
}

// Path is the socket's path.
func (s *Server) Path() string { return s.path }

// Close stops serving and removes the socket file.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	_ = os.Remove(s.path)
	if s.madeDir != "" {
		// Only if empty: another daemon may have put its socket there.
		_ = os.Remove(s.madeDir)
	}
	return err
}
