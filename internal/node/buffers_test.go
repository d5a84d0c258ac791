package node

import (
	"math/rand/v2"
	"testing"
)

// TestBufferPool: buffers have the size asked for, and a buffer is never
// handed out twice: while one is in use, no other getBuffer returns
// memory that overlaps it (each is filled with its own mark and checked
// before it goes back), however often buffers are recycled.
func TestBufferPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	type held struct {
		b    []byte
		mark byte
	}
	var live []held
	inUse := map[*byte]bool{} // first byte of each buffer in use
	reused := 0
	returned := map[*byte]bool{} // first bytes of buffers put back
	check := func(h held) {
		t.Helper()
		for _, i := range []int{0, len(h.b) / 2, len(h.b) - 1} {
			if h.b[i] != h.mark {
				t.Fatalf("a buffer in use (len %d, mark %d) was overwritten at %d: handed out twice", len(h.b), h.mark, i)
			}
		}
	}
	for i := 0; i < 20000; i++ {
		if len(live) > 0 && (len(live) >= 16 || rng.IntN(2) == 0) {
			k := rng.IntN(len(live))
			h := live[k]
			live = append(live[:k], live[k+1:]...)
			check(h)
			delete(inUse, &h.b[0])
			returned[&h.b[0]] = true
			putBuffer(h.b)
			continue
		}
		// Few size classes, so that buffers come back often.
		n := 1 + rng.IntN(1<<(4+rng.IntN(12)))
		b := getBuffer(n)
		if len(b) != n || cap(b) < n {
			t.Fatalf("getBuffer(%d): len %d cap %d", n, len(b), cap(b))
		}
		if inUse[&b[0]] {
			t.Fatalf("getBuffer(%d) returned a buffer already in use", n)
		}
		if returned[&b[0]] {
			reused++
		}
		inUse[&b[0]] = true
		h := held{b: b, mark: byte(i%255 + 1)}
		for j := range b {
			b[j] = h.mark
		}
		for _, o := range live {
			check(o)
		}
		live = append(live, h)
	}
	if reused == 0 {
		t.Fatal("no buffer was ever reused: the pool recycles nothing")
	}
	putBuffer(nil)
	putBuffer(make([]byte, 100)) // not a size class: ignored
	if b := getBuffer(0); len(b) != 0 {
		t.Fatalf("getBuffer(0): len %d", len(b))
	}
}
