package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"
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
