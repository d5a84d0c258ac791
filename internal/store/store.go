// Package store is a storage node's durable state on Pebble: slivers and
// their pair commitments, what the node knows of each blob, and its
// control plane event cursor. Every write that a node may later vouch for
// (a sliver it confirms) is synced before the call returns.
package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/weftnet/weft/blob"
)

// FormatVersion is the on-disk format this code writes and reads.
const FormatVersion = 2

// Errors.
var (
	// ErrNotFound is returned for a sliver or blob the store does not hold.
	ErrNotFound = errors.New("store: not found")
	// ErrDiskFull is returned, before anything is written, when a write
	// would leave less free space than Options.Reserve.
	ErrDiskFull = errors.New("store: disk full")
	// ErrFailed is returned after the database hit an unrecoverable I/O
	// error (such as a failed sync): nothing more is written, and the
	// node must be restarted once the disk is fixed.
	ErrFailed = errors.New("store: database failed")
)

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// FS is the filesystem; nil means the operating system's. Tests inject
	// faults through it.
	FS vfs.FS
	// Reserve is the free space, in bytes, that sliver writes must leave
	// beyond what the database itself still needs (its unflushed
	// write-ahead log, which a flush copies). Writes that would eat into
	// it are refused with ErrDiskFull. Default 64 MiB.
	Reserve uint64
	// Ballast is the size of a file (BALLAST in the directory) kept as a
	// spare: when the filesystem fills up anyway (ENOSPC), the store
	// deletes it so that the database can finish its writes and open
	// again, and refuses sliver writes until there is room for it again.
	// Default Reserve/2.
	Ballast uint64
	// MemTableSize is Pebble's memtable size, and so about the most its
	// write-ahead log grows before a flush. Default 64 MiB; the simulator
	// runs a hundred stores with a few MiB each.
	MemTableSize uint64
	// CacheSize is Pebble's block cache. Default Pebble's (8 MiB).
	CacheSize int64
}

// Store is a node's Pebble database.
type Store struct {
	db      *pebble.DB
	fs      vfs.FS // as given, for the ballast
	dir     string
	reserve uint64
	ballast uint64
	failed  atomic.Pointer[error]

	fullMu sync.Mutex
	full   string // why the disk is full; "" while it is not
	enospc atomic.Int64
}

// ballastName is the spare file in the store's directory.
const ballastName = "BALLAST"

// Key layout (blob IDs are 32 bytes, pairs big-endian uint32):
//
//	v                    format version
//	m/cursor             control plane event cursor (uint64)
//	b/<id>               blob record (JSON)
//	s/<id><pair><kind>   sliver (blob.Sliver wire form)
//	c/<id><pair>         pair commitment (wire form)
//	h/<id><pair><kind>   present (1 byte): sliver existence without reading it
//	q/<id>               recovery queue entry (the node's JSON)
//	x/<id>               inconsistency proof found while recovering the blob
//	k/<shard>            shard migration state (shard u32; the node's versioned JSON)
//	m/migration          epoch of the last epoch change the node planned (uint64)
//	m/epochdone          last epoch whose change is done: given-up shards dropped (uint64)
//	m/scrubbed           when the last scrub pass began (Unix nanoseconds, uint64)
//
// The migration keys were added within format 2: a store without them
// has planned nothing, which is what they mean when absent.
var (
	keyVersion   = []byte("v")
	keyCursor    = []byte("m/cursor")
	keyMigration = []byte("m/migration")
	keyEpochDone = []byte("m/epochdone")
	keyScrubbed  = []byte("m/scrubbed")
)

func keyShard(shard uint32) []byte { return binary.BigEndian.AppendUint32([]byte("k/"), shard) }

func keyBlob(id blob.ID) []byte { return append([]byte("b/"), id[:]...) }

func keyPairPrefix(prefix string, id blob.ID) []byte { return append([]byte(prefix), id[:]...) }

