package gateway

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	b := newBudget(10)
	ctx := context.Background()
	if n, err := b.acquire(ctx, 6); n != 6 || err != nil {
		t.Fatalf("acquire 6: %d %v", n, err)
	}
	// 5 does not fit: it waits, and a request behind it waits too even
	// though it would fit (first come, first served).
	got5 := make(chan int64)
	go func() { n, _ := b.acquire(ctx, 5); got5 <- n }()
	for deadline := time.Now().Add(5 * time.Second); ; {
		b.mu.Lock()
		w := len(b.waiters)
		b.mu.Unlock()
		if w == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second request is not waiting")
		}
		time.Sleep(time.Millisecond)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := b.acquire(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a request behind a waiter: %v", err)
	}
	b.release(6)
	if n := <-got5; n != 5 || b.inUse() != 5 {
		t.Fatalf("waiter got %d, in use %d", n, b.inUse())
	}
	// Larger than the budget: takes all of it.
	b.release(5)
	if n, err := b.acquire(ctx, 1<<40); n != 10 || err != nil {
		t.Fatalf("oversize: %d %v", n, err)
	}
	b.release(10)
	if b.inUse() != 0 {
		t.Fatalf("in use %d", b.inUse())
	}
}
