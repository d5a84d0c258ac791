package store

import "github.com/cockroachdb/pebble/v2/vfs"

// MemDisk is an in-memory disk for a store that a crash cuts back to what
// was synced: the simulator's disks (internal/sim).
type MemDisk struct{ fs *vfs.MemFS }

// NewMemDisk returns an empty disk.
func NewMemDisk() *MemDisk { return &MemDisk{fs: vfs.NewCrashableMem()} }

// Crash returns the disk as a crash at this moment leaves it: what was
// synced, nothing else. Close the store on the old disk after.
func (d *MemDisk) Crash() *MemDisk { return &MemDisk{fs: d.fs.CrashClone(vfs.CrashCloneCfg{})} }

// Open opens the store on the disk, with o's other options.
func (d *MemDisk) Open(o Options) (*Store, error) {
	o.FS = d.fs
	return Open("/data", &o)
}
