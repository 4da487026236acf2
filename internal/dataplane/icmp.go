package dataplane

import (
	"encoding/binary"
	"monami/wire"
	"net/netip"
	"sync"
	"time"
)

const (
	protoICMPv6        = 58
	icmpPacketTooBig   = 2   // RFC 4443 section 3.2
	icmpErrorTypeLimit = 128 // types below 128 are errors (RFC 4443 section 2.1)
)

// packetTooBig builds an ICMPv6 Packet Too Big (RFC 4443 section 3.2) from
// src to the source of the invoking packet, carrying as much of it as fits
// in the minimum MTU. It returns nil when no error may be sent (RFC 4443
// section 2.4 (e): not in response to an ICMPv6 error, nor to a packet whose
// source does not identify a single node).
func packetTooBig(src netip.Addr, mtu int, invoking []byte) []byte {
	isrc, _, next, ok := ipv6Header(invoking)
	if !ok || isrc.IsUnspecified() || isrc.IsMulticast() {
		return nil
	}
	if next == protoICMPv6 && len(invoking) > ipv6HeaderLen && invoking[ipv6HeaderLen] < icmpErrorTypeLimit {
		return nil
	}
	body := invoking
	if max := MinMTU - ipv6HeaderLen - 8; len(body) > max {
		body = body[:max]
	}
	pkt := make([]byte, ipv6HeaderLen+8+len(body))
	pkt[0] = 6 << 4
	binary.BigEndian.PutUint16(pkt[4:], uint16(8+len(body)))
	pkt[6] = protoICMPv6
	pkt[7] = 255 // RFC 4443 section 2.2 leaves it to the node; any value reaches one hop
	s, d := src.As16(), isrc.As16()
	copy(pkt[offSrc:], s[:])
	copy(pkt[offDst:], d[:])
	icmp := pkt[ipv6HeaderLen:]
	icmp[0] = icmpPacketTooBig
	binary.BigEndian.PutUint32(icmp[4:], uint32(mtu))
	copy(icmp[8:], body)
	binary.BigEndian.PutUint16(icmp[2:], icmpv6Checksum(s, d, icmp))
	return pkt
}

// icmpv6Checksum is the RFC 4443 section 2.3 checksum.
func icmpv6Checksum(src, dst [16]byte, msg []byte) uint16 {
	return pseudoHeaderChecksum(src, dst, protoICMPv6, msg, 2)
}

// pseudoHeaderChecksum is the upper-layer checksum with the RFC 8200
// section 8.1 pseudo-header, computed as if the two checksum octets at
// csumOff in msg were zero.
func pseudoHeaderChecksum(src, dst [16]byte, proto uint8, msg []byte, csumOff int) uint16 {
	return wire.UpperLayerChecksum(msg, netip.AddrFrom16(src), netip.AddrFrom16(dst), proto, csumOff)
}

// errorLimiter is the token bucket RFC 4443 section 2.4 (f) asks for.
type errorLimiter struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
	rate   float64 // per second
	burst  float64
}

func newErrorLimiter(rate, burst float64) *errorLimiter {
	return &errorLimiter{tokens: burst, rate: rate, burst: burst}
}

func (l *errorLimiter) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
