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
	m  map[memKey][]byte
	// enc and ends are Apply's scratch: a batch's records are all encoded
	// before any is applied, so a record that cannot be encoded leaves
	// the store as it was.
	enc  []byte
	ends []int
}

// memKey is a record's key as AppendKey encodes it (an array: no
// allocation per lookup).
type memKey [keyLen]byte

func memKeyOf(k Key) (mk memKey) {
	AppendKey(mk[:0], k)
	return mk
}

// NewMemory returns an empty memory store.
func NewMemory() *Memory { return &Memory{m: map[memKey][]byte{}} }

// Apply implements Store. A record replaced (a refresh) is written over
// the old one's octets: a home agent refreshing tens of thousands of
// bindings a second allocates nothing here for them.
func (s *Memory) Apply(b Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enc, s.ends = s.enc[:0], s.ends[:0]
	for i := range b.Put {
		var err error
		if s.enc, err = AppendRecord(s.enc, &b.Put[i]); err != nil {
			return err
		}
		s.ends = append(s.ends, len(s.enc))
	}
	for _, k := range b.Delete {
		delete(s.m, memKeyOf(k))
	}
	start := 0
	for i := range b.Put {
		k := memKeyOf(b.Put[i].Key())
		s.m[k] = append(s.m[k][:0], s.enc[start:s.ends[i]]...)
		start = s.ends[i]
	}
	return nil
}

// Load implements Store; it iterates over a copy (Apply writes over the
// records it replaces), so the loop body may call Apply.
func (s *Memory) Load() iter.Seq2[Record, error] {
	s.mu.Lock()
	keys := make([]memKey, 0, len(s.m))
	vals := make(map[memKey][]byte, len(s.m))
	for k, v := range s.m {
		keys = append(keys, k)
		vals[k] = slices.Clone(v)
	}
	s.mu.Unlock()
	slices.SortFunc(keys, func(a, b memKey) int { return bytes.Compare(a[:], b[:]) })
	return func(yield func(Record, error) bool) {
		for _, k := range keys {
			r, err := DecodeRecord(vals[k])
			if err != nil {
				err = KeyError(k[:], err)
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
