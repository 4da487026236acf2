// Package habench registers many simulated mobile nodes with a real home
// agent, end to end: a `monami ha` process with the kernel data plane in a
// lab namespace, authenticated Binding Updates (RFC 4285) over the real
// native transport from a care-of address each, and then traffic through a
// sample of the tunnels both ways, checked by the home agent's real ingress
// check.
//
//	mns (care-of addresses 2001:db8:c0a::/64) --access-- ha --core-- cn
//	2001:db8:e::2                            e::1 | c::1            c::10
//
// The home agent's address and the home prefix 2001:db8:1::/64 live on the
// home agent itself (a virtual home link): nothing else answers for them.
package habench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"monami/internal/lab"
)

// Options for Run.
type Options struct {
	LabName     string
	Binary      string // the monami executable for the home agent (default: this one)
	MobileNodes int    // how many to register (default 10,000)
	// Window is how many Binding Updates may be outstanding at once, as
	// many mobile nodes registering independently would have (default
	// DefaultWindow).
	Window  int
	Sample  int    // tunnels probed both ways after registration (default 100)
	Backend string // home agent data plane: kernel (default) or userspace
	Store   string // home agent store: bolt (default, in the lab's state directory), memory or etcd
	// BIDs is how many bindings each Binding Update registers (RFC 5648
	// bulk registration, a care-of address in each BID option; default 1).
	BIDs int
	// FIDs is how many Flow Identification options (RFC 6089, each with a
	// BID Reference and an RFC 6088 selector) each update carries.
	FIDs int
	// Refreshes is how many rounds of refreshing Binding Updates every
	// mobile node sends after registering (same care-of addresses and
	// flows, a new sequence number): the steady state of a home agent.
	Refreshes int
	// HACPUProfile, when set, has the home agent write a Go CPU profile.
	HACPUProfile string
	Progress     io.Writer

	procs *procs // set by Run once the processes run
}

// DefaultWindow: Binding Updates outstanding at once by default. Ten
// thousand mobile nodes keep their own timers, so nothing holds them to a
// few hundred at a time; a window that leaves the home agent waiting on
// its store (etcd's commit round trips) measures that wait, not how many
// updates the agent can acknowledge. At 256 the etcd runs kept the home
// agent and etcd at 0.8 and 0.5 of a core; at 1024 the batches fill
// (docs/ha-throughput.md, 2026-12-03). The p99 latency shows the cost.
const DefaultWindow = 1024

