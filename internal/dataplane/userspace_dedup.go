package dataplane

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"monami/internal/forwarding"
	"monami/wire"
)

// Duplicate elimination at the receiving tunnel endpoint (Dedup): a peer
// bicasting a flow (ModeReplicate; goals draft section 3.5) sends each
// packet on every path, and the first copy to arrive wins. A copy is
// known by a hash of its inner addresses, payload length, next header and
// the first 16 octets after the IPv6 header (a UDP or TCP header and the
// start of the payload); the table remembers the tunnel that delivered it
// and when. A copy from another tunnel within the Window is dropped; a
// repeat on the same tunnel (the application's own retransmission) is
// not.
//
// The table is a fixed array of MaxDedupEntries entries, two per bucket
// (the older is replaced): O(1) per packet, no allocation, 1 MiB whatever
// the traffic. Receive loops run concurrently, so buckets are guarded by
// a few striped locks.

// dedupRule is one installed Dedup.
type dedupRule struct {
	d      Dedup
	window uint32         // microseconds
	dups   *atomic.Uint64 // kept when the rule is replaced
}

// dedupSet is what the receive path reads: the rules in Match key order
// and the shared table. It is replaced, not changed.
type dedupSet struct {
	rules []*dedupRule
	tab   *dedupTable
}

const (
	dedupWays   = 2
	dedupShards = 64
)

type dedupEntry struct {
	key          uint64 // 0: empty
	when, tunnel uint32
}

type dedupTable struct {
	locks   [dedupShards]paddedMutex
	buckets [][dedupWays]dedupEntry
}

// paddedMutex keeps each lock on its own cache line.
type paddedMutex struct {
	sync.Mutex
	_ [56]byte
}

func newDedupTable() *dedupTable {
	return &dedupTable{buckets: make([][dedupWays]dedupEntry, MaxDedupEntries/dedupWays)}
}

// monoBase is the origin of dedupNow.
var monoBase = time.Now()

// dedupNow is the monotonic time in microseconds, wrapping every 71
// minutes; entries compare by difference, so the wrap does no harm.
func dedupNow() uint32 { return uint32(time.Since(monoBase) / time.Microsecond) }

// duplicate reports whether pkt, a decapsulated inner packet that tunnel
// delivered, is a copy to drop, and counts it.
func (s *dedupSet) duplicate(pkt []byte, tunnel, now uint32) bool {
	k, err := wire.ParseFlowKey(pkt)
	if err != nil {
		return false
	}
	for _, r := range s.rules {
		if r.d.Match.Matches(&k) {
			if s.tab.seen(dedupKey(pkt), tunnel, now, r.window) {
				r.dups.Add(1)
				return true
			}
			return false
		}
	}
	return false
}

// seen records the copy key from tunnel and reports whether another
// tunnel delivered it within window.
func (t *dedupTable) seen(key uint64, tunnel, now, window uint32) bool {
	i := key & uint64(len(t.buckets)-1)
	l := &t.locks[i&(dedupShards-1)]
	l.Lock()
	defer l.Unlock()
	b := &t.buckets[i]
	victim := 0
	for j := range b {
		e := &b[j]
		if e.key == key {
			if now-e.when < window {
				if e.tunnel != tunnel {
					return true
				}
				e.when = now
				return false
			}
			victim = j
			break
		}
		if now-e.when > now-b[victim].when || e.key == 0 {
			victim = j
		}
	}
	b[victim] = dedupEntry{key: key, when: now, tunnel: tunnel}
	return false
}

// dedupKey hashes what tells a copy of a packet from another packet: the
// addresses, Payload Length and Next Header (not the Hop Limit, which
// the paths may change) and the first 16 octets after the IPv6 header.
// pkt holds at least an IPv6 header.
func dedupKey(pkt []byte) uint64 {
	var tail [16]byte
	copy(tail[:], pkt[ipv6HeaderLen:])
	h := uint64(binary.BigEndian.Uint32(pkt[4:8]) >> 8)
	for off := 8; off < ipv6HeaderLen; off += 8 {
		h = mix64(h ^ binary.LittleEndian.Uint64(pkt[off:]))
	}
	h = mix64(h ^ binary.LittleEndian.Uint64(tail[:8]))
	h = mix64(h ^ binary.LittleEndian.Uint64(tail[8:]))
	return h | 1 // never the empty key
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// tunnelID names the tunnel an endpoint receives on, for the table.
func tunnelID(local, peer netip.Addr, encap Encapsulation) uint32 {
	l, p := local.As16(), peer.As16()
	h := uint64(encap)
	h = mix64(h ^ binary.LittleEndian.Uint64(l[:8]))
	h = mix64(h ^ binary.LittleEndian.Uint64(l[8:]))
	h = mix64(h ^ binary.LittleEndian.Uint64(p[:8]))
	h = mix64(h ^ binary.LittleEndian.Uint64(p[8:]))
	return uint32(h>>32) | 1
}

// addDedup installs d, replacing the Dedup with the same Match (its
// count of duplicates goes on).
func (u *userDP) addDedup(d Dedup) error {
	if err := d.validate(); err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return ErrClosed
	}
	r := &dedupRule{d: d, window: uint32(d.window() / time.Microsecond), dups: new(atomic.Uint64)}
	if old := u.dedups[d.Match]; old != nil {
		r.dups = old.dups
	}
	u.dedups[d.Match] = r
	u.publishDedup()
	return nil
}

// delDedup removes the Dedup of m; ErrNotFound if there is none.
func (u *userDP) delDedup(m forwarding.Match) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return ErrClosed
	}
	if u.dedups[m] == nil {
		return ErrNotFound
	}
	delete(u.dedups, m)
	u.publishDedup()
	return nil
}

// publishDedup hands the receive path the current rules; the table is
// kept while any rule is, and freed with the last. Callers hold u.mu.
func (u *userDP) publishDedup() {
	if len(u.dedups) == 0 {
		u.dedup.Store(nil)
		return
	}
	s := &dedupSet{}
	if old := u.dedup.Load(); old != nil {
		s.tab = old.tab
	} else {
		s.tab = newDedupTable()
	}
	for _, r := range u.dedups {
		s.rules = append(s.rules, r)
	}
	slices.SortFunc(s.rules, func(a, b *dedupRule) int { return strings.Compare(a.d.Match.Key(), b.d.Match.Key()) })
	u.dedup.Store(s)
}
