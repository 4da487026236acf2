package binding

import "time"

// Expiry uses one binary min-heap of entry indices ordered by expiry time
// (4 bytes per binding plus the index kept in the entry), driven by
// Expire(now): no timer per binding.

func (c *BindingCache) heapLess(a, b int) bool {
	return c.entries[c.heap[a]].expiry < c.entries[c.heap[b]].expiry
}

func (c *BindingCache) heapSwap(a, b int) {
	c.heap[a], c.heap[b] = c.heap[b], c.heap[a]
	c.entries[c.heap[a]].heapIdx = int32(a)
	c.entries[c.heap[b]].heapIdx = int32(b)
}

func (c *BindingCache) heapUp(j int) {
	for j > 0 {
		p := (j - 1) / 2
		if !c.heapLess(j, p) {
			break
		}
		c.heapSwap(j, p)
		j = p
	}
}

func (c *BindingCache) heapDown(j int) bool {
	j0 := j
	n := len(c.heap)
	for {
		l := 2*j + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && c.heapLess(r, l) {
			m = r
		}
		if !c.heapLess(m, j) {
			break
		}
		c.heapSwap(j, m)
		j = m
	}
	return j > j0
}

func (c *BindingCache) heapPush(i int32) {
	c.heap = append(c.heap, i)
	j := len(c.heap) - 1
	c.entries[i].heapIdx = int32(j)
	c.heapUp(j)
}

func (c *BindingCache) heapFix(i int32) {
	j := int(c.entries[i].heapIdx)
	if !c.heapDown(j) {
		c.heapUp(j)
	}
}

func (c *BindingCache) heapRemove(i int32) {
	j := int(c.entries[i].heapIdx)
	last := len(c.heap) - 1
	if j != last {
		c.heapSwap(j, last)
	}
	c.heap = c.heap[:last]
	if j != last {
		if !c.heapDown(j) {
			c.heapUp(j)
		}
	}
	c.entries[i].heapIdx = -1
}

// NextExpiry returns when the earliest binding expires, for the event
// loop's timer; ok is false when the cache is empty.
func (c *BindingCache) NextExpiry() (t time.Time, ok bool) {
	if len(c.heap) == 0 {
		return time.Time{}, false
	}
	return c.abs(c.entries[c.heap[0]].expiry), true
}

// Expire removes every binding whose lifetime has run out at now (RFC 6275
// section 10.3.1: the entry is deleted when its lifetime expires) and
// returns the data-plane changes: a BindingRemoved per expired binding
// (Cause CauseExpired) and a PrimaryChanged for every home address whose
// preferred binding changed (failover to the next binding, or none).
func (c *BindingCache) Expire(now time.Time) []Change {
	t := c.off(now)
	var out []Change
	var touched []int32
	for len(c.heap) > 0 {
		i := c.heap[0]
		if c.entries[i].expiry > t {
			break
		}
		ni := c.entries[i].node
		out = append(out, Change{Kind: BindingRemoved, Cause: CauseExpired, Binding: c.view(i)})
		c.removeEntry(i)
		touched = appendUnique(touched, ni)
	}
	for _, ni := range touched {
		out = c.settle(ni, CauseExpired, out)
	}
	return out
}

func appendUnique(s []int32, v int32) []int32 {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}
