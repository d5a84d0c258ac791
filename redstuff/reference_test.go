package redstuff

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/merkle"
)

// referenceGrid builds the expanded n × n grid the obvious way, one sliver
// at a time on one goroutine: extend each source row to n symbols, then
// each of the n columns to n symbols.
func referenceGrid(t *testing.T, c *Codec, data []byte) [][][]byte {
	p := c.Params()
	s := p.SymbolSize(uint64(len(data)))
	padded := make([]byte, p.Kp*p.Ks*s)
	copy(padded, data)
	grid := make([][][]byte, p.N)
	for r := range grid {
		grid[r] = make([][]byte, p.N)
	}
	for r := 0; r < p.Kp; r++ {
		row, err := c.expand(blob.Primary, padded[r*p.Ks*s:(r+1)*p.Ks*s], s)
		if err != nil {
			t.Fatal(err)
		}
		for col := 0; col < p.N; col++ {
			grid[r][col] = row[col*s : (col+1)*s]
		}
	}
	for col := 0; col < p.N; col++ {
		var src []byte
		for r := 0; r < p.Kp; r++ {
			src = append(src, grid[r][col]...)
		}
		full, err := c.expand(blob.Secondary, src, s)
		if err != nil {
			t.Fatal(err)
		}
		for r := p.Kp; r < p.N; r++ {
			grid[r][col] = full[r*s : (r+1)*s]
		}
	}
	return grid
}

// TestEncodeMatchesReference checks the batched, parallel, two-pass encoder
// against the obvious grid, for several worker counts and batch sizes, and
// checks that the code is the same whichever axis is extended first.
func TestEncodeMatchesReference(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 4))
	for round := 0; round < 10; round++ {
		n := 4 + rng.IntN(30)
		length := randLength(rng, Params{Kp: n - 2*((n-1)/3), Ks: n - (n-1)/3}, 40_000)
		if round >= 8 {
			// Symbols above maxChunk are extended a chunk at a time.
			n = 4 + rng.IntN(4)
			p, _ := NewParams(n)
			length = p.Kp*p.Ks*(maxChunk+2*rng.IntN(maxChunk)) + rng.IntN(1000)
		}
		data := randBytes(rng, length)
		ref := referenceGrid(t, codecFor(t, n), data)
		name := fmt.Sprintf("seed=%d/n=%d/len=%d", seed, n, length)

		// Row-first extension gives the same grid as column-first.
		c := codecFor(t, n)
		p := c.Params()
		s := p.SymbolSize(uint64(length))
		for r := p.Kp; r < n; r++ {
			var src []byte
			for col := 0; col < p.Ks; col++ {
				src = append(src, ref[r][col]...)
			}
			row, err := c.expand(blob.Primary, src, s)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(row, bytes.Join(ref[r], nil)) {
				t.Fatalf("%s: row %d of the grid is not a codeword of the row code", name, r)
			}
		}

		for _, opts := range [][]Option{nil, {WithWorkers(1)}, {WithWorkers(3), withBatchBytes(2)}, {withBatchBytes(1 << 20)}, {withScalarLimit(-1)}, {withScalarLimit(-1), withPrehash(), WithWorkers(3)}, {withScalarLimit(math.MaxInt), WithWorkers(3)}} {
			e, err := codecFor(t, n, opts...).Encode(data)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				var row, col []byte
				for j := 0; j < p.Ks; j++ {
					row = append(row, ref[i][j]...)
				}
				for j := 0; j < p.Kp; j++ {
					col = append(col, ref[j][i]...)
				}
				if !bytes.Equal(e.Primary[i], row) || !bytes.Equal(e.Secondary[i], col) {
					t.Fatalf("%s opts=%d: sliver %d differs from reference", name, len(opts), i)
				}
			}
			for pair := 0; pair < n; pair++ {
				var rowLeaves, colLeaves []merkle.Hash
				for j := 0; j < n; j++ {
					rowLeaves = append(rowLeaves, merkle.Leaf(ref[pair][j]))
					colLeaves = append(colLeaves, merkle.Leaf(ref[j][n-1-pair]))
				}
				if e.Pairs[pair].Primary != merkle.Root(rowLeaves) || e.Pairs[pair].Secondary != merkle.Root(colLeaves) {
					t.Fatalf("%s: roots of pair %d differ from reference", name, pair)
				}
			}
			id, err := codecFor(t, n, opts...).BlobIDReader(bytes.NewReader(data), uint64(length))
			if err != nil || id != e.ID {
				t.Fatalf("%s: streaming blob ID %v differs from %v (%v)", name, id, e.ID, err)
			}
			// Every sliver verifies (big symbols take the chunked path),
			// and a flipped bit does not.
			for pair := 0; pair < n; pair++ {
				for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
					sl := e.Sliver(k, p.PairOf(k, pair))
					if err := c.VerifySliver(e.ID, e.Length, &sl, &e.Pairs[pair]); err != nil {
						t.Fatalf("%s: verify %s sliver of pair %d: %v", name, k, pair, err)
					}
				}
			}
			bad := e.Sliver(blob.Secondary, 0)
			bad.Data = append([]byte(nil), bad.Data...)
			bad.Data[len(bad.Data)/2] ^= 4
			if err := c.VerifySliver(e.ID, e.Length, &bad, &e.Pairs[n-1]); err == nil {
				t.Fatalf("%s: corrupted secondary sliver verified", name)
			}
			// Decoding from parity rows only, batched or chunked.
			var sl []blob.Sliver
			for r := n - p.Kp; r < n; r++ {
				sl = append(sl, e.Sliver(blob.Primary, r))
			}
			got, err := codecFor(t, n, opts...).Decode(e.ID, e.Length, sl)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: decode from parity rows: %v", name, err)
			}
		}
	}
}
