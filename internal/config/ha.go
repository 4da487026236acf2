package config

import (
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// HomeAgent is the configuration of `monami ha`.
type HomeAgent struct {
	Log           Log    `yaml:"log"`
	ControlSocket string `yaml:"control_socket"`
	// Address is the home agent's address, the destination of Binding Updates.
	Address string `yaml:"address"`
	// HomePrefixes are the prefixes of the home links this agent serves
	// (RFC 6275 section 10.3.1: a home address outside them gets status 132).
	HomePrefixes []string `yaml:"home_prefixes"`
	// HomeLink is the interface on the home link. When set, the home agent
	// defends the home addresses of away mobile nodes there with proxy
	// Neighbor Discovery (RFC 6275 section 10.4.1). Empty: no proxy ND (the
	// home prefix is routed to the home agent, no host shares the link).
	HomeLink string `yaml:"home_link"`
	// AlternateHomeAgents are the home agents a drain (monami ctl drain)
	// names in its Home Agent Switch messages (RFC 5142), preferred first,
	// when the command gives none. They must serve the same home prefixes
	// and hold the same mobile nodes' security associations.
	AlternateHomeAgents []string `yaml:"alternate_home_agents"`

	Signalling struct {
		Native  *bool   `yaml:"native"`   // Mobility Header, next header 135 (default true)
		UDPPort *uint16 `yaml:"udp_port"` // RFC 5555 UDP port, 0 = off (default 4191)
		// NATKeepalive is the Refresh Time of the NAT Detection option:
		// how often a mobile node behind a NAT refreshes its mapping (RFC
		// 5555 section 4.1; default NATKATIMEOUT, 110 s; whole seconds).
		NATKeepalive Duration `yaml:"nat_keepalive"`
	} `yaml:"signalling"`

	Dataplane Dataplane `yaml:"dataplane"`
	// Metrics is the Prometheus endpoint; off unless metrics.listen is set.
	Metrics Metrics `yaml:"metrics"`
	// Paths: when a path's loss makes it degraded (docs/paths.md).
	Paths Paths `yaml:"paths"`
	// Store keeps the bindings across restarts.
	Store Store `yaml:"store"`
	// Cluster, when set, makes this home agent a node of an etcd cluster.
	Cluster Cluster `yaml:"cluster"`

	Binding struct {
		// MaxLifetime caps granted lifetimes (RFC 6275 section 10.3.1).
		MaxLifetime Duration `yaml:"max_lifetime"`
		// RefreshFraction sets the Binding Refresh Advice interval as a fraction
		// of the granted lifetime (RFC 6275 section 6.2.4); 0 sends none.
		RefreshFraction float64 `yaml:"refresh_fraction"`
		// MaxBindings bounds the binding cache; beyond it Binding Updates get
		// status 130, Insufficient resources (RFC 6275 section 6.1.8).
		MaxBindings int `yaml:"max_bindings"`
	} `yaml:"binding"`

	Security struct {
		// Insecure accepts Binding Updates without RFC 4285 authentication.
		Insecure bool `yaml:"insecure"`
		// ReplayWindow is the tolerated clock difference for RFC 4285
		// timestamps (section 6).
		ReplayWindow Duration `yaml:"replay_window"`
	} `yaml:"security"`

	MobileNodes []MobileNodeEntry `yaml:"mobile_nodes"`

	// FlowBindings is the flow binding policy (see ha_flows.go).
	FlowBindings FlowBindings `yaml:"flow_bindings"`

	// parsed
	address      netip.Addr
	homePrefixes []netip.Prefix
	alternates   []netip.Addr
}

// MobileNodeEntry authorises one mobile node.
type MobileNodeEntry struct {
	// ID is the mobile node's NAI (RFC 4283 MN Identifier, subtype 1).
	ID            string              `yaml:"id"`
	HomeAddresses []string            `yaml:"home_addresses"`
	Security      SecurityAssociation `yaml:",inline"`
	// Priorities overrides the priority of given binding IDs (lower is preferred).
	Priorities map[uint16]uint8 `yaml:"priorities"`

	homeAddresses []netip.Addr
}

// HomeAddrs returns the parsed home addresses.
func (m MobileNodeEntry) HomeAddrs() []netip.Addr { return m.homeAddresses }

// Alternates returns the parsed alternate_home_agents.
func (c *HomeAgent) Alternates() []netip.Addr { return c.alternates }

// Addr returns the home agent's address.
func (c *HomeAgent) Addr() netip.Addr { return c.address }

// Prefixes returns the parsed home prefixes.
func (c *HomeAgent) Prefixes() []netip.Prefix { return c.homePrefixes }

// NATRefreshTime is the NAT Detection option's Refresh Time in seconds
// (RFC 5555 section 4.2.2; NATKATIMEOUT, 110, by default).
func (c *HomeAgent) NATRefreshTime() uint32 {
	if k := c.Signalling.NATKeepalive.D(); k > 0 {
		return uint32(k / time.Second)
	}
	return 110
}

// UDPPort is the RFC 5555 signalling port, 0 when that transport is off.
func (c *HomeAgent) UDPPort() uint16 { return *c.Signalling.UDPPort }

// NativeSignalling reports whether the Mobility Header transport is on.
func (c *HomeAgent) NativeSignalling() bool {
	return c.Signalling.Native == nil || *c.Signalling.Native
}

// LoadHomeAgent reads and validates an ha.yaml.
func LoadHomeAgent(path string) (*HomeAgent, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return ParseHomeAgent(path, data)
}

// ParseHomeAgent validates an ha.yaml held in memory; name is for messages.
func ParseHomeAgent(name string, data []byte) (*HomeAgent, error) {
	var c HomeAgent
	if err := decodeStrict(data, &c); err != nil {
		return nil, errs{err.Error()}.err(name)
	}
	var e errs
	c.Log.validate(&e)
	if c.ControlSocket == "" {
		c.ControlSocket = "/run/monami/ha.sock"
	}
	if c.Address == "" {
		e.add("address: required (the home agent address)")
	} else if c.address = parseAddr("address", c.Address, &e); c.address.IsValid() && (!c.address.Is6() || !unicastGlobal(c.address)) {
		e.add("address: %s must be a global IPv6 unicast address", c.address)
	}
	if len(c.HomePrefixes) == 0 {
		e.add("home_prefixes: at least one home prefix is required")
	}
	for i, s := range c.HomePrefixes {
		p := parsePrefix(fieldf("home_prefixes[%d]", i), s, &e)
		if p.IsValid() {
			if !p.Addr().Is6() {
				e.add("home_prefixes[%d]: %s is not IPv6", i, p)
			}
			c.homePrefixes = append(c.homePrefixes, p)
		}
	}
	c.alternates = ParseAlternateHomeAgents("alternate_home_agents", c.AlternateHomeAgents, c.address, &e)
	if c.Signalling.UDPPort == nil {
		port := uint16(4191) // RFC 5555 section 4.1
		c.Signalling.UDPPort = &port
	}
	if k := c.Signalling.NATKeepalive.D(); k != 0 && (k < time.Second || k%time.Second != 0) {
		e.add("signalling.nat_keepalive: %v must be whole seconds, at least 1s", k)
	}
	if *c.Signalling.UDPPort == 0 && !c.NativeSignalling() {
		e.add("signalling: both transports are off")
	}
	if c.HomeLink != "" && !ifName.MatchString(c.HomeLink) {
		e.add("home_link: %q is not a valid interface name", c.HomeLink)
	}
	c.Dataplane.validate(&e)
	c.Metrics.validate(&e)
	c.Paths.validate(&e)
	c.Store.validate(&e)
	c.Cluster.validate(c.Store.Backend, &e)
	if c.Binding.MaxLifetime == 0 {
		c.Binding.MaxLifetime = Duration(5 * time.Minute)
	}
	// RFC 6275 section 6.1.7: the lifetime field counts 4-second units in 16 bits.
	if d := c.Binding.MaxLifetime.D(); d < 4*time.Second || d > 65535*4*time.Second {
		e.add("binding.max_lifetime: %s is outside 4s..%s", d, 65535*4*time.Second)
	}
	if f := c.Binding.RefreshFraction; f < 0 || f >= 1 {
		e.add("binding.refresh_fraction: %g is outside [0, 1)", f)
	}
	switch {
	case c.Binding.MaxBindings == 0:
		c.Binding.MaxBindings = 1_000_000
	case c.Binding.MaxBindings < 0:
		e.add("binding.max_bindings: %d is negative", c.Binding.MaxBindings)
	}
	switch w := c.Security.ReplayWindow.D(); {
	case w == 0:
		c.Security.ReplayWindow = Duration(7 * time.Second)
	case w < 3*time.Second:
		// RFC 4285 section 6: the tolerance should exceed 3 seconds.
		e.add("security.replay_window: %s is below 3s (RFC 4285 section 6)", w)
	}
	c.FlowBindings.validate(&e)
	if len(c.MobileNodes) == 0 {
		e.add("mobile_nodes: at least one mobile node is required")
	}
	ids := map[string]bool{}
	hoas := map[netip.Addr]string{}
	for i := range c.MobileNodes {
		m := &c.MobileNodes[i]
		where := fieldf("mobile_nodes[%d]", i)
		if m.ID == "" {
			e.add("%s.id: required (the mobile node's NAI)", where)
		} else if ids[m.ID] {
			e.add("%s.id: %q appears twice", where, m.ID)
		}
		ids[m.ID] = true
		if len(m.HomeAddresses) == 0 {
			e.add("%s.home_addresses: at least one is required", where)
		}
		for j, s := range m.HomeAddresses {
			a := parseAddr(fieldf("%s.home_addresses[%d]", where, j), s, &e)
			if !a.IsValid() {
				continue
			}
			if !inAny(a, c.homePrefixes) {
				e.add("%s.home_addresses[%d]: %s is in no home prefix", where, j, a)
			}
			if other, dup := hoas[a]; dup {
				e.add("%s.home_addresses[%d]: %s is also given to %s", where, j, a, other)
			}
			hoas[a] = m.ID
			m.homeAddresses = append(m.homeAddresses, a)
		}
		if !c.Security.Insecure {
			m.Security.resolve(where, &e)
		}
		for bid, p := range m.Priorities {
			// BID-PRI is 7 bits, 0 reserved (RFC 6089 section 6.1).
			if bid == 0 || p < 1 || p > 127 {
				e.add("%s.priorities: BID %d priority %d: BIDs are 1..65535, priorities 1..127", where, bid, p)
			}
		}
	}
	return &c, e.err(name)
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Store chooses where the home agent keeps its bindings.
type Store struct {
	// Backend is bolt (a file, the default), memory (nothing survives a
	// restart) or etcd (the cluster's etcd, see Cluster).
	Backend string `yaml:"backend"`
	// Path is the bolt file (default /var/lib/monami/ha.db); its directory
	// is created (0700) when missing.
	Path string `yaml:"path"`
}

// DefaultStorePath is store.path when none is given.
const DefaultStorePath = "/var/lib/monami/ha.db"

func (s *Store) validate(e *errs) {
	switch s.Backend {
	case "":
		s.Backend = "bolt"
	case "bolt", "memory", "etcd":
	default:
		e.add("store.backend: %q is not bolt, memory or etcd", s.Backend)
		return
	}
	switch {
	case s.Backend == "memory" && s.Path != "":
		e.add("store.path: %q is for backend bolt; backend memory keeps nothing on disk", s.Path)
	case s.Backend == "etcd" && s.Path != "":
		e.add("store.path: %q is for backend bolt; backend etcd keeps the bindings in cluster.etcd", s.Path)
	case s.Backend == "bolt" && s.Path == "":
		s.Path = DefaultStorePath
	case s.Backend == "bolt" && !filepath.IsAbs(s.Path):
		e.add("store.path: %q is not an absolute path", s.Path)
	case s.Backend == "bolt" && strings.HasSuffix(s.Path, "/"):
		e.add("store.path: %q names a directory, not a file", s.Path)
	}
}

// ParseAlternateHomeAgents validates a list of home agents to switch mobile
// nodes to (RFC 5142 section 4): global IPv6 unicast addresses, each once,
// not self, at most 255 (# of Addresses is one octet).
func ParseAlternateHomeAgents(key string, in []string, self netip.Addr, e *errs) []netip.Addr {
	var out []netip.Addr
	if len(in) > 255 {
		e.add("%s: %d addresses, a Home Agent Switch message holds at most 255", key, len(in))
	}
	for i, s := range in {
		a := parseAddr(fieldf("%s[%d]", key, i), s, e)
		switch {
		case !a.IsValid():
			continue
		case !a.Is6() || a.Is4In6() || !unicastGlobal(a):
			e.add("%s[%d]: %s must be a global IPv6 unicast address", key, i, a)
		case a == self:
			e.add("%s[%d]: %s is this home agent's own address", key, i, a)
		case slices.Contains(out, a):
			e.add("%s[%d]: %s appears twice", key, i, a)
		default:
			out = append(out, a)
		}
	}
	return out
}

// CheckAlternateHomeAgents is ParseAlternateHomeAgents for a command's
// argument (monami ctl drain --to): the error names key.
func CheckAlternateHomeAgents(key string, in []string, self netip.Addr) ([]netip.Addr, error) {
	var e errs
	out := ParseAlternateHomeAgents(key, in, self, &e)
	if len(e) > 0 {
		return nil, errors.New(strings.Join(e, "; "))
	}
	return out, nil
}
