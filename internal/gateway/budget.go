package gateway

import (
	"context"
	"sync"
)

// budget is a weighted semaphore of bytes: requests take the bytes they
// will hold before holding them, first come first served, so the bytes
// held at once never exceed the budget's size. A request larger than the
// whole budget takes all of it, so it runs alone rather than never.
type budget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	waiters []*waiter
}

type waiter struct {
	n     int64
	ready chan struct{} // closed when granted
}

func newBudget(size int64) *budget { return &budget{size: size} }

// clamp returns what a request of n bytes takes.
func (b *budget) clamp(n int64) int64 { return max(0, min(n, b.size)) }

// acquire takes n bytes (clamped to the budget's size) or fails with ctx's
// error. It returns what was taken, to hand back to release.
func (b *budget) acquire(ctx context.Context, n int64) (int64, error) {
	n = b.clamp(n)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.size {
		b.used += n
		b.mu.Unlock()
		return n, nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return n, nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready:
			// Granted while giving up: hand the bytes back.
			b.mu.Unlock()
			b.release(n)
		default:
			for i, x := range b.waiters {
				if x == w {
					b.waiters = append(b.waiters[:i:i], b.waiters[i+1:]...)
					break
				}
			}
			// The head may have left: those behind it may fit now.
			b.grant()
			b.mu.Unlock()
		}
		return 0, ctx.Err()
	}
}

// release hands back n bytes taken by acquire.
func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	if b.used < 0 {
		panic("gateway: budget released more than taken")
	}
	b.grant()
	b.mu.Unlock()
}

// grant wakes waiters in order while they fit. b.mu is held.
func (b *budget) grant() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.size {
			return
		}
		b.used += w.n
		close(w.ready)
		b.waiters = b.waiters[1:]
	}
}

// inUse returns the bytes taken.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
