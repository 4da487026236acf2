package demo

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"monami/internal/ctlapi"
	"monami/internal/role/ha"
)

// The cluster scenario (issue 13, Cluster; docs/ha-cluster.md): three
// `monami ha` nodes on one home link, three etcd members (`monami lab
// etcd`), a mobile node and a correspondent streaming TCP and the 1 kHz
// probe to its home address. Then: SIGKILL of the serving node, SIGKILL of
// the etcd raft leader, and a partition of the serving node from etcd.

//go:embed cluster_topology.yaml
var clusterTopologyYAML []byte

// ClusterTopology returns the cluster scenario's lab YAML.
func ClusterTopology() []byte { return clusterTopologyYAML }

const (
	// clusterTTL is the election's session lease (cluster.ttl).
	clusterTTL = 2 * time.Second
	// clusterLifetime is the mobile node's binding lifetime; the home agent
	// advises a refresh every 4 s (RFC 6275 section 6.2.4, one 4 s unit),
	// so a refresh is always near and a takeover never outlives a binding.
	clusterLifetime = 20 * time.Second
	clusterRefresh  = 4 * time.Second
	// clusterWindow is how long after each event the probe's gap is looked for.
	clusterWindow = 5 * time.Second
	// etcdHeartbeat and etcdElection are the members' raft timers. Losing
	// the raft leader leaves the members without one for 1 to 2 election
	// timeouts; the home agent leader must renew its lease within its TTL
	// (less 100 ms) through that, so the timeout must be well under TTL/2:
	// etcd's default 1 s is not (docs/ha-cluster.md).
	etcdHeartbeat = 50 * time.Millisecond
	etcdElection  = 500 * time.Millisecond
	// etcdLossGapLimit: losing an etcd member must not interrupt
	// forwarding; a gap this long would be an outage, not scheduling noise
	// on a busy machine (quiet_gap_ms shows that noise).
	etcdLossGapLimit = 500.0
)

var (
	haNodes   = []string{"ha1", "ha2", "ha3"}
	etcdNodes = []string{"etcd1", "etcd2", "etcd3"}
)

func etcdURL(i, port int) string { return fmt.Sprintf("http://[2001:db8:e::%d]:%d", i+1, port) }

// ClusterTakeover is the SIGKILL of the serving home agent node.
type ClusterTakeover struct {
	Killed    string  `json:"killed"`
	NewLeader string  `json:"new_leader"`
	KilledMs  float64 `json:"killed_ms"`
	// ServingMs: the new leader's term started (ctl status since) this
	// long after the kill.
	ServingMs float64 `json:"serving_after_ms"`
	// GapMs is the longest time without a probe from the kill on: the
	// acceptance figure (target under 3 s).
	GapMs float64 `json:"gap_ms"`
	// BindingsKept: the new leader holds the killed one's binding (same
	// care-of address) when its term starts.
	BindingsKept bool     `json:"bindings_kept"`
	Before       []string `json:"bindings_before"`
	After        []string `json:"bindings_after"`
	// SenderStallMs: the probe sender's longest pause in the window (a busy
	// machine, not the network).
	SenderStallMs float64 `json:"sender_stall_ms"`
}

// ClusterEtcdLoss is the SIGKILL of one etcd member.
type ClusterEtcdLoss struct {
	Member        string  `json:"member"`
	WasRaftLeader bool    `json:"was_raft_leader"`
	KilledMs      float64 `json:"killed_ms"`
	GapMs         float64 `json:"gap_ms"`
	SenderStallMs float64 `json:"sender_stall_ms"`
	// RefreshAccepted: the serving node acknowledged a Binding Update after
	// the kill (its acks_sent grew), RefreshMs after it.
	RefreshAccepted bool    `json:"refresh_accepted"`
	RefreshMs       float64 `json:"refresh_after_ms"`
	// LeaderKept: the same node serves, in the same term.
	LeaderKept bool `json:"leader_kept"`
}

