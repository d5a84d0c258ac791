package redstuff

import (
	"fmt"
	"testing"

	"github.com/weftnet/weft/blob"
)

var benchSizes = []int{1 << 10, 1 << 20, 64 << 20}

// benchInput is a codec for n shards and size bytes to encode.
func benchInput(b *testing.B, n, size int) (*Codec, []byte) {
	c, err := New(n)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	return c, data
}

func BenchmarkEncode(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		for _, size := range benchSizes {
			c, data := benchInput(b, n, size)
			b.Run(fmt.Sprintf("n=%d/size=%d/encode", n, size), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					e, err := c.Encode(data)
					if err != nil {
						b.Fatal(err)
					}
					e.Release()
				}
			})
			b.Run(fmt.Sprintf("n=%d/size=%d/floor", n, size), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Floor(uint64(size)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRebuild: a node rebuilding ten slivers of one small blob from
// the same peers, one decoding per sliver against one for all ten.
func BenchmarkRebuild(b *testing.B) {
	const slivers = 10
	for _, n := range []int{100, 1000} {
		for _, size := range []int{4 << 10, 1 << 20} {
			c, data := benchInput(b, n, size)
			e, err := c.Encode(data)
			if err != nil {
				b.Fatal(err)
			}
			p := c.Params()
			from := make([]int, p.SliverLen(blob.Primary))
			for i := range from {
				from[i] = n - 1 - i
			}
			indices := make([]int, slivers)
			lists := make([][]blob.RecoverySymbol, slivers)
			for j := range indices {
				indices[j] = j
				lists[j] = symbolsFor(b, c, e, blob.Primary, j, from, false)
			}
			name := fmt.Sprintf("n=%d/size=%d/slivers=%d", n, size, slivers)
			b.Run(name+"/one-by-one", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					for j, index := range indices {
						if _, _, _, err := c.RebuildUnchecked(e.ID, e.Length, blob.Primary, index, lists[j]); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
			b.Run(name+"/batched", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, _, _, err := c.RebuildManyUnchecked(e.ID, e.Length, blob.Primary, indices, lists); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
