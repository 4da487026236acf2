package binding

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// maxCircularWalk bounds the circular-reference walk; a chain longer than
// this is refused as if it were circular.
const maxCircularWalk = 1024

// circular reports whether binding hoa to coa would create a circular
// reference: coa is itself a home address in this cache whose bindings lead,
// possibly through further entries, back to hoa (RFC 6275 section 9.5.1;
// the example of draft-montavont-mobileip-multihoming-pb-statement-04
// section 6.2.2: HoA addr1 -> CoA addr2 is refused if addr2 -> addr3 and
// addr3 -> addr1 exist, accepted if only addr2 -> addr3 exists).
func (c *BindingCache) circular(hoa, coa [16]byte) bool {
	if coa == hoa || !c.inHomePrefix(coa) {
		return false // every home address in the cache is on a home prefix
	}
	start, ok := c.index[coa]
	if !ok {
		return false
	}
	seen := c.visit[:0]
	defer func() { c.visit = seen[:0] }()
	seen = append(seen, start)
	for k := 0; k < len(seen); k++ {
		if k >= maxCircularWalk {
			return true
		}
		for i := c.nodes[seen[k]].first; i >= 0; i = c.entries[i].next {
			e := &c.entries[i]
			if e.coa == hoa {
				return true
			}
			if e.flags&FlagAtHome != 0 {
				continue
			}
			if nj, ok := c.index[e.coa]; ok && !containsIdx(seen, nj) {
				seen = append(seen, nj)
			}
		}
	}
	return false
}

func containsIdx(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// CircularReferenceError names the home and care-of addresses of a
// refused registration and the existing bindings that lead back: Chain is
// the loop HoA -> CoA -> ... -> HoA, each arrow a binding (the first one the
// refused one).
type CircularReferenceError struct {
	Chain []netip.Addr
}

func (e *CircularReferenceError) Error() string {
	var b strings.Builder
	b.WriteString("circular reference (RFC 6275 section 9.5.1): ")
	for i, a := range e.Chain {
		if i > 0 {
			b.WriteString(" -> ")
		}
		b.WriteString(a.String())
	}
	if len(e.Chain) > 1 {
		fmt.Fprintf(&b, " (refused: home address %s with care-of address %s)", e.Chain[0], e.Chain[1])
	}
	return b.String()
}

// circularChain returns the loop that binding hoa to coa would close, for
// the message only (the refusal path; circular is the hot check). A walk
// too long to follow returns the two addresses alone.
func (c *BindingCache) circularChain(hoa, coa [16]byte) *CircularReferenceError {
	parent := map[[16]byte][16]byte{coa: hoa}
	queue := [][16]byte{coa}
	for len(queue) > 0 && len(parent) <= maxCircularWalk {
		cur := queue[0]
		queue = queue[1:]
		ni, ok := c.index[cur]
		if !ok {
			continue
		}
		for i := c.nodes[ni].first; i >= 0; i = c.entries[i].next {
			e := &c.entries[i]
			if e.flags&FlagAtHome != 0 {
				continue
			}
			if e.coa == hoa {
				chain := []netip.Addr{netip.AddrFrom16(hoa)}
				for a := cur; ; a = parent[a] {
					chain = append(chain, netip.AddrFrom16(a))
					if a == coa {
						break
					}
				}
				slices.Reverse(chain[1:])
				return &CircularReferenceError{Chain: append(chain, netip.AddrFrom16(hoa))}
			}
			if _, seen := parent[e.coa]; !seen {
				parent[e.coa] = cur
				queue = append(queue, e.coa)
			}
		}
	}
	return &CircularReferenceError{Chain: []netip.Addr{netip.AddrFrom16(hoa), netip.AddrFrom16(coa)}}
}
