package redstuff

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/reedsolomon"

	"github.com/weftnet/weft/blob"
)

// Encoding is the encoding type this codec implements.
const Encoding = blob.RS2D16

// Codec encodes and decodes blobs for one shard count. It is safe for
// concurrent use.
type Codec struct {
	p Params

	// The library's encoders are built by New, or with WithLazyTables on
	// first use: building the first one in a process costs about 0.2 s of
	// tables, which vecCode (or, for small grids, the scalar code) avoids.
	lazy   bool
	rsOnce sync.Once
	rsErr  error
	row    reedsolomon.Encoder // extends a row: ks source symbols → n
	col    reedsolomon.Encoder // extends a column: kp source symbols → n
	// Encoders that need no library tables: vecCode where there is SIMD
	// code for it, scalarCode elsewhere.
	srow, scol extender

	workers int
	batch   int
	prehash bool // tests: always hash the blob's own leaves up front
	scalar  int  // when > 0, overrides the scalarCold/scalarWarm bound; -1: never

	// Big buffers recycled between encodes: one pool for the slivers,
	// one for worker scratch space, one for the n² leaf hashes.
	outSlabs  slabPool
	workSlabs slabPool
	leaves    sync.Pool // *[]merkle.Hash of n*n leaf hashes
	vals      sync.Pool // *[]uint16 of n*n 2-byte symbols
}

// Option configures a Codec.
type Option func(*Codec)

// WithWorkers sets how many goroutines encode and decode large blobs.
// The default is GOMAXPROCS; values below 1 mean 1.
func WithWorkers(n int) Option {
	return func(c *Codec) { c.workers = max(n, 1) }
}

// WithLazyTables defers the Reed–Solomon library's tables (72 MB, about
// 0.2 s on one core, once per process) until an operation needs them.
// For one-shot processes: blobs are then encoded and slivers verified
// without them, by vecCode where there is SIMD code for it (else small
// blobs by the scalar code, and a larger blob's first encode builds them
// on one core while the others hash the blob); only decoding from parity
// builds them. A long-lived process is better served by the default,
// which builds them in New, once: the library's encoder is somewhat
// faster.
func WithLazyTables() Option {
	return func(c *Codec) { c.lazy = true }
}

// withBatchBytes sets the target shard size of one Reed–Solomon call, a
// tuning knob for tests and benchmarks.
func withBatchBytes(n int) Option {
	return func(c *Codec) { c.batch = max(n, 2) }
}

// withScalarLimit sets the bound, in element-butterflies, under which
// grids are extended with the scalar encoders (negative: never), for
// tests and benchmarks.
func withScalarLimit(n int) Option {
	return func(c *Codec) { c.scalar = n }
}

// withPrehash makes every encode hash the blob's own leaves before
// extending, as a process's first encode does, for tests.
func withPrehash() Option {
	return func(c *Codec) { c.prehash = true }
}

