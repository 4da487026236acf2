package lab

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Topology is a lab description, usually loaded from a YAML file.
type Topology struct {
	// Name prefixes every namespace and host-side object of the lab, so two
	// labs with different names can run at the same time.
	Name  string `yaml:"name" json:"name"`
	Nodes []Node `yaml:"nodes" json:"nodes"`
	Links []Link `yaml:"links" json:"links"`
	// Switches are shared links with more than two ends (switch.go).
	Switches  []Switch  `yaml:"switches,omitempty" json:"switches,omitempty"`
	Processes []Process `yaml:"processes,omitempty" json:"processes,omitempty"`

	// File is where the topology was loaded from (for error messages).
	File string `yaml:"-" json:"file,omitempty"`
}

// Node is a host or router; each node but the "host" kind gets its own
// network namespace named <lab>-<node>.
type Node struct {
	Name string `yaml:"name" json:"name"`
	// Kind is "host" (default), "router" (IPv6 and IPv4 forwarding on) or
	// "root" (the machine's own namespace: its interface names get the
	// "<lab>-" prefix; at most one such node).
	Kind    string            `yaml:"kind,omitempty" json:"kind,omitempty"`
	Sysctls map[string]string `yaml:"sysctls,omitempty" json:"sysctls,omitempty"`
	Routes  []Route           `yaml:"routes,omitempty" json:"routes,omitempty"`
}

// Route is a static route installed in a node.
type Route struct {
	// Dst is a prefix, "default" (family taken from Via), "default6" or "default4".
	Dst string `yaml:"dst" json:"dst"`
	// Via is the next hop; empty for a direct (on-link) route, which then needs Dev.
	Via string `yaml:"via,omitempty" json:"via,omitempty"`
	// Dev is the outgoing interface (the name used in the topology, unprefixed).
	Dev    string `yaml:"dev,omitempty" json:"dev,omitempty"`
	Src    string `yaml:"src,omitempty" json:"src,omitempty"`
	Table  int    `yaml:"table,omitempty" json:"table,omitempty"`
	Metric int    `yaml:"metric,omitempty" json:"metric,omitempty"`
}

// Link is a point-to-point link (a veth pair) between two nodes.
type Link struct {
	// Name identifies the link; defaults to "<a.node>-<b.node>" (must be unique).
	Name   string     `yaml:"name,omitempty" json:"name"`
	A      End        `yaml:"a" json:"a"`
	B      End        `yaml:"b" json:"b"`
	MTU    int        `yaml:"mtu,omitempty" json:"mtu,omitempty"`
	Impair Impairment `yaml:"impair,omitempty" json:"impair"`
	// AtoB and BtoA, when set, replace Impair for one direction (a
	// asymmetric link: e.g. a slower uplink).
	AtoB *Impairment `yaml:"a_to_b,omitempty" json:"a_to_b,omitempty"`
	BtoA *Impairment `yaml:"b_to_a,omitempty" json:"b_to_a,omitempty"`
	// Relay forces the userspace delay relay even when Delay and Jitter are
	// zero, so that delay can be set later with SetImpairment.
	Relay bool `yaml:"relay,omitempty" json:"relay,omitempty"`
	// Queue is how long the queue behind a rate limit may grow, in time at
	// the rate (default 100 ms). One round trip's worth (the bandwidth-delay
	// product) lets one TCP sender fill the link; more only adds delay that
	// every flow on the link waits behind (bufferbloat).
	Queue Duration `yaml:"queue,omitempty" json:"queue,omitempty"`
	// Qdisc is how that queue is served: "fifo" (default: one tail-drop
	// FIFO, as a plain router port) or "fq" (a queue per flow, served
	// round robin, as fq_codel's scheduler in Linux Wi-Fi and most LTE
	// base stations: a flow joining the link waits behind one frame of
	// each other flow, not behind their standing queue; fq.go).
	Qdisc string `yaml:"qdisc,omitempty" json:"qdisc,omitempty"`
}

// Link.Qdisc values.
const (
	QdiscFIFO = "fifo"
	QdiscFQ   = "fq"
)

// DefaultQueue is a rate-limited link's queue when Link.Queue is zero.
const DefaultQueue = 100 * time.Millisecond

