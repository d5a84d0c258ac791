package redstuff

import (
	"crypto/sha256"
	"fmt"
	"hash"

	"github.com/weftnet/weft/merkle"
)

// Floor does the work the design requires to encode a blob of the given
// length, for benchmarks to compare Encode against: the same Reed–Solomon
// extensions as Encode, run on buffers already in the codec's layout; one
// SHA-256 leaf hash per symbol of the n × n grid; the 2n·(n−1) inner
// nodes of the 2n sliver trees and the pair tree (n leaves, n−1 nodes),
// with the same hash function as Encode. It skips everything else Encode
// does (layout conversion, copies, tree padding, commitments) and uses the
// same workers. Encode skips work the floor does not — zero regions of
// small blobs, leaves of 2-byte symbols looked up — so it may beat it.
func (c *Codec) Floor(length uint64) error {
	if err := c.floorExtend(length); err != nil {
		return err
	}
	c.floorTrees()
	return nil
}

// floorTrees hashes 2n·(n−1) inner nodes and the pair tree.
func (c *Codec) floorTrees() {
	n := c.p.N
	const treesPer = 16
	sink := make([]merkle.Hash, 2*n)
	parallel(c.workers, (2*n+treesPer-1)/treesPer, func(_, i int) {
		for t := i * treesPer; t < min((i+1)*treesPer, 2*n); t++ {
			h := merkle.Hash{byte(t), byte(t >> 8)}
			for k := 1; k < n; k++ {
				h = merkle.Node(h, sink[t])
			}
			sink[t] = h
		}
	})
	var buf [2 * merkle.HashSize]byte
	h := merkle.Hash{}
	for p := 0; p < n; p++ {
		copy(buf[:], sink[p][:])
		copy(buf[merkle.HashSize:], sink[n+p][:])
		l := merkle.Leaf(buf[:])
		if p > 0 {
			h = merkle.Node(h, l)
		}
	}
}

func (c *Codec) floorExtend(length uint64) error {
	p := c.p
	if length > p.MaxLength() {
		return fmt.Errorf("%w: blob of %d bytes", ErrSize, length)
	}
	s := p.SymbolSize(length)
	rowEnc, colEnc, err := c.extenders(s)
	if err != nil {
		return err
	}
	rowsPer := min(max(c.batch/s, 1), p.Kp)
	colsPer := max(c.batch/s, 1)
	shard := leoLen(max(rowsPer, colsPer) * s)
	if s > maxChunk {
		// Like Encode, split big symbols into chunks, hashing as a stream.
		return c.floorChunked(s, rowEnc, colEnc)
	}
	var first firstError
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
	nb1 := (p.Kp + rowsPer - 1) / rowsPer
	parallel(c.workers, nb1, func(w, i int) {
		r0 := i * rowsPer
		rows := min(r0+rowsPer, p.Kp) - r0
		shards := trim(get(w), leoLen(rows*s))
		if e := rowEnc.Encode(shards); e != nil {
			first.set(e)
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
		if e := colEnc.Encode(shards); e != nil {
			first.set(e)
		}
		hashAll(shards[p.Kp:], cols, cols*s)
	})
	return first.get()
}

func trim(shards [][]byte, size int) [][]byte {
	for i := range shards {
		shards[i] = shards[i][:size]
	}
	return shards
}

// floorChunked is Floor for symbols above maxChunk: one row or column per
// batch, a chunk of each symbol per Reed–Solomon call, leaves hashed as
// streams.
func (c *Codec) floorChunked(s int, rowEnc, colEnc extender) error {
	p := c.p
	type scratch struct {
		shards [][]byte
		dig    []hash.Hash
	}
	scr := make([]*scratch, c.workers)
	get := func(w int) *scratch {
		if scr[w] == nil {
			sc := &scratch{shards: leoShards(p.N, maxChunk), dig: make([]hash.Hash, p.N)}
			for i, sh := range sc.shards {
				for j := range sh {
					sh[j] = byte(i*31 + j)
				}
				sc.dig[i] = sha256.New()
			}
			scr[w] = sc
		}
		return scr[w]
	}
	var first firstError
	pass := func(enc extender, hashFrom, batches int) {
		parallel(c.workers, batches, func(w, i int) {
			sc := get(w)
			startLeaves(sc.dig[hashFrom:])
			for b0 := 0; b0 < s; b0 += maxChunk {
				m := min(maxChunk, s-b0)
				shards := trim(sc.shards, leoLen(m))
				if e := enc.Encode(shards); e != nil {
					first.set(e)
				}
				for j := hashFrom; j < p.N; j++ {
					sc.dig[j].Write(shards[j][:m])
				}
			}
			var sum [sha256.Size]byte
			for j := hashFrom; j < p.N; j++ {
				sc.dig[j].Sum(sum[:0])
			}
		})
	}
	pass(rowEnc, 0, p.Kp)
	pass(colEnc, p.Kp, p.N)
	return first.get()
}
