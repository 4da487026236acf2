// Package dataplane carries packets between a mobile node and its home agent
// (or a MAG and its LMA): it sends traffic for a destination into an IPv6
// tunnel toward a peer and decapsulates what arrives at a local tunnel
// endpoint, after checking where it came from.
//
// Two backends implement the same DataPlane interface:
//
//   - kernel: a plain RFC 2473 IPv6-in-IPv6 header (next header 41) added by
//     a BPF program on each tunnel route (LWT xmit), with SRv6 reduced
//     encapsulation (seg6 encap.red) routes for what it cannot take and for
//     kernels without it, seg6local End.DT6 for receiving, an nftables table
//     for the ingress check. Nothing is copied to userspace.
//   - userspace: a TUN device with GSO/GRO offloads and batched raw (next
//     header 41) or UDP port 4191 (RFC 5555 style) sockets.
//
// Everything is installed through netlink and the nftables netlink API; the
// package never runs ip or nft. Close removes all of it; the kernel
// backend's Detach leaves it forwarding for a successor that adopts it
// (kernel_adopt.go).
package dataplane

import (
	"errors"
	"fmt"
	"net/netip"

	"monami/internal/forwarding"
)

// Encapsulation is how an inner IPv6 packet travels to the peer.
type Encapsulation uint8

const (
	// EncapIPv6 is IPv6-in-IPv6 (RFC 2473): an outer IPv6 header with next
	// header 41 directly in front of the inner packet.
	EncapIPv6 Encapsulation = iota
	// EncapUDP puts the inner IPv6 packet as the payload of a UDP datagram
	// to port 4191 (the Mobile IPv6 UDP port, RFC 5555 section 4.1), the way
	// RFC 5555 tunnels through NATs and firewalls that drop next header 41.
	EncapUDP
)

// UDPPort is the IANA port for UDP-encapsulated Mobile IPv6 (RFC 5555
// section 4.1: "mip6", 4191).
const UDPPort = 4191

// IPv6 header and UDP header sizes, the per-packet overhead of each
// encapsulation (RFC 2473 section 6.7 tunnel overhead).
const (
	ipv6HeaderLen = 40
	ipv4HeaderLen = 20
	udpHeaderLen  = 8
)

// MinMTU is the IPv6 minimum link MTU (RFC 8200 section 5).
const MinMTU = 1280

func (e Encapsulation) String() string {
	switch e {
	case EncapIPv6:
		return "ipv6"
	case EncapUDP:
		return "udp"
	}
	return fmt.Sprintf("encapsulation(%d)", e)
}

// Overhead is the number of bytes the encapsulation adds on the wire.
func (e Encapsulation) Overhead() int {
	if e == EncapUDP {
		return ipv6HeaderLen + udpHeaderLen
	}
	return ipv6HeaderLen
}

// Tunnel is one direction of an IPv6 tunnel: outer source and destination.
type Tunnel struct {
	// Local is the outer source address (the care-of address on a mobile
	// node, the home agent address on a home agent). It must be assigned to
	// a local interface.
	Local netip.Addr
	// Remote is the outer destination, the peer's tunnel endpoint.
	Remote netip.Addr
	// Encap selects IPv6-in-IPv6 or UDP 4191.
	Encap Encapsulation
	// RemotePort is the UDP destination port of EncapUDP, 0 meaning 4191:
	// behind a NAT, the port the NAT mapped the peer's signalling to (RFC
	// 5555 section 4.3: the home agent tunnels to the source address and
	// port of the Binding Update).
	RemotePort uint16
	// MTU is the inner path MTU to announce for this tunnel; 0 means the MTU
	// of the interface holding Local minus the encapsulation overhead.
	MTU int
}

func (t Tunnel) String() string {
	if t.RemotePort != 0 {
		return fmt.Sprintf("%s->%s/%s", t.Local, netip.AddrPortFrom(t.Remote, t.RemotePort), t.Encap)
	}
	return fmt.Sprintf("%s->%s/%s", t.Local, t.Remote, t.Encap)
}

// overhead is what the tunnel adds on the wire: an IPv4 outer header is
// 20 bytes (RFC 5555 section 4.3, IPv6 in UDP in IPv4).
func (t Tunnel) overhead() int {
	if t.Local.Is4() {
		return ipv4HeaderLen + udpHeaderLen
	}
	return t.Encap.Overhead()
}

