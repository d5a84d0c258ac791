package control

import (
	"bytes"
	"sort"
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

// MemStore is an in-memory Store for tests and tools.
type MemStore struct {
	m map[string][]byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{m: map[string][]byte{}} }

// Get implements Store.
func (s *MemStore) Get(key []byte) ([]byte, error) { return s.m[string(key)], nil }

// Set implements Store.
func (s *MemStore) Set(key, value []byte) error {
	s.m[string(key)] = append([]byte(nil), value...)
	return nil
}

// Delete implements Store.
func (s *MemStore) Delete(key []byte) error {
	delete(s.m, string(key))
	return nil
}

// Scan implements Store.
func (s *MemStore) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		if k >= string(start) && (end == nil || k < string(end)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !fn([]byte(k), s.m[k]) {
			break
		}
	}
	return nil
}

// Clone returns an independent copy, for tests that compare replicas.
func (s *MemStore) Clone() *MemStore {
	c := NewMemStore()
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
