package node

import (
	"math/rand/v2"
	"testing"
)

func TestBufferPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 10000; i++ {
		n := rng.IntN(1 << (1 + rng.IntN(22)))
		b := getBuffer(n)
		if len(b) != n || cap(b) < n {
			t.Fatalf("getBuffer(%d): len %d cap %d", n, len(b), cap(b))
		}
		for j := range b {
			b[j] = 1
		}
		putBuffer(b)
	}
	putBuffer(nil)
	putBuffer(make([]byte, 100)) // not from the pool: ignored
}