// Selector says which packets a route catches: a destination and an
// optional source prefix (a mobile node reverse-tunnels only what leaves
// from its home address, RFC 6275 section 11.3.1), narrowed by an optional
// flow match (RFC 6088 fields, the selector of an RFC 6089 flow binding or
// of a policy rule). Routes with the same Dst and Src but different Flow
// share one kernel route; the backend classifies among them (see Route).
type Selector struct {
	// Dst is the destination address or prefix (a home address /128, a
	// mobile network prefix, or ::/0).
	Dst netip.Prefix
	// Src, when valid, limits the route to packets from this source prefix.
	Src netip.Prefix
	// Flow, when not zero, limits the route to packets it matches.
	Flow forwarding.Match
}

func (s Selector) String() string {
	out := s.Dst.String()
	if s.Src.IsValid() {
		out += " from " + s.Src.String()
	}
	if !s.Flow.IsZero() {
		out += " flow " + s.Flow.Key()
	}
	return out
}

// parent is the selector without its flow match: the kernel route that
// carries every flow route of a (Dst, Src).
func (s Selector) parent() Selector { return Selector{Dst: s.Dst, Src: s.Src} }

func (s Selector) validate() error {
	if !s.Dst.IsValid() || !s.Dst.Addr().Is6() || s.Dst.Addr().Is4In6() {
		return fmt.Errorf("selector %v: destination must be an IPv6 prefix", s)
	}
	if s.Src.IsValid() && (!s.Src.Addr().Is6() || s.Src.Addr().Is4In6()) {
		return fmt.Errorf("selector %v: source must be an IPv6 prefix", s)
	}
	if err := s.Flow.Validate(); err != nil {
		return fmt.Errorf("selector %v: flow: %w", s, err)
	}
	if s.Flow.Family == 4 {
		return fmt.Errorf("selector %v: flow: an IPv4 match never matches the IPv6 packets a tunnel carries", s)
	}
	return nil
}

// Route sends the packets a Selector catches into a Tunnel, or, with
// Paths, into a set of tunnels by Mode.
//
// Among the routes of one (Dst, Src), a packet takes the first whose Flow
// matches: lower Order first, then the more specific Flow
// (forwarding.Match.Specificity), then Flow's canonical key. A (Dst, Src)
// whose flow routes match nothing of a packet and that has no route with
// a zero Flow drops it.
type Route struct {
	Selector
	// Tunnel is the one path of a plain route (Paths empty).
	Tunnel Tunnel
	// Mode says how Paths are used. ModeSingle with no Paths is Tunnel.
	Mode Mode
	// Paths, when not empty, replaces Tunnel: the usable paths in
	// preference order (the role leaves out those it knows to be down).
	Paths []Path
	// Order ranks the routes of one (Dst, Src); lower first.
	Order uint32
}

// PathList returns the route's paths: Paths, or Tunnel alone.
func (r *Route) PathList() []Path {
	if len(r.Paths) > 0 || r.Mode == ModeDrop {
		return r.Paths
	}
	return []Path{{Tunnel: r.Tunnel, Weight: 1}}
}

// Plain reports whether the route is one tunnel for a whole (Dst, Src),
// what every backend has always installed.
func (r *Route) Plain() bool {
	return r.Flow.IsZero() && r.Mode == ModeSingle && len(r.Paths) <= 1
}

func (r *Route) validate() error {
	if err := r.Selector.validate(); err != nil {
		return err
	}
	if r.Mode > ModeDrop {
		return fmt.Errorf("route %v: unknown mode %d", r.Selector, r.Mode)
	}
	if r.Mode == ModeDrop {
		if len(r.Paths) > 0 {
			return fmt.Errorf("route %v: a drop route has no paths", r.Selector)
		}
		return nil
	}
	if len(r.Paths) > MaxPaths {
		return fmt.Errorf("route %v: %d paths, at most %d", r.Selector, len(r.Paths), MaxPaths)
	}
	for i, p := range r.PathList() {
		if err := p.Tunnel.validate(); err != nil {
			return fmt.Errorf("route %v: path %d: %w", r.Selector, i, err)
		}
	}
	return nil
}

// Endpoint is a local tunnel endpoint and the one peer allowed to send to it.
// RFC 6275 section 10.4.5: a home agent must check that the outer source of
// a reverse-tunnelled packet is the registered care-of address and that the
// inner source is the home address bound to it. Several endpoints may share
// a Local address (one per peer).
type Endpoint struct {
	// Local is the local outer destination address (must be assigned here).
	Local netip.Addr
	// Peer is the only accepted outer source.
	Peer netip.Addr
	// Encap is how the peer encapsulates.
	Encap Encapsulation
	// InnerSrc, when not empty, lists the accepted inner source prefixes
	// (the home address(es) of the mobile node behind Peer).
	InnerSrc []netip.Prefix
}

func (e Endpoint) key() endpointKey { return endpointKey{e.Local, e.Peer, e.Encap} }

type endpointKey struct {
	local, peer netip.Addr
	encap       Encapsulation
}

