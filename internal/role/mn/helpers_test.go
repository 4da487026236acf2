package mn

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logRecord is one captured log line.
type logRecord struct {
	at    time.Time
	msg   string
	attrs map[string]string
}

// recorder is a slog handler that keeps every record (for timing the
// failover from the daemon's own events) and forwards it to the test log.
type recorder struct {
	mu    *sync.Mutex
	recs  *[]logRecord
	attrs []slog.Attr
	t     testing.TB
	quiet *bool
}

func newRecorder(t testing.TB) *recorder {
	return &recorder{mu: &sync.Mutex{}, recs: &[]logRecord{}, t: t, quiet: new(bool)}
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	lr := logRecord{at: rec.Time, msg: rec.Message, attrs: map[string]string{}}
	var b strings.Builder
	for _, a := range r.attrs {
		lr.attrs[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool {
		lr.attrs[a.Key] = a.Value.String()
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	r.mu.Lock()
	*r.recs = append(*r.recs, lr)
	quiet := *r.quiet
	r.mu.Unlock()
	if !quiet && rec.Level >= slog.LevelInfo {
		r.t.Logf("%s %s %s%s", rec.Time.Format("15:04:05.000"), rec.Level, rec.Message, b.String())
	}
	return nil
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *r
	c.attrs = append(append([]slog.Attr(nil), r.attrs...), as...)
	return &c
}

func (r *recorder) WithGroup(string) slog.Handler { return r }

func (r *recorder) silence() {
	r.mu.Lock()
	*r.quiet = true
	r.mu.Unlock()
}

// find returns the first record after t with message msg whose attributes
// contain all of kv (key, value, key, value...).
func (r *recorder) find(after time.Time, msg string, kv ...string) (logRecord, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
next:
	for _, lr := range *r.recs {
		if lr.at.Before(after) || lr.msg != msg {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if lr.attrs[kv[i]] != kv[i+1] {
				continue next
			}
		}
		return lr, true
	}
	return logRecord{}, false
}

// eventually polls f until it returns nil or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
