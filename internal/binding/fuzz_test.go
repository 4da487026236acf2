package binding

import (
	"net/netip"
	"testing"
	"time"
)

// fuzzAddrs is a small address space so random inputs collide: home
// addresses (also usable as care-of addresses), foreign addresses, and
// invalid care-of addresses.
var fuzzAddrs = []netip.Addr{
	hoa1, hoa2, hoa3, netip.MustParseAddr("2001:db8:1::4"),
	coaA, coaB, coaC, netip.MustParseAddr("2001:db8:2::9"),
	netip.MustParseAddr("fe80::1"), netip.MustParseAddr("ff02::1"), netip.IPv6Loopback(), {},
}

// FuzzProcessBindingUpdate feeds random sequences of Binding Updates and
// clock steps to a cache and checks its invariants after each: no panic,
// consistent indexes and heap, every home address on a home prefix, no
// circular reference (and, with ForbidHoAAsCoA, no care-of address on a
// home prefix), sequence numbers increasing per mobile node.
func FuzzProcessBindingUpdate(f *testing.F) {
	f.Add([]byte{0, 0, 4, 1, 0, 100, 0, 1, 4, 0})
	f.Add([]byte{1, 1, 1, 2, 0, 10, 2, 1, 5, 0, 2, 6, 0, 0, 2, 0, 3, 0, 0, 0, 1, 0})
	f.Add([]byte{2, 0, 2, 5, 0, 1, 0, 1, 1, 0, 1, 0, 3, 5, 0, 1, 0, 1, 1, 2, 0, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		mode := data[0]
		data = data[1:]
		c := newTestCache(func(cfg *Config) {
			cfg.MaxLifetime = 60 * time.Second
			cfg.MaxBindingsPerNode = 4
			cfg.MaxBindings = 10
			cfg.ForbidHoAAsCoA = mode&1 != 0
			cfg.BulkRegistrationDisabled = mode&2 != 0
			cfg.AnswerCircularReference = mode&4 != 0
			cfg.RefreshAdviceFraction = 0.5
		})
		now := t0
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		for len(data) > 0 {
			op := next()
			if op%8 == 7 {
				now = now.Add(time.Duration(next()) * time.Second)
				for _, ch := range c.Expire(now) {
					if ch.Kind != BindingRemoved && ch.Kind != PrimaryChanged {
						t.Fatalf("expiry produced %v", ch.Kind)
					}
				}
				checkInvariants(t, c)
				continue
			}
			r := &BindingUpdateRequest{
				HoA:      fuzzAddrs[int(next())%4],
				Source:   fuzzAddrs[int(next())%len(fuzzAddrs)],
				Sequence: uint16(next()) | uint16(next())<<8,
				Lifetime: uint16(next() % 32),
				Ack:      op&8 != 0, Home: op&16 != 0 || op&32 != 0, LinkLocal: op&64 != 0,
				Auth: Auth{Result: AuthIPsec},
			}
			if op&128 != 0 {
				r.HoA = fuzzAddrs[7]
			}
			nb := int(op % 8 % 4)
			for i := 0; i < nb; i++ {
				f := next()
				o := BIDOption{BID: uint16(f % 5), Priority: f >> 5, SimultaneousHomeForeign: f&8 != 0}
				if a := next(); a < 200 {
					o.CoA = fuzzAddrs[int(a)%len(fuzzAddrs)]
				}
				r.BIDs = append(r.BIDs, o)
			}
			prevSeq, existed := c.LastSequence(r.HoA)
			before := c.Len()
			d := c.ProcessBindingUpdate(now, r)
			checkInvariants(t, c)
			accepted := !d.Discard && d.Status.Accepted()
			if !accepted && (len(d.Changes) != 0 || c.Len() != before) {
				t.Fatalf("rejected BU (%v) changed the cache", d.Status)
			}
			if accepted && existed && !SeqGreater(r.Sequence, prevSeq) {
				t.Fatalf("accepted seq %d after %d", r.Sequence, prevSeq)
			}
			if seq, ok := c.LastSequence(r.HoA); ok && accepted && seq != r.Sequence {
				t.Fatalf("last sequence %d, accepted %d", seq, r.Sequence)
			}
			if d.Status == stSequenceOutOfWindow && d.Sequence != prevSeq {
				t.Fatalf("135 carries %d, last accepted %d", d.Sequence, prevSeq)
			}
			if accepted && d.Lifetime > 15 {
				t.Fatalf("granted %d units over the 60 s maximum", d.Lifetime)
			}
			if c.cfg.ForbidHoAAsCoA {
				c.All(func(b Binding) bool {
					if b.Flags&FlagAtHome == 0 && hp.Contains(b.CoA) {
						t.Fatalf("care-of address %v on the home prefix", b.CoA)
					}
					return true
				})
			}
		}
	})
}
