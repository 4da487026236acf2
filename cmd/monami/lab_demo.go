package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"monami/internal/demo"
)

func init() {
	var opt demo.Options
	var asJSON, topology bool
	var scenario string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the failover demo: a TCP stream to a mobile node survives the failure of its active link",
		Long: `demo builds a lab (a mobile node with two access links, 10 ms and 40 ms one-way,
an access router, a home agent and a correspondent), starts monami ha and monami mn,
streams TCP from the correspondent to the mobile node's home address, takes the
active link's interface down and up again, and prints a timeline and a summary.
It exits 0 when the TCP connection survived, and cleans up in every case.

With --congestion both (the default) it does that twice in the same lab, with a
CUBIC sender and then a BBR sender, and compares how soon each one's goodput
reaches 80% of the new link's (measured before the daemons start, with the same
algorithm, over lte alone). The sender's congestion control is read back from
its socket and printed.

--scenario nat runs the failover on another network (--topology prints it): lte0
is IPv4-only (10.0.0.10) behind the access router's NAT44 (nftables masquerade),
wlan0 stays IPv6, both signal over UDP (RFC 5555). lte0's IPv4 care-of address
registers through the home agent's IPv4 address, which answers with the NAT
Detection option; data goes IPv6 in UDP in IPv4 through the NAT. After the runs,
with wlan0 down and the NAT's UDP timeout at --nat-timeout, the lte path stays
idle for --nat-idle: a probe to the home address must then still arrive (the
keepalives held the mapping), and must not when the mobile node drops its own
keepalives (the control).

--scenario restart instead registers the mobile node, runs the 1 kHz probe to its
home address, kills the home agent (SIGKILL) and starts it again on the same store,
then stops it (SIGTERM) and starts it again, and reports for each restart the probe
gap from the new process's start, whether ctl bindings shows the same bindings, and
how many Binding Updates the new process needed.

--scenario cluster builds another lab: 3 monami ha nodes and the router on one home
link (a bridge), 3 etcd members, a mobile node and a correspondent; it streams TCP
and the probe to the home address, then SIGKILLs the serving node, SIGKILLs the etcd
raft leader, and cuts the serving node off from etcd (nftables), and reports the
gaps, the takeover times and whether two nodes ever served at once
(docs/ha-cluster.md).

--scenario flap takes the active link (wlan0) down and up again --flaps times,
--flap-interval between each change (default 50 and 200 ms), under the TCP stream
and the 1 kHz probe each way, and reports the longest probe gap of each direction
over the flapping and the link change before it. It exits 0 when both stay within
the interface-down failover bound (100 ms) and the TCP connection survived.

--scenario share, bicast and policy write a policy: section into mn.yaml and
check issue 11's acceptance points (degraded, issue 14's, keeps the default policy), printing a per-link timeline (kB per 100 ms
on wlan0 and lte0, down and up, from the interface counters) and PASS/FAIL per
check; the exit status is 0 only when every check passed:
  share   4 TCP flows each way through monami against the sum of single TCP over
          each link (and Linux MPTCP over both), measured first in the same run
  bicast  a 1 kHz UDP flow bicast on both links: no loss, no duplicate, while
          wlan0 goes down, then while its traffic is silently dropped
  policy  a TCP flow pinned to lte0 while bulk TCP uses wlan0; lte0 down and up;
          then moved by 'monami ctl flow move' to wlan0 and back (100 ms bound)
  degraded bulk TCP each way on wlan0; at +3 s wlan loses 20% each way and its
          delay goes from 10 to 30 ms: both flows move to lte0 within 2 s and
          'monami ctl paths' shows the loss at both ends; at +8 s wlan is clean
          and the flows come back
With --congestion both, share measures each algorithm; policy uses the first.

--scenario home builds another network (--topology prints it): the home agent's
home0 shares a home link (a bridge) with a host hh. A UDP echo on the home address
answers hh and the correspondent while wlan0 is away, then moved onto the home link
(its address there in the home prefix: the mobile node registers the home address
with the H flag, RFC 5648 section 5.6.3), then alone there (lte0 down), then back
away. Each phase reports whose link-layer address hh's neighbour entry for the
home address holds (the home agent's proxy ND or wlan0) and what the home agent's
home0 received and sent; PASS/FAIL per check, exit status 0 only when all passed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if topology {
				t := demo.Topology()
				switch scenario {
				case "nat":
					t = demo.NATTopology()
				case "home":
					t = demo.HomeTopology()
				}
				_, err := cmd.OutOrStdout().Write(t)
				return err
			}
			if labName != "" {
				opt.Name = labName
			}
			var progress io.Writer = cmd.ErrOrStderr()
			opt.Progress = progress
			switch scenario {
			case "failover":
			case "nat":
				// The failover on the IPv4/NAT network, then the keepalive phases.
				opt.NAT = true
			case "restart":
				return runRestart(cmd, opt, asJSON)
			case "cluster":
				return runCluster(cmd, opt, asJSON)
			case "flap":
				return runFlap(cmd, opt, asJSON)
			case "home":
				return runHome(cmd, opt, asJSON)
			case "share", "bicast", "policy", "degraded":
			default:
				return fmt.Errorf("--scenario: %q is not failover, nat, restart, cluster, flap, share, bicast, policy, degraded or home", scenario)
			}
			switch opt.Congestion {
			case demo.CUBIC, demo.BBR, demo.Both:
			default:
				return fmt.Errorf("--congestion %q: want cubic, bbr or both", opt.Congestion)
			}
			if scenario != "failover" && scenario != "nat" {
				return runScenario(cmd, scenario, opt, asJSON)
			}
			rep, err := demo.Run(cmd.Context(), opt)
			if rep != nil && len(rep.Runs) > 0 {
				if jerr := writeSummary(cmd, asJSON, rep); jerr != nil {
					return jerr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	f.StringVar(&scenario, "scenario", "failover", "failover (the active link fails and comes back), nat (the same to an IPv4-only link behind a NAT, then the NAT keepalives), restart (the home agent is killed and restarted), cluster (3 home agents on etcd), flap (the active link down and up again and again), share, bicast or policy (flow policy, issue 11), degraded (20% loss on wlan, issue 14), home (at home on wlan0, away on lte0, RFC 5648 section 5.6.3)")
	f.DurationVar(&opt.FlowDuration, "flow-duration", 6*time.Second, "share: length of each bulk transfer")
	f.DurationVar(&opt.FlowWarmup, "flow-warmup", 2*time.Second, "share: the start of each transfer not counted")
	f.IntVar(&opt.Flaps, "flaps", 50, "flap: how many times the active link goes down and up")
	f.DurationVar(&opt.FlapInterval, "flap-interval", 200*time.Millisecond, "flap: time between two changes of the active link")
	f.StringVar(&opt.DaemonLogLevel, "log-level", "info", "log level of the daemons in the lab: debug, info, warn or error")
	f.StringVar(&opt.LogDir, "keep-logs", "", "copy the daemons' logs to this directory before the lab is removed")
	f.BoolVar(&topology, "topology", false, "print the demo's lab topology (with --scenario nat, the NAT network's) and exit")
	f.DurationVar(&opt.NATKeepalive, "nat-keepalive", 5*time.Second, "nat: the home agent's NAT keepalive interval (NAT Detection Refresh Time)")
	f.DurationVar(&opt.NATTimeout, "nat-timeout", 10*time.Second, "nat: the NAT's UDP mapping timeout (conntrack)")
	f.DurationVar(&opt.NATIdle, "nat-idle", 20*time.Second, "nat: how long the lte path stays idle before the probe")
	f.StringVar(&opt.Backend, "backend", "auto", "data plane backend of both daemons: auto, kernel or userspace")
	f.StringVar(&opt.Transport, "transport", "native", "mobile node signalling: native (MH) or udp (RFC 5555)")
	f.DurationVar(&opt.FailAt, "fail-at", 3*time.Second, "when the active link goes down")
	f.StringVar(&opt.Qdisc, "qdisc", "", "queue discipline of the rate-limited access links, replacing the topology's (fq): fq (a queue per flow) or fifo (one tail-drop queue)")
	f.BoolVar(&opt.Silent, "silent", false, "fail the active access network silently: the access router drops its traffic, the link stays up")
	// A BBR sender needs 8 to 10 s on lte to reach 80% of it, its stale
	// min_rtt expiring first (docs/failover-goodput.md): the lte phase is
	// long enough to show it.
	f.DurationVar(&opt.RestoreAt, "restore-at", 20*time.Second, "when it comes back")
	f.DurationVar(&opt.Duration, "duration", 22*time.Second, "length of the TCP stream")
	f.StringVar(&opt.Congestion, "congestion", demo.Both, "TCP congestion control of the sender: cubic, bbr, or both (the failover once with each)")
	f.StringVar(&opt.Binary, "binary", "", "monami executable for the daemons (default: this one)")
	labCmd.AddCommand(cmd)
}

// runHome runs the home scenario; it fails unless every check passed.
func runHome(cmd *cobra.Command, opt demo.Options, asJSON bool) error {
	sum, err := demo.RunHome(cmd.Context(), opt)
	if sum == nil {
		return err
	}
	if jerr := writeSummary(cmd, asJSON, sum); jerr != nil {
		return jerr
	}
	return err
}

// runRestart runs the restart scenario; it fails when a restart lost a
// binding or needed a Binding Update.
func runRestart(cmd *cobra.Command, opt demo.Options, asJSON bool) error {
	sum, err := demo.RunRestart(cmd.Context(), opt)
	if sum == nil {
		return err
	}
	if jerr := writeSummary(cmd, asJSON, sum); jerr != nil {
		return jerr
	}
	if err != nil {
		return err
	}
	for _, r := range sum.Restarts {
		if !r.BindingsKept || r.BindingUpdates != 0 {
			return fmt.Errorf("%s: bindings kept %v, Binding Updates needed %d", r.Signal, r.BindingsKept, r.BindingUpdates)
		}
	}
	return nil
}

// runScenario runs share, bicast or policy; it fails unless every check passed.
func runScenario(cmd *cobra.Command, name string, opt demo.Options, asJSON bool) error {
	rep, err := demo.RunScenario(cmd.Context(), name, opt)
	if rep == nil {
		return err
	}
	if jerr := writeSummary(cmd, asJSON, rep); jerr != nil {
		return jerr
	}
	return err
}

// runFlap runs the flap scenario; it fails when a gap exceeded the bound
// or the TCP connection broke.
func runFlap(cmd *cobra.Command, opt demo.Options, asJSON bool) error {
	if opt.Congestion == demo.Both {
		opt.Congestion = demo.CUBIC // one stream; the failover compares the two
	}
	sum, err := demo.RunFlap(cmd.Context(), opt)
	if sum == nil {
		return err
	}
	if jerr := writeSummary(cmd, asJSON, sum); jerr != nil {
		return jerr
	}
	if err != nil {
		return err
	}
	if v, why := sum.Failures(); v != demo.Pass {
		return fmt.Errorf("flap: %s: %v", v, why)
	}
	return nil
}
