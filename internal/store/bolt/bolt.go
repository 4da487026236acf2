// Package bolt is the home agent's embedded durable store: one bbolt file,
// no set-up. Every Apply is one bbolt transaction, synced to disk before it
// returns, so a binding that was acknowledged survives kill -9 and a crash.
package bolt

import (
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"monami/internal/store"
)

// bucket holds one record per (home address, BID), keyed by store.AppendKey.
var bucket = []byte("bindings/v1")

// lockWait is how long Open waits for another process holding the file.
const lockWait = time.Second

// Store is a store.Store in a bbolt file.
type Store struct {
	db *bbolt.DB
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the file at path, creating its directory (mode
// 0700) when missing: the data lasts across restarts by design.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockWait})
	if errors.Is(err, bberrors.ErrTimeout) {
		return nil, fmt.Errorf("store %s: another process holds it (waited %s)", path, lockWait)
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Apply implements store.Store: one transaction, fsynced on commit.
func (s *Store) Apply(b store.Batch) error {
	vals := make([][]byte, len(b.Put))
	for i := range b.Put {
		var err error
		if vals[i], err = store.AppendRecord(nil, &b.Put[i]); err != nil {
			return err
		}
	}
	var kb [18]byte
	err := s.db.Update(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucket)
		for _, k := range b.Delete {
			if err := bk.Delete(store.AppendKey(kb[:0], k)); err != nil {
				return err
			}
		}
		for i := range b.Put {
			// Put keeps the key slice until commit: a fresh one each.
			if err := bk.Put(store.AppendKey(nil, b.Put[i].Key()), vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store %s: %w", s.db.Path(), err)
	}
	return nil
}

// Load implements store.Store, in one read transaction (a consistent
// snapshot). Do not call Apply from the loop body: bbolt serialises a
// writer behind an open reader of the same goroutine only on remap, but
// the snapshot would not show it anyway.
func (s *Store) Load() iter.Seq2[store.Record, error] {
	return func(yield func(store.Record, error) bool) {
		err := s.db.View(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bucket).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				r, err := store.DecodeRecord(v)
				if err != nil {
					err = store.KeyError(k, err)
				}
				if !yield(r, err) {
					return errStop
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(store.Record{}, fmt.Errorf("store %s: %w", s.db.Path(), err))
		}
	}
}

var errStop = errors.New("stopped")

// Close implements store.Store.
func (s *Store) Close() error { return s.db.Close() }
