package forwarding

import "slices"

// PortIndex narrows the selectors a packet must try by destination port:
// the port space is cut into segments at every selector's range ends, and
// each segment lists the selectors whose range covers it. A lookup
// binary-searches the packet's port and tests those and the generic ones
// (no port, or a range covering more than maxSegments segments, kept out
// to bound the index's size), in their order. With 1,000 port rules a
// packet costs about what it costs with none (BenchmarkRoute). Both the
// forwarding table and the userspace data plane classify with it.
type PortIndex struct {
	// segStart[i] is the first port of segment i; segs[i] its selectors.
	segStart []uint16
	segs     [][]int32
	generic  []int32
}

// maxSegments bounds how many segments one selector is listed in.
const maxSegments = 64

// NewPortIndex indexes n selectors in precedence order; dport(i) is the
// destination port range of selector i.
func NewPortIndex(n int, dport func(i int) Range[uint16]) PortIndex {
	var x PortIndex
	// Segment boundaries: every range start, and every port after a
	// range end.
	var cuts []uint16
	for i := range n {
		if p := dport(i); p.Set {
			cuts = append(cuts, p.Lo)
			if p.Hi != 0xffff {
				cuts = append(cuts, p.Hi+1)
			}
		}
	}
	slices.Sort(cuts)
	x.segStart = slices.Compact(cuts)
	x.segs = make([][]int32, len(x.segStart))
	for i := range n {
		p := dport(i)
		if !p.Set {
			x.generic = append(x.generic, int32(i))
			continue
		}
		lo, _ := slices.BinarySearch(x.segStart, p.Lo)
		hi := len(x.segStart)
		if p.Hi != 0xffff {
			hi, _ = slices.BinarySearch(x.segStart, p.Hi+1)
		}
		if hi-lo > maxSegments {
			x.generic = append(x.generic, int32(i))
			continue
		}
		for s := lo; s < hi; s++ {
			x.segs[s] = append(x.segs[s], int32(i))
		}
	}
	return x
}

// First returns the first selector, in index order, that may match k and
// for which match(i) holds; -1 if none.
func (x *PortIndex) First(k *FlowKey, match func(i int) bool) int {
	var bucket []int32
	if k.HasPorts && len(x.segStart) > 0 {
		// The last segment starting at or before the port.
		i, found := slices.BinarySearch(x.segStart, k.DstPort)
		if !found {
			i--
		}
		if i >= 0 {
			bucket = x.segs[i]
		}
	}
	// Merge the two ascending index lists; the first hit wins.
	i, j := 0, 0
	for i < len(bucket) || j < len(x.generic) {
		var n int32
		if j >= len(x.generic) || (i < len(bucket) && bucket[i] < x.generic[j]) {
			n = bucket[i]
			i++
		} else {
			n = x.generic[j]
			j++
		}
		if match(int(n)) {
			return int(n)
		}
	}
	return -1
}

// Segments is how many port segments the index has.
func (x *PortIndex) Segments() int { return len(x.segStart) }
