package binding

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func TestBackoffSchedule(t *testing.T) {
	s := time.Second
	if got, want := BackoffSchedule(false), []time.Duration{1 * s, 2 * s, 4 * s, 8 * s, 16 * s, 32 * s}; !reflect.DeepEqual(got, want) {
		t.Errorf("schedule %v want %v", got, want)
	}
	ms := time.Millisecond
	if got, want := BackoffSchedule(true), []time.Duration{1500 * ms, 3 * s, 6 * s, 12 * s, 24 * s, 32 * s}; !reflect.DeepEqual(got, want) {
		t.Errorf("first-registration schedule %v want %v", got, want)
	}
}

// runUntil drives l's timer from now until end, returning every action
// with the time it was produced.
type timedAction struct {
	at time.Time
	a  Action
}

func runUntil(l *BindingUpdateList, now, end time.Time) []timedAction {
	var out []timedAction
	for i := 0; i < 10000; i++ {
		for _, a := range l.Next(now) {
			out = append(out, timedAction{now, a})
		}
		d, ok := l.Deadline()
		if !ok || d.After(end) {
			return out
		}
		if d.After(now) {
			now = d
		}
	}
	panic("runUntil: no progress")
}

// ack is an MCoA home agent's BA for b: every BID echoed with status 0.
func ack(b *OutgoingBindingUpdate, lifetime uint16) *BindingAck {
	a := &BindingAck{HA: b.HA, HoA: b.HoA, Sequence: b.Sequence, Lifetime: lifetime}
	for _, o := range b.BIDs {
		a.BIDs = append(a.BIDs, BIDStatus{BID: o.BID})
	}
	return a
}

func cob(bid uint16, coa netip.Addr) CareOfBinding {
	return CareOfBinding{HA: haAddr, HoA: hoa1, BID: bid, CoA: coa}
}

func TestBULRetransmissionSchedule(t *testing.T) {
	for _, first := range []bool{true, false} {
		l := NewBindingUpdateList(BULConfig{})
		start := t0
		if !first {
			// Register once so the next transaction is not the first.
			l.SetCareOfAddress(t0, cob(1, coaA))
			a := l.Next(t0)
			l.HandleBA(t0, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: a[0].BU.Sequence, Lifetime: 1000})
			start = t0.Add(time.Minute)
			l.SetCareOfAddress(start, cob(1, coaB))
		} else {
			l.SetCareOfAddress(start, cob(1, coaA))
		}
		acts := runUntil(l, start, start.Add(10*time.Minute))
		var sends []time.Duration
		var seqs []uint16
		var failedAt time.Duration = -1
		for _, ta := range acts {
			switch ta.a.Kind {
			case SendBindingUpdate:
				sends = append(sends, ta.at.Sub(start))
				seqs = append(seqs, ta.a.BU.Sequence)
			case BindingFailed:
				failedAt = ta.at.Sub(start)
			}
		}
		ms := time.Millisecond
		want := []time.Duration{0, 1500 * ms, 4500 * ms, 10500 * ms, 22500 * ms, 46500 * ms}
		wantFail := 78500 * ms
		if !first {
			s := time.Second
			want = []time.Duration{0, 1 * s, 3 * s, 7 * s, 15 * s, 31 * s}
			wantFail = 63 * s
		}
		if !reflect.DeepEqual(sends, want) || failedAt != wantFail {
			t.Fatalf("first=%v sends %v fail %v, want %v fail %v", first, sends, failedAt, want, wantFail)
		}
		for i := 1; i < len(seqs); i++ {
			if !SeqGreater(seqs[i], seqs[i-1]) {
				t.Fatalf("retransmission reused sequence: %v", seqs)
			}
		}
		if e := l.Entries()[0]; e.State != StateFailed || e.Reason == "" {
			t.Fatalf("entry %+v", e)
		}
	}
}

