package transport

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"
	"time"

	"monami/wire"
)

// TestNativeSendBatch sends three Binding Acknowledgements with a type 2
// routing header in one SendBatch, the middle one invalid: the other two
// arrive, in order, and only the middle one has an error.
func TestNativeSendBatch(t *testing.T) {
	id := make([]byte, 2)
	rand.Read(id)
	p := newPairTagged(t, "hs"+hex.EncodeToString(id))
	mn, ha := openNative(t, p.mn), openNative(t, p.ha)
	ss := make([]Signal, 3)
	for i := range ss {
		ss[i] = Signal{Src: p.ha6, Dst: p.coa, Ext: ExtRH2, HomeAddress: p.hoa}
		ss[i].MH = mustMarshal(t, wire.BindingAcknowledgement{Sequence: uint16(100 + i), Lifetime: 60}, ss[i])
	}
	ss[1].HomeAddress = netip.Addr{} // RH2 without a home address
	errs := make([]error, len(ss))
	ha.SendBatch(ctxT(t, time.Second), ss, errs)
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], ErrInvalidSignal) {
		t.Fatalf("SendBatch errors %v, want nil, ErrInvalidSignal, nil", errs)
	}
	for _, want := range []uint16{100, 102} {
		got := recvSignal(t, mn)
		if got.Ext != ExtRH2 || got.HomeAddress != p.hoa || got.Src != p.ha6 {
			t.Fatalf("MN received %+v", got)
		}
		if m, ok := parseSignal(t, got).(wire.BindingAcknowledgement); !ok || m.Sequence != want {
			t.Fatalf("MN parsed %#v, want sequence %d", m, want)
		}
	}
	if s := ha.Stats(); s.Sent != 2 {
		t.Fatalf("Sent %d, want 2", s.Sent)
	}
}
