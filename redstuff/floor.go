package redstuff

import (
	"crypto/sha256"
	"fmt"
)

// Floor does the irreducible work of encoding a blob of the given length,
// for benchmarks to compare Encode against: the same Reed–Solomon
// extensions as Encode, run on buffers already in the codec's layout, plus
// one SHA-256 leaf hash per symbol of the n × n grid. It skips everything
// else Encode does (layout conversion, copies, inner Merkle nodes,
// commitments) and uses the same workers.
func (c *Codec) Floor(length uint64) error {
	p := c.p
	if length > p.MaxLength() {
		return fmt.Errorf("%w: blob of %d bytes", ErrSize, length)
	}
	s := p.SymbolSize(length)
	rowsPer := min(max(c.batch/s, 1), p.Kp)
	colsPer := max(c.batch/s, 1)
	shard := leoLen(max(rowsPer, colsPer) * s)
	bufs := make([][][]byte, c.workers)
	get := func(w int) [][]byte {
		if bufs[w] == nil {
			bufs[w] = leoShards(p.N, shard)
			for i, sh := range bufs[w] {
				for j := range sh {
					sh[j] = byte(i*31 + j)
				}
			}
		}
		return bufs[w]
	}
	hashAll := func(shards [][]byte, rows, m int) {
		var buf []byte
		for _, sh := range shards {
			for o := 0; o+s <= m && o/s < rows; o += s {
				buf = append(buf[:0], 0)
				buf = append(buf, sh[o:o+s]...)
				_ = sha256.Sum256(buf)
			}
		}
	}
	var err error
	nb1 := (p.Kp + rowsPer - 1) / rowsPer
	parallel(c.workers, nb1, func(w, i int) {
		r0 := i * rowsPer
		rows := min(r0+rowsPer, p.Kp) - r0
		shards := trim(get(w), leoLen(rows*s))
		if e := c.row.Encode(shards); e != nil {
			err = e
		}
		hashAll(shards, rows, rows*s)
	})
	nbA := (p.Ks + colsPer - 1) / colsPer
	nbB := (p.N - p.Ks + colsPer - 1) / colsPer
	parallel(c.workers, nbA+nbB, func(w, i int) {
		cols := colsPer
		if i < nbA {
			cols = min((i+1)*colsPer, p.Ks) - i*colsPer
		} else {
			cols = min(p.Ks+(i-nbA+1)*colsPer, p.N) - (p.Ks + (i-nbA)*colsPer)
		}
		shards := trim(get(w), leoLen(cols*s))
		if e := c.col.Encode(shards); e != nil {
			err = e
		}
		hashAll(shards[p.Kp:], cols, cols*s)
	})
	return err
}

func trim(shards [][]byte, size int) [][]byte {
	for i := range shards {
		shards[i] = shards[i][:size]
	}
	return shards
}
