package wire

// UDP encapsulation of RFC 5555 (Dual-Stack MIPv6, section 4): when the
// mobile node is in an IPv4-only network (or behind a NAT) it sends its
// IPv6 packets, Binding Updates included, and IPv4 packets inside UDP
// datagrams to the home agent's port 4191; the UDP payload is the whole
// inner IP packet, told apart by its version nibble.
//
// Proxy Mobile IPv6 over an IPv4 transport network (RFC 5844) uses the
// IANA ports pmip6-cntl (5436) for signalling, whose UDP payload Wireshark
// dissects as a Mobility Header, and pmip6-data (5437).

import (
	"encoding/binary"
	"strconv"
)

const (
	// UDPEncapsulationPort is the home agent's UDP port for RFC 5555
	// encapsulation (IANA service name "dsmipv6").
	UDPEncapsulationPort = 4191
	// PMIPv6ControlPort is the UDP port for PMIPv6 signalling over IPv4
	// (IANA service name "pmip6-cntl", RFC 5844).
	PMIPv6ControlPort = 5436
	// PMIPv6DataPort is the UDP port for the PMIPv6 data plane over IPv4
	// UDP (IANA service name "pmip6-data", RFC 5844).
	PMIPv6DataPort = 5437
)

const (
	ipv4MinHeader = 20
	ipv6Header    = 40
)

// UDPEncapsulated is the payload of an RFC 5555 UDP-encapsulated datagram:
// one whole IPv4 or IPv6 packet.
type UDPEncapsulated struct {
	Version uint8  // 4 or 6, from the inner packet's header
	Packet  []byte // the inner packet, aliasing the parsed buffer
}

// checkInnerPacket checks that p is exactly one IPv4 or IPv6 packet: the
// version nibble is 4 or 6 and the header's length field covers p exactly
// (a UDP datagram carries one packet; RFC 5555 section 4). IPv6 jumbograms
// (Payload Length 0) cannot fit in a UDP datagram and are refused.
func checkInnerPacket(p []byte) (uint8, error) {
	if len(p) == 0 {
		return 0, perr(0, "UDP-encapsulated packet", ErrTruncated)
	}
	switch v := p[0] >> 4; v {
	case 6:
		if len(p) < ipv6Header {
			return 0, perr(0, "UDP-encapsulated IPv6 header", ErrTruncated)
		}
		pl := int(binary.BigEndian.Uint16(p[4:]))
		if pl == 0 || ipv6Header+pl != len(p) {
			return 0, perr(4, "UDP-encapsulated IPv6 packet (payload length "+strconv.Itoa(pl)+", datagram "+strconv.Itoa(len(p))+")", ErrBadLength)
		}
		return 6, nil
	case 4:
		if len(p) < ipv4MinHeader {
			return 0, perr(0, "UDP-encapsulated IPv4 header", ErrTruncated)
		}
		ihl := int(p[0]&0x0f) * 4
		tl := int(binary.BigEndian.Uint16(p[2:]))
		if ihl < ipv4MinHeader || ihl > tl {
			return 0, perr(0, "UDP-encapsulated IPv4 header (IHL "+strconv.Itoa(ihl)+")", ErrBadLength)
		}
		if tl != len(p) {
			return 0, perr(2, "UDP-encapsulated IPv4 packet (total length "+strconv.Itoa(tl)+", datagram "+strconv.Itoa(len(p))+")", ErrBadLength)
		}
		return 4, nil
	default:
		return 0, perr(0, "UDP-encapsulated packet (IP version "+strconv.Itoa(int(v))+")", ErrBadValue)
	}
}

// ParseUDPEncapsulated decodes the payload of a datagram received on
// UDPEncapsulationPort. Packet aliases payload.
func ParseUDPEncapsulated(payload []byte) (UDPEncapsulated, error) {
	v, err := checkInnerPacket(payload)
	if err != nil {
		return UDPEncapsulated{}, err
	}
	return UDPEncapsulated{Version: v, Packet: payload}, nil
}

// AppendUDPEncapsulated appends the UDP payload that carries packet (a
// whole IPv4 or IPv6 packet) to b, after checking that packet is one
// well-formed packet.
func AppendUDPEncapsulated(b, packet []byte) ([]byte, error) {
	if _, err := checkInnerPacket(packet); err != nil {
		return b, eerr("UDP-encapsulated packet", err.Error())
	}
	return append(b, packet...), nil
}
