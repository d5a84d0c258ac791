//go:build unix

package cli

import (
	"os"
	"syscall"
)

// mapFile maps size bytes of f read-only, populated up front: one call
// faults in the whole file from the page cache (or reads it ahead
// sequentially) instead of a fault or a read per page. unmap releases it.
func mapFile(f *os.File, size int64) (data []byte, unmap func(), ok bool) {
	if size <= 0 || size != int64(int(size)) {
		return nil, nil, false
	}
	flags := syscall.MAP_SHARED | mapPopulate
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, flags)
	if err != nil {
		return nil, nil, false
	}
	return data, func() { _ = syscall.Munmap(data) }, true
}
