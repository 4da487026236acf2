package binding

import (
	"net/netip"
	"testing"
	"time"
)

var (
	t0     = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	hp     = netip.MustParsePrefix("2001:db8:1::/64")
	hoa1   = netip.MustParseAddr("2001:db8:1::1")
	hoa2   = netip.MustParseAddr("2001:db8:1::2")
	hoa3   = netip.MustParseAddr("2001:db8:1::3")
	coaA   = netip.MustParseAddr("2001:db8:a::1")
	coaB   = netip.MustParseAddr("2001:db8:b::1")
	coaC   = netip.MustParseAddr("2001:db8:c::1")
	haAddr = netip.MustParseAddr("2001:db8:1::ffff")
)

func testConfig() Config {
	return Config{HomePrefixes: []HomePrefix{{Prefix: hp}}}
}

func newTestCache(mod func(*Config)) *BindingCache {
	cfg := testConfig()
	if mod != nil {
		mod(&cfg)
	}
	return NewBindingCache(cfg, t0)
}

// bu returns a well-formed home registration BU from coaA for hoa1.
func bu(seq uint16, bids ...BIDOption) *BindingUpdateRequest {
	return &BindingUpdateRequest{
		Source: coaA, HoA: hoa1, Sequence: seq, Ack: true, Home: true,
		Lifetime: 100, BIDs: bids, Auth: Auth{Result: AuthIPsec},
	}
}

func bid(id uint16, coa netip.Addr) BIDOption { return BIDOption{BID: id, CoA: coa} }

func mustAccept(t *testing.T, c *BindingCache, now time.Time, r *BindingUpdateRequest) Decision {
	t.Helper()
	d := c.ProcessBindingUpdate(now, r)
	if d.Discard || !d.Status.Accepted() {
		t.Fatalf("BU seq %d: discard=%v status=%v reason=%q", r.Sequence, d.Discard, d.Status, d.Reason)
	}
	checkInvariants(t, c)
	return d
}

// checkInvariants verifies the cache's internal consistency.
func checkInvariants(t testing.TB, c *BindingCache) {
	t.Helper()
	live := 0
	for i := range c.entries {
		e := &c.entries[i]
		if e.node < 0 {
			continue
		}
		live++
		if int(e.heapIdx) >= len(c.heap) || c.heap[e.heapIdx] != int32(i) {
			t.Fatalf("entry %d heap index %d broken", i, e.heapIdx)
		}
	}
	if live != c.live || len(c.heap) != c.live {
		t.Fatalf("live=%d counted=%d heap=%d", c.live, live, len(c.heap))
	}
	for j := range c.heap {
		if j > 0 && c.entries[c.heap[(j-1)/2]].expiry > c.entries[c.heap[j]].expiry {
			t.Fatalf("heap order broken at %d", j)
		}
	}
	sum := 0
	for key, ni := range c.index {
		n := &c.nodes[ni]
		if n.hoa != key || n.flags&nodeLive == 0 {
			t.Fatalf("node %d key mismatch", ni)
		}
		if n.first < 0 {
			t.Fatalf("node %v without bindings kept", netip.AddrFrom16(key))
		}
		hoa := netip.AddrFrom16(key)
		if !hp.Contains(hoa) {
			t.Fatalf("home address %v outside home prefix", hoa)
		}
		cnt := 0
		bids := map[uint16]bool{}
		for i := n.first; i >= 0; i = c.entries[i].next {
			e := &c.entries[i]
			if e.node != ni {
				t.Fatalf("entry %d in list of node %d belongs to %d", i, ni, e.node)
			}
			if bids[e.bid] {
				t.Fatalf("duplicate BID %d for %v", e.bid, hoa)
			}
			bids[e.bid] = true
			coa := coaOf(e.coa)
			if e.flags&FlagAtHome == 0 && (!validCoA(coa) || coa == hoa) {
				t.Fatalf("binding %v -> %v invalid", hoa, coa)
			}
			cnt++
		}
		if cnt != int(n.count) {
			t.Fatalf("node count %d, list %d", n.count, cnt)
		}
		if n.primary != c.best(ni) {
			t.Fatalf("primary of %v is %d, best %d", hoa, n.primary, c.best(ni))
		}
		sum += cnt
		// No circular reference through this home address.
		for i := n.first; i >= 0; i = c.entries[i].next {
			e := &c.entries[i]
			if e.flags&FlagAtHome == 0 && c.circular(n.hoa, e.coa) {
				t.Fatalf("circular reference through %v", hoa)
			}
		}
	}
	if sum != c.live {
		t.Fatalf("sum of node bindings %d != live %d", sum, c.live)
	}
}
