package transport

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/net/ipv6"

	"monami/wire"
)

// ParameterProblemSender is implemented by transports that can answer a
// received Mobility Header with ICMPv6 Parameter Problem (RFC 6275 section
// 9.2). The UDP transport does not: its IPv6 packets travel inside UDP, and
// an ICMPv6 error has no place there.
type ParameterProblemSender interface {
	// SendParameterProblem sends Parameter Problem code 0 for the received
	// Signal, pointing at offset mhOffset of its Mobility Header.
	SendParameterProblem(ctx context.Context, invoking Signal, mhOffset int) error
}

var _ ParameterProblemSender = (*Native)(nil)

// SendParameterProblem implements ParameterProblemSender. The error goes
// "directly to the Source Address of the packet" (RFC 6275 section 9.2), the
// care-of address when a Home Address option was present, from the address
// it was sent to. The receive paths keep only the Mobility Header and the
// addresses, so the quoted packet is rebuilt from them: the IPv6 header, the
// Home Address option as RFC 6275 section 6.3 lays it out, and the Mobility
// Header exactly as received. The caller rate-limits (RFC 4443 section 2.4
// (f)).
func (n *Native) SendParameterProblem(ctx context.Context, s Signal, mhOffset int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var hoa netip.Addr
	if s.Ext == ExtHAO {
		hoa = s.HomeAddress
	}
	hop := s.HopLimit
	if hop == 0 {
		hop = DefaultHopLimit
	}
	inv, at, err := wire.AppendInvokingMHPacket(nil, s.Src, s.Dst, hoa, hop, s.MH)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSignal, err)
	}
	pkt, err := wire.AppendParameterProblem(nil, s.Dst, s.Src, DefaultHopLimit, wire.ICMPv6ErroneousHeaderField,
		uint32(at+mhOffset), inv)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSignal, err)
	}
	cm := &ipv6.ControlMessage{IfIndex: s.IfIndex, Src: s.Dst.AsSlice()}
	dst := &net.IPAddr{IP: s.Src.AsSlice()}
	if s.IfIndex != 0 && s.Src.IsLinkLocalUnicast() {
		dst.Zone = strconv.Itoa(s.IfIndex)
	}
	if _, err := n.send.WriteTo(pkt, cm, dst); err != nil {
		return fmt.Errorf("transport: send ICMPv6 Parameter Problem %v -> %v: %w", s.Dst, s.Src, err)
	}
	n.cnt.sent.Add(1)
	return nil
}
