package redstuff

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/merkle"
)

// Encoded is a blob encoded into n sliver pairs with their commitments.
type Encoded struct {
	Params     Params
	ID         blob.ID
	Length     uint64
	SymbolSize int
	Root       merkle.Hash // blob root: Merkle root over the n pair leaves
	// Primary[r] is row r of the expanded grid, its first ks symbols.
	// Rows below kp are the blob itself and may share its memory.
	Primary [][]byte
	// Secondary[c] is column c of the expanded grid, its first kp symbols.
	Secondary [][]byte
	// Pairs[p] commits pair p = (primary p, secondary n−1−p).
	Pairs []blob.PairCommitment

	codec *Codec
	slab  []byte // the buffer behind the non-systematic slivers, for Release
}

// Release hands the slivers' memory back to the codec for the next
// Encode, sparing it the cost of fresh memory. The Encoded and every
// sliver taken from it must not be used afterwards. Calling Release is
// optional.
func (e *Encoded) Release() {
	if e.codec == nil {
		return
	}
	e.codec.outSlabs.put(e.slab)
	e.slab, e.Primary, e.Secondary, e.codec = nil, nil, nil, nil
}

// Sliver returns sliver index of kind k.
func (e *Encoded) Sliver(k blob.SliverKind, index int) blob.Sliver {
	data := e.Primary
	if k == blob.Secondary {
		data = e.Secondary
	}
	return blob.Sliver{Kind: k, Index: uint32(index), SymbolSize: uint32(e.SymbolSize), Data: data[index]}
}

// EncodedSize is the total size of the 2n slivers in bytes.
func (e *Encoded) EncodedSize() int64 { return e.Params.EncodedSize(e.Length) }

// Encode encodes data into n sliver pairs with their commitments and the
// blob ID. To save memory it does not copy data: the systematic primary
// slivers share data's memory, so data must not change while the result
// is in use.
func (c *Codec) Encode(data []byte) (*Encoded, error) {
	g, err := c.newGrid(uint64(len(data)), true)
	if err != nil {
		return nil, err
	}
	g.src = &bytesSource{data: data}
	// Systematic rows: slices of data where it holds a whole row, a
	// zero-padded copy for the rest.
	rowLen := g.p.Ks * g.s
	whole := min(len(data)/rowLen, g.p.Kp)
	pad := g.pad
	for r := 0; r < g.p.Kp; r++ {
		if r < whole {
			g.primary[r] = data[r*rowLen : (r+1)*rowLen : (r+1)*rowLen]
			continue
		}
		row := pad[(r-whole)*rowLen : (r-whole+1)*rowLen : (r-whole+1)*rowLen]
		n := 0
		if off := r * rowLen; off < len(data) {
			n = copy(row, data[off:])
		}
		clear(row[n:])
		g.primary[r] = row
	}
	if err := g.run(); err != nil {
		c.outSlabs.put(g.out)
		return nil, err
	}
	e := &Encoded{
		Params:     g.p,
		ID:         g.id,
		Length:     g.length,
		SymbolSize: g.s,
		Root:       g.root,
		Primary:    g.primary,
		Secondary:  g.secondary,
		Pairs:      make([]blob.PairCommitment, g.p.N),
		codec:      c,
		slab:       g.out,
	}
	for p := range e.Pairs {
		path, _ := g.pairTree.Path(p)
		e.Pairs[p] = blob.PairCommitment{
			Pair:      uint32(p),
			Primary:   g.rowRoots[p],
			Secondary: g.colRoots[g.p.N-1-p],
			Path:      path,
		}
	}
	return e, nil
}

// BlobID computes the blob ID of data without keeping the slivers.
func (c *Codec) BlobID(data []byte) (blob.ID, error) {
	return c.blobID(&bytesSource{data: data}, uint64(len(data)))
}

// BlobIDReader computes the blob ID of the length bytes readable from r,
// streaming: besides a third of the encoded parity it holds only
// O(n² · 32) bytes of leaf hashes and small per-worker buffers, never the
// blob or its slivers.
func (c *Codec) BlobIDReader(r io.ReaderAt, length uint64) (blob.ID, error) {
	return c.blobID(&readerSource{r: r, length: length}, length)
}