// New returns a codec for n shards.
func New(n int, opts ...Option) (*Codec, error) {
	p, err := NewParams(n)
	if err != nil {
		return nil, err
	}
	c := &Codec{p: p, workers: runtime.GOMAXPROCS(0), batch: 4096}
	for _, o := range opts {
		o(c)
	}
	if hasVecCode {
		c.srow, c.scol = newVecCode(p.Ks, p.N-p.Ks), newVecCode(p.Kp, p.N-p.Kp)
	} else {
		c.srow, c.scol = newScalarCode(p.Ks, p.N-p.Ks), newScalarCode(p.Kp, p.N-p.Kp)
	}
	if !c.lazy {
		if _, _, err := c.rs(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// leopardReady is set once any codec in the process has built the
// library's encoders, whose tables are then paid for.
var leopardReady atomic.Bool

// rs returns the library's row and column encoders, building them on
// first use.
func (c *Codec) rs() (row, col reedsolomon.Encoder, err error) {
	c.rsOnce.Do(func() {
		p := c.p
		if c.row, c.rsErr = reedsolomon.New(p.Ks, p.N-p.Ks, reedsolomon.WithLeopardGF16(true)); c.rsErr != nil {
			c.rsErr = fmt.Errorf("redstuff: row code: %w", c.rsErr)
			return
		}
		if c.col, c.rsErr = reedsolomon.New(p.Kp, p.N-p.Kp, reedsolomon.WithLeopardGF16(true)); c.rsErr != nil {
			c.rsErr = fmt.Errorf("redstuff: column code: %w", c.rsErr)
			return
		}
		leopardReady.Store(true)
	})
	return c.row, c.col, c.rsErr
}

// Prepare builds now what encoding a blob of length bytes will need and
// takes long to build: the Reed–Solomon library's tables, about 0.2 s on
// one core the first time in a process, where the encode will use them. A
// caller that starts it in a goroutine overlaps that with reading the
// blob. Calling it is optional.
func (c *Codec) Prepare(length uint64) {
	if !c.useScalar(c.p.SymbolSize(length)) {
		c.rs() // an error is reported by the encode itself
	}
}

// extender extends shards in Leopard's layout: shards[k:] from shards[:k].
type extender interface{ Encode(shards [][]byte) error }

// scalarCold and scalarWarm bound, in element-butterflies, the work done
// by the scalar encoders: before the library's tables exist in the
// process, the scalar code is used while it costs less than building them
// (≈ 3 ns per element-butterfly against ≈ 0.2 s); once they exist, only
// where its cost is lost in the hashing.
var scalarCold, scalarWarm = 1 << 25, 1 << 18

// useScalar reports whether a whole grid of s-byte symbols is extended
// with the scalar encoders.
func (c *Codec) useScalar(s int) bool {
	p := c.p
	return c.scalarFits(p.N*p.N*(s/2)*bits.Len(uint(p.N)), s)
}

// scalarSpent counts the scalar work done in the process before the
// library's tables exist. Once it passes what building them costs, a
// process that keeps encoding is better served by the library: the encode
// that crosses it builds them, and later encodes use them.
var scalarSpent atomic.Int64

// spendScalar records a grid's scalar work and reports whether it is
// still worth doing with the scalar code.
func (c *Codec) spendScalar(s int) bool {
	p := c.p
	if leopardReady.Load() || c.scalar != 0 || hasVecCode {
		return true
	}
	return scalarSpent.Add(int64(p.N*p.N*(s/2)*bits.Len(uint(p.N)))) <= int64(scalarCold)
}

// scalarFits reports whether work element-butterflies on s-byte symbols
// are done by the scalar encoders.
func (c *Codec) scalarFits(work, s int) bool {
	if hasVecCode && c.scalar == 0 {
		// The SIMD code costs about what the library does, without its
		// tables: while they are not built, it extends everything; once
		// they are, it still takes small grids, whose zero columns it
		// skips.
		return !leopardReady.Load() || work <= scalarCold
	}
	limit := scalarCold
	if leopardReady.Load() {
		limit = scalarWarm
	}
	if c.scalar != 0 {
		limit = c.scalar
	}
	// The scalar code is kept to symbols that need no chunking.
	return (s <= maxChunk || hasVecCode) && work <= limit
}

// sliverCode returns the encoder that extends one sliver of kind k with
// s-byte symbols, and its number of source symbols: the scalar one when
// that is small work, so that verifying a sliver does not build the
// library's tables.
func (c *Codec) sliverCode(k blob.SliverKind, s int) (extender, int, error) {
	p := c.p
	if c.scalarFits(p.N*(s/2)*bits.Len(uint(p.N)), s) {
		if k == blob.Primary {
			return c.srow, p.Ks, nil
		}
		return c.scol, p.Kp, nil
	}
	return c.code(k)
}

// extenders returns the row and column encoders for symbols of s bytes.
func (c *Codec) extenders(s int) (row, col extender, err error) {
	if c.useScalar(s) {
		return c.srow, c.scol, nil
	}
	r, cl, err := c.rs()
	return r, cl, err
}

// Params returns the codec's grid parameters.
func (c *Codec) Params() Params { return c.p }

// code returns the encoder that extends a sliver of kind k, and its number
// of source symbols.
func (c *Codec) code(k blob.SliverKind) (reedsolomon.Encoder, int, error) {
	row, col, err := c.rs()
	if err != nil {
		return nil, 0, err
	}
	if k == blob.Primary {
		return row, c.p.Ks, nil
	}
	return col, c.p.Kp, nil
}

// parallel runs fn(w, i) for i in [0, n) on up to workers goroutines; w is
// the goroutine's index, for per-worker scratch space.
func parallel(workers, n int, fn func(w, i int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(w, i)
			}
		}()
	}
	wg.Wait()
}

// leoShards returns count shards of size bytes each in one allocation.
func leoShards(count, size int) [][]byte {
	return splitShards(make([]byte, count*size), count, size)
}

// splitShards cuts buf into count shards of size bytes.
func splitShards(buf []byte, count, size int) [][]byte {
	s := make([][]byte, count)
	for i := range s {
		s[i] = buf[i*size : (i+1)*size : (i+1)*size]
	}
	return s
}
