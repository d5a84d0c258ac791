package store

import (
	"bytes"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/weftnet/weft/blob"
)

func testSliver(k blob.SliverKind, fill byte) (*blob.Sliver, *blob.PairCommitment) {
	sl := &blob.Sliver{Kind: k, Index: 3, SymbolSize: 4, Data: bytes.Repeat([]byte{fill}, 40)}
	pc := &blob.PairCommitment{Pair: 3, Primary: blob.Hash{1}, Secondary: blob.Hash{2}, Path: []blob.Hash{{3}, {4}}}
	return sl, pc
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := blob.ID{7}
	sl, pc := testSliver(blob.Primary, 9)
	if err := s.PutSliver(id, 3, sl, pc); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBlob(&Blob{ID: id, Length: 100, EndEpoch: 4}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(42); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, gpc, err := s.Sliver(id, 3, blob.Primary)
	if err != nil || !bytes.Equal(got.Data, sl.Data) || gpc.Primary != pc.Primary || len(gpc.Path) != 2 {
		t.Fatalf("sliver after reopen: %+v %+v %v", got, gpc, err)
	}
	if ok, _ := s.HasSliver(id, 3, blob.Secondary); ok {
		t.Fatal("secondary sliver reported present")
	}
	if _, _, err := s.Sliver(id, 4, blob.Primary); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing sliver: %v", err)
	}
	if c, _ := s.Cursor(); c != 42 {
		t.Fatalf("cursor %d", c)
	}
	if b, err := s.Blob(id); err != nil || b.Length != 100 {
		t.Fatalf("blob record %+v %v", b, err)
	}
	if err := s.DeleteBlob(id); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.HasSliver(id, 3, blob.Primary); ok {
		t.Fatal("sliver survived DeleteBlob")
	}
	if _, err := s.Blob(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("blob record survived DeleteBlob: %v", err)
	}
}

// TestInjectedWriteFailures: a full disk or a failed sync surfaces as an
// error from PutSliver, and a sliver whose write failed is never reported
// as stored.
func TestInjectedWriteFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   errorfs.OpKind
	}{
		{"full disk (write fails)", errorfs.OpFileWrite},
		{"failed sync", errorfs.OpFileSync},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fail atomic.Bool
			mem := vfs.NewCrashableMem()
			fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if fail.Load() && (op.Kind == tc.op || op.Kind == errorfs.OpFileSyncData || op.Kind == errorfs.OpFileWriteAt) && strings.HasSuffix(op.Path, ".log") {
					return errorfs.ErrInjected
				}
				return nil
			}))
			s, err := Open("db", &Options{FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			id := blob.ID{1}
			good, pc := testSliver(blob.Primary, 1)
			if err := s.PutSliver(id, 3, good, pc); err != nil {
				t.Fatal(err)
			}
			fail.Store(true)
			bad, _ := testSliver(blob.Secondary, 2)
			err = s.PutSliver(id, 3, bad, pc)
			if err == nil {
				t.Fatal("PutSliver succeeded while the disk failed")
			}
			t.Logf("PutSliver: %v", err)
			if !errors.Is(err, ErrFailed) {
				t.Fatalf("got %v, want ErrFailed", err)
			}
			if err := s.PutSliver(id, 4, good, pc); !errors.Is(err, ErrFailed) {
				t.Fatalf("write after a failure: got %v, want ErrFailed", err)
			}
			fail.Store(false)
			// After a restart what was stored before is intact, and the
			// failed sliver is intact or absent, never corrupt.
			// The process dies: only what was synced survives.
			s2, err := Open("db", &Options{FS: mem.CrashClone(vfs.CrashCloneCfg{})})
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			got, _, err := s2.Sliver(id, 3, blob.Primary)
			if err != nil || !bytes.Equal(got.Data, good.Data) {
				t.Fatalf("earlier sliver damaged: %v", err)
			}
			if got, _, err := s2.Sliver(id, 3, blob.Secondary); err == nil && !bytes.Equal(got.Data, bad.Data) {
				t.Fatal("failed sliver came back corrupt")
			} else if err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
		})
	}
}