// ClusterPartition is the serving node cut off from every etcd member.
type ClusterPartition struct {
	Node      string  `json:"node"`
	NewLeader string  `json:"new_leader"`
	CutMs     float64 `json:"cut_ms"`
	// OldStoppedMs: the cut-off node removed its forwarding state and the
	// home agent address (ctl status stopped) this long after the cut;
	// NewServingMs: the new leader's term started this long after it.
	OldStoppedMs float64 `json:"old_stopped_after_ms"`
	NewServingMs float64 `json:"new_serving_after_ms"`
	// The cut-off node's counters from the cut to the end: Binding Updates
	// it read, acknowledgements it sent, messages it held back as not
	// leading.
	OldBindingUpdates uint64 `json:"old_binding_updates"`
	OldAcksSent       uint64 `json:"old_acks_sent"`
	OldNotLeader      uint64 `json:"old_not_leader"`
	// On the wire (the router's home link interface): acknowledgements
	// from the cut-off node after the cut, the last one from it and the
	// first from the new leader (ms from the cut; -1: none).
	WireAcksFromOld    int     `json:"wire_acks_from_old_after_cut"`
	WireLastOldAckMs   float64 `json:"wire_last_old_ack_ms"`
	WireFirstNewAckMs  float64 `json:"wire_first_new_ack_ms"`
	RefreshAccepted    bool    `json:"refresh_accepted_by_new_leader"`
	HealthOld          string  `json:"healthz_old"`
	HealthNew          string  `json:"healthz_new"`
	HealthStandbyFirst string  `json:"healthz_standby_before_cut"`
	GapMs              float64 `json:"gap_ms"`
	SenderStallMs      float64 `json:"sender_stall_ms"`
	// SplitBrain: the two nodes' serving intervals overlapped (the old one
	// stopped after the new one started), or the wire shows the old node
	// answering after the new one did.
	SplitBrain bool `json:"split_brain"`
}

// ClusterSummary is the outcome of the cluster scenario.
type ClusterSummary struct {
	FirstLeader string `json:"first_leader"`
	// QuietGapMs is the longest probe gap in the second before the first
	// failure: the machine's own noise, to compare the gaps with.
	QuietGapMs float64          `json:"quiet_gap_ms"`
	Takeover   ClusterTakeover  `json:"leader_sigkill"`
	EtcdLoss   ClusterEtcdLoss  `json:"etcd_member_sigkill"`
	Partition  ClusterPartition `json:"leader_partitioned"`
	TCP        TCPResult        `json:"tcp"`
	Probe      ProbeResult      `json:"probe"`
}

// Failures lists the acceptance properties the run broke.
func (c *ClusterSummary) Failures() []string {
	var f []string
	if !c.TCP.Intact {
		f = append(f, fmt.Sprintf("the TCP stream did not survive (sent %d, received %d, %s)", c.TCP.Sent, c.TCP.Received, c.TCP.Error))
	}
	if t := c.Takeover; t.GapMs >= 3000 || !t.BindingsKept {
		f = append(f, fmt.Sprintf("leader SIGKILL: gap %.0f ms (target under 3000), bindings kept %v", t.GapMs, t.BindingsKept))
	}
	if e := c.EtcdLoss; e.GapMs >= etcdLossGapLimit || !e.RefreshAccepted || !e.LeaderKept {
		f = append(f, fmt.Sprintf("etcd member SIGKILL: gap %.1f ms, refresh accepted %v, leader kept %v", e.GapMs, e.RefreshAccepted, e.LeaderKept))
	}
	// acks_sent counts the answers the loop made; not_leader counts those
	// the transports then held back (and Binding Updates read as a standby).
	if p := c.Partition; p.SplitBrain || p.WireAcksFromOld != 0 || p.OldNotLeader < p.OldAcksSent || !p.RefreshAccepted || p.NewLeader == "" {
		f = append(f, fmt.Sprintf("partition: split brain %v, acks from the cut-off node on the wire %d, answers made %d and held back %d, refresh accepted by the new leader %v",
			p.SplitBrain, p.WireAcksFromOld, p.OldAcksSent, p.OldNotLeader, p.RefreshAccepted))
	}
	return f
}

