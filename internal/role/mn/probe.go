package mn

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

// neighbourProbe keeps the neighbour caches on every access link warm in
// both directions: an ICMPv6 Echo Request from each care-of address to its
// gateway. The Neighbor Solicitation it causes carries the care-of address
// as source, so the access router learns it too (RFC 4861 section 7.2.3).
// Without this, the first packets over a link that carried nothing so far
// (the standby one, typically) wait a Neighbor Discovery round trip at
// each end, a full extra round trip of that link added to every failover.
type neighbourProbe struct {
	pc  *ipv6.PacketConn
	seq int
}

func openNeighbourProbe() (*neighbourProbe, error) {
	c, err := net.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, fmt.Errorf("ICMPv6 socket: %w", err)
	}
	pc := ipv6.NewPacketConn(c)
	// Replies are not read: keep the receive queue empty.
	var f ipv6.ICMPFilter
	f.SetAll(true)
	if err := pc.SetICMPFilter(&f); err != nil {
		c.Close()
		return nil, fmt.Errorf("ICMPv6 filter: %w", err)
	}
	return &neighbourProbe{pc: pc}, nil
}

// probe sends one Echo Request from src to dst out of interface ifindex.
func (p *neighbourProbe) probe(src, dst netip.Addr, ifindex int) error {
	if p == nil || !dst.IsValid() {
		return nil
	}
	p.seq++
	msg := icmp.Message{Type: ipv6.ICMPTypeEchoRequest, Body: &icmp.Echo{ID: 0x6d6e, Seq: p.seq & 0xffff, Data: []byte("monami")}}
	b, err := msg.Marshal(nil) // the kernel fills the ICMPv6 checksum on raw ICMPv6 sockets
	if err != nil {
		return err
	}
	to := &net.IPAddr{IP: dst.AsSlice()}
	if dst.IsLinkLocalUnicast() {
		to.Zone = strconv.Itoa(ifindex)
	}
	_, err = p.pc.WriteTo(b, &ipv6.ControlMessage{Src: src.AsSlice(), IfIndex: ifindex}, to)
	return err
}

func (p *neighbourProbe) Close() error {
	if p == nil {
		return nil
	}
	return p.pc.Close()
}