func (o *Options) defaults() error {
	if o.LabName == "" {
		o.LabName = "habench"
	}
	if o.MobileNodes == 0 {
		o.MobileNodes = 10000
	}
	if o.MobileNodes < 1 || o.MobileNodes > 1<<20 {
		return fmt.Errorf("mobile nodes %d: want 1..%d", o.MobileNodes, 1<<20)
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Window < 1 {
		return fmt.Errorf("window %d: want at least 1", o.Window)
	}
	if o.Sample == 0 {
		o.Sample = 100
	}
	o.Sample = min(o.Sample, o.MobileNodes)
	if o.Backend == "" {
		o.Backend = "kernel"
	}
	if o.Backend != "kernel" && o.Backend != "userspace" {
		return fmt.Errorf("backend %q: want kernel or userspace", o.Backend)
	}
	if o.Store == "" {
		o.Store = "bolt"
	}
	if o.Store != "bolt" && o.Store != "memory" && o.Store != "etcd" {
		return fmt.Errorf("store %q: want bolt, memory or etcd", o.Store)
	}
	if o.BIDs == 0 {
		o.BIDs = 1
	}
	if o.BIDs < 1 || o.BIDs > maxBIDs {
		return fmt.Errorf("bids %d: want 1..%d", o.BIDs, maxBIDs)
	}
	if o.FIDs < 0 || o.FIDs > maxFIDs {
		return fmt.Errorf("fids %d: want 0..%d", o.FIDs, maxFIDs)
	}
	if o.Refreshes < 0 || o.Refreshes > 1000 {
		return fmt.Errorf("refreshes %d: want 0..1000", o.Refreshes)
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.Binary = exe
	}
	return nil
}

// Report is the outcome of a run.
type Report struct {
	Start       time.Time `json:"start"`
	Backend     string    `json:"backend"`
	Store       string    `json:"store"`
	MobileNodes int       `json:"mobile_nodes"`
	Window      int       `json:"window"`
	// Accepted are first registrations acknowledged with status 0, each
	// with its data plane state installed (the home agent acknowledges
	// nothing it cannot forward); Rejected counts the other statuses.
	Accepted    int            `json:"accepted"`
	Rejected    map[string]int `json:"rejected,omitempty"`
	Retransmits int            `json:"retransmits"`
	Seconds     float64        `json:"seconds"`
	PerSecond   float64        `json:"registrations_per_s"`
	LatencyMS   Percentiles    `json:"latency_ms"`
	CPU         CPU            `json:"cpu"`
	// Sample: tunnels probed after registration; Downlink counts the home
	// addresses whose probe from the correspondent arrived through their
	// tunnel, Uplink those whose reverse-tunnelled answer passed the
	// ingress check and reached the correspondent.
	Sample   int `json:"sample"`
	Downlink int `json:"downlink_ok"`
	Uplink   int `json:"uplink_ok"`
	// Memory: the home agent process's resident set after registration,
	// and the machine's memory in use (kernel and processes) it grew by.
	HARSSMiB   float64 `json:"ha_rss_mib"`
	MemUsedMiB float64 `json:"mem_used_growth_mib"`
	LoadBefore string  `json:"loadavg_before"`
	LoadAfter  string  `json:"loadavg_after"`
	BIDs       int     `json:"bids_per_update"`
	FIDs       int     `json:"flows_per_update"`
	// Refresh is the refresh rounds' outcome, when asked for.
	Refresh *Phase `json:"refresh,omitempty"`
}

// Phase is one round of Binding Updates from every mobile node.
type Phase struct {
	Updates     int            `json:"updates"`
	Accepted    int            `json:"accepted"`
	Rejected    map[string]int `json:"rejected,omitempty"`
	Retransmits int            `json:"retransmits"`
	Seconds     float64        `json:"seconds"`
	PerSecond   float64        `json:"updates_per_s"`
	LatencyMS   Percentiles    `json:"latency_ms"`
	CPU         CPU            `json:"cpu"`
	// PerHACPUSecond is updates per second of the home agent's own CPU
	// time: what one core would carry, whatever share of a busy machine
	// the home agent got.
	PerHACPUSecond float64 `json:"updates_per_ha_cpu_s,omitempty"`

	lat []time.Duration
}

// Percentiles of a latency distribution.
type Percentiles struct {
	P50, P90, P99, Max float64
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) float64 {
		return float64(s[min(len(s)-1, int(q*float64(len(s))))]) / 1e6
	}
	return Percentiles{P50: at(0.5), P90: at(0.9), P99: at(0.99), Max: float64(s[len(s)-1]) / 1e6}
}

// Addresses of the bench network.
var (
	haAddr   = netip.MustParseAddr("2001:db8:1::1")
	cnAddr   = netip.MustParseAddr("2001:db8:c::10")
	mnsAddr  = "2001:db8:e::2"
	coaBase  = netip.MustParseAddr("2001:db8:c0a::")
	hoaBase  = netip.MustParseAddr("2001:db8:1::")
	firstSPI = 256 // RFC 4285 section 5: 0-255 are reserved
)

// nth is base + 0x10000 + i.
func nth(base netip.Addr, i int) netip.Addr {
	b := base.As16()
	v := 0x10000 + i
	b[13], b[14], b[15] = byte(v>>16), byte(v>>8), byte(v)
	return netip.AddrFrom16(b)
}