func TestBULRegisterRefreshExpire(t *testing.T) {
	l := NewBindingUpdateList(BULConfig{Lifetime: 400 * time.Second})
	l.SetCareOfAddress(t0, cob(1, coaA))
	a := l.Next(t0)
	if len(a) != 1 || a[0].Kind != SendBindingUpdate {
		t.Fatalf("actions %+v", a)
	}
	b := a[0].BU
	if !b.Ack || !b.Home || b.Lifetime != 100 || b.Source != coaA || len(b.BIDs) != 1 || b.BIDs[0].CoA.IsValid() {
		t.Fatalf("BU %+v", b)
	}
	// BA arrives 200 ms later: lifetime counts from the send time.
	now := t0.Add(200 * time.Millisecond)
	a = l.HandleBA(now, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: b.Sequence, Lifetime: 100})
	if len(a) != 1 || a[0].Kind != BindingRegistered || a[0].Lifetime != 400*time.Second {
		t.Fatalf("actions %+v", a)
	}
	if d, _ := l.Deadline(); !d.Equal(t0.Add(320 * time.Second)) {
		t.Fatalf("refresh deadline %v", d.Sub(t0))
	}
	// Refresh at 80%; accepted with a Binding Refresh Advice of 50 units.
	a = l.Next(t0.Add(320 * time.Second))
	if len(a) != 1 || a[0].Kind != SendBindingUpdate || a[0].BU.Sequence != b.Sequence+1 {
		t.Fatalf("refresh %+v", a)
	}
	r := t0.Add(320 * time.Second)
	a = l.HandleBA(r, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: b.Sequence + 1, Lifetime: 100, RefreshInterval: 50})
	if len(a) != 0 {
		t.Fatalf("refresh produced %+v", a)
	}
	if d, _ := l.Deadline(); !d.Equal(r.Add(200 * time.Second)) {
		t.Fatalf("refresh advice deadline %v", d.Sub(r))
	}

	// Short lifetime: refresh at 6.4 s gets no answer, the binding expires
	// at 8 s while retransmitting, and the list says so.
	l = NewBindingUpdateList(BULConfig{Lifetime: 8 * time.Second})
	l.SetCareOfAddress(t0, cob(1, coaA))
	a = l.Next(t0)
	l.HandleBA(t0, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: a[0].BU.Sequence, Lifetime: 2})
	acts := runUntil(l, t0, t0.Add(9*time.Second))
	var kinds []ActionKind
	var at []time.Duration
	for _, ta := range acts {
		kinds = append(kinds, ta.a.Kind)
		at = append(at, ta.at.Sub(t0))
	}
	ms := time.Millisecond
	wantKinds := []ActionKind{SendBindingUpdate, SendBindingUpdate, BindingExpired}
	wantAt := []time.Duration{6400 * ms, 7400 * ms, 8000 * ms}
	if !reflect.DeepEqual(kinds, wantKinds) || !reflect.DeepEqual(at, wantAt) {
		t.Fatalf("got %v at %v", kinds, at)
	}
	if e := l.Entries()[0]; e.State != StateRegistering {
		t.Fatalf("after expiry %v", e.State)
	}
}

func TestBULBulkMixedStatuses(t *testing.T) {
	l := NewBindingUpdateList(BULConfig{})
	l.SetCareOfAddress(t0, cob(3, coaC))
	l.SetCareOfAddress(t0, cob(1, coaA))
	l.SetCareOfAddress(t0, cob(2, coaB))
	a := l.Next(t0)
	if len(a) != 1 {
		t.Fatalf("want one bulk BU, got %d actions", len(a))
	}
	b := a[0].BU
	if len(b.BIDs) != 3 || b.BIDs[0].BID != 1 || b.BIDs[0].CoA != coaA || b.BIDs[2].CoA != coaC {
		t.Fatalf("bulk BU %+v", b.BIDs)
	}
	a = l.HandleBA(t0, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: b.Sequence, Status: stMCoANotComplete, Lifetime: 50,
		BIDs: []BIDStatus{{BID: 1}, {BID: 2, Status: stInvalidCareOfAddress}, {BID: 3}}})
	got := map[uint16]ActionKind{}
	for _, x := range a {
		got[x.Binding.BID] = x.Kind
	}
	if got[1] != BindingRegistered || got[2] != BindingFailed || got[3] != BindingRegistered || len(a) != 3 {
		t.Fatalf("actions %+v", a)
	}
	for _, e := range l.Entries() {
		if e.BID == 2 && (e.State != StateFailed || e.Status != stInvalidCareOfAddress) {
			t.Fatalf("BID 2 %+v", e)
		}
	}
}

