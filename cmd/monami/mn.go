package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"monami/internal/config"
	"monami/internal/metrics"
	"monami/internal/role/mn"
)

func init() {
	var cfgPath string
	var check bool
	cmd := &cobra.Command{
		Use:   "mn -c mn.yaml",
		Short: "Run a Mobile IPv6 mobile node with multiple care-of addresses (RFC 6275, RFC 5648)",
		Long: `mn runs a mobile node: every usable global address on the configured access
interfaces becomes a care-of address registered as its own binding (RFC 5648
Binding ID and priority from the configuration, bulk registration), each Binding
Update signed with RFC 4285. The home addresses sit on the home interface
(home_interface, default monami0) so unmodified applications use them; their
traffic is reverse-tunnelled through the best registered care-of address and
moves at once when an interface goes down. SIGINT or SIGTERM deregisters every
binding and removes every route, rule, address and interface it installed.
SIGHUP reloads the policy: section of the file (validated first; an invalid
file is logged and the running policy kept), without touching the bindings.
See examples/mn.yaml for every configuration key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.LoadMobileNode(cfgPath)
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
			log := newLogger(cfg.Log)
			logNotes(log, cfgPath, cfg.Notes())
			var ms *metrics.Server
			if cfg.Metrics.Listen != "" {
				if ms, err = metrics.Listen(cfg.Metrics.Listen); err != nil {
					return err
				}
				defer ms.Close()
			}
			m, err := mn.New(cfg, mn.Options{Logger: log})
			if err != nil {
				return err
			}
			if ms != nil {
				if err := ms.Serve(m, log); err != nil {
					return err
				}
			}
			stop := reloadOnHangup(cmd.Context(), cfgPath, m, log)
			defer stop()
			return m.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "/etc/monami/mn.yaml", "configuration file")
	cmd.Flags().BoolVar(&check, "check", false, "validate the configuration and exit")
	root.AddCommand(markRoot(cmd))
}

// reloadOnHangup reloads the policy: section of the configuration file on
// every SIGHUP until ctx ends or stop is called. SIGHUP would otherwise
// end the daemon without deregistering.
func reloadOnHangup(ctx context.Context, path string, m *mn.MobileNode, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				reloadPolicy(ctx, path, m, log)
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(hup); close(done) }
}

func reloadPolicy(ctx context.Context, path string, m *mn.MobileNode, log *slog.Logger) {
	cfg, err := config.LoadMobileNode(path)
	if err == nil {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = m.ReloadPolicy(rctx, cfg)
		cancel()
	}
	if err != nil {
		log.Error("SIGHUP: policy not reloaded; the running policy stays", "file", path, "err", err)
		return
	}
	log.Info("SIGHUP: policy reloaded (only the policy: section; restart for the rest)", "file", path)
}
