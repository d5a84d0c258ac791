package engine

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// pebbleStore is the control.Store of the application: reads see the
// current block's batch, which is written atomically and synced at
// Commit; outside a block they see the committed database.
type pebbleStore struct {
	db    *pebble.DB
	batch *pebble.Batch
}

func (s *pebbleStore) reader() pebble.Reader {
	if s.batch != nil {
		return s.batch
	}
	return s.db
}

func (s *pebbleStore) Get(key []byte) ([]byte, error) {
	v, c, err := s.reader().Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	return out, c.Close()
}

func (s *pebbleStore) Set(key, value []byte) error {
	if s.batch == nil {
		return errors.New("engine: write outside a block")
	}
	return s.batch.Set(key, value, nil)
}

func (s *pebbleStore) Delete(key []byte) error {
	if s.batch == nil {
		return errors.New("engine: write outside a block")
	}
	return s.batch.Delete(key, nil)
}

func (s *pebbleStore) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	it, err := s.reader().NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		if !fn(it.Key(), it.Value()) {
			break
		}
	}
	return it.Close()
}

// begin starts a block's batch.
func (s *pebbleStore) begin() {
	if s.batch == nil {
		s.batch = s.db.NewIndexedBatch()
	}
}

// commit writes and syncs the block's batch.
func (s *pebbleStore) commit() error {
	if s.batch == nil {
		return nil
	}
	b := s.batch
	s.batch = nil
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("engine: committing state: %w", err)
	}
	return b.Close()
}

// committedStore reads the committed database, never a block in
// progress; it refuses writes.
type committedStore struct{ db *pebble.DB }

func (s committedStore) Get(key []byte) ([]byte, error) {
	return (&pebbleStore{db: s.db}).Get(key)
}

func (s committedStore) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	return (&pebbleStore{db: s.db}).Scan(start, end, fn)
}

func (committedStore) Set(key, value []byte) error {
	return errors.New("engine: write to committed state")
}
func (committedStore) Delete(key []byte) error { return errors.New("engine: write to committed state") }