func TestBULDeregisterOneBID(t *testing.T) {
	l := NewBindingUpdateList(BULConfig{})
	l.SetCareOfAddress(t0, cob(1, coaA))
	l.SetCareOfAddress(t0, cob(2, coaB))
	a := l.Next(t0)
	l.HandleBA(t0, ack(a[0].BU, 50))
	now := t0.Add(time.Second)
	l.RemoveCareOfAddress(now, haAddr, hoa1, 1)
	a = l.Next(now)
	if len(a) != 1 {
		t.Fatalf("actions %+v", a)
	}
	b := a[0].BU
	if b.Lifetime != 0 || len(b.BIDs) != 1 || b.BIDs[0].BID != 1 || b.BIDs[0].CoA.IsValid() || b.Source != coaB {
		t.Fatalf("dereg BU %+v", b)
	}
	a = l.HandleBA(now, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: b.Sequence})
	if len(a) != 1 || a[0].Kind != BindingDeregistered || !a[0].Confirmed || a[0].Binding.BID != 1 {
		t.Fatalf("actions %+v", a)
	}
	if es := l.Entries(); len(es) != 1 || es[0].BID != 2 || es[0].State != StateRegistered {
		t.Fatalf("entries %+v", es)
	}
}

func TestBULSequenceResync(t *testing.T) {
	l := NewBindingUpdateList(BULConfig{InitialSequence: 7})
	l.SetCareOfAddress(t0, cob(1, coaA))
	a := l.Next(t0)
	a = l.HandleBA(t0, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: 65535, Status: stSequenceOutOfWindow})
	if len(a) != 1 || a[0].Kind != SendBindingUpdate || a[0].BU.Sequence != 0 {
		t.Fatalf("resync %+v", a)
	}
	// A stale BA for the first sequence number is ignored.
	if a := l.HandleBA(t0, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: 7, Lifetime: 5}); len(a) != 0 {
		t.Fatalf("stale BA accepted: %+v", a)
	}
}

func TestBULBulkProhibitedFallsBack(t *testing.T) {
	l := NewBindingUpdateList(BULConfig{})
	l.SetCareOfAddress(t0, cob(1, coaA))
	l.SetCareOfAddress(t0, cob(2, coaB))
	a := l.Next(t0)
	a = l.HandleBA(t0, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: a[0].BU.Sequence, Status: stMCoABulkRegProhibited})
	if len(a) != 1 || len(a[0].BU.BIDs) != 1 || a[0].BU.BIDs[0].BID != 1 {
		t.Fatalf("fallback %+v", a)
	}
	if d, ok := l.Deadline(); !ok || !d.After(t0) {
		t.Fatalf("busy deadline %v %v", d, ok)
	}
	a = l.HandleBA(t0, ack(a[0].BU, 10))
	if len(a) != 2 || a[0].Kind != BindingRegistered || a[1].Kind != SendBindingUpdate || a[1].BU.BIDs[0].BID != 2 {
		t.Fatalf("second BID %+v", a)
	}
}

