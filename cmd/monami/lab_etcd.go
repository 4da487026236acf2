package main

import (
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/server/v3/embed"
)

// `monami lab etcd` runs one etcd member (the etcd server, embedded) so a
// lab can run a real etcd cluster as processes in namespaces, with no etcd
// package installed: the home agent cluster scenario starts three.
func init() {
	var name, dir, peer, client, initial, token, logLevel string
	var maxTxnOps, heartbeat, election uint
	cmd := &cobra.Command{
		Use:    "etcd",
		Short:  "Run one etcd member (for lab scenarios)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := embed.NewConfig()
			cfg.Name, cfg.Dir = name, dir
			pu, err := url.Parse(peer)
			if err != nil || pu.Host == "" {
				return fmt.Errorf("--peer-url %q: want e.g. http://[2001:db8:e::1]:2380", peer)
			}
			cu, err := url.Parse(client)
			if err != nil || cu.Host == "" {
				return fmt.Errorf("--client-url %q: want e.g. http://[2001:db8:e::1]:2379", client)
			}
			cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
			cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
			cfg.InitialCluster, cfg.InitialClusterToken = initial, token
			// A home agent batch (64 updates, each with its bindings) is one
			// transaction (docs/ha-cluster.md).
			cfg.MaxTxnOps = maxTxnOps
			cfg.LogLevel = logLevel
			cfg.TickMs, cfg.ElectionMs = heartbeat, election
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("etcd member %s: %w", name, err)
			}
			e, err := embed.StartEtcd(cfg)
			if err != nil {
				return fmt.Errorf("etcd member %s: %w", name, err)
			}
			defer e.Close()
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
			select {
			case <-e.Server.ReadyNotify():
				fmt.Fprintf(cmd.ErrOrStderr(), "etcd member %s ready: client %s, peer %s\n", name, client, peer)
			case err := <-e.Err():
				return fmt.Errorf("etcd member %s: %w", name, err)
			case <-sig:
				return nil
			case <-time.After(time.Minute):
				return fmt.Errorf("etcd member %s: not ready after 1 min (are the other members up?)", name)
			}
			select {
			case err := <-e.Err():
				return fmt.Errorf("etcd member %s: %w", name, err)
			case <-sig:
				return nil
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "m1", "member name")
	f.StringVar(&dir, "data-dir", "", "data directory (required)")
	f.StringVar(&peer, "peer-url", "", "URL to listen on for and advertise to the other members")
	f.StringVar(&client, "client-url", "", "URL to listen on for and advertise to clients")
	f.StringVar(&initial, "initial-cluster", "", "every member as name=peer-url, comma separated")
	f.StringVar(&token, "initial-cluster-token", "monami-lab", "cluster token")
	f.UintVar(&maxTxnOps, "max-txn-ops", 4096, "largest transaction, in operations")
	f.UintVar(&heartbeat, "heartbeat-interval", 100, "raft heartbeat interval, ms")
	f.UintVar(&election, "election-timeout", 1000, "raft election timeout, ms: a raft leader's loss leaves the cluster without a leader for 1 to 2 times this")
	f.StringVar(&logLevel, "log-level", "warn", "etcd log level: debug, info, warn, error")
	_ = cmd.MarkFlagRequired("data-dir")
	_ = cmd.MarkFlagRequired("peer-url")
	_ = cmd.MarkFlagRequired("client-url")
	labCmd.AddCommand(cmd)
}