// RunCluster builds the cluster network, runs the scenario and tears
// everything down.
func RunCluster(ctx context.Context, opt Options) (*ClusterSummary, error) {
	if opt.Name == "" {
		opt.Name = "hacl"
	}
	var sum *ClusterSummary
	err := onNetwork(ctx, opt, clusterTopologyYAML, "3 home agents and ar on one home link, 3 etcd members, mn, cn", func(s *scenario) (err error) {
		sum, err = s.clusterScenario(ctx)
		return err
	})
	return sum, err
}

// clusterScenario starts everything and runs the three failures.
func (s *scenario) clusterScenario(ctx context.Context) (*ClusterSummary, error) {
	if err := s.startCluster(ctx); err != nil {
		return nil, err
	}
	return s.clusterFailures(ctx)
}

// startCluster writes the configurations and starts the etcd members, the
// home agent nodes and the mobile node; it returns once the mobile node is
// registered with the leader.
func (s *scenario) startCluster(ctx context.Context) error {
	if err := s.writeClusterConfigs(); err != nil {
		return err
	}
	s.say("== starting 3 etcd members (monami lab etcd) and 3 home agent nodes")
	var initial []string
	for i := range etcdNodes {
		initial = append(initial, fmt.Sprintf("e%d=%s", i+1, etcdURL(i, 2380)))
	}
	for i, n := range etcdNodes {
		if err := s.startProc(ctx, n, n, "lab", "etcd", "--name", fmt.Sprintf("e%d", i+1), "--data-dir", s.path(n+".data"),
			"--peer-url", etcdURL(i, 2380), "--client-url", etcdURL(i, 2379), "--initial-cluster", strings.Join(initial, ","),
			"--heartbeat-interval", strconv.Itoa(int(etcdHeartbeat/time.Millisecond)),
			"--election-timeout", strconv.Itoa(int(etcdElection/time.Millisecond))); err != nil {
			return err
		}
	}
	for _, n := range haNodes {
		if err := s.startProc(ctx, n, n, "ha", "-c", s.path(n+".yaml")); err != nil {
			return err
		}
	}
	start := time.Now()
	leader, err := s.waitLeader(ctx, haNodes, time.Time{}, 30*time.Second)
	if err != nil {
		return err
	}
	s.say("== %s leads after %s", leader, time.Since(start).Round(time.Millisecond))
	if err := s.startProc(ctx, "mn", "mn", "mn", "-c", s.path("mn.yaml")); err != nil {
		return err
	}
	return s.waitNodeBindings(ctx, leader, 1, 20*time.Second)
}

// writeClusterConfigs writes ha1.yaml..ha3.yaml (one home agent address,
// store and election; each its own socket) and mn.yaml.
func (s *scenario) writeClusterConfigs() error {
	k := make([]byte, 20)
	if _, err := rand.Read(k); err != nil {
		return err
	}
	key := "hex:" + hex.EncodeToString(k)
	var eps []string
	for i := range etcdNodes {
		eps = append(eps, `"`+etcdURL(i, 2379)+`"`)
	}
	for _, n := range haNodes {
		y := fmt.Sprintf(`log: {level: info}
control_socket: %s
address: %s
home_prefixes: [%s]
home_link: eth0
dataplane: {backend: %s}
binding: {max_lifetime: 600s, refresh_fraction: %g}
store: {backend: etcd}
cluster: {etcd: [%s], election: %s, ttl: %s}
metrics: {listen: "%s"}
mobile_nodes:
  - id: %s
    home_addresses: [%s]
    spi: %d
    key: %s
`, s.path(n+".sock"), homeAgent, homePrefix, s.opt.Backend, float64(clusterRefresh)/float64(clusterLifetime),
			strings.Join(eps, ", "), s.opt.Name, clusterTTL, metricsListen, nai, homeAddress, spi, key)
		if err := os.WriteFile(s.path(n+".yaml"), []byte(y), 0o600); err != nil {
			return err
		}
	}
	mn := fmt.Sprintf(`log: {level: info}
control_socket: %s
id: %s
home_interface: monami0
lifetime: %s
home_addresses:
  - {address: %s, prefix_len: 64, home_agent: %s, spi: %d, key: %s}
interfaces:
  - {name: %s, bid: 1, priority: 10, transport: native}
dataplane: {backend: %s}
metrics: {listen: "%s"}
`, s.path("mn.sock"), nai, clusterLifetime, homeAddress, homeAgent, spi, key, activeIf, s.opt.Backend, metricsListen)
	return os.WriteFile(s.path("mn.yaml"), []byte(mn), 0o600)
}

