package config

import (
	"net/netip"
	"strings"
)

// validateNesting checks each care_of.via_home_address: it names another
// home address of this list, and following the references never comes
// back to where it started. RFC 6275 section 9.5.1 has the home agent
// silently discard a Binding Update whose care-of address leads back to
// its home address through the binding cache; a mobile node that knows its
// own configuration refuses such a loop at start instead (the example of
// draft-montavont-mobileip-multihoming-pb-statement section 6.2.2:
// addr1 via addr2, addr2 via addr3, addr3 via addr1).
func validateNesting(homes []HomeAddressEntry, e *errs) {
	index := make(map[netip.Addr]int, len(homes))
	for i, h := range homes {
		if h.addr.IsValid() {
			index[h.addr] = i
		}
	}
	for i, h := range homes {
		via := h.CareOf.via
		if !via.IsValid() {
			continue
		}
		key := fieldf("home_addresses[%d].care_of.via_home_address", i)
		if _, ok := index[via]; !ok {
			e.add("%s: %s is not one of the home_addresses", key, via)
			continue
		}
		if chain := loopFrom(homes, index, i); chain != nil {
			e.add("%s: circular reference %s: home address %s would be its own care-of address through these nested tunnels (RFC 6275 section 9.5.1)",
				key, joinAddrs(chain), h.addr)
		}
	}
}

// loopFrom follows the via references from homes[start] and returns the
// chain start -> ... -> start when they come back to it, nil otherwise
// (a chain that ends at a home address served by interfaces, or that
// enters a loop not through start: that loop is reported at its own
// members).
func loopFrom(homes []HomeAddressEntry, index map[netip.Addr]int, start int) []netip.Addr {
	chain := []netip.Addr{homes[start].addr}
	seen := map[int]bool{start: true}
	for cur := start; ; {
		via := homes[cur].CareOf.via
		next, ok := index[via]
		if !via.IsValid() || !ok {
			return nil
		}
		chain = append(chain, via)
		if next == start {
			return chain
		}
		if seen[next] {
			return nil
		}
		seen[next] = true
		cur = next
	}
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, " -> ")
}
