// Package paths judges each (care-of address, home agent) path by what
// arrives on it: received traffic is proof of life, and probes (ICMPv6 Echo,
// RFC 4443 section 4.1, answered by the peer's kernel) run only at a low rate
// on an idle path and at a short interval on a path that went quiet. It
// keeps a loss and round-trip estimate per path from the probes.
//
// Pure: no I/O, an injected clock. The roles feed it receive counters and
// probe replies, and act on what Tick returns (send a probe, move traffic).
// See docs/paths.md for the timings and why they meet the failover bound.
package paths