// End is one end of a link.
type End struct {
	Node  string   `yaml:"node" json:"node"`
	If    string   `yaml:"if" json:"if"`
	Addrs []string `yaml:"addrs,omitempty" json:"addrs,omitempty"`
	// Down leaves the interface administratively down after Up.
	Down bool `yaml:"down,omitempty" json:"down,omitempty"`
	// IngressFilter drops IPv6 packets arriving here whose source is not on
	// the link's prefixes (BCP 38 at an access router), counting them.
	IngressFilter bool `yaml:"ingress_filter,omitempty" json:"ingress_filter,omitempty"`
	// Masquerade is NAT44 on the way out of this interface: IPv4 packets
	// leaving through it take its address (nftables masquerade).
	Masquerade bool `yaml:"masquerade,omitempty" json:"masquerade,omitempty"`
}

// Impairment is applied to both directions of a link independently: each
// direction gets at most Rate, each packet is delayed by Delay ± Jitter
// ONE WAY (a ping round trip takes 2×Delay), and each direction drops Loss
// of its packets.
type Impairment struct {
	// Rate in bit/s (YAML: "20mbit", "1.5gbit", "500kbit", "64000").
	Rate Rate `yaml:"rate,omitempty" json:"rate,omitempty"`
	// Delay one way, per direction (YAML: "10ms").
	Delay Duration `yaml:"delay,omitempty" json:"delay,omitempty"`
	// Jitter: uniform in [-Jitter, +Jitter] added to Delay; packets keep their order.
	Jitter Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	// Loss probability per packet per direction (YAML: "1%" or "0.01").
	Loss Loss `yaml:"loss,omitempty" json:"loss,omitempty"`
}

// DirImpairment is a link's impairment per direction.
type DirImpairment struct {
	AtoB Impairment `json:"a_to_b"`
	BtoA Impairment `json:"b_to_a"`
}

// Both is the same impairment in both directions.
func Both(im Impairment) DirImpairment { return DirImpairment{AtoB: im, BtoA: im} }

// Symmetric reports whether both directions are impaired alike.
func (d DirImpairment) Symmetric() bool { return d.AtoB == d.BtoA }

func (d DirImpairment) String() string {
	if d.Symmetric() {
		return d.AtoB.String()
	}
	return "a->b " + d.AtoB.String() + "; b->a " + d.BtoA.String()
}

func (d DirImpairment) delayed() bool {
	return d.AtoB.Delay > 0 || d.AtoB.Jitter > 0 || d.BtoA.Delay > 0 || d.BtoA.Jitter > 0
}

// Directions returns the link's configured impairment per direction.
func (lk *Link) Directions() DirImpairment {
	d := Both(lk.Impair)
	if lk.AtoB != nil {
		d.AtoB = *lk.AtoB
	}
	if lk.BtoA != nil {
		d.BtoA = *lk.BtoA
	}
	return d
}

// Zero reports whether no impairment is set.
func (im Impairment) Zero() bool { return im == Impairment{} }

func (im Impairment) String() string {
	var parts []string
	if im.Rate > 0 {
		parts = append(parts, "rate="+im.Rate.String())
	}
	if im.Delay > 0 {
		parts = append(parts, "delay="+im.Delay.String())
	}
	if im.Jitter > 0 {
		parts = append(parts, "jitter="+im.Jitter.String())
	}
	if im.Loss > 0 {
		parts = append(parts, "loss="+im.Loss.String())
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// Process is a program started in a node after the network is built. Its
// output goes to <state dir>/<name>.log and it is killed by Down.
type Process struct {
	Name    string            `yaml:"name" json:"name"`
	Node    string            `yaml:"node" json:"node"`
	Command string            `yaml:"command" json:"command"`
	Args    []string          `yaml:"args,omitempty" json:"args,omitempty"`
	Env     map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
}

// Rate is a bit rate in bit/s.
type Rate uint64

// Duration wraps time.Duration with YAML text form ("10ms").
type Duration time.Duration

// Loss is a probability in [0,1].
type Loss float64

func (r Rate) String() string {
	switch {
	case r == 0:
		return "0"
	case r%1_000_000_000 == 0:
		return fmt.Sprintf("%dgbit", r/1_000_000_000)
	case r%1_000_000 == 0:
		return fmt.Sprintf("%dmbit", r/1_000_000)
	case r%1000 == 0:
		return fmt.Sprintf("%dkbit", r/1000)
	}
	return fmt.Sprintf("%dbit", uint64(r))
}

func (d Duration) String() string { return time.Duration(d).String() }

func (l Loss) String() string { return strconv.FormatFloat(float64(l)*100, 'g', -1, 64) + "%" }

// ParseRate reads "20mbit", "1.5gbit", "500kbit", "64000" (bit/s), "10mbps" (= mbit).
func ParseRate(s string) (Rate, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range []struct {
		suf string
		m   float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"gbps", 1e9}, {"mbps", 1e6}, {"kbps", 1e3}, {"bit", 1}, {"bps", 1}, {"g", 1e9}, {"m", 1e6}, {"k", 1e3}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSuffix(t, u.suf), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || v < 0 || v*mult > 1e12 {
		return 0, fmt.Errorf("bad rate %q (want e.g. 20mbit, 500kbit, 1gbit)", s)
	}
	return Rate(v * mult), nil
}

// ParseDuration reads a Go duration ("10ms", "1.5s"); a bare number is milliseconds.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if v, err := strconv.ParseFloat(t, 64); err == nil {
		t = strconv.FormatFloat(v, 'f', -1, 64) + "ms"
	}
	d, err := time.ParseDuration(t)
	if err != nil || d < 0 || d > time.Hour {
		return 0, fmt.Errorf("bad duration %q (want e.g. 10ms)", s)
	}
	return Duration(d), nil
}