func TestDiskFullRefusesBeforeWriting(t *testing.T) {
	mem := vfs.NewMem()
	s, err := Open("db", &Options{FS: fullFS{mem, 100 << 20}, Reserve: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := blob.ID{2}
	sl, pc := testSliver(blob.Primary, 5)
	if err := s.PutSliver(id, 3, sl, pc); err != nil {
		t.Fatalf("small write with room: %v", err)
	}
	big := &blob.Sliver{Kind: blob.Secondary, Index: 3, SymbolSize: 2, Data: make([]byte, 40<<20)}
	if err := s.PutSliver(id, 3, big, pc); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("write into the reserve: got %v, want ErrDiskFull", err)
	}
	if ok, _ := s.HasSliver(id, 3, blob.Secondary); ok {
		t.Fatal("refused sliver was stored")
	}
	if s.Failed() != nil {
		t.Fatal("a full disk is not a failed database")
	}
}

// fullFS reports a fixed amount of free space.
type fullFS struct {
	vfs.FS
	avail uint64
}

func (f fullFS) GetDiskUsage(string) (vfs.DiskUsage, error) {
	return vfs.DiskUsage{AvailBytes: f.avail, TotalBytes: 1 << 30}, nil
}

// TestRecoveryRecords: slivers written together, corrupt slivers removed
// with or without their commitment, the recovery queue and inconsistency
// proofs survive a reopen, and deleting the blob removes them all.
func TestRecoveryRecords(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := blob.ID{9}
	p, pc := testSliver(blob.Primary, 1)
	sec, _ := testSliver(blob.Secondary, 2)
	if err := s.PutSlivers(id, []StoredSliver{{3, p, pc}, {3, sec, pc}}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*Blob{{ID: id, Length: 5, Certified: true}, {ID: blob.ID{1}}, {ID: blob.ID{200}}} {
		if err := s.PutBlob(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutQueued(id, []byte(`{"x":1}`), true); err != nil {
		t.Fatal(err)
	}
	if err := s.PutQueued(blob.ID{1}, []byte(`{"x":2}`), false); err != nil {
		t.Fatal(err)
	}
	if err := s.PutInconsistency(id, []byte("proof")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(dir, nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var seen []byte
	if err := s.Blobs(func(b *Blob) (bool, error) { seen = append(seen, b.ID[0]); return true, nil }); err != nil || string(seen) != "\x01\x09\xc8" {
		t.Fatalf("blobs %v %v", seen, err)
	}
	queued := map[blob.ID]string{}
	if err := s.Queued(func(id blob.ID, e []byte) error { queued[id] = string(e); return nil }); err != nil || len(queued) != 2 || queued[id] != `{"x":1}` {
		t.Fatalf("queue %v %v", queued, err)
	}
	if raw, err := s.Inconsistency(id); err != nil || string(raw) != "proof" {
		t.Fatalf("proof %q %v", raw, err)
	}
	var proven []blob.ID
	if err := s.Inconsistencies(func(id blob.ID) error { proven = append(proven, id); return nil }); err != nil || len(proven) != 1 || proven[0] != id {
		t.Fatalf("proofs %v %v", proven, err)
	}
	if err := s.DeleteSliver(id, 3, blob.Primary, false); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.HasSliver(id, 3, blob.Primary); ok {
		t.Fatal("deleted sliver present")
	}
	if _, _, err := s.Sliver(id, 3, blob.Secondary); err != nil {
		t.Fatalf("other sliver: %v", err)
	}
	if err := s.DeleteSliver(id, 3, blob.Primary, true); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.HasSliver(id, 3, blob.Secondary); ok {
		t.Fatal("sliver kept without its commitment")
	}
	if _, err := s.Commitment(id, 3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("commitment: %v", err)
	}
	if err := s.DeleteQueued(blob.ID{1}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBlob(id); err != nil {
		t.Fatal(err)
	}
	queued = map[blob.ID]string{}
	s.Queued(func(id blob.ID, e []byte) error { queued[id] = string(e); return nil })
	if len(queued) != 0 {
		t.Fatalf("queue after deletes: %v", queued)
	}
	if _, err := s.Inconsistency(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("proof after delete: %v", err)
	}
}

// TestMigrationRecords: shard states, the planned epoch and the done
// epoch survive a reopen; dropped pairs are gone, other pairs stay.
func TestMigrationRecords(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := blob.ID{7}
	sl, pc := testSliver(blob.Primary, 9)
	if err := s.PutSliver(id, 3, sl, pc); err != nil {
		t.Fatal(err)
	}
	pc4 := *pc
	pc4.Pair = 4
	if err := s.PutSliver(id, 4, sl, &pc4); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMigration(5, map[uint32][]byte{1: []byte(`a`), 7: []byte(`b`), 9: []byte(`c`)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMigration(0, map[uint32][]byte{7: []byte(`B`)}, []uint32{9}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetEpochDone(4); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePairs(id, []uint32{3}); err != nil {
		t.Fatal(err)
	}
	s.SetCursor(1) // a synced write makes the drop durable
	s.Close()

	if s, err = Open(dir, nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[uint32]string{}
	if err := s.ShardStates(func(shard uint32, raw []byte) error { got[shard] = string(raw); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1] != "a" || got[7] != "B" {
		t.Fatalf("shard states after reopen: %v", got)
	}
	if e, _ := s.MigrationEpoch(); e != 5 {
		t.Fatalf("migration epoch %d, want 5", e)
	}
	if e, _ := s.EpochDone(); e != 4 {
		t.Fatalf("epoch done %d, want 4", e)
	}
	if have, _ := s.HasSliver(id, 3, blob.Primary); have {
		t.Fatal("dropped pair still held")
	}
	if _, err := s.Commitment(id, 3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dropped commitment: %v", err)
	}
	if have, _ := s.HasSliver(id, 4, blob.Primary); !have {
		t.Fatal("pair 4 was dropped with pair 3")
	}
}

// TestMemDiskCrashKeepsWhatWasSynced: a crash of a MemDisk keeps the
// synced writes (slivers, the cursor) and the unsynced ones written
// before them, and loses unsynced writes made after the last sync.
func TestMemDiskCrashKeepsWhatWasSynced(t *testing.T) {
	disk := NewMemDisk()
	s, err := disk.Open(Options{Reserve: 1 << 20, MemTableSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	before, after := blob.ID{1}, blob.ID{2}
	if err := s.PutBlob(&Blob{ID: before, Length: 10}); err != nil { // unsynced, then synced by the sliver write
		t.Fatal(err)
	}
	sl, pc := testSliver(blob.Primary, 7)
	if err := s.PutSliver(before, 3, sl, pc); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(42); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBlob(&Blob{ID: after, Length: 20}); err != nil { // never synced
		t.Fatal(err)
	}
	crashed := disk.Crash()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = crashed.Open(Options{Reserve: 1 << 20, MemTableSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, _, err := s.Sliver(before, 3, blob.Primary); err != nil || string(got.Data) != string(sl.Data) {
		t.Fatalf("synced sliver after the crash: %v", err)
	}
	if b, err := s.Blob(before); err != nil || b.Length != 10 {
		t.Fatalf("blob record written before a sync: %+v, %v", b, err)
	}
	if c, err := s.Cursor(); err != nil || c != 42 {
		t.Fatalf("cursor %d, %v; want 42", c, err)
	}
	if _, err := s.Blob(after); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a record never synced survived the crash: %v", err)
	}
}
