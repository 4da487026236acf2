package ha

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"monami/internal/transport"
	"monami/wire"
)

// fakeProxy records what the home agent asks proxy ND to defend.
type fakeProxy struct {
	mu       sync.Mutex
	defended map[netip.Addr]bool
	calls    []string
	closed   bool
}

func newFakeProxy() *fakeProxy { return &fakeProxy{defended: map[netip.Addr]bool{}} }

func (f *fakeProxy) Defend(a netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.defended[a] = true
	f.calls = append(f.calls, "defend "+a.String())
	return nil
}

func (f *fakeProxy) Release(a netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.defended, a)
	f.calls = append(f.calls, "release "+a.String())
	return nil
}

func (f *fakeProxy) Close() error { f.mu.Lock(); f.closed = true; f.mu.Unlock(); return nil }

func (f *fakeProxy) state() (bool, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.defended[hoa], slices.Clone(f.calls)
}

// RFC 6275 section 10.4.1 and RFC 5648 section 5.6: the home agent defends
// a home address while it has a foreign binding, stops while one interface
// of the mobile node is at home (H flag), resumes when that interface
// leaves again, and stops at deregistration and at expiry.
func TestProxyNDFollowsBindings(t *testing.T) {
	p := newFakeProxy()
	x := startWith(t, func(o *Options) { o.proxy = p })
	step := func(what string, want bool, wantCalls int) {
		t.Helper()
		got, calls := p.state()
		if got != want || len(calls) != wantCalls {
			t.Fatalf("%s: defended %v (want %v), calls %q (want %d)", what, got, want, calls, wantCalls)
		}
	}
	step("no binding", false, 0)
	x.sendBU(coa1, 15, key, bid{1, coa1, 10}, bid{2, coa2, 20})
	step("two foreign bindings", true, 1)
	x.sendBU(coa2, 15, key, bid{1, coa1, 10})
	step("a refresh", true, 1)

	// BID 1's interface comes home: MCOA RETURNHOME WO/NDP, the mobile node
	// answers ND itself, BID 2 stays registered.
	x.seq++
	bu := wire.BindingUpdate{Sequence: x.seq, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: 15, Options: []wire.Option{
		wire.BindingIdentifier{BindingID: 1, CareOfAddress: hoa, SimultaneousHomeAndForeign: true},
		wire.NAI("mn1@example.org"), wire.MobilityMessageReplayProtection{Timestamp: wire.NTPTimestamp(time.Now())}}}
	mh, err := wire.NewAuthenticator(key).AppendMessage(nil, bu, 300, coa2, hoa, hoa, haAddr)
	if err != nil {
		t.Fatal(err)
	}
	ba := parseBA(t, x.exchange(transport.Signal{Via: transport.ViaMH, Src: coa2, Dst: haAddr, Ext: transport.ExtHAO, HomeAddress: hoa, MH: mh}))
	if ba.Status != wire.StatusMCoAReturnHomeWithoutNDP {
		t.Fatalf("at home with H flag: status %v", ba.Status)
	}
	step("one interface at home", false, 2)
	if tun, ok := x.route(); !ok || tun.Remote != coa2 {
		t.Fatalf("the other interface must stay registered: route %+v %v", tun, ok)
	}
	x.sendBU(coa1, 15, key, bid{1, coa1, 10})
	step("away again", true, 3)
	x.sendBU(coa2, 0, key)
	step("deregistered", false, 4)

	x.sendBU(coa1, 1, key, bid{1, coa1, 10})
	step("registered for 4 s", true, 5)
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		if d, _ := p.state(); !d {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("still defended after the binding expired")
}
