package habench

import (
	"net/netip"

	"monami/wire"
)

// Bounds of the per-update options: a mobile node has a handful of
// interfaces, and a home agent limits the flows it keeps per home address.
const (
	maxBIDs = 8
	maxFIDs = 16
)

// appendBIDs adds the Binding Identifier options of mobile node i. One
// binding is the plain BID option the source address registers; several
// are a bulk registration (RFC 5648 section 6.1.1), each BID carrying its
// care-of address, the first being the source. BID 1 has the best
// priority, so the sampled tunnel (to the source address) is the default.
func appendBIDs(opts []wire.Option, i, bids int) []wire.Option {
	if bids == 1 {
		return append(opts, wire.BindingIdentifier{BindingID: 1, Priority: 10})
	}
	for bid := 1; bid <= bids; bid++ {
		opts = append(opts, wire.BindingIdentifier{BindingID: uint16(bid), Priority: uint8(bid), CareOfAddress: coaOfBID(i, bid)})
	}
	return opts
}

// coaOfBID is the care-of address of mobile node i's BID: the first is
// coaOf(i), on the simulator; the others sit in another /64 of the
// access prefix, routed to the simulator too (nothing answers there, and
// no sampled traffic goes there).
func coaOfBID(i, bid int) netip.Addr {
	a := coaOf(i)
	if bid == 1 {
		return a
	}
	b := a.As16()
	b[7] = byte(bid)
	return netip.AddrFrom16(b)
}

// appendFlows adds fids Flow Identification options (RFC 6089 section
// 4.1): FID f matches UDP to port 5000+f (RFC 6088 IPv6 selector) and
// references one BID, round robin, with FID-PRI f.
func appendFlows(opts []wire.Option, bids, fids int) []wire.Option {
	for f := 1; f <= fids; f++ {
		ts := wire.IPv6TrafficSelector{Flags: wire.IPv6TSStartDestinationPort | wire.IPv6TSStartNextHeader,
			StartDestinationPort: uint16(5000 + f), StartNextHeader: 17}
		opts = append(opts, wire.FlowIdentification{FID: uint16(f), Priority: uint16(f), SubOptions: []wire.FlowSubOption{
			wire.BindingReferenceSubOption{BIDs: []uint16{uint16(1 + (f-1)%bids)}},
			wire.TrafficSelectorSubOption{Selector: ts}}})
	}
	return opts
}
