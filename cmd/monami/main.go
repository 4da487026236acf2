// Command monami is a multihomed IPv6 mobility daemon and toolkit. Every role
// is a subcommand; each subcommand lives in its own file in this package and
// registers itself with root in an init function, so this file stays small.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

var root = &cobra.Command{
	Use:   "monami",
	Short: "Multihomed IPv6 mobility: Mobile IPv6 with multiple care-of addresses",
	Long: `monami implements Mobile IPv6 home registration (RFC 6275) with multiple care-of
addresses (RFC 5648), RFC 4285 authentication and RFC 5555 UDP encapsulation on a stock
Linux kernel. Its wire library and decoder also cover flow bindings (RFC 6088, 6089),
Proxy Mobile IPv6 (RFC 5213, 7864) and binding revocation (RFC 5846).`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	// SIGINT and SIGTERM cancel the command's context: daemons shut down
	// gracefully and remove what they installed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "monami:", err)
		var st *exitStatus
		if errors.As(err, &st) {
			os.Exit(st.code)
		}
		os.Exit(1)
	}
}

// exitStatus is an error a command returns to exit with a status other
// than 1 (monami decode: 2 when it flagged problems).
type exitStatus struct {
	code int
	msg  string
}

func (e *exitStatus) Error() string { return e.msg }
