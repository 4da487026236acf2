// Package demo runs monami's main job: a mobile node with two access links
// keeps a TCP connection from a correspondent alive while its active link
// fails and comes back. It builds the network in namespaces (internal/lab),
// starts `monami ha` and `monami mn` as they would run for real, measures
// the tunnelled traffic on each of the mobile node's links and what the
// application receives, and summarises the failover.
package demo

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"monami/internal/lab"
)

//go:embed topology.yaml
var topologyYAML []byte

//go:embed nat_topology.yaml
var natTopologyYAML []byte

// Topology returns the demo network's YAML.
func Topology() []byte { return topologyYAML }

// NATTopology returns the IPv4/NAT scenario's network (nat_topology.yaml).
func NATTopology() []byte { return natTopologyYAML }

func (o *Options) topology() []byte {
	if o.NAT {
		return natTopologyYAML
	}
	return topologyYAML
}

// Addresses of the demo network (see topology.yaml).
const (
	homeAgent   = "2001:db8:f::2"
	homePrefix  = "2001:db8:1::/64"
	homeAddress = "2001:db8:1::10"
	nai         = "mn@demo.monami.example"
	// metricsListen is each daemon's Prometheus endpoint, inside its
	// own namespace.
	metricsListen = "[::1]:9190"
	spi           = 4096
	streamPort    = 5001
	probePort     = 5002
	// uplinkProbePort receives the mobile node's uplink probe at cn.
	uplinkProbePort = 5003
	correspondent   = "2001:db8:c::10"
	activeIf        = "wlan0"
	backupIf        = "lte0"
)

// Options tune a demo run; zero values take the defaults.
type Options struct {
	// Binary is the monami executable for the daemons (default: this one).
	Binary string
	// Name is the lab name, the prefix of every namespace (default "demo").
	Name string
	// Backend is the data plane backend of both daemons: auto, kernel or userspace.
	Backend string
	// Transport is the mobile node's signalling transport: native or udp.
	Transport string
	// FailAt, RestoreAt and Duration are measured from the start of the TCP
	// stream (defaults 3 s, 6 s, 9 s).
	FailAt, RestoreAt, Duration time.Duration
	// Congestion is the TCP sender's congestion control: cubic, bbr, or ""
	// for the namespace's default (inherited from the machine's). Run also
	// takes "both": the failover twice, CUBIC then BBR, in the same lab.
	Congestion string
	// Qdisc, when set, replaces the topology's queue discipline on every
	// rate-limited link (the access links): lab.QdiscFQ or lab.QdiscFIFO,
	// to compare the two in one session.
	Qdisc string
	// Lifetime is the binding lifetime the mobile node asks for (default 120 s).
	Lifetime time.Duration
	// Silent fails the active access network silently instead of taking
	// the interface down: the access router drops everything it forwards
	// from or to it, the link stays up (lab.SetBlackhole).
	Silent bool
	// NAT runs the failover on nat_topology.yaml: lte0 is IPv4-only behind
	// the access router's NAT (RFC 5555, nat.go); both interfaces signal
	// over UDP.
	NAT bool
	// NATKeepalive is the home agent's NAT keepalive interval (ha.yaml
	// signalling.nat_keepalive) and NATIdle how long the NAT scenario
	// leaves the lte path idle after the failover runs, with the NAT's UDP
	// timeout set to NATTimeout (defaults 5 s, 20 s, 10 s).
	NATKeepalive, NATIdle, NATTimeout time.Duration
	// FlowDuration and FlowWarmup are each bulk transfer's length and the
	// part of it not counted (slow start) in the share scenario and its
	// baseline (defaults 6 s and 2 s).
	FlowDuration, FlowWarmup time.Duration
	// Flaps and FlapInterval shape the flap scenario: how many times the
	// preferred interface goes down and up, and the time between two
	// changes (defaults 50 and 200 ms).
	Flaps        int
	FlapInterval time.Duration
	// DaemonLogLevel is the daemons' log level (default info); LogDir,
	// when set, receives a copy of their logs (ha.log, mn.log) before the
	// lab is removed: the timestamps of link events, Binding Updates and
	// Acknowledgements (debug) explain a gap.
	DaemonLogLevel, LogDir string
	// labReady, when set, runs once the lab is up, before the daemons
	// start; what it returns runs before they stop (tests: a capture).
	labReady func(*scenario) (undo func())
	// Progress receives human-readable progress (nil: discarded).
	Progress io.Writer
	Logger   *slog.Logger
}

