// Package seeded generates content from a seed, for tests and benchmarks
// that store files larger than they want to hold: the same seed gives the
// same bytes, and they are never held whole.
package seeded

import (
	"io"
	"math/rand/v2"
)

// Reader yields n pseudo-random bytes from seed, then io.EOF.
func Reader(seed uint64, n int64) io.Reader {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return &reader{rng: rand.NewChaCha8(s), left: n}
}

type reader struct {
	rng  *rand.ChaCha8
	left int64
}

func (r *reader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.left)]
	r.rng.Read(p)
	r.left -= int64(len(p))
	return len(p), nil
}
