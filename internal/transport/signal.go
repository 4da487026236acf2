// Package transport sends and receives Mobility Header (MH) signalling on a
// stock Linux kernel built without CONFIG_IPV6_MIP6.
//
// Such a kernel answers every received packet that carries a Home Address
// destination option (HAO, RFC 6275 section 6.3) or a type 2 routing header
// (RH2, RFC 6275 section 6.4) with ICMPv6 Parameter Problem and drops it
// before any socket sees it. Two transports work around that:
//
//   - Native (OpenNative): MH as IPv6 next header 135. Packets are built whole
//     in userspace and written on a header-included raw socket; packets with
//     HAO/RH2 are captured with AF_PACKET before the IPv6 stack parses them
//     and an nftables prerouting rule drops them so the kernel stays quiet;
//     plain MH arrives on a raw IPPROTO_MH socket.
//   - UDP (ListenUDP): RFC 5555 UDP encapsulation on port 4191 over IPv4 or
//     IPv6; the IPv6 packet carrying the MH is the UDP payload.
//
// Both implement Transport. Send fills in the MH checksum (RFC 6275 section
// 6.1.1) from the addresses in the Signal; Recv only returns Signals whose
// checksum verified.
package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"monami/wire"
)

// Transport sends and receives Mobility Header signalling.
type Transport interface {
	// Send transmits one MH message. It is safe for concurrent use.
	Send(ctx context.Context, s Signal) error
	// Recv blocks until a message with a valid checksum arrives, ctx ends
	// (ctx.Err()) or the transport is closed (ErrClosed).
	Recv(ctx context.Context) (Signal, error)
	// Close releases sockets and removes what the transport installed in
	// the kernel (nftables table). It is idempotent.
	Close() error
}

// Via says which transport carried a Signal.
type Via uint8

const (
	// ViaMH is native IPv6 with next header 135 (RFC 6275 section 6.1).
	ViaMH Via = iota + 1
	// ViaUDP is RFC 5555 UDP encapsulation (port 4191).
	ViaUDP
)

func (v Via) String() string {
	switch v {
	case ViaMH:
		return "mh"
	case ViaUDP:
		return "udp"
	}
	return fmt.Sprintf("Via(%d)", uint8(v))
}

// Ext says which IPv6 extension header carries Signal.HomeAddress.
type Ext uint8

const (
	// ExtNone: no home address in the packet.
	ExtNone Ext = iota
	// ExtHAO: Home Address destination option, RFC 6275 section 6.3. Sent
	// by a mobile node from its care-of address: Src is the CoA.
	ExtHAO
	// ExtRH2: type 2 routing header, RFC 6275 section 6.4. Sent to a mobile
	// node at its care-of address: Dst is the CoA.
	ExtRH2
)

func (e Ext) String() string {
	switch e {
	case ExtNone:
		return "none"
	case ExtHAO:
		return "hao"
	case ExtRH2:
		return "rh2"
	}
	return fmt.Sprintf("Ext(%d)", uint8(e))
}

// Signal is one Mobility Header message with its addressing.
type Signal struct {
	Via Via
	// Src and Dst are the addresses of the IPv6 header that carries the MH
	// (for ViaUDP, the IPv6 header inside the UDP payload).
	Src, Dst netip.Addr
	// Ext and HomeAddress: the HAO or RH2 home address, if any.
	Ext         Ext
	HomeAddress netip.Addr
	// IfIndex: Recv, the arrival interface; Send, the outgoing interface
	// (0 lets the routing table decide).
	IfIndex int
	// HopLimit: Recv, as received (0 when the socket does not report it);
	// Send, 0 means DefaultHopLimit.
	HopLimit uint8
	// MH is the complete Mobility Header (RFC 6275 section 6.1.1), checksum
	// included. Send computes the checksum itself, so it may be zero there.
	MH []byte
	// Peer and Local are the UDP endpoints for ViaUDP. Recv: Peer is the
	// sender as seen here (after any NAT, RFC 5555 section 4.1), Local the
	// address and port the datagram arrived on. Send: Peer is the
	// destination (zero: the last Peer seen from Dst's home address), Local
	// an optional source address.
	Peer, Local netip.AddrPort
}

// DefaultHopLimit is used by Send when Signal.HopLimit is 0.
const DefaultHopLimit = 64

// UDPPort is the RFC 5555 port (IANA service name "dsmipv6").
const UDPPort = wire.UDPEncapsulationPort

// ProtoMH is the IPv6 next header value of the Mobility Header (IANA
// "Assigned Internet Protocol Numbers", RFC 6275 section 6.1).
const ProtoMH = wire.IPProtoMH

// ChecksumAddrs returns the pseudo-header addresses of the MH checksum
// (RFC 6275 section 6.1.1): the source is the home address when a HAO is
// present, the destination is the final destination, i.e. the home address
// in an RH2.
func (s *Signal) ChecksumAddrs() (src, dst netip.Addr) {
	src, dst = s.Src, s.Dst
	switch s.Ext {
	case ExtHAO:
		src = s.HomeAddress
	case ExtRH2:
		dst = s.HomeAddress
	}
	return src, dst
}

// validate checks the fields Send needs.
func (s *Signal) validate() error {
	if !s.Src.Is6() || !s.Dst.Is6() || s.Src.Is4In6() || s.Dst.Is4In6() {
		return fmt.Errorf("%w: Src %v and Dst %v must be IPv6 addresses", ErrInvalidSignal, s.Src, s.Dst)
	}
	switch s.Ext {
	case ExtNone:
	case ExtHAO, ExtRH2:
		if !s.HomeAddress.Is6() || s.HomeAddress.Is4In6() {
			return fmt.Errorf("%w: %v needs an IPv6 HomeAddress, have %v", ErrInvalidSignal, s.Ext, s.HomeAddress)
		}
	default:
		return fmt.Errorf("%w: unknown Ext %v", ErrInvalidSignal, s.Ext)
	}
	if err := checkMH(s.MH); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSignal, err)
	}
	return nil
}

var (
	// ErrClosed is returned by Send and Recv after Close.
	ErrClosed = errors.New("transport: closed")
	// ErrInvalidSignal is returned by Send for a Signal it cannot send.
	ErrInvalidSignal = errors.New("transport: invalid signal")
	// ErrNoPeer is returned by the UDP transport when Send has no Peer and
	// none was learnt for the destination's home address.
	ErrNoPeer = errors.New("transport: no UDP peer")
)

// LogValue makes a Signal log as its addressing and MH type, not its bytes.
func (s Signal) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("via", s.Via.String()),
		slog.String("src", s.Src.String()),
		slog.String("dst", s.Dst.String()),
	}
	if s.Ext != ExtNone {
		attrs = append(attrs, slog.String(s.Ext.String(), s.HomeAddress.String()))
	}
	if len(s.MH) > 2 {
		attrs = append(attrs, slog.Int("mh_type", int(s.MH[2])))
	}
	if s.IfIndex != 0 {
		attrs = append(attrs, slog.Int("if", s.IfIndex))
	}
	if s.Peer.IsValid() {
		attrs = append(attrs, slog.String("peer", s.Peer.String()))
	}
	return slog.GroupValue(attrs...)
}
