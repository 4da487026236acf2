package config

import (
	"net/netip"
	"regexp"
	"slices"
	"time"

	"monami/internal/policy"
)

// MobileNode is the configuration of `monami mn`.
type MobileNode struct {
	Log           Log    `yaml:"log"`
	ControlSocket string `yaml:"control_socket"`
	// ID is the mobile node's NAI, sent in the RFC 4283 MN Identifier option.
	ID string `yaml:"id"`
	// HomeInterface is the stable logical interface that carries the home
	// addresses, so unmodified applications bind to them.
	HomeInterface string `yaml:"home_interface"`
	// Lifetime is the binding lifetime requested (RFC 6275 section 6.1.7).
	Lifetime Duration `yaml:"lifetime"`

	HomeAddresses []HomeAddressEntry `yaml:"home_addresses"`
	Interfaces    []InterfaceEntry   `yaml:"interfaces"`
	Dataplane     Dataplane          `yaml:"dataplane"`
	// Metrics is the Prometheus endpoint; off unless metrics.listen is set.
	Metrics Metrics `yaml:"metrics"`
	// Paths: when a path's loss makes it degraded (docs/paths.md).
	Paths Paths `yaml:"paths"`
	// Policy says which flows use which interfaces (see examples/mn.yaml).
	Policy   policy.Policy `yaml:"policy"`
	Security struct {
		Insecure bool `yaml:"insecure"`
	} `yaml:"security"`
}

// HomeAddressEntry is one home address and the home agent that serves it.
type HomeAddressEntry struct {
	Address   string `yaml:"address"`
	PrefixLen int    `yaml:"prefix_len"`
	HomeAgent string `yaml:"home_agent"`
	// HomeAgentIPv4 is the home agent's IPv4 address, which a care-of
	// address from an IPv4-only access network (an interface with
	// transport udp) registers through (RFC 5555 section 4.1); empty: no
	// IPv4 care-of addresses for this home address.
	HomeAgentIPv4 string              `yaml:"home_agent_ipv4"`
	Security      SecurityAssociation `yaml:",inline"`
	// CareOf says which new care-of addresses are bound to this home
	// address (draft-ietf-monami6-mipv6-analysis section 6.3.2); empty:
	// every interface's.
	CareOf CareOfRule `yaml:"care_of"`

	addr, ha, ha4 netip.Addr
}

// CareOfRule restricts the care-of addresses registered for one home
// address: an address qualifies when its interface is in Interfaces (if
// any are given) and it lies in one of Prefixes (if any are given). With
// ViaHomeAddress the one care-of address is that other home address of
// this mobile node (draft-ietf-monami6-mipv6-analysis section 6.3.1):
// nested tunnels, no access interface serves it directly.
type CareOfRule struct {
	Interfaces     []string `yaml:"interfaces"`
	Prefixes       []string `yaml:"prefixes"`
	ViaHomeAddress string   `yaml:"via_home_address"`

	prefixes []netip.Prefix
	via      netip.Addr
}

// Via returns the home address that serves as this home address's care-of
// address; invalid when access interfaces serve it.
func (r CareOfRule) Via() netip.Addr { return r.via }

// Allows reports whether a care-of address on access interface ifname may
// serve the home address (never, for a nested home address).
func (r CareOfRule) Allows(ifname string, coa netip.Addr) bool {
	if r.via.IsValid() {
		return false
	}
	if len(r.Interfaces) > 0 && !slices.Contains(r.Interfaces, ifname) {
		return false
	}
	if len(r.prefixes) == 0 {
		return true
	}
	return slices.ContainsFunc(r.prefixes, func(p netip.Prefix) bool { return p.Contains(coa.Unmap()) })
}

