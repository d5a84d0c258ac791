package redstuff

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/reedsolomon"
)

// TestScalarCodeMatchesLibrary checks the one-element-at-a-time encoder
// and the SIMD one (where there is one) against
// github.com/klauspost/reedsolomon for the shapes of many grids and
// random, sparse and zero data.
func TestScalarCodeMatchesLibrary(t *testing.T) { vecVariants(t, testCodesMatchLibrary) }

func testCodesMatchLibrary(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 9))
	ns := []int{4, 5, 7, 10, 13, 31, 64, 100, 256, 257, 1000}
	for i := 0; i < 6; i++ {
		ns = append(ns, 4+rng.IntN(600))
	}
	for _, n := range ns {
		p, _ := NewParams(n)
		for _, shape := range [][2]int{{p.Ks, n - p.Ks}, {p.Kp, n - p.Kp}} {
			k, par := shape[0], shape[1]
			lib, err := reedsolomon.New(k, par, reedsolomon.WithLeopardGF16(true))
			if err != nil {
				t.Fatal(err)
			}
			codes := map[string]extender{"scalar": newScalarCode(k, par), "vec": newVecCode(k, par)}
			size := 64 * (1 + rng.IntN(3))
			if rng.IntN(4) == 0 {
				size = 64 * (1 + rng.IntN(100))
			}
			for _, fill := range []int{0, 1, 2, 3} {
				a := leoShards(k+par, size)
				for j := 0; j < k; j++ {
					switch fill {
					case 1:
						fillRandom(rng, a[j])
					case 2:
						if j == rng.IntN(k) {
							a[j][rng.IntN(size)] = byte(rng.Uint32())
						}
					case 3:
						for o := range a[j] {
							if rng.IntN(10) == 0 {
								a[j][o] = byte(rng.Uint32())
							}
						}
					}
				}
				bs := map[string][][]byte{}
				for name := range codes {
					b := make([][]byte, len(a))
					for j := range a {
						b[j] = append([]byte(nil), a[j]...)
						if j >= k {
							fillRandom(rng, b[j])
						}
					}
					bs[name] = b
				}
				if err := lib.Encode(a); err != nil {
					t.Fatal(err)
				}
				for name, code := range codes {
					b := bs[name]
					if err := code.Encode(b); err != nil {
						t.Fatal(err)
					}
					for j := 0; j < k+par; j++ {
						if !bytes.Equal(a[j], b[j]) {
							t.Fatalf("%s: n=%d k=%d parity=%d size=%d fill=%d: shard %d differs (seed %d)", name, n, k, par, size, fill, j, seed)
						}
					}
				}
			}
		}
	}
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}