func (o *Options) defaults() error {
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.Binary = exe
	}
	if o.Name == "" {
		o.Name = "demo"
	}
	if o.Backend == "" {
		o.Backend = "auto"
	}
	if o.Transport == "" {
		o.Transport = "native"
	}
	if o.FailAt == 0 {
		o.FailAt = 3 * time.Second
	}
	if o.RestoreAt == 0 {
		o.RestoreAt = 6 * time.Second
	}
	if o.Duration == 0 {
		o.Duration = 9 * time.Second
	}
	if !(o.FailAt < o.RestoreAt && o.RestoreAt < o.Duration) {
		return fmt.Errorf("demo: want fail (%s) < restore (%s) < duration (%s)", o.FailAt, o.RestoreAt, o.Duration)
	}
	for _, cc := range o.congestions() {
		if err := CheckCongestion(cc); err != nil {
			return err
		}
	}
	if o.FlowDuration == 0 {
		o.FlowDuration = 6 * time.Second
	}
	if o.FlowWarmup == 0 {
		o.FlowWarmup = 2 * time.Second
	}
	if o.FlowWarmup >= o.FlowDuration {
		return fmt.Errorf("demo: flow warm-up %s must be shorter than the flow duration %s", o.FlowWarmup, o.FlowDuration)
	}
	if o.Flaps == 0 {
		o.Flaps = defaultFlaps
	}
	if o.FlapInterval == 0 {
		o.FlapInterval = defaultFlapInterval
	}
	if o.Flaps < 0 || o.FlapInterval < 0 {
		return fmt.Errorf("demo: flaps %d and flap interval %s must be positive", o.Flaps, o.FlapInterval)
	}
	if o.Qdisc != "" && o.Qdisc != lab.QdiscFQ && o.Qdisc != lab.QdiscFIFO {
		return fmt.Errorf("demo: qdisc %q: want %s or %s", o.Qdisc, lab.QdiscFQ, lab.QdiscFIFO)
	}
	if o.DaemonLogLevel == "" {
		o.DaemonLogLevel = "info"
	}
	if o.Lifetime == 0 {
		o.Lifetime = 120 * time.Second
	}
	if o.NAT {
		o.Transport = "udp" // the NAT scenario's signalling (nat.go)
		if o.Backend == "auto" {
			o.Backend = "userspace" // the kernel backend has no UDP encapsulation
		}
		if o.Backend != "userspace" {
			return fmt.Errorf("demo: the NAT scenario needs the userspace backend (UDP encapsulation), not %q", o.Backend)
		}
		if o.NATKeepalive == 0 {
			o.NATKeepalive = 5 * time.Second
		}
		if o.NATTimeout == 0 {
			o.NATTimeout = 10 * time.Second
		}
		if o.NATIdle == 0 {
			o.NATIdle = 2 * o.NATTimeout
		}
		if o.NATKeepalive%time.Second != 0 || o.NATKeepalive < time.Second || o.NATTimeout%time.Second != 0 || o.NATTimeout < time.Second {
			return fmt.Errorf("demo: NAT keepalive %s and timeout %s must be whole seconds", o.NATKeepalive, o.NATTimeout)
		}
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// Both, as Options.Congestion, runs the failover with each algorithm.
const Both = "both"

func (o *Options) congestions() []string {
	if o.Congestion == Both {
		return []string{CUBIC, BBR}
	}
	return []string{o.Congestion}
}

// Report is a demo run: one failover per congestion control asked for.
type Report struct {
	Runs []*Summary `json:"runs"`
	// NAT is the NAT scenario's keepalive phases (nat.go).
	NAT *NATReport `json:"nat,omitempty"`
}

// Run builds the network, runs the scenario and tears everything down.
func Run(ctx context.Context, opt Options) (*Report, error) {
	var rep *Report
	err := inLab(ctx, opt, func(s *scenario) error {
		var err error
		rep, err = s.run(ctx)
		return err
	})
	return rep, err
}

// setQdisc applies Options.Qdisc to the topology's rate-limited links.
func (o *Options) setQdisc(t *lab.Topology) {
	if o.Qdisc == "" {
		return
	}
	for i := range t.Links {
		if d := t.Links[i].Directions(); d.AtoB.Rate > 0 || d.BtoA.Rate > 0 {
			t.Links[i].Qdisc = o.Qdisc
		}
	}
}

// inLab builds the demo network, runs f on a scenario in it, and removes
// the daemons and the network whatever happened.
func inLab(ctx context.Context, opt Options, f func(*scenario) error) error {
	what := "mn with wlan0 10 ms and lte0 40 ms, ar, ha, cn"
	if opt.NAT {
		what = "mn with wlan0 IPv6 10 ms and lte0 IPv4-only 40 ms behind ar's NAT44, ar, ha, cn"
	}
	return onNetwork(ctx, opt, opt.topology(), what, f)
}

// onNetwork builds the network of topoYAML (what describes it in the
// progress), runs f on a scenario in it, and removes the daemons and the
// network whatever happened: every scenario's frame.
func onNetwork(ctx context.Context, opt Options, topoYAML []byte, what string, f func(*scenario) error) error {
	if err := opt.defaults(); err != nil {
		return err
	}
	topo, err := lab.Parse(topoYAML)
	if err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	topo.Name = opt.Name
	opt.setQdisc(topo)
	say := func(format string, a ...any) { fmt.Fprintf(opt.Progress, format+"\n", a...) }
	say("== building the lab %q (%s)", opt.Name, what)
	l, err := lab.Up(ctx, topo)
	if err != nil {
		return err
	}
	defer func() {
		if derr := l.Down(); derr != nil {
			say("lab down: %v", derr)
		}
	}()

	s := &scenario{opt: opt, lab: l, say: say, dir: l.StateDir()}
	defer s.keepLogs()
	defer s.stopDaemons()
	if opt.labReady != nil {
		defer opt.labReady(s)()
	}
	return f(s)
}

type scenario struct {
	opt     Options
	lab     *lab.Lab
	say     func(string, ...any)
	dir     string
	daemons []*execCmd
	// haExtra is appended to ha.yaml (top-level keys; tests), mnExtra to
	// mn.yaml (the scenarios' policy: section).
	haExtra, mnExtra string
	// linkMbps is the backup link's goodput alone per congestion control
	// (calibrate), the reference of the goodput after failover.
	linkMbps map[string]float64
}

// execCmd is a running daemon and its role.
type execCmd struct {
	*exec.Cmd
	role string
}

func (s *scenario) path(name string) string { return filepath.Join(s.dir, name) }

// writeConfigs writes ha.yaml and mn.yaml with a fresh MN-HA key.
func (s *scenario) writeConfigs() error {
	k := make([]byte, 20)
	if _, err := rand.Read(k); err != nil {
		return err
	}
	return s.writeConfigsWithKeys("hex:"+hex.EncodeToString(k), "hex:"+hex.EncodeToString(k))
}

// writeConfigsWithKeys lets a test give the mobile node another key than
// the home agent has.
func (s *scenario) writeConfigsWithKeys(key, mnKey string) error {
	haYAML := fmt.Sprintf(`log: {level: %s}
control_socket: %s
address: %s
home_prefixes: [%s]
dataplane: {backend: %s}
binding: {max_lifetime: 600s}
store: {backend: bolt, path: %s}
metrics: {listen: "%s"}
mobile_nodes:
  - id: %s
    home_addresses: [%s]
    spi: %d
    key: %s
`, s.opt.DaemonLogLevel, s.path("ha.sock"), homeAgent, homePrefix, s.opt.Backend, s.path("ha.db"), metricsListen, nai, homeAddress, spi, key) + s.natHA() + s.haExtra
	mnYAML := fmt.Sprintf(`log: {level: %s}
control_socket: %s
id: %s
home_interface: monami0
lifetime: %s
home_addresses:
  - {address: %s, prefix_len: 64, home_agent: %s, spi: %d, key: %s%s}
interfaces:
  - {name: %s, bid: 1, priority: 10, transport: %s}
  - {name: %s, bid: 2, priority: 20, transport: %s}
dataplane: {backend: %s}
metrics: {listen: "%s"}
`, s.opt.DaemonLogLevel, s.path("mn.sock"), nai, s.opt.Lifetime, homeAddress, homeAgent, spi, mnKey, s.natMN(), activeIf, s.opt.Transport, backupIf, s.opt.Transport, s.opt.Backend, metricsListen) + s.mnExtra
	if err := os.WriteFile(s.path("ha.yaml"), []byte(haYAML), 0o600); err != nil {
		return err
	}
	return os.WriteFile(s.path("mn.yaml"), []byte(mnYAML), 0o600)
}

// startDaemon runs `monami ROLE -c FILE` inside a node, logging to a file.
func (s *scenario) startDaemon(ctx context.Context, node, role string) error {
	return s.startDaemonAs(ctx, node, role, role)
}

// startDaemonAs runs `monami ROLE -c NAME.yaml` inside a node, logging to
// NAME.log: a second daemon of a role (a second home agent) has its own
// configuration, log and control socket.
func (s *scenario) startDaemonAs(ctx context.Context, node, role, name string) error {
	n, err := s.lab.Node(node)
	if err != nil {
		return err
	}
	// Appended to: a restarted daemon's log follows its predecessor's.
	logf, err := os.OpenFile(s.path(name+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := n.Command(context.WithoutCancel(ctx), s.opt.Binary, role, "-c", s.path(name+".yaml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting monami %s: %w", role, err)
	}
	logf.Close()
	s.daemons = append(s.daemons, &execCmd{Cmd: cmd, role: role})
	return nil
}

// stopDaemons asks the daemons to stop (SIGINT: the mobile node
// deregisters, and both remove what they installed; SIGTERM would leave
// the home agent's data plane forwarding, an upgrade stop) and kills what
// is left after 5 s.
func (s *scenario) stopDaemons() {
	for _, c := range s.daemons {
		_ = c.Process.Signal(syscall.SIGINT)
	}
	for _, c := range s.daemons {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
	}
	s.daemons = nil
}

// keepLogs copies the daemons' logs to Options.LogDir, if set.
func (s *scenario) keepLogs() {
	if s.opt.LogDir == "" {
		return
	}
	if err := os.MkdirAll(s.opt.LogDir, 0o755); err != nil {
		s.say("keeping logs: %v", err)
		return
	}
	logs, _ := filepath.Glob(s.path("*.log"))
	for _, f := range logs {
		b, err := os.ReadFile(f)
		if err == nil {
			err = os.WriteFile(filepath.Join(s.opt.LogDir, filepath.Base(f)), b, 0o644)
		}
		if err != nil {
			s.say("keeping logs: %v", err)
		}
	}
}

func (s *scenario) logTail(role string) string {
	b, _ := os.ReadFile(s.path(role + ".log"))
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

var errBroken = errors.New("demo failed")