func (c *Codec) blobID(src source, length uint64) (blob.ID, error) {
	g, err := c.newGrid(length, false)
	if err != nil {
		return blob.ID{}, err
	}
	g.src = src
	defer c.outSlabs.put(g.out)
	if err := g.run(); err != nil {
		return blob.ID{}, err
	}
	return g.id, nil
}

// source yields the bytes of the blob matrix (row-major, zero-padded past
// the end of the blob).
type source interface {
	// read returns the n bytes at off, either as a slice of the blob or
	// written into buf (len(buf) >= n).
	read(buf []byte, off, n int) ([]byte, error)
}

type bytesSource struct{ data []byte }

func (b *bytesSource) read(buf []byte, off, n int) ([]byte, error) {
	end := off + n
	if end <= len(b.data) {
		return b.data[off:end:end], nil
	}
	out := buf[:n]
	k := 0
	if off < len(b.data) {
		k = copy(out, b.data[off:])
	}
	clear(out[k:])
	return out, nil
}

type readerSource struct {
	r      io.ReaderAt
	length uint64
}

func (rs *readerSource) read(buf []byte, off, n int) ([]byte, error) {
	out := buf[:n]
	k := 0
	if uint64(off) < rs.length {
		want := min(uint64(n), rs.length-uint64(off))
		got, err := rs.r.ReadAt(out[:want], int64(off))
		if uint64(got) < want {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("redstuff: reading blob at %d: %w", off, err)
		}
		k = got
	}
	clear(out[k:])
	return out, nil
}

// grid runs the two-dimensional expansion of one blob. The expansion is
// done in two passes so that the large parity blocks never need to exist
// whole unless they are kept:
//
//  1. Rows 0..kp−1 (the blob) are extended in batches of rows: the column
//     parity block B (kp × f) is kept, as secondary slivers ks..n−1.
//  2. Columns 0..n−1 are extended in batches of columns: rows kp..n−1 of
//     columns below ks are the primary parity slivers (kept only by
//     Encode); the corner block is hashed and dropped.
//
// Every symbol's leaf hash is computed exactly once, as it is produced, and
// serves both its row tree and its column tree.
type grid struct {
	c      *Codec
	p      Params
	s      int
	length uint64
	src    source
	keep   bool

	rowEnc, colEnc extender
	prehash        bool // the blob's own leaves are hashed before pass 1
	zero           *zeroTrees
	lh             leafHasher

	primary   [][]byte      // keep: all n; else nil
	secondary [][]byte      // columns ≥ ks always; < ks only with keep
	leaves    []merkle.Hash // n×n leaf hashes, row-major; or:
	vals      []uint16      // n×n 2-byte symbols, whose leaves are in lh.table

	rowRoots, colRoots []merkle.Hash
	pairTree           *merkle.Tree
	root               merkle.Hash
	id                 blob.ID

	out []byte // recycled buffer behind every kept sliver
	pad []byte // zero-padded systematic rows (Encode), inside out

	mu      sync.Mutex
	scratch [][]byte // recycled worker buffers, released by run

	// err holds the first error of any worker; workers poll it while
	// another may be setting it.
	err firstError
}

// workSlab returns worker scratch space; safe for concurrent use, handed
// back when run ends.
func (g *grid) workSlab(n int) []byte {
	b := g.c.workSlabs.get(n)
	g.mu.Lock()
	g.scratch = append(g.scratch, b)
	g.mu.Unlock()
	return b
}

