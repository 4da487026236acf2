package binding

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// ReplayState is what a home agent must remember of a mobile node to refuse
// an old Binding Update again after a restart: the last accepted sequence
// number (RFC 6275 section 9.5.1) and the last accepted RFC 4285 timestamp
// (section 6).
type ReplayState struct {
	LastSeq uint16
	LastTS  uint64
	HasTS   bool // a timestamp was accepted (LastTS is meaningful)
}

// Replay returns the replay state of a home address; ok is false when the
// cache holds no binding for it.
func (c *BindingCache) Replay(hoa netip.Addr) (r ReplayState, ok bool) {
	ni, ok := c.index[hoa.As16()]
	if !ok {
		return ReplayState{}, false
	}
	n := &c.nodes[ni]
	return ReplayState{LastSeq: n.lastSeq, LastTS: n.lastTS, HasTS: n.flags&nodeHasTS != 0}, true
}

// ErrNotReinstated is returned for bindings Reinstate refuses.
var ErrNotReinstated = errors.New("binding not reinstated")

// Reinstate puts back the bindings of one home address as a persistent
// store recorded them, without a Binding Update: with their registration
// and expiry times and the mobile node's replay state, so that the restarted
// home agent forwards as before and still refuses what it refused before
// (RFC 6275 section 9.5.1 sequence numbers, RFC 4285 section 6 timestamps).
//
// Bindings that have expired at now are dropped (RFC 6275 section 10.3.1:
// the entry is deleted when its lifetime expires), as are bindings of
// another home address. A binding whose BID the home address already holds
// replaces it. When the home address already has a replay state, the newer
// sequence number and timestamp win. The error names a home address the
// cache may not hold (not IPv6, outside every home prefix, too many
// bindings); nothing changes then.
//
// It returns the data plane changes, as ProcessBindingUpdate does.
func (c *BindingCache) Reinstate(now time.Time, hoa netip.Addr, bs []Binding, r ReplayState) ([]Change, error) {
	if !hoa.Is6() || hoa.Is4In6() {
		return nil, fmt.Errorf("%w: home address %s is not IPv6", ErrNotReinstated, hoa)
	}
	if _, ok := c.onHomeLink(hoa, now); !ok {
		return nil, fmt.Errorf("%w: home address %s is in no home prefix", ErrNotReinstated, hoa)
	}
	t := c.off(now)
	h := hoa.As16()
	ni, exists := c.index[h]
	live := make([]Binding, 0, len(bs))
	for _, b := range bs {
		if b.HoA == hoa && c.off(b.Expires) > t {
			live = append(live, b)
		}
	}
	if len(live) == 0 {
		return nil, nil
	}
	if n := c.countAfter(ni, exists, live); n > c.cfg.MaxBindingsPerNode {
		return nil, fmt.Errorf("%w: home address %s would hold %d bindings, more than %d", ErrNotReinstated, hoa, n, c.cfg.MaxBindingsPerNode)
	}
	if !exists {
		ni = c.newNode(h)
	}
	c.mergeReplay(ni, exists, r)
	var out []Change
	for _, b := range live {
		e := entry{coa: b.CoA.As16(), bid: b.BID, prio: b.Priority, flags: b.Flags,
			registered: c.off(b.Registered), expiry: c.off(b.Expires)}
		if i := c.findEntry(ni, b.BID); i >= 0 {
			out = append(out, Change{Kind: BindingRemoved, Cause: CauseOverwrite, Binding: c.view(i)})
			c.removeEntry(i)
		}
		i := c.addEntry(ni, e)
		out = append(out, Change{Kind: BindingAdded, Cause: CauseRegistration, Binding: c.view(i)})
	}
	return c.settle(ni, CauseRegistration, out), nil
}

// countAfter is how many bindings the node holds once live is reinstated.
func (c *BindingCache) countAfter(ni int32, exists bool, live []Binding) int {
	seen := map[uint16]bool{}
	if exists {
		for i := c.nodes[ni].first; i >= 0; i = c.entries[i].next {
			seen[c.entries[i].bid] = true
		}
	}
	for _, b := range live {
		seen[b.BID] = true
	}
	return len(seen)
}

// mergeReplay keeps the newer of the node's replay state and r.
func (c *BindingCache) mergeReplay(ni int32, exists bool, r ReplayState) {
	n := &c.nodes[ni]
	if !exists || SeqGreater(r.LastSeq, n.lastSeq) {
		n.lastSeq = r.LastSeq
	}
	if r.HasTS && (n.flags&nodeHasTS == 0 || r.LastTS > n.lastTS) {
		n.lastTS, n.flags = r.LastTS, n.flags|nodeHasTS
	}
}
