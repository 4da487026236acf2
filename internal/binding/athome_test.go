package binding

import (
	"testing"
	"time"
)

// RFC 5648 section 5.6.3 between the mobile node's list and the home
// agent's cache: BID 1 comes home while BID 2 stays away. The update for
// BID 1 alone leaves from the home address with the home address as care-of
// address and the H flag; the home agent answers MCOA RETURNHOME WO/NDP,
// keeps BID 2, stops defending the home address, and defends it again when
// BID 1 leaves the home link.
func TestAtHomeOnOneInterfaceSignalling(t *testing.T) {
	x := &lab{t: t, mn: NewBindingUpdateList(BULConfig{Lifetime: 60 * time.Second}), ha: newTestCache(nil)}
	x.mn.SetCareOfAddress(t0, CareOfBinding{HA: haAddr, HoA: hoa1, BID: 1, CoA: coaA, Priority: 10})
	x.mn.SetCareOfAddress(t0, CareOfBinding{HA: haAddr, HoA: hoa1, BID: 2, CoA: coaB, Priority: 20})
	x.run(t0, t0.Add(time.Second))
	if !x.ha.DefendHomeAddress(hoa1) {
		t.Fatal("away: the home agent must defend the home address (RFC 6275 section 10.4.1)")
	}

	now := t0.Add(2 * time.Second)
	x.mnLog = nil
	x.mn.SetCareOfAddress(now, CareOfBinding{HA: haAddr, HoA: hoa1, BID: 1, CoA: hoa1, Priority: 10})
	x.run(now, now.Add(time.Second))
	var bu *OutgoingBindingUpdate
	var reg *Action
	for i, a := range x.mnLog {
		switch a.Kind {
		case SendBindingUpdate:
			if bu == nil {
				bu = a.BU
			}
		case BindingRegistered:
			reg = &x.mnLog[i]
		}
	}
	if bu == nil || bu.Source != hoa1 || len(bu.BIDs) != 1 || bu.BIDs[0].BID != 1 || bu.BIDs[0].CoA != hoa1 || !bu.BIDs[0].SimultaneousHomeForeign {
		t.Fatalf("at home: Binding Update %+v, want from the home address, BID 1 with the home address and the H flag", bu)
	}
	if reg == nil || reg.Status != stMCoAReturnHomeWithoutNDP || reg.Binding.CoA != hoa1 {
		t.Fatalf("at home: registration %+v, want BID 1 registered with MCOA RETURNHOME WO/NDP", reg)
	}
	if x.ha.DefendHomeAddress(hoa1) {
		t.Fatal("at home: the home agent must no longer defend the home address")
	}
	bs := x.ha.AppendLookup(nil, hoa1)
	if len(bs) != 2 || bs[0].CoA == bs[1].CoA {
		t.Fatalf("at home: bindings %+v, want BID 1 at home and BID 2 away", bs)
	}
	for _, b := range bs {
		if (b.BID == 1) != (b.Flags&FlagAtHome != 0) || b.BID == 2 && b.CoA != coaB {
			t.Fatalf("at home: binding %+v", b)
		}
	}

	now = now.Add(2 * time.Second)
	x.mn.SetCareOfAddress(now, CareOfBinding{HA: haAddr, HoA: hoa1, BID: 1, CoA: coaC, Priority: 10})
	x.run(now, now.Add(time.Second))
	if !x.ha.DefendHomeAddress(hoa1) {
		t.Fatal("away again: the home agent must defend the home address again")
	}
	for _, b := range x.ha.AppendLookup(nil, hoa1) {
		if b.Flags&FlagAtHome != 0 || b.BID == 1 && b.CoA != coaC {
			t.Fatalf("away again: binding %+v", b)
		}
	}
}
