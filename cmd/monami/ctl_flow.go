package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"monami/internal/ctlapi"
	"monami/internal/policy"
	"monami/internal/role/mn"
)

// flowCommand is `monami ctl flow`: the mobile node's flow overrides.
func flowCommand() *cobra.Command {
	flow := &cobra.Command{
		Use:   "flow",
		Short: "Move a running mobile node's flows between interfaces (both directions)",
		Long: `flow move puts a flow on other interfaces at once: --match gives a selector with
the keys of a policy rule's match: in mn.yaml (it goes before every rule), or --rule
names a rule of the policy (its interfaces change). The mobile node moves its
uplink and re-signals its flow bindings (RFC 6089) to the home agent in a Binding
Update at once, so the downlink follows. Bindings stay. flow clear drops every
override; so does a restart. monami ctl flows shows where each flow goes.`,
		Args: cobra.NoArgs,
	}
	var req mn.FlowMove
	move := &cobra.Command{
		Use:   "move (--match SELECTOR | --rule NAME) --to IF[,IF...] [--mode interfaces|share|bicast]",
		Short: "Move a flow (a selector, or a policy rule's traffic) to other interfaces",
		Example: `  monami ctl --role mn flow move --match '{next_header: tcp, dst_port: 5201}' --to wwan0
  monami ctl --role mn flow move --rule voice --to wlan0,wwan0 --mode bicast`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFlowMove(&req); err != nil {
				return fmt.Errorf("flow move: %w", err)
			}
			return runCommand(cmd, "flow/move", req)
		},
	}
	move.Flags().StringVar(&req.Match, "match", "", "selector, e.g. '{next_header: tcp, dst_port: 5201}' (keys of a policy rule's match:)")
	move.Flags().StringVar(&req.Rule, "rule", "", "name of a policy rule (rules[N] for an unnamed one)")
	move.Flags().StringSliceVar(&req.To, "to", nil, "interfaces, in preference order for --mode interfaces")
	move.Flags().StringVar(&req.Mode, "mode", policy.ModeInterfaces, "interfaces (first usable), share (flows spread by weight) or bicast (every packet on each)")
	clear := &cobra.Command{
		Use:   "clear",
		Short: "Drop every flow override: the policy of mn.yaml applies again",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCommand(cmd, "flow/clear", struct{}{})
		},
	}
	flow.AddCommand(move, clear)
	return flow
}

// checkFlowMove catches what the daemon would refuse anyway, before
// connecting, naming the flag.
func checkFlowMove(req *mn.FlowMove) error {
	switch {
	case req.Match == "" && req.Rule == "":
		return errors.New("give --match SELECTOR or --rule NAME")
	case req.Match != "" && req.Rule != "":
		return errors.New("give --match or --rule, not both")
	case len(req.To) == 0:
		return errors.New("--to: name at least one interface")
	}
	switch req.Mode {
	case policy.ModeInterfaces, policy.ModeShare, policy.ModeBicast:
	default:
		return fmt.Errorf("--mode: %q is not %s, %s or %s", req.Mode, policy.ModeInterfaces, policy.ModeShare, policy.ModeBicast)
	}
	if req.Match != "" {
		if _, err := policy.ParseMatch("--match", req.Match); err != nil {
			return err
		}
	}
	return nil
}

// runCommand sends a command to the daemon and prints its answer.
func runCommand(cmd *cobra.Command, name string, body any) error {
	path, err := findSocket(ctlSocket, ctlRole)
	if err != nil {
		return err
	}
	ctx, cancel := contextWithTimeout(cmd, 10*time.Second)
	defer cancel()
	resp, data, err := ctlapi.NewClient(path).Do(ctx, name, body)
	if err != nil {
		return err
	}
	return printAnswer(cmd, resp, data)
}