func (r *CareOfRule) validate(where string, ifs []InterfaceEntry, e *errs) {
	for i, n := range r.Interfaces {
		if !slices.ContainsFunc(ifs, func(f InterfaceEntry) bool { return f.Name == n }) {
			e.add("%s.care_of.interfaces[%d]: %q is not one of the access interfaces", where, i, n)
		}
	}
	for i, s := range r.Prefixes {
		if p := parsePrefix(fieldf("%s.care_of.prefixes[%d]", where, i), s, e); p.IsValid() {
			r.prefixes = append(r.prefixes, p)
		}
	}
	if r.ViaHomeAddress == "" {
		return
	}
	key := where + ".care_of.via_home_address"
	if r.via = parseAddr(key, r.ViaHomeAddress, e); !r.via.IsValid() {
		return
	}
	if len(r.Interfaces) > 0 || len(r.Prefixes) > 0 {
		e.add("%s: %s is the only care-of address of a nested home address; leave out interfaces and prefixes", key, r.via)
	}
}

// NestedHomes reports whether a home address goes via another (then the
// mobile node needs a data plane that nests tunnels: userspace).
func (c *MobileNode) NestedHomes() bool {
	return slices.ContainsFunc(c.HomeAddresses, func(h HomeAddressEntry) bool { return h.CareOf.via.IsValid() })
}

// Addr returns the parsed home address.
func (h HomeAddressEntry) Addr() netip.Addr { return h.addr }

// Prefix returns the home address with its prefix length.
func (h HomeAddressEntry) Prefix() netip.Prefix { return netip.PrefixFrom(h.addr, h.PrefixLen) }

// HomeAgentAddr returns the parsed home agent address.
func (h HomeAddressEntry) HomeAgentAddr() netip.Addr { return h.ha }

// HomeAgentIPv4Addr returns the parsed IPv4 home agent address, invalid
// when not configured.
func (h HomeAddressEntry) HomeAgentIPv4Addr() netip.Addr { return h.ha4 }

// InterfaceEntry is an access interface whose global addresses become
// care-of addresses, each registered as its own binding (RFC 5648).
type InterfaceEntry struct {
	Name string `yaml:"name"`
	// BID is the Binding ID of this interface's care-of address (RFC 5648
	// section 6.1: non-zero 16-bit value).
	BID uint16 `yaml:"bid"`
	// Priority orders bindings; lower is preferred.
	Priority uint8 `yaml:"priority"`
	// Transport is the signalling transport on this interface: native or udp.
	Transport Transport `yaml:"transport"`
	// Gateway is the next hop for traffic leaving from this interface's
	// care-of address; empty takes the kernel's default route on the
	// interface (static or learnt from Router Advertisements).
	Gateway string `yaml:"gateway"`

	gw netip.Addr
}

// GatewayAddr returns the parsed gateway, invalid when not configured.
func (f InterfaceEntry) GatewayAddr() netip.Addr { return f.gw }

