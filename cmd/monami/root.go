package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/spf13/cobra"
)

// needsRoot marks a command that configures the network (namespaces,
// routes, nftables, raw sockets) or talks to a root-only control socket.
const needsRoot = "monami/needs-root"

func init() { root.PersistentPreRunE = elevate }

// markRoot annotates cmd as needing root.
func markRoot(cmd *cobra.Command) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[needsRoot] = "yes"
	return cmd
}

func wantsRoot(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[needsRoot] == "yes" {
			return true
		}
	}
	return false
}

// elevate runs the command again through sudo when it needs root and the
// user is not: `go run ./cmd/monami lab demo` works as written for a user
// with sudo, and for root on a machine without sudo.
func elevate(cmd *cobra.Command, _ []string) error {
	if os.Geteuid() == 0 || !wantsRoot(cmd) {
		return nil
	}
	sudo, err := exec.LookPath("sudo")
	if err != nil {
		return fmt.Errorf("%s needs root (network namespaces, routes, nftables, raw sockets): run it as root", cmd.CommandPath())
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "monami: %s needs root; running it with sudo\n", cmd.CommandPath())
	return syscall.Exec(sudo, append([]string{"sudo", "--", exe}, os.Args[1:]...), os.Environ())
}
