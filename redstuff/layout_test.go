package redstuff

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// refToLeo is the obvious definition of the Leopard layout: element t of a
// run (bytes 2t, 2t+1) goes to block t/32, low byte at t%32, high byte 32
// further.
func refToLeo(src []byte) []byte {
	dst := make([]byte, leoLen(len(src)))
	for t := 0; t < len(src)/2; t++ {
		b := 64 * (t / 32)
		dst[b+t%32] = src[2*t]
		dst[b+32+t%32] = src[2*t+1]
	}
	return dst
}

func TestLayoutMatchesReference(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, m := range []int{0, 2, 62, 64, 66, 126, 128, 130, 1000, 4096, 4098} {
		src := make([]byte, m)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		want := refToLeo(src)
		for _, generic := range []bool{false, true} {
			got := bytes.Repeat([]byte{0xAA}, len(want))
			if generic {
				full := m &^ 63
				splitBlocksGeneric(got[:full], src[:full])
				if full < m {
					var tmp [64]byte
					copy(tmp[:], src[full:])
					splitBlock((*[64]byte)(got[full:]), &tmp)
				}
			} else {
				toLeo(got, src)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("seed %d: toLeo(%d bytes, generic=%v) differs from reference", seed, m, generic)
			}
			back := make([]byte, m)
			if generic {
				full := m &^ 63
				joinBlocksGeneric(back[:full], got[:full])
				if full < m {
					var tmp [64]byte
					joinBlock(&tmp, (*[64]byte)(got[full:]))
					copy(back[full:], tmp[:])
				}
			} else {
				fromLeo(back, got)
			}
			if !bytes.Equal(back, src) {
				t.Fatalf("seed %d: fromLeo does not invert toLeo for %d bytes (generic=%v)", seed, m, generic)
			}
		}
	}
}
