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

func init() {
	var socket, role string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ctl [TOPIC]",
		Short: "Inspect a running monami daemon (bindings, binding update list, counters...)",
		Long: `ctl reads a running daemon's control API on its unix socket.
Without TOPIC it lists the topics the daemon offers. The socket is --socket, or
/run/monami/ROLE.sock for --role, or the only socket in /run/monami.`,
		Example: "  monami ctl --role ha bindings\n  monami ctl bul --json",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := findSocket(socket, role)
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
			out := cmd.OutOrStdout()
			if asJSON {
				_, err = fmt.Fprintln(out, string(data))
				return err
			}
			fmt.Fprintf(out, "%s %s at %s\n", resp.Role, resp.Topic, resp.Time.Format(time.RFC3339))
			return ctlapi.Render(out, data)
		},
	}
	cmd.Flags().StringVar(&socket, "socket", "", "control socket path")
	cmd.Flags().StringVar(&role, "role", "", "role whose default socket to use (ha, mn, cn, lma, mag)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the data as JSON")
	root.AddCommand(markRoot(cmd))
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