// ParseLoss reads "1%", "0.5%" or a probability "0.01".
func ParseLoss(s string) (Loss, error) {
	t := strings.TrimSpace(s)
	div := 1.0
	if strings.HasSuffix(t, "%") {
		t, div = strings.TrimSuffix(t, "%"), 100
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || v/div < 0 || v/div > 1 {
		return 0, fmt.Errorf("bad loss %q (want e.g. 1%% or 0.01)", s)
	}
	return Loss(v / div), nil
}

func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseRate(n.Value)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

func (r Rate) MarshalYAML() (any, error) { return r.String(), nil }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func (l *Loss) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseLoss(n.Value)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

func (l Loss) MarshalYAML() (any, error) { return l.String(), nil }

// ParseImpairment reads "rate=20mbit delay=10ms jitter=1ms loss=1%" style
// settings (as separate args) on top of base. "none" or "0" values clear one.
func ParseImpairment(base Impairment, settings []string) (Impairment, error) {
	im := base
	for _, kv := range settings {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return im, fmt.Errorf("bad setting %q: want key=value (rate, delay, jitter, loss)", kv)
		}
		if v == "none" || v == "off" {
			v = "0"
		}
		var err error
		switch strings.ToLower(k) {
		case "rate":
			im.Rate, err = ParseRate(v)
		case "delay":
			im.Delay, err = ParseDuration(v)
		case "jitter":
			im.Jitter, err = ParseDuration(v)
		case "loss":
			im.Loss, err = ParseLoss(v)
		default:
			err = fmt.Errorf("unknown setting %q (want rate, delay, jitter, loss)", k)
		}
		if err != nil {
			return im, err
		}
	}
	if im.Jitter > im.Delay {
		return im, fmt.Errorf("jitter %v larger than delay %v", im.Jitter, im.Delay)
	}
	return im, nil
}

