package dataplane

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
)

// DropReason says why a packet did not make it through the tunnel.
type DropReason string

const (
	// DropOuterSource: a tunnelled packet came from an address that is not
	// the endpoint's peer (RFC 6275 section 10.4.5).
	DropOuterSource DropReason = "outer-source"
	// DropInnerSource: right peer, but the inner source is not one of the
	// endpoint's accepted prefixes (RFC 6275 section 10.4.5).
	DropInnerSource DropReason = "inner-source"
	// DropTooBig: the inner packet exceeds the tunnel MTU; an ICMPv6 Packet
	// Too Big went back to its source (RFC 4443 section 3.2).
	DropTooBig DropReason = "too-big"
	// DropNoRoute: a packet reached the tunnel device without a matching
	// route (a route was removed while packets were queued), or none of
	// the flow routes of its destination matched it.
	DropNoRoute DropReason = "no-route"
	// DropMalformed: not a parseable IPv6 packet.
	DropMalformed DropReason = "malformed"
	// DropInternal: a packet from outside addressed the internal decap
	// addresses (kernel backend), which only the ingress check may use.
	DropInternal DropReason = "internal-address"
	// DropIO: a socket or device write failed.
	DropIO DropReason = "io-error"
	// DropPolicy: a route with ModeDrop caught the packet.
	DropPolicy DropReason = "policy"
	// DropDuplicate: the second copy of a bicast packet (Dedup).
	DropDuplicate DropReason = "duplicate"
)

// Counters are totals since the data plane started. "Out" is what went into
// tunnels, "In" what came out of them after the ingress check. Bytes are
// inner IPv6 packet bytes. The kernel backend counts what nftables sees, so
// a GSO/GRO aggregate counts as one packet there.
type Counters struct {
	PacketsOut, BytesOut uint64
	PacketsIn, BytesIn   uint64
	Drops                map[DropReason]uint64
}

func (c Counters) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "out %d pkt %d B, in %d pkt %d B", c.PacketsOut, c.BytesOut, c.PacketsIn, c.BytesIn)
	keys := make([]string, 0, len(c.Drops))
	for k := range c.Drops {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, ", drop %s %d", k, c.Drops[DropReason(k)])
	}
	return b.String()
}

// atomicCounters is the userspace backend's live counter set.
type atomicCounters struct {
	packetsOut, bytesOut atomic.Uint64
	packetsIn, bytesIn   atomic.Uint64
	drops                [dropReasons]atomic.Uint64
}

var dropReasonList = [...]DropReason{DropOuterSource, DropInnerSource, DropTooBig, DropNoRoute, DropMalformed, DropInternal, DropIO, DropPolicy, DropDuplicate}

const dropReasons = len(dropReasonList)

func dropIndex(r DropReason) int {
	for i, x := range dropReasonList {
		if x == r {
			return i
		}
	}
	panic("dataplane: unknown drop reason " + string(r))
}

func (a *atomicCounters) drop(r DropReason) { a.drops[dropIndex(r)].Add(1) }

func (a *atomicCounters) snapshot() Counters {
	c := Counters{
		PacketsOut: a.packetsOut.Load(), BytesOut: a.bytesOut.Load(),
		PacketsIn: a.packetsIn.Load(), BytesIn: a.bytesIn.Load(),
		Drops: map[DropReason]uint64{},
	}
	for i, r := range dropReasonList {
		if n := a.drops[i].Load(); n != 0 {
			c.Drops[r] = n
		}
	}
	return c
}
