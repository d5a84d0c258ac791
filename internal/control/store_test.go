package control

import (
	"fmt"
	"slices"
	"testing"

	"github.com/weftnet/weft/internal/testseed"
)

// TestMemStoreScanIsOrderedAndBounded: whatever order keys are written
// and deleted in, a scan visits exactly the live keys of its range in
// ascending order, and a key deleted by the scan's callback before it is
// reached is not visited.
func TestMemStoreScanIsOrderedAndBounded(t *testing.T) {
	rng := testseed.Rand(t)
	s := NewMemStore()
	live := map[string]bool{}
	for range 2000 {
		k := fmt.Sprintf("k%03d", rng.IntN(500))
		if rng.IntN(4) == 0 {
			s.Delete([]byte(k))
			delete(live, k)
			continue
		}
		s.Set([]byte(k), []byte(k))
		live[k] = true
	}
	for range 50 {
		lo, hi := fmt.Sprintf("k%03d", rng.IntN(500)), fmt.Sprintf("k%03d", rng.IntN(500))
		var want []string
		for k := range live {
			if k >= lo && k < hi {
				want = append(want, k)
			}
		}
		slices.Sort(want)
		var got []string
		s.Scan([]byte(lo), []byte(hi), func(k, v []byte) bool {
			if string(k) != string(v) {
				t.Fatalf("key %s has value %s", k, v)
			}
			got = append(got, string(k))
			return true
		})
		if !slices.Equal(got, want) {
			t.Fatalf("scan [%s, %s): got %v, want %v", lo, hi, got, want)
		}
	}
	all := slices.Sorted(func(yield func(string) bool) {
		for k := range live {
			if !yield(k) {
				return
			}
		}
	})
	if len(all) < 3 {
		t.Fatalf("only %d live keys", len(all))
	}
	var visited []string
	s.Scan(nil, nil, func(k, _ []byte) bool {
		visited = append(visited, string(k))
		if len(visited) == 1 {
			s.Delete([]byte(all[1])) // the next key, not reached yet
		}
		return true
	})
	if want := slices.Delete(slices.Clone(all), 1, 2); !slices.Equal(visited, want) {
		t.Fatalf("scan deleting its next key visited %d keys, want %d", len(visited), len(want))
	}
}