// Load reads and validates a topology file.
func Load(path string) (*Topology, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := parse(b, path)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Parse reads and validates a topology from YAML.
func Parse(b []byte) (*Topology, error) { return parse(b, "") }

func parse(b []byte, file string) (*Topology, error) {
	where := file
	if where == "" {
		where = "topology"
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var t Topology
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	t.File = file
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// ValidationError lists every problem found in a topology.
type ValidationError struct {
	File     string
	Problems []string
}

func (e *ValidationError) Error() string {
	f := e.File
	if f == "" {
		f = "topology"
	}
	if len(e.Problems) == 1 {
		return f + ": " + e.Problems[0]
	}
	return f + ":\n  " + strings.Join(e.Problems, "\n  ")
}

var (
	labNameRE  = regexp.MustCompile(`^[a-z][a-z0-9]{0,7}$`)
	nodeNameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]{0,31}$`)
	ifNameRE   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.]{0,14}$`)
)

// ifNameMax is IFNAMSIZ-1.
const ifNameMax = 15

// Node kinds.
const (
	KindHost   = "host"
	KindRouter = "router"
	KindRoot   = "root"
)

// Validate checks names, references and addresses, and fills defaults
// (node kinds, link names).
func (t *Topology) Validate() error {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if !labNameRE.MatchString(t.Name) {
		add("name: %q must be 1-8 lower-case letters or digits, starting with a letter", t.Name)
	}
	nodes := map[string]*Node{}
	roots := 0
	for i := range t.Nodes {
		n := &t.Nodes[i]
		f := fmt.Sprintf("nodes[%d]", i)
		if !nodeNameRE.MatchString(n.Name) {
			add("%s.name: %q must be a letter then letters, digits or _ (max 32)", f, n.Name)
		} else if nodes[n.Name] != nil {
			add("%s.name: duplicate node %q", f, n.Name)
		} else {
			nodes[n.Name] = n
		}
		switch n.Kind {
		case "":
			n.Kind = KindHost
		case KindHost, KindRouter:
		case KindRoot:
			roots++
			if roots > 1 {
				add("%s.kind: only one node may be kind root", f)
			}
		default:
			add("%s.kind: %q must be host, router or root", f, n.Kind)
		}
		for k := range n.Sysctls {
			if !strings.HasPrefix(k, "net.") || strings.Contains(k, "..") || strings.ContainsAny(k, "/ ") {
				add("%s.sysctls: %q: only net.* sysctls can be set per node", f, k)
			}
		}
	}
	ifs := map[string]map[string]bool{} // node -> if names
	links := map[string]bool{}
	for i := range t.Links {
		l := &t.Links[i]
		f := fmt.Sprintf("links[%d]", i)
		if l.A.Node != "" && l.A.Node == l.B.Node {
			add("%s: link from node %q to itself", f, l.A.Node)
		}
		for _, e := range []struct {
			name string
			end  *End
		}{{"a", &l.A}, {"b", &l.B}} {
			ef := f + "." + e.name
			n := nodes[e.end.Node]
			if e.end.Node == "" {
				add("%s.node: missing", ef)
			} else if n == nil {
				add("%s.node: unknown node %q", ef, e.end.Node)
			}
			if !ifNameRE.MatchString(e.end.If) {
				add("%s.if: %q must be a letter then letters, digits, _ or . (max %d)", ef, e.end.If, ifNameMax)
			} else {
				if n != nil && n.Kind == KindRoot {
					if hn := t.Name + "-" + e.end.If; len(hn) > ifNameMax {
						add("%s.if: %q on root node becomes %q, longer than %d characters", ef, e.end.If, hn, ifNameMax)
					}
				}
				if e.end.If == "lo" {
					add("%s.if: \"lo\" is reserved", ef)
				}
				if ifs[e.end.Node] == nil {
					ifs[e.end.Node] = map[string]bool{}
				}
				if ifs[e.end.Node][e.end.If] {
					add("%s.if: duplicate interface %q on node %q", ef, e.end.If, e.end.Node)
				}
				ifs[e.end.Node][e.end.If] = true
			}
			for j, a := range e.end.Addrs {
				if _, err := parseIfAddr(a); err != nil {
					add("%s.addrs[%d]: %v", ef, j, err)
				}
			}
		}
		if l.Name == "" {
			l.Name = l.A.Node + "-" + l.B.Node
		}
		if !nodeNameRE.MatchString(strings.ReplaceAll(l.Name, "-", "_")) {
			add("%s.name: %q must be a letter then letters, digits, _ or -", f, l.Name)
		} else if links[l.Name] {
			add("%s.name: duplicate link name %q (give links between the same nodes distinct names)", f, l.Name)
		}
		links[l.Name] = true
		if l.Queue < 0 || (l.Queue > 0 && time.Duration(l.Queue) < time.Millisecond) {
			add("%s.queue: %v, want at least 1ms (or leave it out for %v)", f, l.Queue, DefaultQueue)
		}
		if l.Qdisc != "" && l.Qdisc != QdiscFIFO && l.Qdisc != QdiscFQ {
			add("%s.qdisc: %q, want %s or %s", f, l.Qdisc, QdiscFIFO, QdiscFQ)
		}
		if l.MTU != 0 && (l.MTU < 1280 || l.MTU > 65535) {
			add("%s.mtu: %d outside 1280..65535 (IPv6 needs at least 1280)", f, l.MTU)
		}
		for _, x := range []struct {
			name string
			im   *Impairment
		}{{"impair", &l.Impair}, {"a_to_b", l.AtoB}, {"b_to_a", l.BtoA}} {
			if x.im != nil && x.im.Jitter > x.im.Delay {
				add("%s.%s.jitter: %v larger than delay %v", f, x.name, x.im.Jitter, x.im.Delay)
			}
		}
	}
	// Addresses: unique in the lab, and both ends of a link on one prefix.
	used := map[netip.Addr]string{}
	onLink := map[string][]ifPrefix{} // node -> its prefixes
	for i := range t.Links {
		l := &t.Links[i]
		ends := [2]*End{&l.A, &l.B}
		pfx := [2][]netip.Prefix{}
		for k, e := range ends {
			for j, a := range e.Addrs {
				pf, err := parseIfAddr(a)
				if err != nil {
					continue // reported above
				}
				where := fmt.Sprintf("links[%d].%s.addrs[%d]", i, "ab"[k:k+1], j)
				if prev, dup := used[pf.Addr()]; dup {
					add("%s: address %s already used at %s", where, pf.Addr(), prev)
				} else {
					used[pf.Addr()] = where
				}
				pfx[k] = append(pfx[k], pf)
				onLink[e.Node] = append(onLink[e.Node], ifPrefix{e.If, pf.Masked()})
			}
		}
		for k := range 2 {
			mine, peer := pfx[k], pfx[1-k]
			for j, pf := range mine {
				var same []string
				ok := false
				for _, q := range peer {
					if q.Addr().Is4() != pf.Addr().Is4() {
						continue
					}
					same = append(same, q.Masked().String())
					if q.Masked().Contains(pf.Addr()) {
						ok = true
					}
				}
				if len(same) > 0 && !ok {
					add("links[%d].%s.addrs[%d]: %s is outside the link's prefix %s (set on %s:%s)", i, "ab"[k:k+1], j,
						pf.Addr(), strings.Join(same, ", "), ends[1-k].Node, ends[1-k].If)
				}
			}
		}
	}
	t.validateSwitches(nodes, ifs, used, onLink, links, add)
	for i := range t.Nodes {
		n := &t.Nodes[i]
		for j, r := range n.Routes {
			if err := r.check(ifs[n.Name]); err != nil {
				add("nodes[%d] (%s).routes[%d]: %v", i, n.Name, j, err)
				continue
			}
			if n.Kind == KindRoot {
				continue // the machine's own networks are unknown here
			}
			if _, via, _, _ := r.resolve(); via.IsValid() && !via.IsLinkLocalUnicast() {
				found := false
				for _, p := range onLink[n.Name] {
					if p.prefix.Contains(via) && (r.Dev == "" || r.Dev == p.ifname) {
						found = true
					}
				}
				if !found {
					add("nodes[%d] (%s).routes[%d]: via %s is not on any link of node %q (no interface address has a prefix containing it)", i, n.Name, j, via, n.Name)
				}
			}
		}
	}
	// Per-interface sysctls must name an interface of the node.
	for i := range t.Nodes {
		n := &t.Nodes[i]
		for k := range n.Sysctls {
			parts := strings.Split(k, ".")
			if len(parts) >= 5 && (parts[2] == "conf" || parts[2] == "neigh") {
				switch ifn := parts[3]; {
				case ifn == "all" || ifn == "default" || ifn == "lo":
				case !ifs[n.Name][ifn]:
					add("nodes[%d] (%s).sysctls: %q names interface %q, which the node does not have", i, n.Name, k, ifn)
				}
			}
		}
	}
	procs := map[string]bool{}
	for i, pr := range t.Processes {
		f := fmt.Sprintf("processes[%d]", i)
		if !nodeNameRE.MatchString(pr.Name) {
			add("%s.name: %q must be a letter then letters, digits or _", f, pr.Name)
		} else if procs[pr.Name] {
			add("%s.name: duplicate process %q", f, pr.Name)
		}
		procs[pr.Name] = true
		if nodes[pr.Node] == nil {
			add("%s.node: unknown node %q", f, pr.Node)
		} else if nodes[pr.Node].Kind == KindRoot {
			add("%s.node: processes cannot run on the root node %q", f, pr.Node)
		}
		if pr.Command == "" {
			add("%s.command: missing", f)
		}
	}
	if len(p) > 0 {
		return &ValidationError{File: t.File, Problems: p}
	}
	return nil
}

type ifPrefix struct {
	ifname string
	prefix netip.Prefix
}

// parseIfAddr reads "2001:db8::1/64": an address with its on-link prefix.
func parseIfAddr(s string) (netip.Prefix, error) {
	pf, err := netip.ParsePrefix(s)
	if err != nil {
		if _, err2 := netip.ParseAddr(s); err2 == nil {
			return pf, fmt.Errorf("%q has no prefix length (want e.g. %s/64)", s, s)
		}
		return pf, fmt.Errorf("malformed address/prefix %q", s)
	}
	a := pf.Addr()
	if a.Zone() != "" || a.Is4In6() {
		return pf, fmt.Errorf("%q: zones and IPv4-mapped addresses are not allowed", s)
	}
	if a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() {
		return pf, fmt.Errorf("%q is not a unicast address", s)
	}
	if a.Is6() && pf.Bits() < 128 && pf.Masked().Addr() == a && pf.Bits() != 127 {
		return pf, fmt.Errorf("%q is the subnet-router anycast address of its prefix, not a host address", s)
	}
	if a.Is4() && pf.Bits() < 31 {
		bc := pf.Masked().Addr().As4()
		host := 32 - pf.Bits()
		for i := 3; i >= 0 && host > 0; i-- {
			n := min(host, 8)
			bc[i] |= byte(1<<n - 1)
			host -= n
		}
		if a == pf.Masked().Addr() || a == netip.AddrFrom4(bc) {
			return pf, fmt.Errorf("%q is the network or broadcast address of its prefix", s)
		}
	}
	return pf, nil
}

// Resolve returns the route's destination prefix, next hop and source.
func (r Route) resolve() (dst netip.Prefix, via, src netip.Addr, err error) {
	if r.Via != "" {
		if via, err = netip.ParseAddr(r.Via); err != nil || via.Zone() != "" {
			return dst, via, src, fmt.Errorf("via: malformed address %q", r.Via)
		}
	}
	if r.Src != "" {
		if src, err = netip.ParseAddr(r.Src); err != nil {
			return dst, via, src, fmt.Errorf("src: malformed address %q", r.Src)
		}
	}
	switch r.Dst {
	case "default":
		switch {
		case via.Is6():
			dst = netip.MustParsePrefix("::/0")
		case via.Is4():
			dst = netip.MustParsePrefix("0.0.0.0/0")
		default:
			return dst, via, src, errors.New(`dst: "default" needs via (or write default6 / default4)`)
		}
	case "default6":
		dst = netip.MustParsePrefix("::/0")
	case "default4":
		dst = netip.MustParsePrefix("0.0.0.0/0")
	case "":
		return dst, via, src, errors.New("dst: missing")
	default:
		if dst, err = netip.ParsePrefix(r.Dst); err != nil {
			return dst, via, src, fmt.Errorf("dst: malformed prefix %q", r.Dst)
		}
		if dst.Masked() != dst {
			return dst, via, src, fmt.Errorf("dst: %q has host bits set (did you mean %s?)", r.Dst, dst.Masked())
		}
	}
	if via.IsValid() && via.Is4() != dst.Addr().Is4() {
		return dst, via, src, fmt.Errorf("via %s and dst %s are different address families", via, dst)
	}
	if src.IsValid() && src.Is4() != dst.Addr().Is4() {
		return dst, via, src, fmt.Errorf("src %s and dst %s are different address families", src, dst)
	}
	return dst, via, src, nil
}

func (r Route) check(ifs map[string]bool) error {
	_, via, _, err := r.resolve()
	if err != nil {
		return err
	}
	if r.Dev != "" && !ifs[r.Dev] {
		var have []string
		for k := range ifs {
			have = append(have, k)
		}
		sort.Strings(have)
		return fmt.Errorf("dev: node has no interface %q (has %s)", r.Dev, strings.Join(have, ", "))
	}
	if !via.IsValid() && r.Dev == "" {
		return errors.New("needs via, dev or both")
	}
	if via.IsValid() && via.Is6() && via.IsLinkLocalUnicast() && r.Dev == "" {
		return fmt.Errorf("via %s is link-local: dev is required", via)
	}
	if r.Table < 0 || r.Metric < 0 {
		return errors.New("table and metric must not be negative")
	}
	return nil
}

// node returns the named node or nil.
func (t *Topology) node(name string) *Node {
	for i := range t.Nodes {
		if t.Nodes[i].Name == name {
			return &t.Nodes[i]
		}
	}
	return nil
}
