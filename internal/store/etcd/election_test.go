package etcd

import (
	"context"
	"errors"
	"testing"
	"time"

	"monami/internal/store"
	"monami/internal/store/etcd/etcdtest"
	"monami/internal/store/storetest"
)

func join(t *testing.T, c *etcdtest.Cluster, id string) *Node {
	t.Helper()
	n, err := Join(NodeConfig{Endpoints: c.Endpoints, Election: "ha1", TTL: 2 * time.Second, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// A node writes only during its term; a term ended on purpose (a graceful
// stop) revokes its lease, so the next node is elected at once, not after
// the TTL.
func TestNodeTerms(t *testing.T) {
	c := etcdtest.Start(t, 3)
	a, b := join(t, c, "a"), join(t, c, "b")
	r := storetest.Record("2001:db8:1::10", "2001:db8:a::10", 1, 7, time.Now(), time.Minute)
	put := store.Batch{Put: []store.Record{r}}
	if err := a.Store.Apply(put); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("write before any term: %v", err)
	}
	ctx := context.Background()
	ta, err := a.Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store.Apply(put); err != nil {
		t.Fatalf("write during the term: %v", err)
	}
	won := make(chan *Term, 1)
	go func() {
		tb, err := b.Campaign(ctx)
		if err != nil {
			t.Error(err)
		}
		won <- tb
	}()
	select {
	case <-won:
		t.Fatal("b elected while a leads")
	case <-time.After(500 * time.Millisecond):
	}
	if err := b.Store.Apply(put); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("write by the standby: %v", err)
	}
	start := time.Now()
	ta.End(errors.New("stopping"))
	ta.Wait()
	select {
	case tb := <-won:
		if d := time.Since(start); d > time.Second {
			t.Fatalf("handover took %s, want well under the 2 s TTL", d)
		}
		defer tb.End(nil)
	case <-time.After(5 * time.Second):
		t.Fatal("b not elected after a ended its term")
	}
	if err := a.Store.Apply(put); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("write after the term: %v", err)
	}
	r.Replay.LastSeq = 8
	if err := b.Store.Apply(store.Batch{Put: []store.Record{r}}); err != nil {
		t.Fatalf("write by the new leader: %v", err)
	}
}
