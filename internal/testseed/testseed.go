// Package testseed seeds property tests: -seed N replays a run, 0 (the
// default) picks a seed from the clock, and the seed in use is logged so a
// failure can be replayed. Only tests import it.
package testseed

import (
	"flag"
	"math/rand/v2"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("seed", 0, "seed for property tests (0 picks one from the clock)")

// Seed returns the seed for a test and logs it.
func Seed(t testing.TB) uint64 {
	t.Helper()
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed=%d)", s, s)
	return s
}

// Rand returns a PCG generator from Seed.
func Rand(t testing.TB) *rand.Rand {
	t.Helper()
	s := Seed(t)
	return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
}
