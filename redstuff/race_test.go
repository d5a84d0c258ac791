package redstuff

import (
	"errors"
	"testing"
)

// rowFailReaderAt serves zeros except for one byte range, where it fails.
type rowFailReaderAt struct{ badOff int64 }

var errBadRow = errors.New("bad row")

func (r rowFailReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off <= r.badOff && r.badOff < off+int64(len(p)) {
		return 0, errBadRow
	}
	clear(p)
	return len(p), nil
}

// TestReadErrorWhileOthersWork fails one read in the middle of a blob
// while other workers are extending other rows and columns: the error is
// returned, and (under -race) the workers that keep checking for a
// failure do so without racing with the one that records it.
func TestReadErrorWhileOthersWork(t *testing.T) {
	for _, n := range []int{31, 100} {
		c := codecFor(t, n, WithWorkers(4), withBatchBytes(2))
		p := c.Params()
		s := 64
		length := uint64(p.Kp * p.Ks * s)
		for _, row := range []int{1, p.Kp / 2, p.Kp - 1} {
			bad := int64(row*p.Ks*s + 3)
			for range 4 {
				_, err := c.BlobIDReader(rowFailReaderAt{bad}, length)
				if !errors.Is(err, errBadRow) {
					t.Fatalf("n=%d row %d: BlobIDReader = %v, want %v", n, row, err, errBadRow)
				}
			}
		}
	}
}
