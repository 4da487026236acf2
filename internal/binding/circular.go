package binding

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