func keySliver(id blob.ID, pair uint32, k blob.SliverKind) []byte {
	return append(binary.BigEndian.AppendUint32(keyPairPrefix("s/", id), pair), byte(k))
}

func keyHave(id blob.ID, pair uint32, k blob.SliverKind) []byte {
	return append(binary.BigEndian.AppendUint32(keyPairPrefix("h/", id), pair), byte(k))
}

func keyCommitment(id blob.ID, pair uint32) []byte {
	return binary.BigEndian.AppendUint32(keyPairPrefix("c/", id), pair)
}

// Open opens or creates the store in dir.
func Open(dir string, o *Options) (*Store, error) {
	if o == nil {
		o = &Options{}
	}
	s := &Store{fs: o.FS, dir: dir, reserve: o.Reserve, ballast: o.Ballast}
	if s.fs == nil {
		s.fs = vfs.Default
	}
	if s.reserve == 0 {
		s.reserve = 64 << 20
	}
	if s.ballast == 0 {
		s.ballast = s.reserve / 2
	}
	if err := s.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// On a full disk, the ballast makes room for the database to open;
	// uploads stay refused until there is room for it again.
	if free, err := s.fs.GetDiskUsage(dir); err == nil && free.AvailBytes < s.reserve {
		s.setFull(fmt.Sprintf("%d bytes free, %d reserved", free.AvailBytes, s.reserve))
		s.fs.Remove(s.fs.PathJoin(dir, ballastName))
	} else {
		s.keepBallast()
	}
	po := pebbleOptions(vfs.OnDiskFull(s.fs, s.onDiskFull))
	if o.MemTableSize > 0 {
		po.MemTableSize = o.MemTableSize
	}
	if o.CacheSize > 0 {
		c := pebble.NewCache(o.CacheSize)
		defer c.Unref()
		po.Cache = c
	}
	po.EventListener = &pebble.EventListener{BackgroundError: func(err error) {
		if errors.Is(err, syscall.ENOSPC) {
			s.setFull("the filesystem is full (ENOSPC)")
		}
	}}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", dir, err)
	}
	s.db = db
	v, err := s.get(keyVersion)
	switch {
	case err == nil && len(v) == 8 && binary.BigEndian.Uint64(v) == FormatVersion:
	case errors.Is(err, ErrNotFound):
		if err := db.Set(keyVersion, binary.BigEndian.AppendUint64(nil, FormatVersion), pebble.Sync); err != nil {
			db.Close()
			return nil, fmt.Errorf("store: writing format version: %w", err)
		}
	case err != nil:
		db.Close()
		return nil, err
	default:
		db.Close()
		return nil, fmt.Errorf("store: %s holds format %x, this node reads format %d", dir, v, FormatVersion)
	}
	return s, nil
}

// pebbleOptions tunes Pebble for slivers: large, incompressible values
// written once. They are kept out of the LSM in blob files (so compactions
// do not rewrite them) and not compressed.
func pebbleOptions(fs vfs.FS) *pebble.Options {
	o := &pebble.Options{
		Logger:             quietLogger{},
		FS:                 fs,
		FormatMajorVersion: pebble.FormatValueSeparation,
		MemTableSize:       64 << 20,
	}
	o.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{Enabled: true, MinimumSize: 1024, MaxBlobReferenceDepth: 10,
			RewriteMinimumAge: 10 * time.Minute, TargetGarbageRatio: 0.3}
	}
	for i := range o.Levels {
		o.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	return o
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) get(key []byte) ([]byte, error) {
	v, c, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	out := bytes.Clone(v)
	return out, c.Close()
}

// fatal is what quietLogger panics with on an unrecoverable Pebble error.
type fatal struct{ msg string }

// guard turns Pebble's fatal errors in this goroutine into ErrFailed and
// refuses further writes once one happened.
func (s *Store) guard(err *error) {
	if r := recover(); r != nil {
		f, ok := r.(fatal)
		if !ok {
			panic(r)
		}
		e := fmt.Errorf("%w: %s", ErrFailed, f.msg)
		s.failed.Store(&e)
		*err = e
	}
}

