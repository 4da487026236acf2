package binding

import (
	"testing"
	"time"
)

// The mobile node's list and the home agent's cache talking to each other
// through plain value conversion, as the roles will do over the wire.

func toRequest(b *OutgoingBindingUpdate) *BindingUpdateRequest {
	return &BindingUpdateRequest{
		Source: b.Source, HoA: b.HoA, Sequence: b.Sequence, Ack: b.Ack, Home: b.Home,
		LinkLocal: b.LinkLocal, KeyMgmt: b.KeyMgmt, MobileRouter: b.MobileRouter,
		Lifetime: b.Lifetime, BIDs: b.BIDs, Timestamp: b.Timestamp, HasTimestamp: b.HasTimestamp,
		Auth: Auth{Result: AuthIPsec},
	}
}

func toAck(b *OutgoingBindingUpdate, d *Decision) *BindingAck {
	return &BindingAck{HA: b.HA, HoA: b.HoA, Status: d.Status, Sequence: d.Sequence, Lifetime: d.Lifetime,
		RefreshInterval: d.RefreshInterval, KeyMgmt: d.KeyMgmt, BIDs: d.BIDs,
		Timestamp: d.Timestamp, HasTimestamp: d.HasTimestamp}
}

type lab struct {
	t       *testing.T
	mn      *BindingUpdateList
	ha      *BindingCache
	mnLog   []Action
	haLog   []Change
	dropBUs bool
}

// step delivers everything due at now in both directions.
func (x *lab) step(now time.Time) {
	x.haLog = append(x.haLog, x.ha.Expire(now)...)
	pending := x.mn.Next(now)
	for len(pending) > 0 {
		a := pending[0]
		pending = pending[1:]
		x.mnLog = append(x.mnLog, a)
		if a.Kind != SendBindingUpdate || x.dropBUs {
			continue
		}
		d := x.ha.ProcessBindingUpdate(now, toRequest(a.BU))
		checkInvariants(x.t, x.ha)
		x.haLog = append(x.haLog, d.Changes...)
		if d.SendAck {
			pending = append(pending, x.mn.HandleBA(now, toAck(a.BU, &d))...)
		}
	}
}

func (x *lab) run(from, to time.Time) {
	now := from
	for {
		x.step(now)
		next := to
		if d, ok := x.mn.Deadline(); ok && d.Before(next) {
			next = d
		}
		if d, ok := x.ha.NextExpiry(); ok && d.Before(next) {
			next = d
		}
		if !next.After(now) {
			if now.Equal(to) {
				return
			}
			next = now.Add(time.Millisecond)
		}
		if next.After(to) {
			return
		}
		now = next
		if now.Equal(to) {
			x.step(now)
			return
		}
	}
}

func TestMobileNodeAndHomeAgent(t *testing.T) {
	x := &lab{t: t,
		mn: NewBindingUpdateList(BULConfig{Lifetime: 60 * time.Second, InitialSequence: 65530}),
		ha: newTestCache(func(c *Config) { c.MaxLifetime = 40 * time.Second }),
	}
	x.mn.SetCareOfAddress(t0, CareOfBinding{HA: haAddr, HoA: hoa1, BID: 1, CoA: coaA, Priority: 10})
	x.mn.SetCareOfAddress(t0, CareOfBinding{HA: haAddr, HoA: hoa1, BID: 2, CoA: coaB, Priority: 5})
	x.mn.SetCareOfAddress(t0, CareOfBinding{HA: haAddr, HoA: hoa1, BID: 3, CoA: coaC, Priority: 20})
	// Ten minutes of refreshes across the sequence number wrap.
	x.run(t0, t0.Add(10*time.Minute))
	if x.ha.Len() != 3 {
		t.Fatalf("HA has %d bindings", x.ha.Len())
	}
	if b, _ := x.ha.Best(hoa1); b.BID != 2 {
		t.Fatalf("best %+v", b)
	}
	if seq, _ := x.ha.LastSequence(hoa1); seq > 100 {
		t.Fatalf("sequence did not wrap: %d", seq)
	}
	for _, e := range x.mn.Entries() {
		if e.State != StateRegistered {
			t.Fatalf("entry %+v", e)
		}
	}
	// Interface of BID 2 goes down: deregistered, HA fails over to BID 1.
	x.haLog = nil
	now := t0.Add(10 * time.Minute)
	x.mn.RemoveCareOfAddress(now, haAddr, hoa1, 2)
	x.run(now, now.Add(time.Second))
	if x.ha.Len() != 2 {
		t.Fatalf("after removal HA has %d", x.ha.Len())
	}
	last := x.haLog[len(x.haLog)-1]
	if last.Kind != PrimaryChanged || last.Binding.BID != 1 || last.Binding.CoA != coaA {
		t.Fatalf("failover %+v", x.haLog)
	}
	// The MN goes silent: the HA's bindings expire within the granted 40 s.
	x.dropBUs = true
	now = now.Add(time.Second)
	x.run(now, now.Add(41*time.Second))
	if x.ha.Len() != 0 {
		t.Fatalf("bindings did not expire: %d", x.ha.Len())
	}
	last = x.haLog[len(x.haLog)-1]
	if last.Kind != PrimaryChanged || last.Binding.CoA.IsValid() {
		t.Fatalf("final change %+v", last)
	}
}

// A home agent refusing MCoA (166) gets one plain registration of the
// preferred care-of address; removing it fails over to the standby one.
func TestMobileNodeAndHomeAgentWithoutMCoA(t *testing.T) {
	x := &lab{t: t,
		mn: NewBindingUpdateList(BULConfig{Lifetime: 60 * time.Second}),
		ha: newTestCache(func(c *Config) { c.MCoADisabled = true }),
	}
	x.mn.SetCareOfAddress(t0, CareOfBinding{HA: haAddr, HoA: hoa1, BID: 1, CoA: coaA, Priority: 10})
	x.mn.SetCareOfAddress(t0, CareOfBinding{HA: haAddr, HoA: hoa1, BID: 2, CoA: coaB, Priority: 5})
	x.run(t0, t0.Add(5*time.Minute))
	bs := x.ha.Lookup(hoa1)
	if len(bs) != 1 || bs[0].CoA != coaB || bs[0].BID != 0 {
		t.Fatalf("HA bindings %+v", bs)
	}
	now := t0.Add(5 * time.Minute)
	x.mn.RemoveCareOfAddress(now, haAddr, hoa1, 2)
	x.run(now, now.Add(time.Second))
	if bs = x.ha.Lookup(hoa1); len(bs) != 1 || bs[0].CoA != coaA {
		t.Fatalf("after failover %+v", bs)
	}
}
