package ha

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"monami/internal/store/etcd/etcdtest"
	"monami/internal/transport"
	"monami/wire"
)

// clusterYAML is haYAML as a node of cluster ha1 on the given etcd.
func clusterYAML(endpoints []string) string {
	y := strings.Replace(haYAML, "store: {backend: memory}", "store: {backend: etcd}", 1)
	return y + "cluster: {etcd: ['" + strings.Join(endpoints, "', '") + "'], election: ha1, ttl: 2s}\n"
}

// waitLeading waits until x serves as the cluster's leader.
func waitLeading(t *testing.T, x *harness, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if since, ok := x.h.cluster.Leading(); ok {
			return since
		}
		if time.Now().After(deadline) {
			t.Fatalf("not leading after %s", within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// buSignal is the authenticated Binding Update sendBU sends, as a signal
// (to deliver again: a replay).
func (x *harness) buSignal(src netip.Addr, lifetime uint16, bids ...bid) transport.Signal {
	x.t.Helper()
	mh := x.signedBU(src, lifetime, 0, "mn1@example.org", bids...)
	return transport.Signal{Via: transport.ViaMH, Src: src, Dst: haAddr, Ext: transport.ExtHAO, HomeAddress: hoa, MH: mh}
}

// deliver hands x a signal and returns its acknowledgement, if one comes
// within wait.
func (x *harness) deliver(s transport.Signal, wait time.Duration) (wire.BindingAcknowledgement, bool) {
	x.t.Helper()
	x.tp.in <- s
	select {
	case <-x.tp.cond:
	case <-time.After(wait):
		return wire.BindingAcknowledgement{}, false
	}
	x.tp.mu.Lock()
	sent := x.tp.sent[len(x.tp.sent)-1]
	x.tp.mu.Unlock()
	m, err := wire.Parser{ChecksumVerified: true}.Parse(sent.MH, haAddr, hoa)
	if err != nil {
		x.t.Fatal(err)
	}
	return m.(wire.BindingAcknowledgement), true
}

// fakeAddr records when a node holds the home agent address.
type fakeAddr struct {
	mu     sync.Mutex
	held   bool
	claims int
	since  time.Time // of the last claim
	gone   time.Time // of the last yield
}

func (f *fakeAddr) Claim() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held, f.since = true, time.Now()
	f.claims++
	return nil
}

func (f *fakeAddr) Yield() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held {
		f.gone = time.Now()
	}
	f.held = false
	return nil
}

func (f *fakeAddr) state() (held bool, claims int, since, gone time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held, f.claims, f.since, f.gone
}

func (x *harness) notLeader() uint64 {
	x.h.cnt.mu.Lock()
	defer x.h.cnt.mu.Unlock()
	return x.h.cnt.notLeader
}

// Two home agent nodes on one real 3-member etcd cluster: only the leader
// answers and forwards; when the leader is cut off from etcd, it stops
// before the other takes over, within the session TTL, with the bindings
// and their replay state loaded from etcd; a Binding Update replayed to
// the new leader is refused.
func TestClusterTakeover(t *testing.T) {
	c := etcdtest.Start(t, 3)
	y := clusterYAML(c.Endpoints)
	aAddr, bAddr := &fakeAddr{}, &fakeAddr{}
	a := startConfig(t, y, func(o *Options) { o.clusterAddr = aAddr })
	waitLeading(t, a, 10*time.Second)
	b := startConfig(t, y, func(o *Options) { o.clusterAddr = bAddr })
	b.seq = 1000 // b plays the same mobile node; only a's numbers count
	if held, _, _, _ := aAddr.state(); !held {
		t.Fatal("the leader does not hold the home agent address")
	}

	accepted := a.buSignal(coa1, 15, bid{1, coa1, 10}, bid{2, coa2, 20})
	if ba, ok := a.deliver(accepted, 5*time.Second); !ok || ba.Status != wire.StatusAccepted {
		t.Fatalf("leader: BA %+v %v", ba, ok)
	}
	before := a.bindings()
	// The standby neither answers nor installs anything.
	if ba, ok := b.deliver(b.buSignal(coa1, 15, bid{1, coa1, 10}), 500*time.Millisecond); ok {
		t.Fatalf("standby answered %+v", ba)
	}
	if n := b.notLeader(); n != 1 {
		t.Fatalf("standby dropped %d messages, want 1", n)
	}
	if _, ok := b.route(); ok || len(b.bindings()) != 0 {
		t.Fatalf("standby forwards: route %v, bindings %+v", ok, b.bindings())
	}

	// Cut the leader off from etcd (its session can no longer be renewed).
	cut := time.Now()
	a.h.cluster.node.Client().Close()
	since := waitLeading(t, b, 5*time.Second)
	takeover := since.Sub(cut)
	down := time.Unix(0, a.h.cluster.down.Load())
	t.Logf("takeover %s after the cut; old leader stopped %s after the cut", takeover.Round(time.Millisecond), down.Sub(cut).Round(time.Millisecond))
	if takeover > 3*time.Second {
		t.Fatalf("takeover took %s, want under 3 s (TTL 2 s)", takeover)
	}
	// No split brain: the old leader had stopped before the new one began.
	if a.h.cluster.down.Load() == 0 || !down.Before(since) {
		t.Fatalf("old leader stopped at %v, new leader started at %v", down, since)
	}
	if _, ok := a.route(); ok {
		t.Fatal("old leader still forwards")
	}
	// The home agent address moved: off the old leader before the new one
	// took it.
	aHeld, _, _, aGone := aAddr.state()
	bHeld, bClaims, bSince, _ := bAddr.state()
	if aHeld || !bHeld || bClaims != 1 || !aGone.Before(bSince) {
		t.Fatalf("home agent address: old leader holds it %v (gone %v), new leader %v (%d claims, since %v)", aHeld, aGone, bHeld, bClaims, bSince)
	}

	for _, n := range []struct {
		x    *harness
		lead bool
	}{{a, false}, {b, true}} {
		v, err := n.x.h.Snapshot(t.Context(), "status")
		if err != nil {
			t.Fatal(err)
		}
		if cs := v.(map[string]any)["cluster"].(ClusterStatus); cs.Leading != n.lead || cs.Election != "ha1" {
			t.Fatalf("status %+v, want leading %v", cs, n.lead)
		}
	}
	// The new leader forwards from what etcd holds, without a Binding Update.
	if tun, ok := b.route(); !ok || tun.Remote != coa1 {
		t.Fatalf("new leader route %+v %v, want to %v", tun, ok, coa1)
	}
	after := b.bindings()
	if len(after) != len(before) {
		t.Fatalf("bindings before %+v, after %+v", before, after)
	}
	for i := range before {
		if !sameBinding(before[i], after[i]) {
			t.Fatalf("binding %d before %+v, after %+v", i, before[i], after[i])
		}
	}
	// RFC 4285 section 6: the update a accepted, replayed byte for byte to
	// b, fails the timestamp check against the stored one: 145.
	if ba, ok := b.deliver(accepted, 5*time.Second); !ok || ba.Status != wire.StatusMIPv6MesgIDRequired {
		t.Fatalf("replayed update at the new leader: BA %+v %v, want 145", ba, ok)
	}
	// The same sequence number with a fresh timestamp: 135 with a's last.
	b.seq = a.seq - 1
	if ba, ok := b.deliver(b.buSignal(coa2, 15, bid{1, coa2, 10}), 5*time.Second); !ok || ba.Status != wire.StatusSequenceNumberOutOfWindow || ba.Sequence != a.seq {
		t.Fatalf("old sequence number at the new leader: BA %+v %v, want 135 and %d", ba, ok, a.seq)
	}
	// The mobile node's next update is taken.
	if ba, ok := b.deliver(b.buSignal(coa2, 15, bid{1, coa2, 10}), 5*time.Second); !ok || ba.Status != wire.StatusAccepted {
		t.Fatalf("next sequence number at the new leader: BA %+v %v", ba, ok)
	}
	if tun, _ := b.route(); tun.Remote != coa2 {
		t.Fatalf("new leader route to %v, want %v", tun.Remote, coa2)
	}
}

// The leader partitioned from etcd (its connections open, every packet
// dropped): it stops answering and forwarding before its lease can expire
// in etcd, so before the other node can be elected; a Binding Update it
// receives meanwhile gets no answer (its store write cannot commit); the
// other node takes over within the TTL bound.
func TestClusterPartitionNoSplitBrain(t *testing.T) {
	c := etcdtest.Start(t, 3)
	via := c.Via(t)
	a := startConfig(t, clusterYAML(via.Endpoints), nil)
	waitLeading(t, a, 10*time.Second)
	b := startConfig(t, clusterYAML(c.Endpoints), nil)
	if ba, ok := a.deliver(a.buSignal(coa1, 15, bid{1, coa1, 10}), 5*time.Second); !ok || ba.Status != wire.StatusAccepted {
		t.Fatalf("leader: BA %+v %v", ba, ok)
	}

	cut := time.Now()
	via.Cut()
	// Sent to the cut-off leader: nothing may be acknowledged, or answered.
	if ba, ok := a.deliver(a.buSignal(coa2, 15, bid{1, coa2, 10}), 4*time.Second); ok {
		t.Fatalf("partitioned leader answered %+v", ba)
	}
	since := waitLeading(t, b, 5*time.Second)
	down := a.h.cluster.down.Load()
	t.Logf("old leader stopped %s after the cut, new leader serves %s after it",
		time.Unix(0, down).Sub(cut).Round(time.Millisecond), since.Sub(cut).Round(time.Millisecond))
	if down == 0 || !time.Unix(0, down).Before(since) {
		t.Fatalf("old leader stopped at %d, new leader started at %v: both served at once", down, since)
	}
	if d := since.Sub(cut); d > 3*time.Second {
		t.Fatalf("takeover took %s, want under 3 s (TTL 2 s)", d)
	}
	if _, ok := a.route(); ok {
		t.Fatal("partitioned leader still forwards")
	}
	// The new leader has the binding a acknowledged, not the one it could
	// not store.
	if tun, ok := b.route(); !ok || tun.Remote != coa1 {
		t.Fatalf("new leader route %+v %v, want to %v", tun, ok, coa1)
	}

	// The partition heals: a is a standby now. b registers the mobile node
	// elsewhere, then stops gracefully: a leads again at once (b revokes
	// its lease), from etcd alone, with what b accepted.
	via.Heal()
	b.seq = a.seq
	if ba, ok := b.deliver(b.buSignal(coa2, 15, bid{1, coa2, 10}), 5*time.Second); !ok || ba.Status != wire.StatusAccepted {
		t.Fatalf("new leader: BA %+v %v", ba, ok)
	}
	time.Sleep(3 * time.Second) // a's client reconnects and campaigns
	if _, ok := a.h.cluster.Leading(); ok {
		t.Fatal("a leads beside b after the partition healed")
	}
	stop := time.Now()
	b.stop()
	again := waitLeading(t, a, 5*time.Second)
	t.Logf("after a graceful stop of the leader, the standby serves %s later", again.Sub(stop).Round(time.Millisecond))
	if d := again.Sub(stop); d > time.Second {
		t.Fatalf("graceful handover took %s", d)
	}
	if tun, ok := a.route(); !ok || tun.Remote != coa2 {
		t.Fatalf("route after a leads again %+v %v, want to %v (b's registration)", tun, ok, coa2)
	}
	a.seq = b.seq - 1
	if ba, ok := a.deliver(a.buSignal(coa1, 15, bid{1, coa1, 10}), 5*time.Second); !ok || ba.Status != wire.StatusSequenceNumberOutOfWindow {
		t.Fatalf("b's last sequence number at a: BA %+v %v, want 135", ba, ok)
	}
}