// A plain RFC 6275 home agent ignores the BID options and binds the source
// address; the list notices, keeps the preferred binding and puts the rest
// on standby, and fails over to a standby one when the active one goes.
func TestBULLegacyHomeAgent(t *testing.T) {
	l := NewBindingUpdateList(BULConfig{})
	l.SetCareOfAddress(t0, CareOfBinding{HA: haAddr, HoA: hoa1, BID: 1, CoA: coaA, Priority: 5})
	l.SetCareOfAddress(t0, CareOfBinding{HA: haAddr, HoA: hoa1, BID: 2, CoA: coaB, Priority: 9})
	a := l.Next(t0)
	if a[0].BU.Source != coaA {
		t.Fatalf("source %v", a[0].BU.Source)
	}
	a = l.HandleBA(t0, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: a[0].BU.Sequence, Lifetime: 50})
	if len(a) != 2 || a[0].Kind != BindingRegistered || a[0].Binding.BID != 1 || a[1].Kind != BindingFailed || a[1].Binding.BID != 2 {
		t.Fatalf("legacy detection %+v", a)
	}
	// Refresh goes without BID options.
	now := t0.Add(160 * time.Second)
	a = l.Next(now)
	if len(a) != 1 || a[0].BU.BIDs != nil || a[0].BU.Source != coaA {
		t.Fatalf("legacy refresh %+v", a)
	}
	l.HandleBA(now, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: a[0].BU.Sequence, Lifetime: 50})
	// BID 1's link goes down: BID 2 takes over with a plain BU from coaB,
	// which replaces the binding at the home agent.
	l.RemoveCareOfAddress(now, haAddr, hoa1, 1)
	a = l.Next(now)
	var bu *OutgoingBindingUpdate
	for _, x := range a {
		if x.Kind == SendBindingUpdate {
			bu = x.BU
		}
	}
	if bu == nil || bu.Source != coaB || bu.Lifetime == 0 || bu.BIDs != nil {
		t.Fatalf("failover %+v", a)
	}
	a = l.HandleBA(now, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: bu.Sequence, Lifetime: 50})
	if len(a) != 1 || a[0].Kind != BindingRegistered || a[0].Binding.BID != 2 {
		t.Fatalf("after failover %+v", a)
	}
	// The last one goes: a plain deregistration.
	l.RemoveCareOfAddress(now, haAddr, hoa1, 2)
	a = l.Next(now)
	if len(a) != 1 || a[0].BU.Lifetime != 0 || a[0].BU.BIDs != nil {
		t.Fatalf("legacy dereg %+v", a)
	}
	a = l.HandleBA(now, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: a[0].BU.Sequence})
	if len(a) != 1 || a[0].Kind != BindingDeregistered || len(l.Entries()) != 0 {
		t.Fatalf("legacy dereg answer %+v", a)
	}
}

func TestBULLifetimeLimitedByCareOfAddress(t *testing.T) {
	l := NewBindingUpdateList(BULConfig{Lifetime: time.Hour})
	b := cob(1, coaA)
	b.ValidUntil = t0.Add(100 * time.Second)
	l.SetCareOfAddress(t0, b)
	a := l.Next(t0)
	if a[0].BU.Lifetime != 25 {
		t.Fatalf("lifetime %d units, want 25 (100 s)", a[0].BU.Lifetime)
	}
}

func TestBULKeepRetransmitting(t *testing.T) {
	l := NewBindingUpdateList(BULConfig{KeepRetransmitting: true})
	l.SetCareOfAddress(t0, cob(1, coaA))
	acts := runUntil(l, t0, t0.Add(200*time.Second))
	var sends []time.Duration
	failed := 0
	var last *OutgoingBindingUpdate
	for _, ta := range acts {
		switch ta.a.Kind {
		case SendBindingUpdate:
			sends = append(sends, ta.at.Sub(t0))
			last = ta.a.BU
		case BindingFailed:
			failed++
		}
	}
	ms := time.Millisecond
	want := []time.Duration{0, 1500 * ms, 4500 * ms, 10500 * ms, 22500 * ms, 46500 * ms, 78500 * ms, 110500 * ms, 142500 * ms, 174500 * ms}
	if !reflect.DeepEqual(sends, want) || failed != 1 {
		t.Fatalf("sends %v failed %d", sends, failed)
	}
	a := l.HandleBA(t0.Add(175*time.Second), ack(last, 100))
	if len(a) != 1 || a[0].Kind != BindingRegistered {
		t.Fatalf("late answer %+v", a)
	}
}

