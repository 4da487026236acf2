package forwarding

import (
	"encoding/binary"
	"math"
)

// Pick returns the paths a packet of flow k takes under entry e: the
// first usable path (Single), one usable path chosen by weight (Share),
// every usable path (Replicate), or none (Drop, or no usable path).
func Pick(e *Entry, k *FlowKey) []PathID { return AppendPick(nil, e, k) }

// AppendPick is Pick appending to dst, so a data path can reuse a buffer.
func AppendPick(dst []PathID, e *Entry, k *FlowKey) []PathID {
	switch e.Mode {
	case Single:
		for i := range e.Paths {
			if e.Paths[i].Usable {
				return append(dst, e.Paths[i].ID)
			}
		}
	case Share:
		if id, ok := share(e.Paths, FlowHash(k)); ok {
			return append(dst, id)
		}
	case Replicate:
		for i := range e.Paths {
			if e.Paths[i].Usable {
				dst = append(dst, e.Paths[i].ID)
			}
		}
	}
	return dst
}

// share picks one usable path by weighted rendezvous hashing: each path
// scores -w/ln(u), u a uniform hash of (flow, path) in (0,1), and the
// highest score wins. A path's flows are a weight-proportional share, and
// when a path goes away only its own flows move, to the others in
// proportion to their weights; when it returns exactly those come back.
func share(ps []Path, flow uint64) (PathID, bool) {
	best, found := -math.MaxFloat64, false
	var id PathID
	for i := range ps {
		p := &ps[i]
		if !p.Usable || p.Weight == 0 {
			continue
		}
		if s := ShareScore(flow, uint64(p.ID), p.Weight); s > best {
			best, id, found = s, p.ID, true
		}
	}
	return id, found
}

// ShareScore is path id's weighted rendezvous score for a flow (see
// share): among a flow's paths the highest score takes it. Data planes
// that keep their own path sets place flows with it as Pick does.
func ShareScore(flow, id uint64, weight uint32) float64 {
	h := mix(flow ^ id*0x9e3779b97f4a7c15)
	u := (float64(h>>11) + 0.5) / (1 << 53)
	return -float64(weight) / math.Log(u)
}

// FlowHash hashes what identifies a flow: addresses, next header, ports
// (or the ESP SPI) and the flow label (RFC 6437 section 3: the 3-tuple of
// flow label and addresses names a flow). It is stable across runs, so
// both backends and restarts place a flow alike. A sender that changes
// its flow label (Linux does so after a retransmission timeout) may move
// the flow to another path.
func FlowHash(k *FlowKey) uint64 {
	var b [16]byte
	s, d := k.Src.As16(), k.Dst.As16()
	h := uint64(0xcbf29ce484222325)
	h = mix(h ^ binary.LittleEndian.Uint64(s[:8]))
	h = mix(h ^ binary.LittleEndian.Uint64(s[8:]))
	h = mix(h ^ binary.LittleEndian.Uint64(d[:8]))
	h = mix(h ^ binary.LittleEndian.Uint64(d[8:]))
	binary.LittleEndian.PutUint32(b[0:], k.FlowLabel&0xfffff)
	b[4] = k.NextHeader
	if k.HasPorts {
		binary.LittleEndian.PutUint16(b[5:], k.SrcPort)
		binary.LittleEndian.PutUint16(b[7:], k.DstPort)
	}
	if k.HasSPI {
		binary.LittleEndian.PutUint32(b[9:], k.SPI)
	}
	h = mix(h ^ binary.LittleEndian.Uint64(b[:8]))
	return mix(h ^ binary.LittleEndian.Uint64(b[8:]))
}

// mix is the splitmix64 finaliser: a cheap, well-spread 64-bit mix.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