func (e Endpoint) String() string {
	return fmt.Sprintf("%s<-%s/%s", e.Local, e.Peer, e.Encap)
}

func (e Endpoint) validate() error {
	if e.Encap == EncapUDP && isUnicast4(e.Local) && isUnicast4(e.Peer) {
		// RFC 5555 section 4.3: IPv6 in UDP in IPv4, from an IPv4 care-of
		// address (or the NAT in front of it).
	} else if !isUnicast6(e.Local) || !isUnicast6(e.Peer) {
		return fmt.Errorf("endpoint %v: local and peer must be IPv6 unicast addresses (IPv4 ones with udp encapsulation)", e)
	}
	for _, p := range e.InnerSrc {
		if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() {
			return fmt.Errorf("endpoint %v: inner source %v is not an IPv6 prefix", e, p)
		}
	}
	return nil
}

func (t Tunnel) validate() error {
	if t.Encap == EncapUDP && isUnicast4(t.Local) && isUnicast4(t.Remote) {
		// RFC 5555 section 4.3: IPv6 in UDP in IPv4.
	} else if !isUnicast6(t.Local) || !isUnicast6(t.Remote) {
		return fmt.Errorf("tunnel %v: local and remote must be IPv6 unicast addresses (IPv4 ones with udp encapsulation)", t)
	}
	if t.RemotePort != 0 && t.Encap != EncapUDP {
		return fmt.Errorf("tunnel %v: a remote port needs udp encapsulation", t)
	}
	if t.Encap != EncapIPv6 && t.Encap != EncapUDP {
		return fmt.Errorf("tunnel %v: unknown encapsulation", t)
	}
	if t.MTU != 0 && t.MTU < MinMTU {
		return fmt.Errorf("tunnel %v: MTU %d below the IPv6 minimum %d", t, t.MTU, MinMTU)
	}
	return nil
}

func isUnicast4(a netip.Addr) bool {
	return a.Is4() && !a.IsUnspecified() && !a.IsMulticast() && !a.IsLoopback() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

func isUnicast6(a netip.Addr) bool {
	return a.Is6() && !a.Is4In6() && !a.IsUnspecified() && !a.IsMulticast() && !a.IsLoopback()
}

// DataPlane is what the mobility roles (home agent, mobile node, LMA, MAG)
// need from a data plane. Implementations are safe for concurrent use.
type DataPlane interface {
	// Backend names the implementation.
	Backend() Backend
	// AddRoute sends what r.Selector catches into r.Tunnel, replacing any
	// route with the same selector (a binding moving to a new care-of
	// address is one call).
	AddRoute(r Route) error
	// DelRoute removes the route for s. ErrNotFound if there is none.
	DelRoute(s Selector) error
	// AddEndpoint starts accepting and decapsulating tunnelled packets from
	// e.Peer to e.Local, replacing an endpoint with the same local, peer and
	// encapsulation.
	AddEndpoint(e Endpoint) error
	// DelEndpoint stops accepting from peer at local.
	DelEndpoint(local, peer netip.Addr, encap Encapsulation) error
	// Counters returns totals since the data plane was created.
	Counters() (Counters, error)
	// Close removes every route, rule, address, interface and nftables
	// table the data plane installed.
	Close() error
}

// Detacher is a data plane whose forwarding outlives its process (the
// kernel backend): Detach releases what the process holds and leaves
// every route, program, nftables table and decapsulation route in place
// and forwarding, for a successor started with Config.Adopt. An upgrade
// stop, where Close is a drain.
type Detacher interface {
	Detach() error
}

// Settler is a data plane started with Config.Adopt: it keeps forwarding
// with what its predecessor left, replaced piece by piece by what the role
// installs, until Settle removes what nothing claimed (the forwarding of
// bindings that did not survive the restart). The role calls it once,
// after it has installed everything it restored.
type Settler interface {
	Settle() error
}

// Detach detaches dp when it can (kept true) and closes it otherwise.
func Detach(dp DataPlane) (kept bool, err error) {
	if d, ok := dp.(Detacher); ok {
		return true, d.Detach()
	}
	return false, dp.Close()
}

// Settle settles dp when it adopts (see Settler); otherwise it does
// nothing.
func Settle(dp DataPlane) error {
	if s, ok := dp.(Settler); ok {
		return s.Settle()
	}
	return nil
}

// Backend identifies a DataPlane implementation.
type Backend string

const (
	BackendAuto      Backend = "auto"
	BackendKernel    Backend = "kernel"
	BackendUserspace Backend = "userspace"
)

// Errors callers branch on.
var (
	ErrNotFound    = errors.New("dataplane: not found")
	ErrUnsupported = errors.New("dataplane: not supported by this backend")
	ErrClosed      = errors.New("dataplane: closed")
)