// Flapping (issue 14): a registration is outstanding on a link that goes
// down before its acknowledgement arrives. The home agent may well have
// accepted it and now sends down the dead link, so the deregistration must
// go out at once through the other care-of address, not wait for the
// retransmission timer. Nothing is sent twice at the same instant.
func TestBULStateChangeWhileOutstandingGoesAtOnce(t *testing.T) {
	l := NewBindingUpdateList(BULConfig{})
	l.SetCareOfAddress(t0, cob(1, coaA))
	l.SetCareOfAddress(t0, cob(2, coaB))
	l.HandleBA(t0, ack(l.Next(t0)[0].BU, 50))
	now := t0.Add(time.Second)
	l.RemoveCareOfAddress(now, haAddr, hoa1, 1) // link A down
	l.HandleBA(now, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: l.Next(now)[0].BU.Sequence})

	now = now.Add(200 * time.Millisecond)
	l.SetCareOfAddress(now, cob(1, coaA)) // link A up: registration sent from A
	reg := l.Next(now)
	if len(reg) != 1 || reg[0].BU.Lifetime == 0 || reg[0].BU.Source != coaA {
		t.Fatalf("registration %+v", reg)
	}
	now = now.Add(5 * time.Millisecond)
	l.RemoveCareOfAddress(now, haAddr, hoa1, 1) // link A down again, the BA lost with it
	if d, ok := l.Deadline(); !ok || d.After(now) {
		t.Fatalf("deadline %v, want now (%v): the change waits for the retransmission timer", d, now)
	}
	a := l.Next(now)
	if len(a) != 1 || a[0].Kind != SendBindingUpdate {
		t.Fatalf("actions at the change %+v, want the deregistration at once", a)
	}
	b := a[0].BU
	if b.Lifetime != 0 || len(b.BIDs) != 1 || b.BIDs[0].BID != 1 || b.Source != coaB || b.Sequence == reg[0].BU.Sequence {
		t.Fatalf("deregistration %+v", b)
	}
	if again := l.Next(now); len(again) != 0 {
		t.Fatalf("sent again at the same instant: %+v", again)
	}
	if d, _ := l.Deadline(); !d.After(now) {
		t.Fatalf("deadline %v not after now: would spin", d)
	}
	a = l.HandleBA(now, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: b.Sequence})
	if len(a) != 1 || a[0].Kind != BindingDeregistered || a[0].Binding.BID != 1 {
		t.Fatalf("actions %+v", a)
	}
}

// The same with a bulk registration outstanding: the part still wanted is
// sent again at once from the live care-of address, and the deregistration
// follows its acknowledgement.
func TestBULStateChangeWhileBulkOutstanding(t *testing.T) {
	l := NewBindingUpdateList(BULConfig{})
	l.SetCareOfAddress(t0, cob(1, coaA))
	l.SetCareOfAddress(t0, cob(2, coaB))
	reg := l.Next(t0)
	now := t0.Add(5 * time.Millisecond)
	l.RemoveCareOfAddress(now, haAddr, hoa1, 1)
	a := l.Next(now)
	if len(a) != 1 || a[0].BU.Lifetime == 0 || len(a[0].BU.BIDs) != 1 || a[0].BU.BIDs[0].BID != 2 || a[0].BU.Source != coaB {
		t.Fatalf("actions at the change %+v (first BU %+v)", a, reg[0].BU)
	}
	if again := l.Next(now); len(again) != 0 {
		t.Fatalf("sent again at the same instant: %+v", again)
	}
	var sends []Action
	for _, x := range append(l.HandleBA(now, ack(a[0].BU, 50)), l.Next(now)...) {
		if x.Kind == SendBindingUpdate {
			sends = append(sends, x)
		}
	}
	if a = sends; len(a) != 1 || a[0].BU.Lifetime != 0 || a[0].BU.BIDs[0].BID != 1 {
		t.Fatalf("deregistration after the ack: %+v", a)
	}
}