func (s *Store) check() error {
	if e := s.failed.Load(); e != nil {
		return *e
	}
	return nil
}

// Failed returns the unrecoverable error the store hit, if any.
func (s *Store) Failed() error { return s.check() }

// onDiskFull runs when a write of the database met ENOSPC, with the
// database's writes held: it gives up the ballast, so that the write can
// go through when retried, and marks the disk full. Without a ballast
// left, it waits a little, so that the database's retries of a failing
// flush do not spin.
func (s *Store) onDiskFull() {
	s.enospc.Add(1)
	s.setFull("the filesystem is full (ENOSPC)")
	if err := s.fs.Remove(s.fs.PathJoin(s.dir, ballastName)); err == nil {
		return
	}
	time.Sleep(time.Second)
}

func (s *Store) setFull(why string) {
	s.fullMu.Lock()
	s.full = why
	s.fullMu.Unlock()
}

// keepBallast creates the ballast file when it is missing.
func (s *Store) keepBallast() error {
	path := s.fs.PathJoin(s.dir, ballastName)
	if st, err := s.fs.Stat(path); err == nil && uint64(st.Size()) >= s.ballast {
		return nil
	}
	f, err := s.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	zero := make([]byte, 1<<20)
	for left := s.ballast; left > 0; {
		k := min(left, uint64(len(zero)))
		if _, err := f.Write(zero[:k]); err != nil {
			f.Close()
			s.fs.Remove(path)
			return err
		}
		left -= k
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		s.fs.Remove(path)
		return err
	}
	return nil
}

// Space is the store's view of its disk.
type Space struct {
	// Used is what the database takes on disk (tables, blob files,
	// write-ahead log, manifest).
	Used uint64
	// Free is what the filesystem has left for the store.
	Free uint64
	// Reserve is the free space uploads must leave.
	Reserve uint64
	// Full says why uploads are refused; empty when they are not.
	Full string
	// ENOSPC counts writes of the database that met a full filesystem.
	ENOSPC int64
}

// Space returns the store's view of its disk, and has it refuse or
// accept uploads again according to what is free now.
func (s *Store) Space() Space {
	sp := Space{Used: s.db.Metrics().DiskSpaceUsage(), Reserve: s.reserve, ENOSPC: s.enospc.Load()}
	free, err := s.fs.GetDiskUsage(s.dir)
	if err != nil {
		sp.Free = ^uint64(0) // cannot tell (e.g. an in-memory filesystem)
		return sp
	}
	sp.Free = free.AvailBytes
	s.fullMu.Lock()
	defer s.fullMu.Unlock()
	switch {
	case free.AvailBytes < s.reserve:
		s.full = fmt.Sprintf("%d bytes free, %d reserved", free.AvailBytes, s.reserve)
	case s.full != "" && free.AvailBytes >= s.reserve+s.ballast:
		// Room again: take the ballast back before accepting uploads.
		if s.keepBallast() == nil {
			s.full = ""
		}
	}
	sp.Full = s.full
	return sp
}

// ensureSpace refuses a write of n bytes that would eat into the reserve:
// the write goes to the write-ahead log and later, with what the log
// holds already, to a blob file.
func (s *Store) ensureSpace(n int) error {
	sp := s.Space()
	if sp.Full != "" {
		return fmt.Errorf("%w: %s", ErrDiskFull, sp.Full)
	}
	wal := s.db.Metrics().WAL.Size
	if sp.Free < s.reserve+wal+2*uint64(n) {
		return fmt.Errorf("%w: %d bytes free, %d reserved, %d to be flushed", ErrDiskFull, sp.Free, s.reserve, wal)
	}
	return nil
}