var ifName = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,15}$`)

// LoadMobileNode reads and validates an mn.yaml.
func LoadMobileNode(path string) (*MobileNode, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return ParseMobileNode(path, data)
}

// ParseMobileNode validates an mn.yaml held in memory; name is for messages.
func ParseMobileNode(name string, data []byte) (*MobileNode, error) {
	var c MobileNode
	if err := decodeStrict(data, &c); err != nil {
		return nil, errs{err.Error()}.err(name)
	}
	var e errs
	c.Log.validate(&e)
	if c.ControlSocket == "" {
		c.ControlSocket = "/run/monami/mn.sock"
	}
	if c.ID == "" && !c.Security.Insecure {
		e.add("id: required (the mobile node's NAI, e.g. mn1@example.org)")
	}
	if c.HomeInterface == "" {
		c.HomeInterface = "monami0"
	} else if !ifName.MatchString(c.HomeInterface) {
		e.add("home_interface: %q is not a valid interface name", c.HomeInterface)
	}
	if c.Lifetime == 0 {
		c.Lifetime = Duration(5 * time.Minute)
	}
	if d := c.Lifetime.D(); d < 4*time.Second || d > 65535*4*time.Second {
		e.add("lifetime: %s is outside 4s..%s", d, 65535*4*time.Second)
	}
	if len(c.HomeAddresses) == 0 {
		e.add("home_addresses: at least one home address is required")
	}
	seen := map[netip.Addr]bool{}
	for i := range c.HomeAddresses {
		h := &c.HomeAddresses[i]
		where := fieldf("home_addresses[%d]", i)
		h.addr = parseAddr(where+".address", h.Address, &e)
		if h.addr.IsValid() && (!h.addr.Is6() || !unicastGlobal(h.addr)) {
			e.add("%s.address: %s must be a global IPv6 unicast address", where, h.addr)
		}
		if seen[h.addr] {
			e.add("%s.address: %s appears twice", where, h.addr)
		}
		seen[h.addr] = true
		if h.PrefixLen == 0 {
			h.PrefixLen = 64
		}
		if h.PrefixLen < 1 || h.PrefixLen > 128 {
			e.add("%s.prefix_len: %d is outside 1..128", where, h.PrefixLen)
		}
		h.ha = parseAddr(where+".home_agent", h.HomeAgent, &e)
		if h.ha.IsValid() && (!h.ha.Is6() || !unicastGlobal(h.ha)) {
			e.add("%s.home_agent: %s must be a global IPv6 unicast address", where, h.ha)
		}
		if h.HomeAgentIPv4 != "" {
			h.ha4 = parseAddr(where+".home_agent_ipv4", h.HomeAgentIPv4, &e)
			if h.ha4.IsValid() && (!h.ha4.Is4() || !h.ha4.IsGlobalUnicast()) {
				e.add("%s.home_agent_ipv4: %s must be a unicast IPv4 address", where, h.ha4)
			}
		}
		if !c.Security.Insecure {
			h.Security.resolve(where, &e)
		}
	}
	if len(c.Interfaces) == 0 {
		e.add("interfaces: at least one access interface is required")
	}
	names, bids := map[string]bool{}, map[uint16]bool{}
	for i := range c.Interfaces {
		f := &c.Interfaces[i]
		where := fieldf("interfaces[%d]", i)
		if !ifName.MatchString(f.Name) {
			e.add("%s.name: %q is not a valid interface name", where, f.Name)
		}
		if names[f.Name] {
			e.add("%s.name: %s appears twice", where, f.Name)
		}
		if f.Name == c.HomeInterface {
			e.add("%s.name: %s is the home interface", where, f.Name)
		}
		names[f.Name] = true
		if f.BID == 0 {
			f.BID = uint16(i + 1)
		}
		if bids[f.BID] {
			e.add("%s.bid: %d appears twice", where, f.BID)
		}
		bids[f.BID] = true
		if f.Priority > 127 {
			// BID-PRI is 7 bits (RFC 6089 section 6.1).
			e.add("%s.priority: %d does not fit the 7-bit BID-PRI (0..127)", where, f.Priority)
		}
		f.Transport.validate(where+".transport", &e)
		if f.Gateway != "" {
			f.gw = parseAddr(where+".gateway", f.Gateway, &e)
			if f.gw.IsValid() && (!f.gw.Is6() || f.gw.Is4In6() || f.gw.IsMulticast() || f.gw.IsUnspecified() || f.gw.IsLoopback()) {
				e.add("%s.gateway: %s must be an IPv6 unicast address (link-local is fine)", where, f.gw)
			}
		}
		if f.Transport == TransportUDP && c.Dataplane.Backend == "kernel" {
			e.add("%s.transport: udp needs UDP encapsulation, which dataplane.backend kernel cannot do (use auto or userspace)", where)
		}
	}
	for i := range c.HomeAddresses {
		c.HomeAddresses[i].CareOf.validate(fieldf("home_addresses[%d]", i), c.Interfaces, &e)
	}
	validateNesting(c.HomeAddresses, &e)
	if c.Dataplane.Backend == "kernel" && c.NestedHomes() {
		// The kernel backend's seg6local decapsulation bypasses the
		// prerouting hook that would send the inner tunnel packet to its
		// own decapsulation: nested downlink traffic would be dropped.
		e.add("dataplane.backend: kernel cannot nest tunnels (a care_of.via_home_address is set); use auto or userspace")
	}
	c.Dataplane.validate(&e)
	c.Metrics.validate(&e)
	c.Paths.validate(&e)
	links := make([]policy.Link, len(c.Interfaces))
	for i, f := range c.Interfaces {
		links[i] = policy.Link{Name: f.Name, BID: f.BID, Priority: f.Priority}
	}
	for _, p := range c.Policy.Validate("policy", links) {
		e.add("%s", p)
	}
	return &c, e.err(name)
}
