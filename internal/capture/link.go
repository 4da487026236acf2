package capture

import (
	"encoding/binary"
	"fmt"
)

// EtherTypes of the network protocols the walker follows.
const (
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86DD
	etherTypeVLAN = 0x8100 // IEEE 802.1Q
	etherTypeQinQ = 0x88A8 // IEEE 802.1ad
	etherType9100 = 0x9100 // old QinQ
)

// Network is the network-layer protocol found under a link-layer header.
type Network int

// Network-layer protocols.
const (
	NetworkOther Network = iota
	NetworkIPv4
	NetworkIPv6
)

func (n Network) String() string {
	switch n {
	case NetworkIPv4:
		return "IPv4"
	case NetworkIPv6:
		return "IPv6"
	}
	return "other"
}

// LinkError reports a frame whose link-layer header cannot be decoded.
type LinkError struct {
	LinkType LinkType
	Offset   int
	What     string
}

func (e *LinkError) Error() string {
	return fmt.Sprintf("%s link layer at offset %d: %s", e.LinkType, e.Offset, e.What)
}

// StripLink removes the link-layer header of a frame and tells which
// network protocol follows. Frames of other protocols (ARP...) give
// NetworkOther and no error.
func StripLink(lt LinkType, frame []byte) (Network, []byte, error) {
	switch lt {
	case LinkTypeEthernet:
		if len(frame) < 14 {
			return 0, nil, &LinkError{lt, 0, fmt.Sprintf("frame of %d octets is shorter than an Ethernet header", len(frame))}
		}
		off := 12
		et := binary.BigEndian.Uint16(frame[off:])
		off += 2
		for et == etherTypeVLAN || et == etherTypeQinQ || et == etherType9100 {
			if len(frame) < off+4 {
				return 0, nil, &LinkError{lt, off, "truncated VLAN tag"}
			}
			et = binary.BigEndian.Uint16(frame[off+2:])
			off += 4
		}
		return etherNetwork(et), frame[off:], nil
	case LinkTypeRaw:
		if len(frame) < 1 {
			return 0, nil, &LinkError{lt, 0, "empty frame"}
		}
		return versionNetwork(frame[0] >> 4), frame, nil
	case LinkTypeIPv4:
		return NetworkIPv4, frame, nil
	case LinkTypeIPv6:
		return NetworkIPv6, frame, nil
	case LinkTypeNull, LinkTypeLoop:
		if len(frame) < 4 {
			return 0, nil, &LinkError{lt, 0, "frame shorter than the 4-octet loopback header"}
		}
		// NULL stores the address family in the capturing host's byte
		// order, which the file does not record: accept either.
		af := binary.BigEndian.Uint32(frame)
		if lt == LinkTypeNull && af > 0xffff {
			af = binary.LittleEndian.Uint32(frame)
		}
		switch af {
		case 2: // AF_INET everywhere
			return NetworkIPv4, frame[4:], nil
		case 10, 24, 28, 30: // AF_INET6: Linux, NetBSD/OpenBSD, FreeBSD, Darwin
			return NetworkIPv6, frame[4:], nil
		}
		return NetworkOther, frame[4:], nil
	case LinkTypeLinuxSLL:
		// packet type(2) ARPHRD(2) address length(2) address(8) protocol(2)
		if len(frame) < 16 {
			return 0, nil, &LinkError{lt, 0, "frame shorter than the 16-octet SLL header"}
		}
		return etherNetwork(binary.BigEndian.Uint16(frame[14:])), frame[16:], nil
	case LinkTypeLinuxSLL2:
		// protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1)
		// address length(1) address(8)
		if len(frame) < 20 {
			return 0, nil, &LinkError{lt, 0, "frame shorter than the 20-octet SLL2 header"}
		}
		return etherNetwork(binary.BigEndian.Uint16(frame[0:])), frame[20:], nil
	}
	return 0, nil, &LinkError{lt, 0, "unsupported link type"}
}

func etherNetwork(et uint16) Network {
	switch et {
	case etherTypeIPv4:
		return NetworkIPv4
	case etherTypeIPv6:
		return NetworkIPv6
	}
	return NetworkOther
}

func versionNetwork(v byte) Network {
	switch v {
	case 4:
		return NetworkIPv4
	case 6:
		return NetworkIPv6
	}
	return NetworkOther
}
