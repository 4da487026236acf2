package bolt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"monami/internal/store"
	"monami/internal/store/storetest"
)

func TestBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "ha.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, s, func(old store.Store) store.Store {
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("store directory: %v %v, want mode 0700", fi, err)
	}
}

func TestBoltLockedByAnother(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ha.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), "another process holds it") {
		t.Fatalf("second open: %v", err)
	}
	if d := time.Since(start); d > 5*lockWait {
		t.Fatalf("second open took %s", d)
	}
}

// A record that does not decode is reported with its key, and the others
// still load.
func TestBoltBadRecordNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ha.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := storetest.Record("2001:db8:1::10", "2001:db8:a::10", 1, 3, time.Now(), time.Minute)
	if err := s.Apply(store.Batch{Put: []store.Record{r}}); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucket).Put(store.AppendKey(nil, store.Key{HoA: r.Binding.HoA, BID: 9}), []byte{7})
	}); err != nil {
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
	if good != 1 || len(bad) != 1 || !strings.Contains(bad[0], "2001:db8:1::10 BID 9") || !strings.Contains(bad[0], "version 7") {
		t.Fatalf("good %d, errors %q", good, bad)
	}
}