// PutSliver stores a sliver with the commitment of its pair and syncs it
// to disk before returning.
func (s *Store) PutSliver(id blob.ID, pair uint32, sl *blob.Sliver, pc *blob.PairCommitment) error {
	return s.PutSlivers(id, []StoredSliver{{Pair: pair, Sliver: sl, Commitment: pc}})
}

// StoredSliver is a sliver to store with the commitment of its pair.
type StoredSliver struct {
	Pair       uint32
	Sliver     *blob.Sliver
	Commitment *blob.PairCommitment
}

// PutSlivers stores slivers of one blob in one batch, synced to disk
// before it returns: all of them or none.
func (s *Store) PutSlivers(id blob.ID, slivers []StoredSliver) (err error) {
	defer s.guard(&err)
	if err := s.check(); err != nil {
		return err
	}
	size := 0
	for _, ss := range slivers {
		size += len(ss.Sliver.Data)
	}
	if err := s.ensureSpace(size); err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, ss := range slivers {
		craw, err := ss.Commitment.MarshalBinary()
		if err != nil {
			return err
		}
		// Encode the sliver straight into the batch: slivers are big.
		key := keySliver(id, ss.Pair, ss.Sliver.Kind)
		op := b.SetDeferred(len(key), ss.Sliver.BinarySize())
		copy(op.Key, key)
		if _, err := ss.Sliver.AppendBinary(op.Value[:0]); err != nil {
			return err
		}
		if err := op.Finish(); err != nil {
			return err
		}
		b.Set(keyCommitment(id, ss.Pair), craw, nil)
		b.Set(keyHave(id, ss.Pair, ss.Sliver.Kind), []byte{1}, nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			s.setFull("the filesystem is full (ENOSPC)")
			return fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
		return fmt.Errorf("store: writing sliver: %w", err)
	}
	return nil
}

// DeleteSliver removes a sliver (found corrupt); with its commitment too
// when withCommitment, and then the pair's other sliver, which cannot be
// checked or served without it.
func (s *Store) DeleteSliver(id blob.ID, pair uint32, k blob.SliverKind, withCommitment bool) error {
	b := s.db.NewBatch()
	defer b.Close()
	kinds := []blob.SliverKind{k}
	if withCommitment {
		kinds = []blob.SliverKind{blob.Primary, blob.Secondary}
		b.Delete(keyCommitment(id, pair), nil)
	}
	for _, k := range kinds {
		b.Delete(keySliver(id, pair, k), nil)
		b.Delete(keyHave(id, pair, k), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store: deleting sliver: %w", err)
	}
	return nil
}

// Sliver returns a stored sliver and its pair's commitment.
func (s *Store) Sliver(id blob.ID, pair uint32, k blob.SliverKind) (*blob.Sliver, *blob.PairCommitment, error) {
	raw, err := s.get(keySliver(id, pair, k))
	if err != nil {
		return nil, nil, err
	}
	var sl blob.Sliver
	if err := sl.UnmarshalBinary(raw); err != nil {
		return nil, nil, fmt.Errorf("store: stored sliver is corrupt: %w", err)
	}
	pc, err := s.Commitment(id, pair)
	if err != nil {
		return nil, nil, err
	}
	return &sl, pc, nil
}

// Commitment returns a stored pair commitment.
func (s *Store) Commitment(id blob.ID, pair uint32) (*blob.PairCommitment, error) {
	raw, err := s.get(keyCommitment(id, pair))
	if err != nil {
		return nil, err
	}
	var pc blob.PairCommitment
	if err := pc.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("store: stored commitment is corrupt: %w", err)
	}
	return &pc, nil
}

// HasSliver reports whether a sliver is stored.
func (s *Store) HasSliver(id blob.ID, pair uint32, k blob.SliverKind) (bool, error) {
	_, c, err := s.db.Get(keyHave(id, pair, k))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	return true, c.Close()
}

// Blob is what a node records of a blob from the control plane.
type Blob struct {
	ID        blob.ID `json:"blobId"`
	Length    uint64  `json:"length"`
	EndEpoch  uint64  `json:"endEpoch"`
	Certified bool    `json:"certified"`
}

// PutBlob records a blob.
func (s *Store) PutBlob(b *Blob) error {
	raw, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if err := s.db.Set(keyBlob(b.ID), raw, pebble.NoSync); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Blob returns a blob record.
func (s *Store) Blob(id blob.ID) (*Blob, error) {
	raw, err := s.get(keyBlob(id))
	if err != nil {
		return nil, err
	}
	var b Blob
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("store: corrupt blob record: %w", err)
	}
	return &b, nil
}

// Blobs calls fn with every blob record, in blob ID order, until fn
// returns false or an error.
func (s *Store) Blobs(fn func(*Blob) (bool, error)) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("b/"), UpperBound: []byte("b0")})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		var b Blob
		if err := json.Unmarshal(it.Value(), &b); err != nil {
			return fmt.Errorf("store: corrupt blob record: %w", err)
		}
		more, err := fn(&b)
		if err != nil || !more {
			return err
		}
	}
	return it.Error()
}