func coaOf(i int) netip.Addr { return nth(coaBase, i) }
func hoaOf(i int) netip.Addr { return nth(hoaBase, i) }

func topology(name string) *lab.Topology {
	return &lab.Topology{
		Name: name,
		Nodes: []lab.Node{
			// ip_nonlocal_bind: the simulator sends from its 10,000 care-of
			// addresses (all on its loopback); without it the kernel checks,
			// for every Binding Update, that the source given in
			// IPV6_PKTINFO is local, walking a hash chain of about 40
			// addresses (256 buckets): 6% of the machine's CPU in the
			// refresh phase, the simulator's cost, not the home agent's.
			{Name: "mns", Routes: []lab.Route{{Dst: "default6", Via: "2001:db8:e::1"}},
				Sysctls: map[string]string{"net.ipv6.ip_nonlocal_bind": "1"}},
			{Name: "ha", Kind: lab.KindRouter, Routes: []lab.Route{{Dst: "2001:db8:c0a::/48", Via: mnsAddr}}},
			{Name: "cn", Routes: []lab.Route{{Dst: "default6", Via: "2001:db8:c::1"}}},
		},
		Links: []lab.Link{
			{A: lab.End{Node: "mns", If: "eth0", Addrs: []string{mnsAddr + "/64"}},
				B: lab.End{Node: "ha", If: "eth1", Addrs: []string{"2001:db8:e::1/64"}}},
			{A: lab.End{Node: "ha", If: "eth0", Addrs: []string{"2001:db8:c::1/64"}},
				B: lab.End{Node: "cn", If: "eth0", Addrs: []string{cnAddr.String() + "/64"}}},
		},
	}
}

// mobileNode is one simulated mobile node's identity.
type mobileNode struct {
	id       string
	hoa, coa netip.Addr
	spi      uint32
	key      []byte
	seq      uint16     // the last sequence number sent
	bu       buTemplate // its Binding Update, encoded once
}

func mobileNodes(n int) ([]mobileNode, error) {
	mns := make([]mobileNode, n)
	keys := make([]byte, 20*n)
	if _, err := rand.Read(keys); err != nil {
		return nil, err
	}
	for i := range mns {
		mns[i] = mobileNode{id: fmt.Sprintf("mn%d@bench.example", i), hoa: hoaOf(i), coa: coaOf(i),
			spi: uint32(firstSPI + i), key: keys[20*i : 20*i+20]}
	}
	return mns, nil
}

// haConfig is the home agent's configuration: every mobile node with its
// own security association.
func haConfig(o Options, dir string, mns []mobileNode) string {
	var b strings.Builder
	fmt.Fprintf(&b, `log: {level: warn}
control_socket: %s
address: %s
home_prefixes: [2001:db8:1::/64]
signalling: {native: true, udp_port: 0}
dataplane: {backend: %s}
store: %s
binding: {max_lifetime: 600s}
mobile_nodes:
`, filepath.Join(dir, "ha.sock"), haAddr, o.Backend, storeConfig(o, dir))
	for _, m := range mns {
		fmt.Fprintf(&b, "  - {id: %s, home_addresses: [%s], spi: %d, key: \"hex:%s\"}\n", m.id, m.hoa, m.spi, hex.EncodeToString(m.key))
	}
	return b.String()
}