func (c *Codec) newGrid(length uint64, keep bool) (*grid, error) {
	p := c.p
	if length > p.MaxLength() {
		return nil, fmt.Errorf("%w: blob of %d bytes exceeds %d for %d shards", ErrSize, length, p.MaxLength(), p.N)
	}
	g := &grid{c: c, p: p, s: p.SymbolSize(length), length: length, keep: keep}
	n, s := p.N, g.s
	g.secondary = make([][]byte, n)
	first := p.Ks
	rowLen, colLen := p.Ks*s, p.Kp*s
	padRows := 0
	if keep {
		first = 0
		padRows = p.Kp - min(int(length/uint64(rowLen)), p.Kp)
	}
	g.out = c.outSlabs.get(padRows*rowLen + (n-p.Kp)*rowLen*btoi(keep) + (n-first)*colLen)
	rest := g.out
	g.pad, rest = rest[:padRows*rowLen], rest[padRows*rowLen:]
	if keep {
		g.primary = make([][]byte, n)
		buf := rest[:(n-p.Kp)*rowLen]
		rest = rest[len(buf):]
		for r := p.Kp; r < n; r++ {
			i := r - p.Kp
			g.primary[r] = buf[i*p.Ks*s : (i+1)*p.Ks*s : (i+1)*p.Ks*s]
		}
	}
	for c := first; c < n; c++ {
		i := c - first
		g.secondary[c] = rest[i*colLen : (i+1)*colLen : (i+1)*colLen]
	}
	g.zero = newZeroTrees(s)
	g.lh = newLeafHasher(p, s, g.zero)
	switch {
	case g.lh.table != nil:
		if v, ok := c.vals.Get().(*[]uint16); ok {
			g.vals = *v
		} else {
			g.vals = make([]uint16, n*n)
		}
	default:
		if v, ok := c.leaves.Get().(*[]merkle.Hash); ok {
			g.leaves = *v
		} else {
			g.leaves = make([]merkle.Hash, n*n)
		}
	}
	return g, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// fail records err unless an error is recorded already.
func (g *grid) fail(err error) { g.err.set(err) }

// failed returns the error recorded by fail, if any.
func (g *grid) failed() error { return g.err.get() }

// firstError keeps the first error reported by concurrent workers, who
// may check it at any time.
type firstError struct{ p atomic.Pointer[error] }

func (f *firstError) set(err error) { f.p.CompareAndSwap(nil, &err) }

func (f *firstError) get() error {
	if p := f.p.Load(); p != nil {
		return *p
	}
	return nil
}

// worker holds one goroutine's scratch space, reused across batches.
type worker struct {
	leo    [][]byte // n Leopard-layout shards
	nat    [][]byte // natural column segments (pass 1, when not kept)
	rowBuf []byte
	natBuf []byte
	outBuf []byte
	h      merkle.Hasher
	dig    []hash.Hash // streaming leaf hashes, for symbols split in chunks
}

// maxChunk bounds the bytes of one symbol handled by one Reed–Solomon
// call. Larger symbols (big blobs on few shards) are split into chunks
// of this size, each chunk being a run of whole GF(2^16) elements, so the
// scratch space stays small whatever the blob size.
const maxChunk = 64 << 10

func (g *grid) run() error {
	p, s := g.p, g.s
	n := p.N
	// The library's encoders, when needed and not yet built in this
	// process, take one core about 0.2 s to build: meanwhile the other
	// cores hash the blob's own symbols, which need no encoder.
	scalar := g.c.useScalar(s) && g.c.spendScalar(s)
	g.prehash = !scalar && s <= maxChunk && (!leopardReady.Load() || g.c.prehash)
	if scalar {
		g.rowEnc, g.colEnc = g.c.srow, g.c.scol
	}
	// Batch so that one Reed–Solomon call works on shards of about
	// c.batch bytes: big enough to amortise the call, small enough to stay
	// in cache.
	rowsPer := min(max(g.c.batch/s, 1), p.Kp)
	colsPer := max(g.c.batch/s, 1)
	if scalar {
		// The scalar code costs the same per element however it is
		// batched: cut each pass into several batches per worker, of at
		// least one 64-byte block, so that every core has work.
		per := func(total int) int {
			return max((total+4*g.c.workers-1)/(4*g.c.workers), (64+s-1)/s)
		}
		rowsPer, colsPer = min(rowsPer, per(p.Kp)), min(colsPer, per(p.Ks))
	}
	shard := leoLen(max(rowsPer, colsPer) * s)
	chunked := s > maxChunk
	if chunked {
		rowsPer, colsPer, shard = 1, 1, maxChunk
	}

	workers := make([]*worker, g.c.workers)
	defer func() {
		for _, b := range g.scratch {
			g.c.workSlabs.put(b)
		}
		g.scratch = nil
	}()
	get := func(w int) *worker {
		if workers[w] == nil && chunked {
			buf := g.workSlab(n*shard + 2*maxChunk)
			wk := &worker{leo: splitShards(buf[:n*shard], n, shard), dig: make([]hash.Hash, n)}
			wk.natBuf, wk.outBuf = buf[n*shard:n*shard+maxChunk], buf[n*shard+maxChunk:]
			for i := range wk.dig {
				wk.dig[i] = sha256.New()
			}
			workers[w] = wk
		}
		if workers[w] == nil {
			natLen := 0
			if !g.keep {
				natLen = p.Ks * rowsPer * s
			}
			buf := g.workSlab(n*shard + natLen + p.Ks*s + 2*colsPer*s)
			wk := &worker{leo: splitShards(buf[:n*shard], n, shard)}
			buf = buf[n*shard:]
			if !g.keep {
				wk.nat = splitShards(buf[:natLen], p.Ks, rowsPer*s)
				buf = buf[natLen:]
			}
			wk.rowBuf, buf = buf[:p.Ks*s], buf[p.Ks*s:]
			wk.natBuf, wk.outBuf = buf[:colsPer*s], buf[colsPer*s:]
			workers[w] = wk
		}
		return workers[w]
	}

	if !scalar {
		var err error
		if g.prehash {
			g.prehashLeaves(get, rowsPer)
		}
		if g.rowEnc, g.colEnc, err = g.c.rs(); err != nil {
			return err
		}
		if err := g.failed(); err != nil {
			return err
		}
	}

	// Pass 1: extend the source rows.
	nb1 := (p.Kp + rowsPer - 1) / rowsPer
	parallel(g.c.workers, nb1, func(w, i int) {
		if g.failed() != nil {
			return
		}
		r0 := i * rowsPer
		if chunked {
			g.rowPassChunked(get(w), r0)
			return
		}
		g.rowPass(get(w), r0, min(r0+rowsPer, p.Kp))
	})
	if err := g.failed(); err != nil {
		return err
	}

	// Pass 2: extend every column, in batches that do not straddle ks.
	nbA := (p.Ks + colsPer - 1) / colsPer
	nbB := (n - p.Ks + colsPer - 1) / colsPer
	parallel(g.c.workers, nbA+nbB, func(w, i int) {
		if g.failed() != nil {
			return
		}
		var c0, c1 int
		if i < nbA {
			c0 = i * colsPer
			c1 = min(c0+colsPer, p.Ks)
		} else {
			c0 = p.Ks + (i-nbA)*colsPer
			c1 = min(c0+colsPer, n)
		}
		if chunked {
			g.colPassChunked(get(w), c0)
			return
		}
		g.colPass(get(w), c0, c1)
	})
	if err := g.failed(); err != nil {
		return err
	}
	g.commit()
	return nil
}

// prehashLeaves hashes the leaves of the blob's kp × ks symbols while
// one worker builds the library's encoders.
func (g *grid) prehashLeaves(get func(int) *worker, rowsPer int) {
	p, s := g.p, g.s
	nb := (p.Kp + rowsPer - 1) / rowsPer
	parallel(g.c.workers, 1+nb, func(w, i int) {
		if i == 0 {
			g.c.rs()
			return
		}
		if g.failed() != nil {
			return
		}
		wk := get(w)
		for r := (i - 1) * rowsPer; r < min(i*rowsPer, p.Kp); r++ {
			row, err := g.src.read(wk.rowBuf, r*p.Ks*s, p.Ks*s)
			if err != nil {
				g.fail(err)
				return
			}
			for j := 0; j < p.Ks; j++ {
				g.setLeaf(wk, r*p.N+j, row[j*s:(j+1)*s])
			}
		}
	})
}

// colNat returns the natural-layout segment of column j for rows r0..r1.
func (g *grid) colNat(wk *worker, j, r0, r1 int) []byte {
	s := g.s
	if j >= g.p.Ks || g.keep {
		return g.secondary[j][r0*s : r1*s]
	}
	return wk.nat[j][:(r1-r0)*s]
}

func (g *grid) rowPass(wk *worker, r0, r1 int) {
	p, s := g.p, g.s
	m := (r1 - r0) * s
	shards := wk.leo
	size := leoLen(m)
	for j := range shards {
		shards[j] = shards[j][:size]
	}
	for r := r0; r < r1; r++ {
		seg, err := g.src.read(wk.rowBuf, r*p.Ks*s, p.Ks*s)
		if err != nil {
			g.fail(err)
			return
		}
		o := (r - r0) * s
		for j := 0; j < p.Ks; j++ {
			copy(g.colNat(wk, j, r0, r1)[o:o+s], seg[j*s:(j+1)*s])
		}
	}
	for j := 0; j < p.Ks; j++ {
		toLeo(shards[j], g.colNat(wk, j, r0, r1))
	}
	if err := g.rowEnc.Encode(shards); err != nil {
		g.fail(fmt.Errorf("redstuff: row extension: %w", err))
		return
	}
	for j := p.Ks; j < p.N; j++ {
		fromLeo(g.colNat(wk, j, r0, r1), shards[j])
	}
	first := 0
	if g.prehash {
		first = p.Ks
	}
	for j := first; j < p.N; j++ {
		nat := g.colNat(wk, j, r0, r1)
		for r := r0; r < r1; r++ {
			o := (r - r0) * s
			g.setLeaf(wk, r*p.N+j, nat[o:o+s])
		}
	}
}

func (g *grid) colPass(wk *worker, c0, c1 int) {
	p, s := g.p, g.s
	m := (c1 - c0) * s
	shards := wk.leo
	size := leoLen(m)
	for j := range shards {
		shards[j] = shards[j][:size]
	}
	for r := 0; r < p.Kp; r++ {
		var seg []byte
		if c0 < p.Ks {
			var err error
			if seg, err = g.src.read(wk.natBuf, (r*p.Ks+c0)*s, m); err != nil {
				g.fail(err)
				return
			}
		} else {
			seg = wk.natBuf[:m]
			for c := c0; c < c1; c++ {
				copy(seg[(c-c0)*s:], g.secondary[c][r*s:(r+1)*s])
			}
		}
		toLeo(shards[r], seg)
	}
	if err := g.colEnc.Encode(shards); err != nil {
		g.fail(fmt.Errorf("redstuff: column extension: %w", err))
		return
	}
	for r := p.Kp; r < p.N; r++ {
		out := wk.outBuf[:m]
		if g.keep && c0 < p.Ks {
			out = g.primary[r][c0*s : c1*s]
		}
		fromLeo(out, shards[r])
		for c := c0; c < c1; c++ {
			o := (c - c0) * s
			g.setLeaf(wk, r*p.N+c, out[o:o+s])
		}
	}
}

// startLeaves starts the streaming leaf hashes of the given symbols.
func startLeaves(dig []hash.Hash) {
	for _, d := range dig {
		d.Reset()
		d.Write([]byte{0x00})
	}
}

func (wk *worker) sum(i int) (h merkle.Hash) {
	wk.dig[i].Sum(h[:0])
	return h
}

// rowPassChunked is rowPass for one row whose symbols are larger than
// maxChunk: the row is extended a chunk of every symbol at a time.
func (g *grid) rowPassChunked(wk *worker, r int) {
	p, s, n := g.p, g.s, g.p.N
	startLeaves(wk.dig)
	for b0 := 0; b0 < s; b0 += maxChunk {
		m := min(maxChunk, s-b0)
		shards := trim(wk.leo, leoLen(m))
		for j := 0; j < p.Ks; j++ {
			d, err := g.src.read(wk.natBuf, (r*p.Ks+j)*s+b0, m)
			if err != nil {
				g.fail(err)
				return
			}
			toLeo(shards[j], d)
			wk.dig[j].Write(d)
			if g.keep {
				copy(g.secondary[j][r*s+b0:], d)
			}
		}
		if err := g.rowEnc.Encode(shards); err != nil {
			g.fail(fmt.Errorf("redstuff: row extension: %w", err))
			return
		}
		for j := p.Ks; j < n; j++ {
			out := g.secondary[j][r*s+b0 : r*s+b0+m]
			fromLeo(out, shards[j])
			wk.dig[j].Write(out)
		}
	}
	for j := 0; j < n; j++ {
		g.leaves[r*n+j] = wk.sum(j)
	}
}

// colPassChunked is colPass for one column whose symbols are larger than
// maxChunk.
func (g *grid) colPassChunked(wk *worker, c int) {
	p, s, n := g.p, g.s, g.p.N
	startLeaves(wk.dig[p.Kp:])
	for b0 := 0; b0 < s; b0 += maxChunk {
		m := min(maxChunk, s-b0)
		shards := trim(wk.leo, leoLen(m))
		for r := 0; r < p.Kp; r++ {
			var d []byte
			if c < p.Ks {
				var err error
				if d, err = g.src.read(wk.natBuf, (r*p.Ks+c)*s+b0, m); err != nil {
					g.fail(err)
					return
				}
			} else {
				d = g.secondary[c][r*s+b0 : r*s+b0+m]
			}
			toLeo(shards[r], d)
		}
		if err := g.colEnc.Encode(shards); err != nil {
			g.fail(fmt.Errorf("redstuff: column extension: %w", err))
			return
		}
		for r := p.Kp; r < n; r++ {
			out := wk.outBuf[:m]
			if g.keep && c < p.Ks {
				out = g.primary[r][c*s+b0 : c*s+b0+m]
			}
			fromLeo(out, shards[r])
			wk.dig[r].Write(out)
		}
	}
	for r := p.Kp; r < n; r++ {
		g.leaves[r*n+c] = wk.sum(r)
	}
}

// setLeaf records the leaf of the symbol at index i (row-major) of the grid.
func (g *grid) setLeaf(wk *worker, i int, sym []byte) {
	if g.vals != nil {
		g.vals[i] = uint16(sym[0]) | uint16(sym[1])<<8
		return
	}
	g.leaves[i] = g.lh.leaf(&wk.h, sym)
}

// commit builds the 2n sliver trees, the pair leaves and the blob root.
func (g *grid) commit() {
	n := g.p.N
	g.rowRoots = make([]merkle.Hash, n)
	g.colRoots = make([]merkle.Hash, n)
	// Column trees are gathered treesPer columns at a time, so that each
	// row of the leaf table is read in one contiguous run.
	const treesPer = 16
	type scratch struct {
		cols [treesPer][]merkle.Hash
		row  []merkle.Hash
		tree []merkle.Hash
	}
	table := g.lh.table
	scr := make([]*scratch, g.c.workers)
	nRow := (n + treesPer - 1) / treesPer
	parallel(g.c.workers, 2*nRow, func(w, i int) {
		if scr[w] == nil {
			sc := &scratch{tree: make([]merkle.Hash, (n+1)/2), row: make([]merkle.Hash, n)}
			for j := range sc.cols {
				sc.cols[j] = make([]merkle.Hash, n)
			}
			scr[w] = sc
		}
		sc := scr[w]
		if i < nRow {
			for t := i * treesPer; t < min((i+1)*treesPer, n); t++ {
				leaves := sc.row
				if table != nil {
					for j, v := range g.vals[t*n : (t+1)*n] {
						leaves[j] = table[v]
					}
				} else {
					leaves = g.leaves[t*n : (t+1)*n]
				}
				g.rowRoots[t] = g.zero.root(leaves, sc.tree)
			}
			return
		}
		c0 := (i - nRow) * treesPer
		c1 := min(c0+treesPer, n)
		for r := 0; r < n; r++ {
			if table != nil {
				for j, v := range g.vals[r*n+c0 : r*n+c1] {
					sc.cols[j][r] = table[v]
				}
				continue
			}
			for j, h := range g.leaves[r*n+c0 : r*n+c1] {
				sc.cols[j][r] = h
			}
		}
		for c := c0; c < c1; c++ {
			g.colRoots[c] = g.zero.root(sc.cols[c-c0], sc.tree)
		}
	})
	pairLeaves := make([]merkle.Hash, n)
	for p := range pairLeaves {
		pairLeaves[p] = pairLeaf(g.rowRoots[p], g.colRoots[n-1-p])
	}
	g.pairTree = merkle.NewTree(pairLeaves)
	g.root = g.pairTree.Root()
	g.id = blob.ComputeID(Encoding, g.length, g.root)
	if g.vals != nil {
		vals := g.vals
		g.c.vals.Put(&vals)
		g.vals = nil
	} else {
		leaves := g.leaves
		g.c.leaves.Put(&leaves)
		g.leaves = nil
	}
}

// pairLeaf is the Merkle leaf of a pair: H(0x00 ‖ primaryRoot ‖ secondaryRoot).
func pairLeaf(primary, secondary merkle.Hash) merkle.Hash {
	var buf [2 * merkle.HashSize]byte
	copy(buf[:], primary[:])
	copy(buf[merkle.HashSize:], secondary[:])
	return merkle.Leaf(buf[:])
}
