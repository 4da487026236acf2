// Package store keeps the home agent's bindings across restarts: every
// accepted binding is written before it is acknowledged, and a starting
// home agent reads them back (issue 13). The interface is small so that an
// embedded file (bolt/), memory (here) and an etcd cluster can sit behind
// it.
package store

import (
	"iter"
	"net/netip"

	"monami/internal/binding"
)

// Key names one binding: a home address and its Binding ID (RFC 5648
// section 5.1 keys the cache by both).
type Key struct {
	HoA netip.Addr
	BID uint16
}

// Record is everything needed to restore one binding without a Binding
// Update: the binding with its times, how its data travels, and the mobile
// node's replay state (the same in every record of one home address: the
// home agent writes them together).
type Record struct {
	Binding binding.Binding
	// Encap is the data plane encapsulation (dataplane.Encapsulation:
	// 0 IPv6-in-IPv6, 1 UDP, RFC 5555). Kept as a number: the store sits
	// beside the data plane, not above it.
	Encap  uint8
	Replay binding.ReplayState
	// UDPLocal and UDPPeer are the UDP path of a binding with an IPv4
	// care-of address: the home agent's address its Binding Update came to
	// and the source address and port it came from, a NAT's mapping (RFC
	// 5555 section 4.3). Zero for any other binding.
	UDPLocal netip.Addr
	UDPPeer  netip.AddrPort
}

// Key returns the record's key.
func (r *Record) Key() Key { return Key{HoA: r.Binding.HoA, BID: r.Binding.BID} }

// Batch is one atomic change: the records one Binding Update (or one
// expiry) writes and removes.
type Batch struct {
	Put    []Record
	Delete []Key
}

// Empty reports whether the batch changes nothing.
func (b *Batch) Empty() bool { return len(b.Put) == 0 && len(b.Delete) == 0 }

// Store is a durable set of records.
type Store interface {
	// Apply makes the whole batch durable, or none of it, and returns only
	// then: the home agent acknowledges nothing the store does not hold.
	// Deleting an absent key is not an error.
	Apply(Batch) error
	// Load yields every record, in key order. A record that cannot be
	// decoded yields an error naming its key, and the iteration goes on.
	Load() iter.Seq2[Record, error]
	// Close releases the store.
	Close() error
}
