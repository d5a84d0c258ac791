package redstuff

import (
	"fmt"
	"testing"
)

var benchSizes = []int{1 << 10, 1 << 20, 64 << 20}

func BenchmarkEncode(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		for _, size := range benchSizes {
			c, err := New(n)
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i * 7)
			}
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
