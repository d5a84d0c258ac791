package redstuff

import (
	"math/rand/v2"
	"testing"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/merkle"
)

// TestLargeGridRoots checks the roots of grids large enough for the
// 2-byte leaf table, and of sparse blobs whose zero subtrees are taken
// from the cache, against trees hashed leaf by leaf over slivers the
// library extends.
func TestLargeGridRoots(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 11))
	n := 520
	for _, opts := range [][]Option{nil, {withScalarLimit(-1), withPrehash()}} {
		largeGridRoots(t, rng, seed, codecFor(t, n, opts...))
	}
}

func largeGridRoots(t *testing.T, rng *rand.Rand, seed uint64, c *Codec) {
	p := c.Params()
	n := p.N
	for _, length := range []int{1, 1024, 3 * p.Ks * 2, p.Kp * p.Ks * 2, p.Kp*p.Ks*2 + 1 + rng.IntN(5000)} {
		data := randBytes(rng, length)
		e, err := c.Encode(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, pair := range []int{0, 1, p.Kp - 1, p.Kp, n / 2, n - 1} {
			for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
				sl := e.Sliver(k, p.PairOf(k, pair))
				full, err := c.expand(k, sl.Data, e.SymbolSize)
				if err != nil {
					t.Fatal(err)
				}
				var leaves []merkle.Hash
				for i := 0; i < n; i++ {
					leaves = append(leaves, merkle.Leaf(full[i*e.SymbolSize:(i+1)*e.SymbolSize]))
				}
				want := e.Pairs[pair].Primary
				if k == blob.Secondary {
					want = e.Pairs[pair].Secondary
				}
				if merkle.Root(leaves) != want {
					t.Fatalf("seed=%d len=%d: %s root of pair %d differs", seed, length, k, pair)
				}
			}
		}
		e.Release()
	}
}
