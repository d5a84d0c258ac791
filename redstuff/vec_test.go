package redstuff

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/reedsolomon"
)

// TestMulTable checks a multiplier's nibble lookups and bit matrices
// against the field's log and exp tables, element by element.
func TestMulTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 12))
	g := gf16()
	for range 200 {
		logM := uint16(rng.IntN(gfModulus))
		tab := newMulTable(logM)
		var blk [64]byte
		fillRandom(rng, blk[:])
		lo, hi := mulBlockGeneric(tab, blk[:])
		for i := 0; i < 32; i++ {
			v := uint16(blk[i]) | uint16(blk[32+i])<<8
			want := g.mulLog(v, logM)
			if got := uint16(lo[i]) | uint16(hi[i])<<8; got != want {
				t.Fatalf("lookups: %#04x × exp(%d) = %#04x, want %#04x", v, logM, got, want)
			}
			if got := gfniMul(tab, v); got != want {
				t.Fatalf("matrices: %#04x × exp(%d) = %#04x, want %#04x", v, logM, got, want)
			}
		}
	}
}

// gfniMul multiplies v as GF2P8AFFINEQB would with the table's matrices:
// output bit r of a byte is the parity of the input byte ANDed with the
// matrix's byte 7−r.
func gfniMul(tab *mulTable, v uint16) uint16 {
	affine := func(mat uint64, x byte) byte {
		var out byte
		for r := 0; r < 8; r++ {
			row := byte(mat >> ((7 - r) * 8))
			par := byte(0)
			for b := row & x; b != 0; b &= b - 1 {
				par ^= 1
			}
			out |= par << r
		}
		return out
	}
	lo, hi := byte(v), byte(v>>8)
	m := tab.gfni
	return uint16(affine(m[0], lo)^affine(m[1], hi)) | uint16(affine(m[2], lo)^affine(m[3], hi))<<8
}

// TestVecButterflies checks the butterflies vecCode runs against the
// portable ones.
func TestVecButterflies(t *testing.T) { vecVariants(t, testVecButterflies) }

func testVecButterflies(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 13))
	for _, n := range []int{0, 64, 128, 64 * 37} {
		for range 20 {
			tab := newMulTable(uint16(rng.IntN(gfModulus)))
			x, y := make([]byte, n), make([]byte, n)
			fillRandom(rng, x)
			fillRandom(rng, y)
			for _, f := range []struct {
				name      string
				got, want func(*mulTable, []byte, []byte)
			}{{"fft2", fft2Vec, fft2VecGeneric}, {"ifft2", ifft2Vec, ifft2VecGeneric}} {
				x1, y1 := bytes.Clone(x), bytes.Clone(y)
				x2, y2 := bytes.Clone(x), bytes.Clone(y)
				f.got(tab, x1, y1)
				f.want(tab, x2, y2)
				if !bytes.Equal(x1, x2) || !bytes.Equal(y1, y2) {
					t.Fatalf("%s on %d bytes differs from the portable code", f.name, n)
				}
			}
		}
	}
}

// BenchmarkExtend compares the encoders on the batches an encode runs:
// shards of 4 KiB, the row and column shapes of n = 256 and n = 1000.
func BenchmarkExtend(b *testing.B) {
	for _, n := range []int{256, 1000} {
		p, _ := NewParams(n)
		for _, k := range []int{p.Ks, p.Kp} {
			lib, err := reedsolomon.New(k, n-k, reedsolomon.WithLeopardGF16(true))
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range []struct {
				name string
				enc  extender
			}{{"library", lib}, {"vec", newVecCode(k, n-k)}} {
				b.Run(fmt.Sprintf("n=%d/k=%d/%s", n, k, c.name), func(b *testing.B) {
					shards := leoShards(n, 4096)
					rng := rand.New(rand.NewPCG(1, 2))
					for _, sh := range shards[:k] {
						fillRandom(rng, sh)
					}
					b.SetBytes(int64(k * 4096))
					for b.Loop() {
						if err := c.enc.Encode(shards); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
