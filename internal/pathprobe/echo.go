// Package pathprobe sends and receives the path liveness probes of
// internal/paths: ICMPv6 Echo Requests (RFC 4443 section 4.1) between the
// outer addresses of a tunnel, answered by the peer's kernel.
package pathprobe

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

// Echo sends the probes from a local outer address (care-of address, or
// home agent address) to the peer, outside the tunnel, so the peer's
// kernel answers to the local address and the reply comes back over the
// same access path (docs/paths.md). The identifier and
// an 8-octet token drawn at start tie replies to this sender: an
// off-path sender cannot make a dead path look alive without them, and a
// reply to no outstanding sequence number is ignored (internal/paths).
type Echo struct {
	pc    *ipv6.PacketConn
	id    int
	token [8]byte
}

// Reply is an Echo Reply to one of this Echo's requests.
type Reply struct {
	Local, Peer netip.Addr
	Seq         uint16
	At          time.Time
}

// Open opens the raw ICMPv6 socket in the calling thread's namespace.
func Open() (*Echo, error) {
	c, err := net.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, fmt.Errorf("ICMPv6 socket (path probes): %w", err)
	}
	pc := ipv6.NewPacketConn(c)
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeEchoReply)
	if err := pc.SetICMPFilter(&f); err != nil {
		c.Close()
		return nil, fmt.Errorf("ICMPv6 filter: %w", err)
	}
	if err := pc.SetControlMessage(ipv6.FlagDst, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("ICMPv6 control messages: %w", err)
	}
	e := &Echo{pc: pc}
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		c.Close()
		return nil, err
	}
	e.id = int(binary.BigEndian.Uint16(b[:2]))
	copy(e.token[:], b[2:])
	return e, nil
}

// Send sends probe seq from local to peer.
func (e *Echo) Send(local, peer netip.Addr, ifindex int, seq uint16) error {
	msg := icmp.Message{Type: ipv6.ICMPTypeEchoRequest, Body: &icmp.Echo{ID: e.id, Seq: int(seq), Data: e.token[:]}}
	b, err := msg.Marshal(nil) // the kernel fills the checksum
	if err != nil {
		return err
	}
	to := &net.IPAddr{IP: peer.AsSlice()}
	if peer.IsLinkLocalUnicast() {
		to.Zone = strconv.Itoa(ifindex)
	}
	_, err = e.pc.WriteTo(b, &ipv6.ControlMessage{Src: local.AsSlice()}, to)
	return err
}

// Read delivers the replies that carry this Echo's identifier and token
// until the socket closes or ctx ends.
func (e *Echo) Read(ctx context.Context, now func() time.Time, out chan<- Reply) {
	// Unblock the read when ctx ends; Close stays the owner's.
	stop := context.AfterFunc(ctx, func() { e.pc.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 1500)
	for {
		n, cm, src, err := e.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		m, err := icmp.ParseMessage(58, buf[:n])
		if err != nil || m.Type != ipv6.ICMPTypeEchoReply || cm == nil {
			continue
		}
		echo, ok := m.Body.(*icmp.Echo)
		if !ok || echo.ID != e.id || !bytes.Equal(echo.Data, e.token[:]) {
			continue
		}
		ia, _ := src.(*net.IPAddr)
		if ia == nil {
			continue
		}
		peer, _ := netip.AddrFromSlice(ia.IP)
		local, _ := netip.AddrFromSlice(cm.Dst)
		select {
		case out <- Reply{Local: local.Unmap(), Peer: peer.Unmap(), Seq: uint16(echo.Seq), At: now()}:
		case <-ctx.Done():
			return
		}
	}
}

// Close closes the socket (Read returns).
func (e *Echo) Close() error {
	if e == nil {
		return nil
	}
	return e.pc.Close()
}
