package dataplane

import (
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"

	"github.com/vishvananda/netns"
)

// Config configures a data plane. Zero values take the defaults noted.
type Config struct {
	// Backend forces a backend; "" or BackendAuto picks the kernel backend
	// when the kernel offers SRv6 encap.red and seg6local End.DT6 (probed),
	// the userspace backend otherwise. The kernel backend cannot do UDP
	// encapsulation: a UDP tunnel on it returns ErrUnsupported.
	Backend Backend
	// Table is the routing table that holds the tunnel routes (required;
	// the kernel backend without BPF also uses Table+1; neither may be a
	// system table). The kernel backend with BPF needs neither a table nor
	// a rule: its routes go in the local table (see kernelDP.routeTable).
	Table int
	// RulePriority is the priority of the policy rule "lookup Table"
	// (default 1000, before main at 32766; the kernel backend without BPF
	// also uses one less).
	RulePriority int
	// NetNS is the network namespace to work in; a handle <= 0 means the
	// caller's. The data plane duplicates the handle.
	NetNS netns.NsHandle
	// NFTable is the kernel backend's nftables table (family ip6), default
	// "monami".
	NFTable string
	// InternalPrefix holds the kernel backend's decapsulation addresses,
	// never seen on the wire (default fd6d:6f6e:616d:dec0::/64).
	InternalPrefix netip.Prefix
	// SharedUDP, when set, carries the userspace backend's UDP tunnels on a
	// socket someone else owns instead of one of its own: RFC 5555 puts
	// signalling and data on one port (4191), so a home agent's signalling
	// transport lends its socket. What arrives on that socket for the data
	// plane must then be handed to its DeliverUDP (see UDPDeliverer).
	SharedUDP SharedUDP
	// SharedUDPIPv4Only lends SharedUDP to the IPv4 UDP tunnels only (a
	// mobile node: its IPv6 tunnels keep their own port 4191 sockets, its
	// IPv4 ones, behind NATs, must share the signalling's port).
	SharedUDPIPv4Only bool
	// UDPPort is the userspace backend's UDP encapsulation port (default 4191,
	// RFC 5555 section 4.1).
	UDPPort int
	// TunName is the userspace backend's TUN device and the kernel
	// backend's MTU detour veth (plus TunName+"x" for its peer, and with
	// BPF TunName+"s" and TunName+"r" for the segmentation veth), default
	// "monami0"; at most 14 characters.
	TunName string
	// NoBPF keeps the kernel backend from adding the outer header in a BPF
	// program on each tunnel route (see lwtEncap); forwarded packets then
	// cross the detour veth and a second seg6 route, and a postrouting
	// nftables chain counts them. Without the privilege or kernel support
	// for BPF the backend falls back to that by itself.
	NoBPF bool
	// Adopt makes the kernel backend take over what a predecessor of the
	// same configuration left (stopped with Detach, or killed) instead of
	// resetting it: it keeps forwarding until the role has installed the
	// state it wants and calls Settle (see Settler, kernel_adopt.go). The
	// userspace backend ignores it.
	Adopt bool
	// Logger, default slog.Default().
	Logger *slog.Logger
}

var (
	defaultInternalPrefix = netip.MustParsePrefix("fd6d:6f6e:616d:dec0::/64")
	nameRE                = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
)

func (c *Config) setDefaults() error {
	if c.Backend == "" {
		c.Backend = BackendAuto
	}
	switch c.Backend {
	case BackendAuto, BackendKernel, BackendUserspace:
	default:
		return fmt.Errorf("dataplane config: unknown backend %q (want auto, kernel or userspace)", c.Backend)
	}
	switch {
	case c.Table <= 0:
		return fmt.Errorf("dataplane config: table must be set (a table number of its own)")
	case c.Table >= 252 && c.Table <= 255:
		return fmt.Errorf("dataplane config: table %d (or %d) is a system table; give the data plane its own", c.Table, c.Table+1)
	}
	if c.RulePriority == 0 {
		c.RulePriority = 1000
	}
	if c.RulePriority < 2 || c.RulePriority >= 32766 {
		return fmt.Errorf("dataplane config: rule priority %d must be in 2..32765 (before main; the kernel backend also uses one less)", c.RulePriority)
	}
	if c.NFTable == "" {
		c.NFTable = "monami"
	}
	if !nameRE.MatchString(c.NFTable) {
		return fmt.Errorf("dataplane config: bad nftables table name %q", c.NFTable)
	}
	if !c.InternalPrefix.IsValid() {
		c.InternalPrefix = defaultInternalPrefix
	}
	if !c.InternalPrefix.Addr().Is6() || c.InternalPrefix.Bits() > 120 {
		return fmt.Errorf("dataplane config: internal prefix %v must be IPv6 and /120 or shorter", c.InternalPrefix)
	}
	c.InternalPrefix = c.InternalPrefix.Masked()
	if c.TunName == "" {
		c.TunName = "monami0"
	}
	if !nameRE.MatchString(c.TunName) || len(c.TunName) > 14 {
		return fmt.Errorf("dataplane config: bad TUN name %q", c.TunName)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

func (c *Config) udpPort() int {
	if c.UDPPort > 0 && c.UDPPort < 65536 {
		return c.UDPPort
	}
	return UDPPort
}
