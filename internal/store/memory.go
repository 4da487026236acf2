package store

import (
	"bytes"
	"fmt"
	"iter"
	"slices"
	"sync"
)

// Memory is a Store that lasts as long as the process: for tests and for a
// home agent configured without persistence (store.backend: memory). Its
// records go through the same encoding as the durable stores.
type Memory struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMemory returns an empty memory store.
func NewMemory() *Memory { return &Memory{m: map[string][]byte{}} }

// Apply implements Store.
func (s *Memory) Apply(b Batch) error {
	enc := make([][]byte, len(b.Put))
	for i := range b.Put {
		var err error
		if enc[i], err = AppendRecord(nil, &b.Put[i]); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range b.Delete {
		delete(s.m, string(AppendKey(nil, k)))
	}
	for i := range b.Put {
		s.m[string(AppendKey(nil, b.Put[i].Key()))] = enc[i]
	}
	return nil
}

// Load implements Store; it iterates over a copy, so the loop body may
// call Apply.
func (s *Memory) Load() iter.Seq2[Record, error] {
	s.mu.Lock()
	keys := make([][]byte, 0, len(s.m))
	vals := make(map[string][]byte, len(s.m))
	for k, v := range s.m {
		keys = append(keys, []byte(k))
		vals[k] = v
	}
	s.mu.Unlock()
	slices.SortFunc(keys, bytes.Compare)
	return func(yield func(Record, error) bool) {
		for _, k := range keys {
			r, err := DecodeRecord(vals[string(k)])
			if err != nil {
				err = KeyError(k, err)
			}
			if !yield(r, err) {
				return
			}
		}
	}
}

// Len is the number of records.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Close implements Store.
func (s *Memory) Close() error { return nil }

// KeyError names the record an error is about.
func KeyError(k []byte, err error) error {
	if key, kerr := DecodeKey(k); kerr == nil {
		return fmt.Errorf("record %s BID %d: %w", key.HoA, key.BID, err)
	}
	return fmt.Errorf("record key %x: %w", k, err)
}
