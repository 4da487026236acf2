package dataplane

import (
	"sync"
	"time"
)

// Tunnel Path MTU (RFC 2473 section 6.7: the tunnel MTU is the path MTU
// between entry and exit point minus the tunnel headers, learned by Path
// MTU Discovery; section 7.1: an inner packet larger than it draws a
// Packet Too Big to its source). The tunnels' outer packets are the data
// plane's own, so the kernel's Path MTU Discovery does not apply to them:
// without ip6_tunnel no kernel handler takes a Packet Too Big that quotes
// a next-header-41 packet (measured: Icmp6InPktTooBigs counts it, no route
// exception appears), and the inner routes' MTU is fixed when they are
// installed. What a Packet Too Big teaches about a tunnel's outer path is
// kept here, and the routes through that tunnel are installed again with
// the lower inner MTU, so the kernel (or the userspace backend) answers
// the next oversize inner packet with a Packet Too Big of the right size.

// pmtuAge is how long a learned path MTU holds before the tunnel tries its
// link's MTU again: RFC 8201 section 4 allows an attempt to detect an
// increase no sooner than 5 minutes after a Packet Too Big and recommends
// twice that.
const pmtuAge = 10 * time.Minute

// pathMTUs holds the outer path MTUs that Packet Too Big messages reported,
// per (outer source, outer destination). Pure: the caller gives the time.
type pathMTUs struct {
	mu sync.Mutex
	m  map[tunnelKey]learnedMTU
}

type learnedMTU struct {
	mtu int
	at  time.Time // when it was last lowered
}

func newPathMTUs() *pathMTUs { return &pathMTUs{m: map[tunnelKey]learnedMTU{}} }

// lower records that the outer path k carries at most mtu octets, and
// says whether that lowered what was known. RFC 8201 section 4: a report
// below the IPv6 minimum link MTU is discarded, and a Packet Too Big
// never raises the estimate.
func (p *pathMTUs) lower(k tunnelKey, mtu int, now time.Time) bool {
	if mtu < MinMTU {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur, ok := p.m[k]; ok && now.Sub(cur.at) < pmtuAge && cur.mtu <= mtu {
		return false
	}
	p.m[k] = learnedMTU{mtu: mtu, at: now}
	return true
}

// get is the learned outer path MTU of k, 0 when none holds.
func (p *pathMTUs) get(k tunnelKey, now time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur, ok := p.m[k]
	if !ok || now.Sub(cur.at) >= pmtuAge {
		return 0
	}
	return cur.mtu
}

// expire forgets what is older than pmtuAge and returns those paths,
// whose routes go back to their link's MTU; next is when the next entry
// ages (zero when none is left).
func (p *pathMTUs) expire(now time.Time) (gone []tunnelKey, next time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range p.m {
		at := v.at.Add(pmtuAge)
		if !now.Before(at) {
			delete(p.m, k)
			gone = append(gone, k)
			continue
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return gone, next
}

// innerMTU is the inner MTU of tunnel t (RFC 2473 section 6.7) given the
// MTU of the link that holds t.Local and the learned outer path MTU (0:
// none). A configured t.MTU or the link's, less the tunnel headers, must
// reach the IPv6 minimum; a learned path MTU only lowers it, never below
// that minimum (RFC 2473 section 7.1 (b) would then fragment the tunnel
// packets, which these data planes do not: see docs/dataplane.md).
func innerMTU(t Tunnel, linkMTU, pathMTU int) (mtu int, ok bool) {
	mtu = t.MTU
	if mtu == 0 {
		mtu = linkMTU - t.overhead()
	}
	if mtu < MinMTU {
		return mtu, false
	}
	if pathMTU > 0 {
		mtu = min(mtu, max(pathMTU-t.overhead(), MinMTU))
	}
	return mtu, true
}

// pathThrough says whether one of r's paths leaves by one of keys.
func pathThrough(r Route, keys []tunnelKey) bool {
	for _, p := range r.PathList() {
		for _, key := range keys {
			if p.Tunnel.Local == key.local && p.Tunnel.Remote == key.remote {
				return true
			}
		}
	}
	return false
}
