package dataplane

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Apply implements Batcher: the userspace backend has no kernel
// transaction to group, so ops apply one by one, with the Dedup ops that
// only batches carry.
func (u *userDP) Apply(ops []Op) error {
	var errs []error
	for _, o := range ops {
		var err error
		switch o.Kind {
		case OpAddDedup:
			err = u.addDedup(o.Dedup)
		case OpDelDedup:
			err = u.delDedup(o.Dedup.Match)
		default:
			err = ApplyEach(u, []Op{o})
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("%v: %w", o, err))
		}
	}
	return errors.Join(errs...)
}

// RouteCounters implements FlowCounterReader: per installed route and
// path, the packets and inner octets the send loop handed to the path's
// socket; Duplicates from the Dedup whose Match is the route's Flow.
func (u *userDP) RouteCounters() ([]RouteCounter, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil, ErrClosed
	}
	out := make([]RouteCounter, 0, len(u.routes))
	for _, r := range u.routes {
		c := RouteCounter{Selector: r.sel()}
		for _, p := range r.paths {
			c.Paths = append(c.Paths, PathCounter{Tunnel: p.tun, Packets: p.packets.Load(), Octets: p.octets.Load()})
		}
		if d := u.dedups[r.r.Flow]; d != nil {
			c.Duplicates = d.dups.Load()
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b RouteCounter) int { return strings.Compare(a.Selector.String(), b.Selector.String()) })
	return out, nil
}

// DedupCounters returns, per installed Dedup (by its Match's key), the
// duplicates it dropped.
func (u *userDP) DedupCounters() map[string]uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]uint64, len(u.dedups))
	for m, d := range u.dedups {
		out[m.Key()] = d.dups.Load()
	}
	return out
}
