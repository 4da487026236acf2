package wire

import (
	"encoding/binary"
	"net/netip"
)

// Upper-layer protocols whose first four octets are a source and a
// destination port (RFC 6088 section 3 matches ports of any of them).
const (
	ipProtoTCP     = 6
	ipProtoDCCP    = 33  // RFC 4340 section 5.1
	ipProtoESP     = 50  // RFC 4303 section 2: the SPI comes first
	ipProtoAH      = 51  // RFC 4302 section 2
	ipProtoSCTP    = 132 // RFC 9260 section 3.1
	ipProtoUDPLite = 136 // RFC 3828 section 3
)

// ParseFlowKey reads the fields a flow selector looks at from an IPv6
// packet (RFC 6088 section 3.2): addresses, Traffic Class, flow label,
// the upper-layer protocol after the extension headers (RFC 8200 section
// 4), its ports (TCP, UDP, SCTP, UDP-Lite, DCCP) or the ESP SPI. A
// fragment other than the first has no ports (RFC 8200 section 4.5); its
// NextHeader is the Fragment header's. The error says which header is
// malformed and where. It does not allocate unless it fails.
func ParseFlowKey(pkt []byte) (FlowKey, error) {
	var k FlowKey
	if len(pkt) < IPv6HeaderLen {
		return k, perr(0, "IPv6 header", ErrTruncated)
	}
	if pkt[0]>>4 != 6 {
		return k, perr(0, "IPv6 header version", ErrBadValue)
	}
	w := binary.BigEndian.Uint32(pkt)
	k.TrafficClass = uint8(w >> 20)
	k.FlowLabel = w & 0xfffff
	k.Src = netip.AddrFrom16([16]byte(pkt[8:24]))
	k.Dst = netip.AddrFrom16([16]byte(pkt[24:40]))
	// Payload Length 0 with a Jumbo Payload option (RFC 2675) leaves the
	// buffer's length; octets past Payload Length are link padding.
	if pl := int(binary.BigEndian.Uint16(pkt[4:6])); pl != 0 {
		if IPv6HeaderLen+pl > len(pkt) {
			return k, perr(4, "IPv6 Payload Length", ErrTruncated)
		}
		pkt = pkt[:IPv6HeaderLen+pl]
	}
	nh, off := pkt[6], IPv6HeaderLen
	for {
		switch nh {
		case IPProtoHopByHop, IPProtoRouting, IPProtoDstOpts:
			// RFC 8200 section 4.3: Hop-by-Hop Options only right after
			// the IPv6 header.
			if nh == IPProtoHopByHop && off != IPv6HeaderLen {
				return k, perr(off, "Hop-by-Hop Options header not first", ErrBadValue)
			}
			if len(pkt)-off < 8 {
				return k, perr(off, extName(nh), ErrTruncated)
			}
			n := (int(pkt[off+1]) + 1) * 8
			if len(pkt)-off < n {
				return k, perr(off+1, extName(nh), ErrTruncated)
			}
			nh, off = pkt[off], off+n
		case ipProtoAH:
			if len(pkt)-off < 12 {
				return k, perr(off, "Authentication header", ErrTruncated)
			}
			// RFC 4302 section 2.2: Payload Len in 4-octet units, minus 2.
			n := (int(pkt[off+1]) + 2) * 4
			if len(pkt)-off < n {
				return k, perr(off+1, "Authentication header", ErrTruncated)
			}
			nh, off = pkt[off], off+n
		case IPProtoFragment:
			if len(pkt)-off < 8 {
				return k, perr(off, "Fragment header", ErrTruncated)
			}
			next := pkt[off]
			if binary.BigEndian.Uint16(pkt[off+2:])>>3 != 0 {
				k.NextHeader = next
				return k, nil
			}
			nh, off = next, off+8
		default:
			return k, upperLayer(&k, nh, pkt, off)
		}
	}
}

// upperLayer fills the protocol and its ports or SPI.
func upperLayer(k *FlowKey, nh uint8, pkt []byte, off int) error {
	k.NextHeader = nh
	switch nh {
	case ipProtoTCP, IPProtoUDP, ipProtoSCTP, ipProtoUDPLite, ipProtoDCCP:
		if len(pkt)-off < 4 {
			return perr(off, protoName(nh)+" ports", ErrTruncated)
		}
		k.SrcPort = binary.BigEndian.Uint16(pkt[off:])
		k.DstPort = binary.BigEndian.Uint16(pkt[off+2:])
		k.HasPorts = true
	case ipProtoESP:
		if len(pkt)-off < 4 {
			return perr(off, "ESP SPI", ErrTruncated)
		}
		k.SPI = binary.BigEndian.Uint32(pkt[off:])
		k.HasSPI = true
	}
	return nil
}

func extName(nh uint8) string {
	switch nh {
	case IPProtoHopByHop:
		return "Hop-by-Hop Options header"
	case IPProtoRouting:
		return "Routing header"
	}
	return "Destination Options header"
}

func protoName(nh uint8) string {
	switch nh {
	case ipProtoTCP:
		return "TCP"
	case IPProtoUDP:
		return "UDP"
	case ipProtoSCTP:
		return "SCTP"
	case ipProtoUDPLite:
		return "UDP-Lite"
	}
	return "DCCP"
}
