package node_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/weftnet/weft/blob"
)

// BenchmarkIngest uploads every sliver of a blob to one in-process node
// that holds half the shards (see weft bench ingest for the separate
// process measurement).
func BenchmarkIngest(b *testing.B) {
	tb := newTestbed(b, 1)
	n := tb.nodes[0]
	for _, size := range []int{1 << 20, 16 << 20} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			var bytes int64
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				data := make([]byte, size)
				data[0] = byte(i)
				data[1] = byte(i >> 8)
				e := tb.register(data, false)
				bytes = 0
				for pair := 0; pair < shards; pair++ {
					for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
						body := message(e, pair, k)
						bytes += int64(len(body))
						if code, msg := do(b, "PUT", sliverURL(n, e.ID, pair, k), body); code != http.StatusCreated {
							b.Fatalf("%d %s", code, msg)
						}
					}
				}
			}
			b.SetBytes(bytes)
		})
	}
}
