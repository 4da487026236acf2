package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"monami/internal/config"
	"monami/internal/metrics"
	"monami/internal/role/ha"
)

func init() {
	var cfgPath string
	var check bool
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "ha -c ha.yaml",
		Short: "Run a Mobile IPv6 home agent with multiple care-of address support (RFC 6275, RFC 5648)",
		Long: `ha runs a home agent: it authenticates Binding Updates (RFC 4285), keeps a
binding cache keyed by home address and binding ID (RFC 5648), tunnels each home
address's traffic to its preferred care-of address and accepts reverse-tunnelled
traffic only from registered care-of addresses. SIGINT or SIGTERM stops it and
removes every route, rule, interface and nftables table it installed.
See examples/ha.yaml for every configuration key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			return h.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "/etc/monami/ha.yaml", "configuration file")
	cmd.Flags().BoolVar(&check, "check", false, "validate the configuration and exit")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile of the run to this file (for developers)")
	_ = cmd.Flags().MarkHidden("cpuprofile")
	root.AddCommand(markRoot(cmd))
}
