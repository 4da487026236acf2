// Package forwarding computes the desired forwarding of home addresses from
// protocol state: for each (home address, flow selector) an Entry with a
// mode and an ordered set of paths (bindings). It is derived state, the way
// Tailscale's router takes a whole desired config: the roles compute a
// Table from the binding cache (or binding update list), the flow bindings
// (RFC 6089, with RFC 6088 traffic selectors) and the local or operator
// policy, then a data plane reconciles itself to it, applying Diff(old,
// new) so that a change costs in proportion to what changed.
//
// Everything here is pure: no I/O, no goroutines, no timers. Functions that
// depend on time take `now time.Time`; the caller owns the clock.
//
// Modes:
//   - Single: an ordered failover list; the first usable path carries
//     every packet.
//   - Share: flows spread over the usable paths by weight. A flow is never
//     split: a hash of its 5-tuple and flow label picks one path
//     (weighted rendezvous hashing), so a failed path moves only its own
//     flows, and they come back when it returns (ReturnPolicy Return) or
//     stay where they went (Stay, kept by an Affinity table).
//   - Replicate: every packet to every usable path (bicasting).
//   - Drop: discard.
//
// Precedence among entries of one home address: policy rules first, then
// flow bindings, then the home address's default entry; within a tier the
// lower priority value wins (FID-PRI, RFC 6089 section 4.1: "a lower number
// indicates a higher priority"), then the more specific selector, then the
// canonical key, so the order is total and deterministic.
package forwarding
