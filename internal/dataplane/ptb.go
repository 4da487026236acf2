package dataplane

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Offsets in an ICMPv6 Packet Too Big message as a raw ICMPv6 socket
// returns it, without the IPv6 header (RFC 4443 section 3.2).
const (
	ptbOffMTU      = 4
	ptbOffInvoking = 8
)

// tooBig is what a Packet Too Big says about one of our outer paths: the
// invoking packet went from Local to Remote, and the next hop carries at
// most MTU octets.
type tooBig struct {
	Local, Remote netip.Addr
	Next          uint8 // the invoking packet's next header: 41, or 17 for UDP 4191
	MTU           int
}

// parsePacketTooBig reads an ICMPv6 message (from its type octet on). It
// needs the invoking packet's whole IPv6 header, which every Packet Too
// Big carries (RFC 4443 section 3.2: as much of it as fits in 1280).
func parsePacketTooBig(msg []byte) (tooBig, error) {
	if len(msg) < ptbOffInvoking {
		return tooBig{}, fmt.Errorf("icmpv6: %d octets, want at least %d", len(msg), ptbOffInvoking)
	}
	if msg[0] != icmpPacketTooBig {
		return tooBig{}, fmt.Errorf("icmpv6: type %d, want Packet Too Big (%d)", msg[0], icmpPacketTooBig)
	}
	inv := msg[ptbOffInvoking:]
	if len(inv) < ipv6HeaderLen {
		return tooBig{}, fmt.Errorf("packet too big: invoking packet: %d octets, want its %d-octet IPv6 header", len(inv), ipv6HeaderLen)
	}
	if v := inv[0] >> 4; v != 6 {
		return tooBig{}, fmt.Errorf("packet too big: invoking packet: version %d, want 6", v)
	}
	mtu := binary.BigEndian.Uint32(msg[ptbOffMTU:])
	return tooBig{
		Local:  netip.AddrFrom16([16]byte(inv[offSrc : offSrc+16])),
		Remote: netip.AddrFrom16([16]byte(inv[offDst : offDst+16])),
		Next:   inv[offNextHeader],
		MTU:    int(mtu),
	}, nil
}
