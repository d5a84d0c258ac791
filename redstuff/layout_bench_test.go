package redstuff

import "testing"

func BenchmarkFromLeo(b *testing.B) {
	src := make([]byte, 1<<20)
	dst := make([]byte, 1<<20)
	b.SetBytes(1 << 20)
	for b.Loop() {
		fromLeo(dst, src)
	}
}

func BenchmarkToLeo(b *testing.B) {
	src := make([]byte, 1<<20)
	dst := make([]byte, 1<<20)
	b.SetBytes(1 << 20)
	for b.Loop() {
		toLeo(dst, src)
	}
}
