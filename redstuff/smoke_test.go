package redstuff

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/weftnet/weft/blob"
)

func TestSmoke(t *testing.T) {
	for _, n := range []int{4, 5, 10, 100} {
		c, err := New(n)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for _, L := range []int{0, 1, 100, 5000, 100000} {
			data := make([]byte, L)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			e, err := c.Encode(data)
			if err != nil {
				t.Fatal(err)
			}
			id2, _ := c.BlobID(data)
			id3, _ := c.BlobIDReader(bytes.NewReader(data), uint64(L))
			if id2 != e.ID || id3 != e.ID {
				t.Fatalf("n=%d L=%d id mismatch", n, L)
			}
			for p := 0; p < n; p++ {
				pr := e.Sliver(blob.Primary, p)
				if err := c.VerifySliver(e.ID, uint64(L), &pr, &e.Pairs[p]); err != nil {
					t.Fatalf("n=%d L=%d p=%d: %v", n, L, p, err)
				}
				sc := e.Sliver(blob.Secondary, n-1-p)
				if err := c.VerifySliver(e.ID, uint64(L), &sc, &e.Pairs[p]); err != nil {
					t.Fatalf("n=%d L=%d p=%d sec: %v", n, L, p, err)
				}
			}
			var sl []blob.Sliver
			for _, r := range rng.Perm(n)[:c.p.Kp] {
				sl = append(sl, e.Sliver(blob.Primary, r))
			}
			got, err := c.Decode(e.ID, uint64(L), sl)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("n=%d L=%d decode: %v", n, L, err)
			}
			// rebuild primary 0 from secondary sources
			var syms []blob.RecoverySymbol
			for _, col := range rng.Perm(n)[:c.p.Ks] {
				sc := e.Sliver(blob.Secondary, col)
				ss, err := c.NewSymbolSource(uint64(L), &sc, &e.Pairs[n-1-col])
				if err != nil {
					t.Fatal(err)
				}
				sym, _ := ss.Symbol(3, true)
				syms = append(syms, sym)
			}
			rb, err := c.Rebuild(e.ID, uint64(L), blob.Primary, 3, &e.Pairs[3], syms)
			if err != nil || !bytes.Equal(rb, e.Primary[3]) {
				t.Fatalf("n=%d L=%d rebuild: %v", n, L, err)
			}
		}
	}
}
