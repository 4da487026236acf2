package main

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"monami/internal/config"
	"monami/internal/ctlapi"
	"monami/internal/role/ha"
)

// drainCommand is `monami ctl --role ha drain`: the home agent tells its
// mobile nodes to register elsewhere (RFC 5142 Home Agent Switch).
func drainCommand() *cobra.Command {
	var to []string
	var status bool
	cmd := &cobra.Command{
		Use:   "drain [--to ADDR[,ADDR...]] | drain --status",
		Short: "Home agent: tell every registered mobile node to register with another home agent (RFC 5142)",
		Long: `drain makes a running home agent send an authenticated Home Agent Switch message
(RFC 5142) to every registered mobile node, naming the home agents of --to (or
alternate_home_agents of ha.yaml), preferred first, and repeat it until the mobile
node deregisters; from then on it refuses new registrations (status 129) and still
accepts refreshes, so a mobile node that cannot switch keeps its traffic. The
alternate home agents must serve the same home prefixes and hold the same mobile
nodes' keys (SPI and key). drain --status shows which mobile nodes have not
switched yet; once none is left, stop the home agent (SIGTERM).`,
		Example: `  monami ctl --role ha drain --to 2001:db8:1::12
  monami ctl --role ha drain --status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if status {
				if len(to) > 0 {
					return fmt.Errorf("drain: --status takes no --to")
				}
				return getTopic(cmd, "drain")
			}
			// Checked here too, so a typo is named before connecting; the
			// daemon also refuses its own address.
			if _, err := config.CheckAlternateHomeAgents("--to", to, netip.Addr{}); err != nil {
				return fmt.Errorf("drain: %w", err)
			}
			return runCommand(cmd, "drain", ha.DrainRequest{To: to})
		},
	}
	cmd.Flags().StringSliceVar(&to, "to", nil, "alternate home agent addresses, preferred first (default: alternate_home_agents of ha.yaml)")
	cmd.Flags().BoolVar(&status, "status", false, "show the drain's progress instead of starting it")
	return cmd
}

// getTopic prints one topic of the daemon, as `monami ctl TOPIC` does.
func getTopic(cmd *cobra.Command, topic string) error {
	path, err := findSocket(ctlSocket, ctlRole)
	if err != nil {
		return err
	}
	ctx, cancel := contextWithTimeout(cmd, 10*time.Second)
	defer cancel()
	resp, data, err := ctlapi.NewClient(path).Get(ctx, topic)
	if err != nil {
		return err
	}
	return printAnswer(cmd, resp, data)
}