// RFC 6275 section 11.7.4: a Binding Refresh Request makes the mobile node
// refresh at once, long before its own refresh time.
func TestBindingRefreshRequest(t *testing.T) {
	l := NewBindingUpdateList(BULConfig{Lifetime: 600 * time.Second})
	l.SetCareOfAddress(t0, CareOfBinding{HA: haAddr, HoA: hoa1, BID: 1, CoA: coaA})
	acts := l.Next(t0)
	if len(acts) != 1 || acts[0].Kind != SendBindingUpdate {
		t.Fatalf("first registration: %+v", acts)
	}
	l.HandleBA(t0, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: acts[0].BU.Sequence, Lifetime: 150})
	later := t0.Add(10 * time.Second)
	if acts := l.Next(later); len(acts) != 0 {
		t.Fatalf("nothing due 10 s in: %+v", acts)
	}
	if l.RefreshRequested(later, haAddr, hoa2) {
		t.Fatal("a request for a home address not registered there refreshes nothing")
	}
	if !l.RefreshRequested(later, haAddr, hoa1) {
		t.Fatal("refresh request ignored")
	}
	acts = l.Next(later)
	if len(acts) != 1 || acts[0].Kind != SendBindingUpdate || acts[0].BU.Lifetime == 0 || acts[0].BU.HoA != hoa1 {
		t.Fatalf("refresh after the request: %+v", acts[0].BU)
	}
}

// Resignal sends a new Binding Update at once for a registered binding,
// and replaces an outstanding one (its flow options are stale).
func TestResignal(t *testing.T) {
	l := NewBindingUpdateList(BULConfig{Lifetime: 600 * time.Second})
	if l.Resignal(t0, haAddr, hoa1) {
		t.Fatal("resignal with nothing registered")
	}
	l.SetCareOfAddress(t0, CareOfBinding{HA: haAddr, HoA: hoa1, BID: 1, CoA: coaA})
	acts := l.Next(t0)
	// Outstanding: a resignal replaces it with a new sequence number.
	later := t0.Add(10 * time.Millisecond)
	if !l.Resignal(later, haAddr, hoa1) {
		t.Fatal("registering binding not resignalled")
	}
	again := l.Next(later)
	if len(again) != 1 || again[0].Kind != SendBindingUpdate || again[0].BU.Sequence == acts[0].BU.Sequence {
		t.Fatalf("resignal of an outstanding BU: %+v", again)
	}
	l.HandleBA(later, &BindingAck{HA: haAddr, HoA: hoa1, Sequence: again[0].BU.Sequence, Lifetime: 150})
	later = later.Add(time.Second)
	if acts := l.Next(later); len(acts) != 0 {
		t.Fatalf("nothing due: %+v", acts)
	}
	if !l.Resignal(later, haAddr, hoa1) {
		t.Fatal("registered binding not resignalled")
	}
	if acts := l.Next(later); len(acts) != 1 || acts[0].Kind != SendBindingUpdate || acts[0].BU.Lifetime == 0 {
		t.Fatalf("resignal: %+v", acts)
	}
}

// RFC 5555 sections 4.1, 4.3: a bulk registration that carries an IPv4
// care-of address is sent from it, even when a preferred IPv6 one is in
// it: the home agent learns the NAT mapping it tunnels to only from an
// update that crossed the NAT. The IPv6 binding rides along in its BID
// option.
func TestBULIPv4CareOfAddressSends(t *testing.T) {
	coa4 := netip.MustParseAddr("10.0.0.10")
	l := NewBindingUpdateList(BULConfig{Lifetime: 400 * time.Second})
	a6 := cob(1, coaA)
	a6.Priority = 1
	a4 := cob(2, coa4)
	a4.Priority = 20
	l.SetCareOfAddress(t0, a6)
	l.SetCareOfAddress(t0, a4)
	a := l.Next(t0)
	if len(a) != 1 || a[0].Kind != SendBindingUpdate {
		t.Fatalf("actions %+v", a)
	}
	b := a[0].BU
	if b.Source != coa4 || len(b.BIDs) != 2 {
		t.Fatalf("BU from %v with %+v, want from %v carrying both BIDs", b.Source, b.BIDs, coa4)
	}
	for _, o := range b.BIDs {
		if (o.BID == 1 && o.CoA != coaA) || (o.BID == 2 && o.CoA != coa4) {
			t.Errorf("BID option %+v", o)
		}
	}
}
