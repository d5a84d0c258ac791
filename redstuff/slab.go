package redstuff

import (
	"sync"
	"weak"
)

// slabPool recycles big buffers between encodes so that back-to-back
// encodes do not fault in fresh memory each time. Unlike sync.Pool it is
// not per-P, so a buffer put back by one goroutine is found by the next
// Encode wherever it runs; like sync.Pool it holds buffers weakly, so the
// garbage collector may still reclaim them.
type slabPool struct {
	mu   sync.Mutex
	free []weak.Pointer[slab]
}

type slab struct{ b []byte }

// maxFree bounds how many buffers a pool remembers.
const maxFree = 8

// get returns a buffer of n bytes: the smallest free one big enough, or a
// new one. Its contents are undefined.
func (p *slabPool) get(n int) []byte {
	p.mu.Lock()
	best := -1
	var bestSlab *slab
	live := p.free[:0]
	for _, w := range p.free {
		s := w.Value()
		if s == nil {
			continue // collected
		}
		live = append(live, w)
		if cap(s.b) >= n && (bestSlab == nil || cap(s.b) < cap(bestSlab.b)) {
			best, bestSlab = len(live)-1, s
		}
	}
	p.free = live
	if bestSlab != nil {
		p.free = append(p.free[:best], p.free[best+1:]...)
	}
	p.mu.Unlock()
	if bestSlab != nil {
		return bestSlab.b[:n]
	}
	return make([]byte, n)
}

// put hands b back for reuse; the caller must not touch it again.
func (p *slabPool) put(b []byte) {
	if cap(b) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == maxFree {
		p.free = append(p.free[:0], p.free[1:]...)
	}
	p.free = append(p.free, weak.Make(&slab{b: b}))
}
