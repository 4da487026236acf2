package ha

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"monami/internal/config"
	"monami/internal/store"
	"monami/internal/transport"
	"monami/wire"
)

// The refresh fast path (binding.FlowTable.Repeat) through the home
// agent's receive path, driven by hand: the same flow options are answered
// from memory with the statuses the full decision gave, a changed option
// is decided again, and an update the store refuses takes back the refresh
// alone without spoiling the remembered answer.
func TestHomeAgentFlowRefreshRepeated(t *testing.T) {
	cfg, err := config.ParseHomeAgent("ha.yaml", []byte(haYAML))
	if err != nil {
		t.Fatal(err)
	}
	st := &failingStore{Memory: store.NewMemory()}
	tp := newMemTransport()
	h, err := New(cfg, Options{Transports: []transport.Transport{tp}, DataPlane: newRecordingDP(), NoControlSocket: true, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.close)
	flows := func(prio1 uint16) []wire.Option {
		return []wire.Option{fid(1, prio1, []uint16{2}, voiceTS), fid(2, 20, []uint16{1, 2}, bulkTS),
			fid(3, 30, []uint16{9}, bulkTS)} // BID 9 has no binding: 131 every time
	}
	start := time.Now()
	var seq uint16
	send := func(opts []wire.Option) (*decided, wire.BindingAcknowledgement) {
		t.Helper()
		seq++
		mh, err := wire.NewAuthenticator(key).AppendMessage(nil, flowBU(seq, 15, opts...), 300, coa1, hoa, hoa, haAddr)
		if err != nil {
			t.Fatal(err)
		}
		r := received{sig: transport.Signal{Via: transport.ViaMH, Src: coa1, Dst: haAddr, Ext: transport.ExtHAO, HomeAddress: hoa, MH: mh},
			tp: tp, at: start.Add(time.Duration(seq) * time.Millisecond)}
		p := h.process(context.Background(), r)
		if p == nil || !p.ack {
			t.Fatalf("update %d: no answer", seq)
		}
		h.answer(context.Background(), p)
		<-tp.cond
		tp.mu.Lock()
		s := tp.sent[len(tp.sent)-1]
		tp.mu.Unlock()
		m, err := wire.Parser{ChecksumVerified: true}.Parse(s.MH, haAddr, hoa)
		if err != nil {
			t.Fatal(err)
		}
		return p, m.(wire.BindingAcknowledgement)
	}
	check := func(what string, p *decided, ba wire.BindingAcknowledgement, repeated bool, want string) {
		t.Helper()
		if p.flowsRepeated != repeated || flowStatuses(ba) != want {
			t.Fatalf("%s: repeated %v, flows %q; want %v, %q", what, p.flowsRepeated, flowStatuses(ba), repeated, want)
		}
	}
	refreshedAt := func(fid uint16) time.Time {
		for _, f := range h.flows.Lookup(hoa) {
			if f.FID == fid {
				return f.Refreshed
			}
		}
		t.Fatalf("no FID %d", fid)
		return time.Time{}
	}

	p, ba := send(flows(10))
	check("first", p, ba, false, "1:0 2:0 3:131")
	p, ba = send(flows(10))
	check("refresh decided", p, ba, false, "1:0 2:0 3:131")
	decidedFlows := p.flows
	p, ba = send(flows(10))
	check("refresh repeated", p, ba, true, "1:0 2:0 3:131")
	if !reflect.DeepEqual(p.flows, decidedFlows) {
		t.Fatalf("repeated answer %+v, decided %+v", p.flows, decidedFlows)
	}
	if at := refreshedAt(2); !at.Equal(p.r.at) {
		t.Fatalf("FID 2 refreshed at %v, want %v", at, p.r.at)
	}

	// A changed FID-PRI is not the same bytes: decided, and applied.
	p, ba = send(flows(11))
	check("modified", p, ba, false, "1:0 2:0 3:131")
	if fs := h.flows.Lookup(hoa); len(fs) != 2 || fs[0].FID != 1 || fs[0].Priority != 11 {
		t.Fatalf("after modify: %+v", fs)
	}
	p, ba = send(flows(11))
	check("refresh after modify", p, ba, false, "1:0 2:0 3:131")
	p, ba = send(flows(11))
	check("repeated after modify", p, ba, true, "1:0 2:0 3:131")
	before := p.r.at

	// The store refuses the next repeat: 130, every flow 129, and the flows
	// were last refreshed by the update before.
	st.mu.Lock()
	st.fail = errors.New("disk full")
	st.mu.Unlock()
	p, ba = send(flows(11))
	if ba.Status != wire.StatusInsufficientResources {
		t.Fatalf("store refused: BA %v", ba.Status)
	}
	check("refused", p, ba, true, "1:129 2:129 3:129")
	if at := refreshedAt(2); !at.Equal(before) {
		t.Fatalf("FID 2 refreshed at %v after a refused update, want %v", at, before)
	}
	st.mu.Lock()
	st.fail = nil
	st.mu.Unlock()
	p, ba = send(flows(11))
	check("repeated after a refusal", p, ba, true, "1:0 2:0 3:131")
}