// startProc runs the monami binary with args inside a node, logging to
// <name>.log; name identifies it among the scenario's daemons.
func (s *scenario) startProc(ctx context.Context, node, name string, args ...string) error {
	n, err := s.lab.Node(node)
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(s.path(name+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := n.Command(context.WithoutCancel(ctx), s.opt.Binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting monami %s on %s: %w", strings.Join(args, " "), node, err)
	}
	s.daemons = append(s.daemons, &execCmd{Cmd: cmd, role: name})
	return nil
}

// kill sends SIGKILL to a daemon and waits for it to exit.
func (s *scenario) kill(name string) (time.Time, error) {
	i := slices.IndexFunc(s.daemons, func(c *execCmd) bool { return c.role == name })
	if i < 0 {
		return time.Time{}, fmt.Errorf("%s is not running", name)
	}
	c := s.daemons[i]
	at := time.Now()
	if err := c.Process.Signal(syscall.SIGKILL); err != nil {
		return at, fmt.Errorf("SIGKILL %s: %w", name, err)
	}
	_ = c.Wait()
	s.daemons = slices.Delete(s.daemons, i, i+1)
	return at, nil
}

// clusterNodeState is what the scenario reads of a node through its
// control socket.
type clusterNodeState struct {
	Cluster ha.ClusterStatus
	Counter ha.Counters
}

func (s *scenario) nodeState(ctx context.Context, node string) (clusterNodeState, error) {
	var st clusterNodeState
	c := ctlapi.NewClient(s.path(node + ".sock"))
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, data, err := c.Get(cctx, "status")
	if err != nil {
		return st, err
	}
	var status struct {
		Cluster ha.ClusterStatus `json:"cluster"`
	}
	if err := json.Unmarshal(data, &status); err != nil {
		return st, err
	}
	st.Cluster = status.Cluster
	_, data, err = c.Get(cctx, "counters")
	if err != nil {
		return st, err
	}
	var cnt struct {
		Signalling ha.Counters `json:"signalling"`
	}
	err = json.Unmarshal(data, &cnt)
	st.Counter = cnt.Signalling
	return st, err
}

// waitLeader waits until one of nodes leads with a term started after
// after, and returns it.
func (s *scenario) waitLeader(ctx context.Context, nodes []string, after time.Time, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	for {
		for _, n := range nodes {
			if st, err := s.nodeState(ctx, n); err == nil && st.Cluster.Leading && st.Cluster.Since.After(after) {
				return n, nil
			}
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, n := range nodes {
				fmt.Fprintf(&logs, "-- %s.log --\n%s\n", n, s.logTail(n))
			}
			return "", fmt.Errorf("%w: no home agent node leads after %s\n%s-- etcd1.log --\n%s", errBroken, limit, logs.String(), s.logTail("etcd1"))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// nodeBindings is a node's binding cache (ctl bindings).
func (s *scenario) nodeBindings(ctx context.Context, node string) ([]ha.BindingView, error) {
	var b []ha.BindingView
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, data, err := ctlapi.NewClient(s.path(node+".sock")).Get(cctx, "bindings")
	if err == nil {
		err = json.Unmarshal(data, &b)
	}
	return b, err
}

func (s *scenario) waitNodeBindings(ctx context.Context, node string, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if b, err := s.nodeBindings(ctx, node); err == nil && len(b) == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s does not hold %d bindings after %s\n-- %s.log --\n%s\n-- mn.log --\n%s",
				errBroken, node, n, limit, node, s.logTail(node), s.logTail("mn"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitAck waits until node has sent more than acks acknowledgements and
// returns when it saw that.
func (s *scenario) waitAck(ctx context.Context, node string, acks uint64, limit time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if st, err := s.nodeState(ctx, node); err == nil && st.Counter.AcksSent > acks {
			return time.Now(), true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Time{}, false
}

// healthz is a node's /healthz status line ("200 standby").
func (s *scenario) healthz(ctx context.Context, node string) string {
	code, body, err := s.lab.MustNode(node).HTTP(ctx, "GET", "http://"+metricsListen+"/healthz", "")
	if err != nil {
		return err.Error()
	}
	var h struct {
		Cluster string `json:"cluster"`
	}
	_ = json.Unmarshal([]byte(body), &h)
	return strconv.Itoa(code) + " " + h.Cluster
}

// raftLeader is the etcd member that leads raft, asked of each member
// through etcd's JSON gateway (/v3/maintenance/status).
func (s *scenario) raftLeader(ctx context.Context) (int, bool) {
	for i, n := range etcdNodes {
		code, body, err := s.lab.MustNode(n).HTTP(ctx, "POST", etcdURL(i, 2379)+"/v3/maintenance/status", "{}")
		if err != nil || code != 200 {
			continue
		}
		var st struct {
			Header struct {
				MemberID string `json:"member_id"`
			} `json:"header"`
			Leader string `json:"leader"`
		}
		if json.Unmarshal([]byte(body), &st) == nil && st.Leader != "" && st.Leader == st.Header.MemberID {
			return i, true
		}
	}
	return 0, false
}

// macs maps each home agent node's home link address to its name.
func (s *scenario) macs() (map[string]string, error) {
	m := map[string]string{}
	for _, n := range haNodes {
		h, err := s.lab.MustNode(n).Netlink()
		if err != nil {
			return nil, err
		}
		ln, err := h.LinkByName("eth0")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		m[ln.Attrs().HardwareAddr.String()] = n
	}
	return m, nil
}

// clusterFailures streams to the home address and runs the three failures.
func (s *scenario) clusterFailures(ctx context.Context) (*ClusterSummary, error) {
	sum := &ClusterSummary{}
	leader, err := s.waitLeader(ctx, haNodes, time.Time{}, time.Second)
	if err != nil {
		return nil, err
	}
	sum.FirstLeader = leader
	macs, err := s.macs()
	if err != nil {
		return nil, err
	}
	mn, cn, ar := s.lab.MustNode("mn"), s.lab.MustNode("cn"), s.lab.MustNode("ar")
	var rx *receiver
	var prx *probeReceiver
	if err := mn.Do(func() (err error) {
		if rx, err = listen(net.JoinHostPort(homeAddress, strconv.Itoa(streamPort))); err != nil {
			return err
		}
		prx, err = listenProbe(net.JoinHostPort(homeAddress, strconv.Itoa(probePort)))
		return err
	}); err != nil {
		return nil, fmt.Errorf("mobile node application: %w", err)
	}
	var sniff *baSniffer
	if err := ar.Do(func() (err error) { sniff, err = openBASniffer("ha0"); return err }); err != nil {
		return nil, fmt.Errorf("home link capture: %w", err)
	}
	var tx *sender
	var ptx *probeSender
	if err := cn.Do(func() (err error) {
		if ptx, err = dialProbe(net.JoinHostPort(homeAddress, strconv.Itoa(probePort))); err != nil {
			return err
		}
		tx, err = dial(net.JoinHostPort(homeAddress, strconv.Itoa(streamPort)), "")
		return err
	}); err != nil {
		return nil, fmt.Errorf("%w: correspondent cannot connect to the home address: %v", errBroken, err)
	}
	t0 := time.Now()
	stop := make(chan struct{})
	go tx.run(stop)
	go ptx.run(stop)
	go sniff.run(stop)
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			close(stop)
			<-tx.done
			<-ptx.done
		}
	}
	finished := false
	defer func() {
		halt()
		if !finished { // an error on the way: close the captures
			sniff.stop()
			prx.stop()
			rx.ln.Close()
		}
	}()
	s.say("== TCP stream and 1 kHz probe cn -> [%s] started; %s serves", homeAddress, leader)

	var marks struct{ kill, etcd, cut time.Time }
	var newLeader string
	if err := sleepCtx(ctx, time.Second); err != nil {
		return nil, err
	}

	// 1. SIGKILL of the serving node.
	before, _ := s.nodeBindings(ctx, leader)
	if marks.kill, err = s.kill(leader); err != nil {
		return nil, err
	}
	// The node dies, not only its process: a killed process's routes,
	// tunnels and address stay in its namespace and keep forwarding what
	// the router still sends there, which would hide the takeover.
	if err := s.lab.SetPartition(leader, "eth0", true); err != nil {
		return nil, err
	}
	rest := slices.DeleteFunc(slices.Clone(haNodes), func(n string) bool { return n == leader })
	if newLeader, err = s.waitLeader(ctx, rest, marks.kill, 10*time.Second); err != nil {
		return nil, err
	}
	st, _ := s.nodeState(ctx, newLeader)
	after, _ := s.nodeBindings(ctx, newLeader)
	sum.Takeover = ClusterTakeover{Killed: leader, NewLeader: newLeader, KilledMs: ms(marks.kill.Sub(t0)),
		ServingMs: ms(st.Cluster.Since.Sub(marks.kill)),
		Before:    bindingCoAs(before), After: bindingCoAs(after)}
	sum.Takeover.BindingsKept = len(before) == 1 && slices.Equal(sum.Takeover.Before, sum.Takeover.After)
	s.say("== SIGKILL %s at +%.0f ms: %s serves %.0f ms later", leader, sum.Takeover.KilledMs, newLeader, sum.Takeover.ServingMs)
	if err := sleepCtx(ctx, time.Until(marks.kill.Add(clusterWindow))); err != nil {
		return nil, err
	}

	// 2. SIGKILL of one etcd member: the raft leader, the harder case.
	leader = newLeader
	st0, _ := s.nodeState(ctx, leader)
	m, isLeader := s.raftLeader(ctx)
	sum.EtcdLoss = ClusterEtcdLoss{Member: etcdNodes[m], WasRaftLeader: isLeader}
	if marks.etcd, err = s.kill(etcdNodes[m]); err != nil {
		return nil, err
	}
	sum.EtcdLoss.KilledMs = ms(marks.etcd.Sub(t0))
	if at, ok := s.waitAck(ctx, leader, st0.Counter.AcksSent, 2*clusterRefresh+time.Second); ok {
		sum.EtcdLoss.RefreshAccepted, sum.EtcdLoss.RefreshMs = true, ms(at.Sub(marks.etcd))
	}
	st1, _ := s.nodeState(ctx, leader)
	sum.EtcdLoss.LeaderKept = st1.Cluster.Leading && st1.Cluster.Since.Equal(st0.Cluster.Since)
	s.say("== SIGKILL etcd member %s (raft leader %v) at +%.0f ms: refresh accepted %v (%.0f ms later), %s still serves in the same term: %v",
		sum.EtcdLoss.Member, isLeader, sum.EtcdLoss.KilledMs, sum.EtcdLoss.RefreshAccepted, sum.EtcdLoss.RefreshMs, leader, sum.EtcdLoss.LeaderKept)
	if err := sleepCtx(ctx, time.Until(marks.etcd.Add(clusterWindow))); err != nil {
		return nil, err
	}

	// 3. Partition of the serving node from etcd, one second before the
	// mobile node's next refresh: that Binding Update reaches the cut-off
	// node, which must not answer it.
	standby := rest[0]
	if standby == leader {
		standby = rest[1]
	}
	p := &sum.Partition
	p.Node = leader
	p.HealthStandbyFirst = s.healthz(ctx, standby)
	c0, _ := s.nodeState(ctx, leader)
	refreshed, ok := s.waitAck(ctx, leader, c0.Counter.AcksSent, clusterRefresh+time.Second)
	if !ok {
		return nil, fmt.Errorf("%w: %s acknowledged no refresh in %s\n%s", errBroken, leader, clusterRefresh+time.Second, s.logTail(leader))
	}
	if err := sleepCtx(ctx, time.Until(refreshed.Add(clusterRefresh-time.Second))); err != nil {
		return nil, err
	}
	c0, _ = s.nodeState(ctx, leader)
	marks.cut = time.Now()
	if err := s.lab.SetPartition(leader, "e0", true); err != nil {
		return nil, err
	}
	p.CutMs = ms(marks.cut.Sub(t0))
	if p.NewLeader, err = s.waitLeader(ctx, []string{standby}, marks.cut, 10*time.Second); err != nil {
		return nil, err
	}
	sn, _ := s.nodeState(ctx, p.NewLeader)
	p.NewServingMs = ms(sn.Cluster.Since.Sub(marks.cut))
	_, p.RefreshAccepted = s.waitAck(ctx, p.NewLeader, sn.Counter.AcksSent, 2*clusterRefresh+time.Second)
	p.HealthOld, p.HealthNew = s.healthz(ctx, leader), s.healthz(ctx, p.NewLeader)
	c1, err := s.nodeState(ctx, leader)
	if err != nil {
		return nil, fmt.Errorf("%w: the cut-off node's control socket: %v", errBroken, err)
	}
	p.OldStoppedMs = ms(c1.Cluster.Stopped.Sub(marks.cut))
	p.OldBindingUpdates = c1.Counter.BindingUpdates - c0.Counter.BindingUpdates
	p.OldAcksSent = c1.Counter.AcksSent - c0.Counter.AcksSent
	p.OldNotLeader = c1.Counter.NotLeader - c0.Counter.NotLeader
	if err := sleepCtx(ctx, time.Until(marks.cut.Add(clusterWindow))); err != nil {
		return nil, err
	}

	halt()
	finished = true
	time.Sleep(100 * time.Millisecond) // the last probes in flight
	probes, got, err := prx.stop()
	if err != nil {
		return nil, err
	}
	acks := sniff.stop()
	select {
	case <-rx.done:
	case <-time.After(10 * time.Second):
	}
	_, total := rx.snapshot()
	sum.TCP = TCPResult{Sent: tx.total, Received: total, Intact: tx.err == nil && rx.err == nil && tx.total == total}
	if tx.err != nil {
		sum.TCP.Error = tx.err.Error()
	} else if rx.err != nil {
		sum.TCP.Error = rx.err.Error()
	}
	end := time.Now()
	sum.Probe = ProbeResult{IntervalMs: ms(probeInterval), Sent: ptx.sent, Received: uint64(got),
		SenderStallMs: ms(senderStall(ptx.times, t0, end))}
	sum.QuietGapMs = ms(longestGap(probes, marks.kill.Add(-time.Second), marks.kill))
	window := func(from time.Time) (gap, stall float64) {
		return ms(longestGap(probes, from, from.Add(clusterWindow))), ms(senderStall(ptx.times, from, from.Add(clusterWindow)))
	}
	sum.Takeover.GapMs, sum.Takeover.SenderStallMs = window(marks.kill)
	sum.EtcdLoss.GapMs, sum.EtcdLoss.SenderStallMs = window(marks.etcd)
	p.GapMs, p.SenderStallMs = window(marks.cut)
	p.WireLastOldAckMs, p.WireFirstNewAckMs = -1, -1
	for _, a := range acks {
		if a.at.Before(marks.cut) {
			continue
		}
		switch macs[a.mac] {
		case p.Node:
			p.WireAcksFromOld++
			p.WireLastOldAckMs = ms(a.at.Sub(marks.cut))
		case p.NewLeader:
			if p.WireFirstNewAckMs < 0 {
				p.WireFirstNewAckMs = ms(a.at.Sub(marks.cut))
			}
		}
	}
	p.SplitBrain = c1.Cluster.Stopped.IsZero() || !c1.Cluster.Stopped.Before(sn.Cluster.Since) ||
		(p.WireLastOldAckMs >= 0 && p.WireFirstNewAckMs >= 0 && p.WireLastOldAckMs >= p.WireFirstNewAckMs)
	s.say("== partition of %s from etcd at +%.0f ms: it stopped %.0f ms later, %s serves %.0f ms later",
		p.Node, p.CutMs, p.OldStoppedMs, p.NewLeader, p.NewServingMs)
	if f := sum.Failures(); len(f) > 0 {
		return sum, fmt.Errorf("%w: %s", errBroken, strings.Join(f, "; "))
	}
	return sum, nil
}

// bindingCoAs is what a takeover must keep of ctl bindings.
func bindingCoAs(bs []ha.BindingView) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = fmt.Sprintf("%s BID %d -> %s", b.HomeAddress, b.BindingID, b.CareOfAddress)
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
