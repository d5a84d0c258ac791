package redstuff

import (
	"fmt"

	"github.com/weftnet/weft/blob"
)

// Decode rebuilds a blob from any kp distinct primary slivers. When the
// systematic slivers 0..kp−1 are all present it only copies them;
// otherwise it decodes each column. Either way it then re-encodes the
// result and checks it against the blob ID: data that does not match is
// never returned.
//
// Slivers should have been checked with VerifySliver as they arrived; a
// mismatch then means the blob itself is inconsistently encoded, and the
// error wraps ErrInconsistent.
func (c *Codec) Decode(id blob.ID, length uint64, slivers []blob.Sliver) ([]byte, error) {
	p := c.p
	s := p.SymbolSize(length)
	rowLen := p.Ks * s
	rows := make([][]byte, p.N)
	have, systematic := 0, 0
	for i := range slivers {
		sl := &slivers[i]
		if sl.Kind != blob.Primary {
			return nil, fmt.Errorf("%w: decoding needs primary slivers, got %s sliver %d", ErrIndex, sl.Kind, sl.Index)
		}
		if err := c.checkSliver(length, sl); err != nil {
			return nil, err
		}
		if rows[sl.Index] != nil {
			continue
		}
		rows[sl.Index] = sl.Data
		have++
		if int(sl.Index) < p.Kp {
			systematic++
		}
	}
	if have < p.Kp {
		return nil, fmt.Errorf("%w: %d distinct primary slivers, need %d", ErrTooFew, have, p.Kp)
	}

	out := make([]byte, p.Kp*rowLen)
	if systematic == p.Kp {
		for r := 0; r < p.Kp; r++ {
			copy(out[r*rowLen:], rows[r])
		}
	} else if err := c.decodeColumns(rows, out, s); err != nil {
		return nil, err
	}
	out = out[:length:length]
	got, err := c.BlobID(out)
	if err != nil {
		return nil, err
	}
	if got != id {
		return nil, fmt.Errorf("%w: slivers decode to a blob that does not match %v", ErrInconsistent, id)
	}
	return out, nil
}

// decodeColumns fills out (the kp × ks blob matrix) from kp or more rows,
// decoding batches of columns in parallel.
func (c *Codec) decodeColumns(rows [][]byte, out []byte, s int) error {
	p := c.p
	rowLen := p.Ks * s
	_, col, err := c.rs()
	if err != nil {
		return err
	}
	// Use exactly kp rows, systematic ones first: fewer to copy in.
	chosen := make([]bool, p.N)
	for r, k := 0, 0; r < p.N && k < p.Kp; r++ {
		if rows[r] != nil {
			chosen[r] = true
			k++
		}
	}
	// Each Reed–Solomon decode call has a fixed cost (Leopard transforms
	// the whole field to locate erasures), so decode fewer, larger batches
	// than Encode: a few per worker, at most 1 MiB per shard. A batch is a
	// run of columns, or one chunk of one column when symbols are larger.
	target := min(max(c.batch, p.Ks*s/(4*c.workers), 64), 1<<20) &^ 63
	type batch struct{ c0, c1, b0, b1 int }
	var batches []batch
	if s <= target {
		colsPer := target / s
		for c0 := 0; c0 < p.Ks; c0 += colsPer {
			batches = append(batches, batch{c0, min(c0+colsPer, p.Ks), 0, s})
		}
	} else {
		for c0 := 0; c0 < p.Ks; c0++ {
			for b0 := 0; b0 < s; b0 += target {
				batches = append(batches, batch{c0, c0 + 1, b0, min(b0+target, s)})
			}
		}
	}
	shard := target
	bufs := make([][][]byte, c.workers)
	errs := make([]error, len(batches))
	parallel(c.workers, len(batches), func(w, i int) {
		bt := batches[i]
		if bufs[w] == nil {
			bufs[w] = leoShards(p.N, shard)
		}
		shards := bufs[w]
		// Natural bytes [lo, hi) of each row form this batch.
		lo, hi := bt.c0*s+bt.b0, (bt.c1-1)*s+bt.b1
		m := hi - lo
		for r := range shards {
			shards[r] = shards[r][:0:cap(shards[r])]
			if chosen[r] {
				shards[r] = shards[r][:leoLen(m)]
				toLeo(shards[r], rows[r][lo:hi])
			}
		}
		if err := col.ReconstructData(shards); err != nil {
			errs[i] = fmt.Errorf("redstuff: decoding columns %d..%d: %w", bt.c0, bt.c1-1, err)
			return
		}
		for r := 0; r < p.Kp; r++ {
			dst := out[r*rowLen+lo : r*rowLen+hi]
			if chosen[r] {
				copy(dst, rows[r][lo:hi])
			} else {
				fromLeo(dst, shards[r])
			}
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
