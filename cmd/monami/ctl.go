package main

import (
	"fmt"

	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"monami/internal/ctlapi"
)

// defaultSocketDir holds one control socket per running role.
const defaultSocketDir = "/run/monami"

// The flags of ctl, which its subcommands (flow) share.
var (
	ctlSocket, ctlRole string
	ctlJSON            bool
)

func init() {
	cmd := &cobra.Command{
		Use:   "ctl [TOPIC]",
		Short: "Inspect a running monami daemon (bindings, binding update list, counters...)",
		Long: `ctl reads a running daemon's control API on its unix socket.
Without TOPIC it lists the topics the daemon offers. The socket is --socket, or
/run/monami/ROLE.sock for --role, or the only socket in /run/monami.`,
		Example: "  monami ctl --role ha bindings\n  monami ctl bul --json\n  monami ctl --role mn flows",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := findSocket(ctlSocket, ctlRole)
			if err != nil {
				return err
			}
			topic := "topics"
			if len(args) == 1 {
				topic = args[0]
			}
			ctx, cancel := contextWithTimeout(cmd, 10*time.Second)
			defer cancel()
			resp, data, err := ctlapi.NewClient(path).Get(ctx, topic)
			if err != nil {
				return err
			}
			return printAnswer(cmd, resp, data)
		},
	}
	cmd.PersistentFlags().StringVar(&ctlSocket, "socket", "", "control socket path")
	cmd.PersistentFlags().StringVar(&ctlRole, "role", "", "role whose default socket to use (ha, mn, cn, lma, mag)")
	cmd.PersistentFlags().BoolVar(&ctlJSON, "json", false, "print the data as JSON")
	cmd.AddCommand(flowCommand(), drainCommand())
	root.AddCommand(markRoot(cmd))
}

// printAnswer prints a control API answer: its data as JSON with --json,
// else a header line and the data rendered.
func printAnswer(cmd *cobra.Command, resp ctlapi.Response, data []byte) error {
	out := cmd.OutOrStdout()
	if ctlJSON {
		_, err := fmt.Fprintln(out, string(data))
		return err
	}
	fmt.Fprintf(out, "%s %s at %s\n", resp.Role, resp.Topic, resp.Time.Format(time.RFC3339))
	return ctlapi.Render(out, data)
}

func findSocket(socket, role string) (string, error) {
	if socket != "" {
		return socket, nil
	}
	if role != "" {
		return filepath.Join(defaultSocketDir, role+".sock"), nil
	}
	found, _ := filepath.Glob(filepath.Join(defaultSocketDir, "*.sock"))
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no control socket in %s: is a daemon running? (or give --socket)", defaultSocketDir)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("several daemons run (%s): choose one with --role or --socket", strings.Join(found, ", "))
}