// PutQueued records (or updates) a blob's recovery queue entry. With
// sync it is on disk when the call returns; otherwise with the next synced
// write.
func (s *Store) PutQueued(id blob.ID, entry []byte, sync bool) error {
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	if err := s.db.Set(keyPairPrefix("q/", id), entry, opt); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// DeleteQueued removes a blob's recovery queue entry.
func (s *Store) DeleteQueued(id blob.ID) error {
	if err := s.db.Delete(keyPairPrefix("q/", id), pebble.NoSync); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Queued calls fn with every recovery queue entry.
func (s *Store) Queued(fn func(id blob.ID, entry []byte) error) error {
	return s.scanIDs("q/", func(id blob.ID, v []byte) error { return fn(id, bytes.Clone(v)) })
}

// scanIDs calls fn with every key <prefix><blob ID> and its value, which
// is valid only during the call.
func (s *Store) scanIDs(prefix string, fn func(id blob.ID, v []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefix), UpperBound: append([]byte(prefix[:len(prefix)-1]), prefix[len(prefix)-1]+1)})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		var id blob.ID
		if len(it.Key()) != len(prefix)+len(id) {
			continue
		}
		copy(id[:], it.Key()[len(prefix):])
		if err := fn(id, it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}

// PutInconsistency records the proof that a blob is inconsistently
// encoded.
func (s *Store) PutInconsistency(id blob.ID, proof []byte) error {
	if err := s.db.Set(keyPairPrefix("x/", id), proof, pebble.Sync); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Inconsistencies calls fn with every blob that has a recorded
// inconsistency proof.
func (s *Store) Inconsistencies(fn func(id blob.ID) error) error {
	return s.scanIDs("x/", func(id blob.ID, _ []byte) error { return fn(id) })
}

// Inconsistency returns a recorded inconsistency proof, or ErrNotFound.
func (s *Store) Inconsistency(id blob.ID) ([]byte, error) {
	return s.get(keyPairPrefix("x/", id))
}

// DeleteBlob removes a blob's record, slivers, commitments, queue entry
// and inconsistency proof.
func (s *Store) DeleteBlob(id blob.ID) error {
	b := s.db.NewBatch()
	defer b.Close()
	b.Delete(keyBlob(id), nil)
	b.Delete(keyPairPrefix("q/", id), nil)
	b.Delete(keyPairPrefix("x/", id), nil)
	for _, p := range []string{"s/", "c/", "h/"} {
		lo := keyPairPrefix(p, id)
		hi := keyPairPrefix(p, id)
		hi = append(hi, 0xff, 0xff, 0xff, 0xff, 0xff)
		b.DeleteRange(lo, hi, nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store: deleting blob: %w", err)
	}
	return nil
}

// Cursor returns the last control plane event the node handled.
func (s *Store) Cursor() (uint64, error) {
	v, err := s.get(keyCursor)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil || len(v) != 8 {
		return 0, err
	}
	return binary.BigEndian.Uint64(v), nil
}

// SetCursor records the last event handled.
func (s *Store) SetCursor(seq uint64) error {
	if err := s.db.Set(keyCursor, binary.BigEndian.AppendUint64(nil, seq), pebble.Sync); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// MigrationEpoch returns the epoch of the last epoch change the node
// planned (0: none).
func (s *Store) MigrationEpoch() (uint64, error) { return s.getU64(keyMigration) }

// ScrubbedAt returns when the node's last scrub pass began, or the zero
// time if it never recorded one.
func (s *Store) ScrubbedAt() (time.Time, error) {
	v, err := s.getU64(keyScrubbed)
	if err != nil || v == 0 {
		return time.Time{}, err
	}
	return time.Unix(0, int64(v)), nil
}

// SetScrubbedAt records when a scrub pass began.
func (s *Store) SetScrubbedAt(t time.Time) error {
	if err := s.db.Set(keyScrubbed, binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())), pebble.Sync); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// EpochDone returns the last epoch whose change the node saw done.
func (s *Store) EpochDone() (uint64, error) { return s.getU64(keyEpochDone) }

// SetEpochDone records that the change of an epoch is done.
func (s *Store) SetEpochDone(epoch uint64) error {
	if err := s.db.Set(keyEpochDone, binary.BigEndian.AppendUint64(nil, epoch), pebble.Sync); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

func (s *Store) getU64(key []byte) (uint64, error) {
	v, err := s.get(key)
	switch {
	case errors.Is(err, ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, err
	case len(v) != 8:
		return 0, fmt.Errorf("store: corrupt %s", key)
	}
	return binary.BigEndian.Uint64(v), nil
}

// PutMigration records, in one synced batch, the plan of an epoch
// change: its epoch (0 leaves the recorded one), the shard states to
// write and those to delete.
func (s *Store) PutMigration(epoch uint64, put map[uint32][]byte, del []uint32) error {
	b := s.db.NewBatch()
	defer b.Close()
	if epoch != 0 {
		b.Set(keyMigration, binary.BigEndian.AppendUint64(nil, epoch), nil)
	}
	for shard, raw := range put {
		b.Set(keyShard(shard), raw, nil)
	}
	for _, shard := range del {
		b.Delete(keyShard(shard), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store: writing shard states: %w", err)
	}
	return nil
}

// PutShardState records one shard's migration state, synced.
func (s *Store) PutShardState(shard uint32, raw []byte) error {
	return s.PutMigration(0, map[uint32][]byte{shard: raw}, nil)
}

// ShardStates calls fn with every shard migration state.
func (s *Store) ShardStates(fn func(shard uint32, raw []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("k/"), UpperBound: []byte("k0")})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if len(it.Key()) != 6 {
			continue
		}
		if err := fn(binary.BigEndian.Uint32(it.Key()[2:]), bytes.Clone(it.Value())); err != nil {
			return err
		}
	}
	return it.Error()
}

// DeletePairs removes pairs of a blob (slivers and commitments), for a
// shard given up. It is not synced: a later synced write makes it
// durable, and a pair that comes back after a crash is dropped again.
func (s *Store) DeletePairs(id blob.ID, pairs []uint32) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, pair := range pairs {
		b.Delete(keyCommitment(id, pair), nil)
		for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
			b.Delete(keySliver(id, pair, k), nil)
			b.Delete(keyHave(id, pair, k), nil)
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("store: deleting pairs: %w", err)
	}
	return nil
}

// Usage returns the approximate bytes the database takes on disk.
func (s *Store) Usage() int64 {
	return int64(s.db.Metrics().DiskSpaceUsage())
}

// quietLogger drops Pebble's informational messages and keeps errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	log.Printf("store: pebble: "+format, args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fatal{msg: fmt.Sprintf(format, args...)})
}
