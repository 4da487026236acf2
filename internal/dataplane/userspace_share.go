package dataplane

import (
	"time"

	"monami/internal/forwarding"
	"monami/wire"
)

// shareFlows remembers the path each flow of a ModeShare route was placed
// on, as conntrack does for the kernel backend (shareRules): new flows go
// round robin by weight, so any sum-of-weights consecutive flows put
// exactly weight_j of them on path j, and a flow keeps its path while the
// route keeps it. Two generations bound it: a flow idle for one or two
// generations (ShareFlowIdle) is forgotten, and its next packet is a new
// flow. Send loop only.
type shareFlows struct {
	cur, old map[wire.FlowKey]uint64 // flow -> pathID
	since    time.Time               // cur's start
	now      func() time.Time
}

// Generations of shareFlows: a new one every shareGeneration, or sooner
// when the current one holds shareGenerationMax flows.
const (
	shareGeneration    = ShareFlowIdle
	shareGenerationMax = MaxShareFlows
)

func newShareFlows(now func() time.Time) *shareFlows {
	return &shareFlows{cur: map[wire.FlowKey]uint64{}, old: map[wire.FlowKey]uint64{}, since: now(), now: now}
}

// path is the index in r.paths of flow k's path.
func (s *shareFlows) path(r *userRoute, k *wire.FlowKey, flow uint64) int {
	key := flowOf(k)
	id, ok := s.cur[key]
	if !ok {
		if id, ok = s.old[key]; ok {
			s.put(key, id)
		}
	}
	if ok {
		for i, p := range r.paths {
			if p.id == id {
				return i
			}
		}
		// Its path left the route: spread by hash over those that
		// remain, and remember the first, to which it returns.
		return rendezvous(r, k, flow)
	}
	i := r.nextSlotPath()
	s.put(key, r.paths[i].id)
	return i
}

// flowOf is what names a flow, as conntrack knows it: addresses, next
// header, ports or SPI. The flow label changes when a TCP sender rehashes
// after a timeout (RFC 6437 section 3 lets it), and the ECN bits of the
// traffic class from packet to packet; neither makes a new flow.
func flowOf(k *wire.FlowKey) wire.FlowKey {
	f := *k
	f.FlowLabel, f.TrafficClass = 0, 0
	return f
}

func (s *shareFlows) put(k wire.FlowKey, id uint64) {
	if len(s.cur) >= shareGenerationMax || s.now().Sub(s.since) >= shareGeneration {
		s.old, s.cur, s.since = s.cur, make(map[wire.FlowKey]uint64, len(s.cur)), s.now()
	}
	s.cur[k] = id
}

// nextSlotPath takes the route's next slot and returns the path owning
// it: path j owns weight_j consecutive slots of every sum.
func (r *userRoute) nextSlotPath() int {
	var sum uint64
	for _, p := range r.paths {
		sum += uint64(p.weight)
	}
	slot := r.slot % sum
	r.slot++
	for i, p := range r.paths {
		if slot < uint64(p.weight) {
			return i
		}
		slot -= uint64(p.weight)
	}
	return len(r.paths) - 1
}

// rendezvous is flow k's path by weighted rendezvous hashing
// (forwarding.ShareScore): the same tunnel keeps its flows when others
// come and go. flow is forwarding.FlowHash(k), 0 when not yet computed.
func rendezvous(r *userRoute, k *wire.FlowKey, flow uint64) int {
	if flow == 0 {
		flow = forwarding.FlowHash(k)
	}
	best, bestScore := 0, 0.0
	for i, p := range r.paths {
		if s := forwarding.ShareScore(flow, p.id, p.weight); i == 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
}
