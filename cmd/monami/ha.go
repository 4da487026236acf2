package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"monami/internal/config"
	"monami/internal/metrics"
	"monami/internal/role/ha"
)

func init() {
	var cfgPath string
	var check bool
	var cpuProfile string
	var drain bool
	cmd := &cobra.Command{
		Use:   "ha -c ha.yaml",
		Short: "Run a Mobile IPv6 home agent with multiple care-of address support (RFC 6275, RFC 5648)",
		Long: `ha runs a home agent: it authenticates Binding Updates (RFC 4285), keeps a
binding cache keyed by home address and binding ID (RFC 5648), tunnels each home
address's traffic to its preferred care-of address and accepts reverse-tunnelled
traffic only from registered care-of addresses.

Stopping: SIGTERM is an upgrade stop. With the bolt store (the default) and the
kernel data plane, the home agent exits but leaves its routes, BPF program and
nftables table forwarding; the next start restores the bindings from the store,
takes that state over without a gap and removes what no restored binding needs.
SIGINT (Ctrl-C), or any stop with --drain, is a drain: it removes every route,
rule, interface and nftables table it installed, and traffic to the mobile
nodes stops. With the memory store, the userspace data plane (which forwards
only while its process runs) or a cluster node (whose stop hands over to the
standby) SIGTERM drains too.
See examples/ha.yaml for every configuration key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Before anything is installed: which signal stops the home
			// agent decides what the stop leaves (see stopMode).
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			cfg, err := config.LoadHomeAgent(cfgPath)
			if err != nil {
				return err
			}
			if check {
				for _, n := range cfg.Notes() {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: note: %s\n", cfgPath, n)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", cfgPath)
				return nil
			}
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			log := newLogger(cfg.Log)
			logNotes(log, cfgPath, cfg.Notes())
			var ms *metrics.Server
			if cfg.Metrics.Listen != "" {
				if ms, err = metrics.Listen(cfg.Metrics.Listen); err != nil {
					return err
				}
				defer ms.Close()
			}
			h, err := ha.New(cfg, ha.Options{Logger: log})
			if err != nil {
				return err
			}
			if ms != nil {
				if err := ms.Serve(h, log); err != nil {
					return err
				}
			}
			// Not cmd.Context(): it ends on the same signals, maybe
			// before the stop mode is set.
			ctx, cancel := context.WithCancel(context.WithoutCancel(cmd.Context()))
			defer cancel()
			go func() {
				select {
				case s := <-sigs:
					h.SetStopMode(stopMode(s, drain))
					cancel()
				case <-ctx.Done():
				}
			}()
			return h.Run(ctx)
		},
	}
	cmd.Flags().BoolVar(&drain, "drain", false, "make SIGTERM a drain stop too: remove everything the home agent installed (default: SIGTERM keeps forwarding for the next start)")
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "/etc/monami/ha.yaml", "configuration file")
	cmd.Flags().BoolVar(&check, "check", false, "validate the configuration and exit")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile of the run to this file (for developers)")
	_ = cmd.Flags().MarkHidden("cpuprofile")
	root.AddCommand(markRoot(cmd))
}

// stopMode is what a signal's stop leaves: SIGTERM (what service managers
// send on a restart) keeps forwarding unless --drain; SIGINT, an
// operator's deliberate Ctrl-C, drains.
func stopMode(s os.Signal, drain bool) ha.StopMode {
	if s == syscall.SIGTERM && !drain {
		return ha.StopUpgrade
	}
	return ha.StopDrain
}
