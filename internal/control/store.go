package control

import (
	"bytes"
	"slices"
)

// Store is the ordered key-value state the Machine reads and writes. The
// engine backs it with Pebble; tests use MemStore.
type Store interface {
	// Get returns the value of key, or nil if it is absent.
	Get(key []byte) ([]byte, error)
	Set(key, value []byte) error
	Delete(key []byte) error
	// Scan calls fn for each key in [start, end) in ascending order until
	// fn returns false. A nil end means no upper bound.
	Scan(start, end []byte, fn func(key, value []byte) bool) error
}

// MemStore is an in-memory Store for tests and tools. Its keys are also
// kept sorted, so that a scan costs what it visits, not the whole store.
type MemStore struct {
	m    map[string][]byte
	keys []string // the keys of m, sorted
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{m: map[string][]byte{}} }

// Get implements Store.
func (s *MemStore) Get(key []byte) ([]byte, error) { return s.m[string(key)], nil }

// Set implements Store.
func (s *MemStore) Set(key, value []byte) error {
	k := string(key)
	if _, ok := s.m[k]; !ok {
		i, _ := slices.BinarySearch(s.keys, k)
		s.keys = slices.Insert(s.keys, i, k)
	}
	s.m[k] = append([]byte(nil), value...)
	return nil
}

// Delete implements Store.
func (s *MemStore) Delete(key []byte) error {
	k := string(key)
	if _, ok := s.m[k]; ok {
		i, _ := slices.BinarySearch(s.keys, k)
		s.keys = slices.Delete(s.keys, i, i+1)
		delete(s.m, k)
	}
	return nil
}

// Scan implements Store. It visits the keys in range when it is called;
// a key deleted by fn before it is reached is skipped.
func (s *MemStore) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	lo, _ := slices.BinarySearch(s.keys, string(start))
	hi := len(s.keys)
	if end != nil {
		hi, _ = slices.BinarySearch(s.keys, string(end))
	}
	if lo >= hi {
		return nil
	}
	for _, k := range slices.Clone(s.keys[lo:hi]) {
		v, ok := s.m[k]
		if !ok {
			continue
		}
		if !fn([]byte(k), v) {
			break
		}
	}
	return nil
}

// Clone returns an independent copy, for tests that compare replicas.
func (s *MemStore) Clone() *MemStore {
	c := &MemStore{m: make(map[string][]byte, len(s.m)), keys: slices.Clone(s.keys)}
	for k, v := range s.m {
		c.m[k] = bytes.Clone(v)
	}
	return c
}

// count returns how many keys start with prefix (for tests).
func (s *MemStore) count(prefix string) int {
	n := 0
	for k := range s.m {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}
