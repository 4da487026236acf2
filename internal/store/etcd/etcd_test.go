package etcd

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"monami/internal/store"
	"monami/internal/store/etcd/etcdtest"
	"monami/internal/store/storetest"
)

func open(t *testing.T, endpoints []string) *Store {
	t.Helper()
	s, err := Open(Config{Endpoints: endpoints, Prefix: "/monami/test/"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The shared store suite on a real 3-member cluster; the reopen goes
// through another member.
func TestEtcd(t *testing.T) {
	c := etcdtest.Start(t, 3)
	s := open(t, c.Endpoints[:1])
	storetest.Run(t, s, func(old store.Store) store.Store {
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}
		return open(t, c.Endpoints[2:])
	})
}

// Records carry a lease that ends with their binding: etcd removes them.
func TestEtcdLeaseFollowsLifetime(t *testing.T) {
	c := etcdtest.Start(t, 3)
	s := open(t, c.Endpoints)
	defer s.Close()
	now := time.Now()
	short := storetest.Record("2001:db8:1::10", "2001:db8:a::10", 1, 7, now.Add(-time.Minute), time.Minute+time.Second)
	long := storetest.Record("2001:db8:1::20", "2001:db8:a::20", 1, 7, now, time.Hour)
	if err := s.Apply(store.Batch{Put: []store.Record{short, long}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ttl := func(r store.Record) int64 {
		resp, err := s.c.Get(ctx, s.key(r.Key()))
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("get %v: %v %v", r.Key(), err, resp)
		}
		l, err := s.c.TimeToLive(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
		if err != nil {
			t.Fatal(err)
		}
		return l.TTL
	}
	if got := ttl(long); got < 3600 || got > 3600+int64((leaseStep+leaseGrace)/time.Second) {
		t.Fatalf("lease of a 1-hour binding: %d s left", got)
	}
	if got := ttl(short); got > int64((time.Second+leaseStep+leaseGrace)/time.Second) {
		t.Fatalf("lease of a binding with 1 s left: %d s left", got)
	}
	deadline := time.Now().Add(2 * (leaseStep + leaseGrace + time.Second))
	for len(storetest.Load(t, s)) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("expired record still in etcd: %+v", storetest.Load(t, s))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A fenced store writes only while its election key exists with the
// revision it was created at.
func TestEtcdFence(t *testing.T) {
	c := etcdtest.Start(t, 3)
	s := open(t, c.Endpoints)
	defer s.Close()
	ctx := context.Background()
	put, err := s.c.Put(ctx, "/monami/test/election/x", "node1")
	if err != nil {
		t.Fatal(err)
	}
	s.Fence("/monami/test/election/x", put.Header.Revision)
	r := storetest.Record("2001:db8:1::10", "2001:db8:a::10", 1, 7, time.Now(), time.Minute)
	if err := s.Apply(store.Batch{Put: []store.Record{r}}); err != nil {
		t.Fatalf("fenced apply while leader: %v", err)
	}
	if _, err := s.c.Delete(ctx, "/monami/test/election/x"); err != nil {
		t.Fatal(err)
	}
	r.Replay.LastSeq = 8
	if err := s.Apply(store.Batch{Put: []store.Record{r}}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("fenced apply after the key went: %v", err)
	}
	if got := storetest.Load(t, s); len(got) != 1 || got[0].Replay.LastSeq != 7 {
		t.Fatalf("a refused apply changed the store: %+v", got)
	}
}

// One member down: the other two keep the quorum and the store works.
func TestEtcdMemberLoss(t *testing.T) {
	c := etcdtest.Start(t, 3)
	s := open(t, c.Endpoints)
	defer s.Close()
	c.Stop(0)
	r := storetest.Record("2001:db8:1::10", "2001:db8:a::10", 1, 7, time.Now(), time.Minute)
	if err := s.Apply(store.Batch{Put: []store.Record{r}}); err != nil {
		t.Fatalf("apply with 2 of 3 members: %v", err)
	}
	if got := storetest.Load(t, s); len(got) != 1 {
		t.Fatalf("load with 2 of 3 members: %d records", len(got))
	}
}

// A record that does not decode is reported with its key.
func TestEtcdBadRecordNamed(t *testing.T) {
	c := etcdtest.Start(t, 3)
	s := open(t, c.Endpoints)
	defer s.Close()
	r := storetest.Record("2001:db8:1::10", "2001:db8:a::10", 1, 3, time.Now(), time.Minute)
	if err := s.Apply(store.Batch{Put: []store.Record{r}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Put(context.Background(), s.key(store.Key{HoA: r.Binding.HoA, BID: 9}), "\x07"); err != nil {
		t.Fatal(err)
	}
	var good int
	var bad []string
	for _, err := range s.Load() {
		if err != nil {
			bad = append(bad, err.Error())
		} else {
			good++
		}
	}
	if good != 1 || len(bad) != 1 || !strings.Contains(bad[0], "2001:db8:1::10 BID 9") {
		t.Fatalf("good %d, errors %q", good, bad)
	}
}
