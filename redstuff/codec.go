package redstuff

import (
	"fmt"
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
	p       Params
	row     reedsolomon.Encoder // extends a row: ks source symbols → n
	col     reedsolomon.Encoder // extends a column: kp source symbols → n
	workers int
	batch   int

	// Big buffers recycled between encodes: one pool for the slivers,
	// one for worker scratch space, one for the n² leaf hashes.
	outSlabs  slabPool
	workSlabs slabPool
	leaves    sync.Pool // *[]merkle.Hash of n*n leaf hashes
}

// Option configures a Codec.
type Option func(*Codec)

// WithWorkers sets how many goroutines encode and decode large blobs.
// The default is GOMAXPROCS; values below 1 mean 1.
func WithWorkers(n int) Option {
	return func(c *Codec) { c.workers = max(n, 1) }
}

// withBatchBytes sets the target shard size of one Reed–Solomon call, a
// tuning knob for tests and benchmarks.
func withBatchBytes(n int) Option {
	return func(c *Codec) { c.batch = max(n, 2) }
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
	if c.row, err = reedsolomon.New(p.Ks, p.N-p.Ks, reedsolomon.WithLeopardGF16(true)); err != nil {
		return nil, fmt.Errorf("redstuff: row code: %w", err)
	}
	if c.col, err = reedsolomon.New(p.Kp, p.N-p.Kp, reedsolomon.WithLeopardGF16(true)); err != nil {
		return nil, fmt.Errorf("redstuff: column code: %w", err)
	}
	return c, nil
}

// Params returns the codec's grid parameters.
func (c *Codec) Params() Params { return c.p }

// code returns the encoder that extends a sliver of kind k, and its number
// of source symbols.
func (c *Codec) code(k blob.SliverKind) (reedsolomon.Encoder, int) {
	if k == blob.Primary {
		return c.row, c.p.Ks
	}
	return c.col, c.p.Kp
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
