package transport

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"golang.org/x/net/ipv6"
)

// Send implements Transport. It builds the whole IPv6 packet (header, HAO
// destination options header or RH2, MH with its checksum) and writes it on
// the header-included raw socket. The route lookup uses s.Dst (the CoA when
// an RH2 is present), s.Src as source (so source-based policy routing of a
// multihomed node picks the CoA's table) and s.IfIndex if set.
func (n *Native) Send(ctx context.Context, s Signal) error {
	select {
	case <-n.done:
		return ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	bp := n.bufPool.Get().(*[]byte)
	defer n.bufPool.Put(bp)
	pkt, err := appendPacket((*bp)[:0], &s)
	*bp = pkt[:0]
	if err != nil {
		return err
	}
	cm := &ipv6.ControlMessage{IfIndex: s.IfIndex, Src: s.Src.AsSlice()}
	dst := &net.IPAddr{IP: s.Dst.AsSlice()}
	if s.IfIndex != 0 && (s.Dst.IsLinkLocalUnicast() || s.Dst.IsLinkLocalMulticast()) {
		dst.Zone = strconv.Itoa(s.IfIndex)
	}
	if _, err := n.send.WriteTo(pkt, cm, dst); err != nil {
		select {
		case <-n.done:
			return ErrClosed
		default:
		}
		return fmt.Errorf("transport: send MH %v -> %v (%v): %w", s.Src, s.Dst, s.Ext, err)
	}
	n.cnt.sent.Add(1)
	return nil
}
