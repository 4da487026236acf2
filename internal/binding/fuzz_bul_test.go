package binding

import (
	"testing"
	"time"

	"monami/wire"
)

// FuzzBindingUpdateList drives the mobile node's list with random link
// events, Binding Acknowledgements (random status, sequence, lifetime,
// per-BID statuses) and clock steps. Invariants: no panic; after Next(now)
// nothing is due at or before now (no busy loop for the event loop);
// Binding Updates of one home address carry increasing sequence numbers;
// every BU is well formed.
func FuzzBindingUpdateList(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 1, 3, 0, 0, 4, 0, 0, 5, 200})
	f.Add([]byte{0, 1, 0, 1, 1, 2, 3, 4, 135, 0, 5, 40, 2, 1, 5, 255, 5, 255})
	f.Add([]byte{0, 1, 0, 0, 2, 1, 3, 0, 168, 3, 0, 166, 5, 100, 1, 1, 5, 60})
	coas := []CareOfBinding{cob(1, coaA), cob(2, coaB), cob(3, coaC), cob(1, coaB), cob(4, hoa1)}
	statuses := []Status{0, 4, 5, 129, 133, 135, 145, 164, 166, 168, 174}
	f.Fuzz(func(t *testing.T, data []byte) {
		l := NewBindingUpdateList(BULConfig{Lifetime: 40 * time.Second, Timestamps: len(data)%2 == 0, KeepRetransmitting: len(data)%3 == 0,
			RetryAfterFailure: 30 * time.Second})
		now := t0
		var lastSeq uint16
		haveSeq := false
		var last *OutgoingBindingUpdate
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		check := func(as []Action) {
			for _, a := range as {
				if testing.Verbose() {
					t.Logf("%v action %v %+v bu=%+v", now.Sub(t0), a.Kind, a.Binding, a.BU)
				}
				if a.Kind != SendBindingUpdate {
					continue
				}
				b := a.BU
				if haveSeq && !SeqGreater(b.Sequence, lastSeq) {
					t.Fatalf("sequence %d after %d", b.Sequence, lastSeq)
				}
				lastSeq, haveSeq, last = b.Sequence, true, b
				if !b.Ack || !b.Home || !b.Source.IsValid() {
					t.Fatalf("malformed BU %+v", b)
				}
				seen := map[uint16]bool{}
				for _, o := range b.BIDs {
					if seen[o.BID] || o.BID == 0 {
						t.Fatalf("BIDs %+v", b.BIDs)
					}
					seen[o.BID] = true
					if b.Lifetime == 0 && o.CoA.IsValid() {
						t.Fatalf("deregistration with CoA %+v", b.BIDs)
					}
				}
			}
		}
		for len(data) > 0 {
			switch next() % 6 {
			case 0:
				b := coas[int(next())%len(coas)]
				if testing.Verbose() {
					t.Logf("%v set %+v", now.Sub(t0), b)
				}
				l.SetCareOfAddress(now, b)
			case 1:
				bid := uint16(next() % 5)
				if testing.Verbose() {
					t.Logf("%v remove %d", now.Sub(t0), bid)
				}
				l.RemoveCareOfAddress(now, haAddr, hoa1, bid)
			case 2, 3:
				if last == nil {
					continue
				}
				ba := &BindingAck{HA: haAddr, HoA: hoa1, Sequence: last.Sequence, Lifetime: uint16(next() % 20),
					Status: statuses[int(next())%len(statuses)]}
				if k := next(); k&1 != 0 {
					ba.Sequence += uint16(k >> 1)
				}
				for _, o := range last.BIDs {
					s := next()
					if s < 128 {
						ba.BIDs = append(ba.BIDs, BIDStatus{BID: o.BID, Status: statuses[int(s)%len(statuses)]})
					}
				}
				if ba.Status == stMIPv6MesgIDRequired {
					ba.Timestamp, ba.HasTimestamp = wire.NTPTimestamp(now.Add(time.Duration(next())*time.Second)), true
				}
				if testing.Verbose() {
					t.Logf("%v BA %+v", now.Sub(t0), ba)
				}
				check(l.HandleBA(now, ba))
			case 4:
				check(l.Next(now))
				if testing.Verbose() {
					for _, e := range l.Entries() {
						t.Logf("  entry %+v", e)
					}
				}
				if d, ok := l.Deadline(); ok && !d.After(now) {
					t.Fatalf("deadline %v not after now %v right after Next", d.Sub(t0), now.Sub(t0))
				}
			case 5:
				now = now.Add(time.Duration(next()) * 250 * time.Millisecond)
			}
		}
		// Drain: the list must settle without spinning.
		for i := 0; i < 200; i++ {
			d, ok := l.Deadline()
			if !ok {
				break
			}
			if d.After(now) {
				now = d
			}
			check(l.Next(now))
		}
	})
}
