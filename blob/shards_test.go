package blob_test

import (
	"testing"

	"github.com/weftnet/weft/blob"
)

// TestFaultModel checks the BFT bounds the quorum rules rely on, for
// every shard count the codec takes.
func TestFaultModel(t *testing.T) {
	for n := 4; n <= 1000; n++ {
		f, q, v := blob.MaxFaulty(n), blob.Quorum(n), blob.Validity(n)
		switch {
		case 3*f >= n || 3*(f+1) < n:
			t.Fatalf("n=%d: f=%d is not the largest with 3f < n", n, f)
		case q+f != n:
			t.Fatalf("n=%d: quorum %d + f %d != n", n, q, f)
		case 2*q-n < v:
			t.Fatalf("n=%d: two quorums of %d share %d shards, fewer than f+1 = %d", n, q, 2*q-n, v)
		case v <= f:
			t.Fatalf("n=%d: validity %d does not exceed f = %d", n, v, f)
		}
	}
}