// Run builds the lab, starts the home agent, registers every mobile node,
// probes the sample and removes it all again.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	// The simulator's heap is small and its allocation rate high (a
	// received acknowledgement each is parsed): fewer collections leave
	// the shared cores to the home agent. The home agent keeps its own
	// settings.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	rep := &Report{Start: time.Now().UTC(), Backend: o.Backend, Store: o.Store, MobileNodes: o.MobileNodes, Window: o.Window,
		Rejected: map[string]int{}, LoadBefore: lab.LoadAvg(), BIDs: o.BIDs, FIDs: o.FIDs}
	mns, err := mobileNodes(o.MobileNodes)
	if err != nil {
		return nil, err
	}
	for i := range mns {
		if mns[i].bu, err = newTemplate(&mns[i], i, o); err != nil {
			return nil, err
		}
	}
	_ = lab.Teardown(o.LabName)
	topo := topology(o.LabName)
	if o.Store == "etcd" {
		addEtcd(topo)
	}
	l, err := lab.Up(ctx, topo)
	if err != nil {
		return nil, err
	}
	defer l.Down()
	var etcdPIDs []int
	if o.Store == "etcd" {
		say(o, "starting 3 etcd members (monami lab etcd)")
		members, err := startEtcd(ctx, l, o)
		if err != nil {
			return nil, err
		}
		defer stopEtcd(members)
		for _, m := range members {
			etcdPIDs = append(etcdPIDs, m.Process.Pid)
		}
	}
	say(o, "adding %d care-of addresses to the mobile nodes' namespace", len(mns))
	if err := addCareOfAddresses(l.MustNode("mns"), mns); err != nil {
		return nil, err
	}
	if err := addLocal(l.MustNode("ha"), haAddr); err != nil {
		return nil, err
	}
	used0 := lab.Meminfo()["used"]
	ha, err := startHA(ctx, l, o, mns)
	if err != nil {
		return nil, err
	}
	defer ha.stop()
	o.procs = &procs{ha: ha.cmd.Process.Pid, etcd: etcdPIDs}
	if o.Store == "etcd" {
		if err := ha.waitLeading(ctx); err != nil {
			return nil, err
		}
	}
	say(o, "registering %d mobile nodes, %d Binding Updates outstanding at most", len(mns), o.Window)
	if err := register(ctx, l.MustNode("mns"), o, mns, rep); err != nil {
		return rep, fmt.Errorf("%w\n-- ha.log --\n%s", err, ha.logTail())
	}
	if o.Refreshes > 0 {
		say(o, "refreshing: %d rounds of %d Binding Updates", o.Refreshes, len(mns))
		if err := refresh(ctx, l.MustNode("mns"), o, mns, rep); err != nil {
			return rep, fmt.Errorf("%w\n-- ha.log --\n%s", err, ha.logTail())
		}
	}
	rep.HARSSMiB = ha.rssMiB()
	rep.MemUsedMiB = (lab.Meminfo()["used"] - used0) / 1024
	say(o, "probing %d tunnels both ways", o.Sample)
	if err := probeSample(ctx, l, o, mns, rep); err != nil {
		return rep, fmt.Errorf("%w\n-- ha.log --\n%s", err, ha.logTail())
	}
	rep.LoadAfter = lab.LoadAvg()
	if f := rep.Refresh; f != nil && f.Accepted != f.Updates {
		return rep, fmt.Errorf("%d of %d refreshes accepted\n-- ha.log --\n%s", f.Accepted, f.Updates, ha.logTail())
	}
	if rep.Accepted != len(mns) || rep.Downlink != rep.Sample || rep.Uplink != rep.Sample {
		return rep, fmt.Errorf("%d of %d registrations accepted, %d of %d tunnels carried traffic down, %d up\n-- ha.log --\n%s",
			rep.Accepted, len(mns), rep.Downlink, rep.Sample, rep.Uplink, ha.logTail())
	}
	return rep, nil
}

var errTimeout = errors.New("timed out")

func say(o Options, f string, a ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, f+"\n", a...)
	}
}

// storeConfig is the home agent's store key: bolt in the lab's state
// directory, or memory.
func storeConfig(o Options, dir string) string {
	switch o.Store {
	case "memory":
		return "{backend: memory}"
	case "etcd":
		return etcdClusterConfig(o.LabName)
	}
	return fmt.Sprintf("{backend: bolt, path: %s}", filepath.Join(dir, "ha.db"))
}
