package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"monami/internal/config"
)

// contextWithTimeout derives a context from the command's (cancelled on
// SIGINT by main) with a deadline.
func contextWithTimeout(cmd *cobra.Command, d time.Duration) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, d)
}

// newLogger builds the daemon's structured logger from its config.
func newLogger(c config.Log) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// logNotes logs at start what the daemon does differently from what the
// configuration file says (e.g. a lifetime rounded to 4-second units).
func logNotes(log *slog.Logger, path string, notes []string) {
	for _, n := range notes {
		log.Warn("configuration note", "file", path, "note", n)
	}
}

// startCPUProfile writes a Go CPU profile to path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
