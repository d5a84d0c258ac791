package bench

import (
	"bytes"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/weftnet/weft/redstuff"
)

func TestRepairBatch(t *testing.T) {
	for size, want := range map[int64]int{64 << 10: 64, 1 << 20: 64, 16 << 20: 4, 64 << 20: 1, 256 << 20: 1, 3 << 20: 21} {
		if got := repairBatch(size); got != want {
			t.Errorf("repairBatch(%d) = %d, want %d", size, got, want)
		}
	}
}

// TestRepairTable runs the repair benchmark on small inputs: Weft rebuilds
// about what it downloads, one call per peer, and classic Reed–Solomon
// downloads k times what it rebuilds.
func TestRepairTable(t *testing.T) {
	var out bytes.Buffer
	shards, sizes := []int{10, 40}, []int64{64 << 10, 1 << 20}
	res, err := Repair(&out, RepairConfig{Shards: shards, Sizes: sizes, MinTime: time.Millisecond, minRuns: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(shards)*len(sizes) {
		t.Fatalf("%d results", len(res))
	}
	for _, r := range res {
		p, err := redstuff.NewParams(r.Shards)
		if err != nil {
			t.Fatal(err)
		}
		ratio := r.WeftRatio()
		if math.IsNaN(ratio) || math.IsInf(ratio, 0) || ratio <= 0 {
			t.Errorf("n=%d size=%d: Weft ratio %v", r.Shards, r.Size, ratio)
		}
		if r.Size >= 1<<20 && ratio > 1.1 {
			t.Errorf("n=%d size=%d: Weft ratio %.3f above 1.1 (symbols %d, commitments %d, heads %d bytes for %d pairs of %d bytes)",
				r.Shards, r.Size, ratio, r.WeftSymbols, r.WeftCommitments, r.WeftHeads(), r.Batch, r.PairBytes)
		}
		if r.ClassicK != p.Kp || r.ClassicRatio() != float64(p.Kp) {
			t.Errorf("n=%d size=%d: classic k %d, ratio %v; want %d", r.Shards, r.Size, r.ClassicK, r.ClassicRatio(), p.Kp)
		}
		if ratio >= r.ClassicRatio() || r.Factor() <= 1 {
			t.Errorf("n=%d size=%d: Weft ratio %.3f, classic %.0f, factor %.2f", r.Shards, r.Size, ratio, r.ClassicRatio(), r.Factor())
		}
		if r.Batch != 64 || r.PairBytes != int64(p.Ks+p.Kp)*int64(p.SymbolSize(uint64(r.Size))) {
			t.Errorf("n=%d size=%d: batch %d, pair %d bytes", r.Shards, r.Size, r.Batch, r.PairBytes)
		}
		// At least k symbols per rebuilt sliver, and bytes for the rest.
		if r.WeftSymbols < int64(r.Batch)*r.PairBytes || r.WeftCommitments <= 0 || r.WeftHeads() <= 0 || r.WeftSent <= 0 {
			t.Errorf("n=%d size=%d: symbols %d, commitments %d, heads %d, sent %d", r.Shards, r.Size, r.WeftSymbols, r.WeftCommitments, r.WeftHeads(), r.WeftSent)
		}
		if r.WeftRounds != 1 || r.WeftCalls > r.Shards-1 {
			t.Errorf("n=%d size=%d: %d rounds, %d calls; want one round of at most one call per peer", r.Shards, r.Size, r.WeftRounds, r.WeftCalls)
		}
		if r.WeftTime <= 0 || r.ClassicTime <= 0 {
			t.Errorf("n=%d size=%d: missing times: %+v", r.Shards, r.Size, r)
		}
	}
	if !strings.Contains(out.String(), "    40    1 MiB    64 ") {
		t.Fatalf("table row missing:\n%s", out.String())
	}
}

func TestRepairValidate(t *testing.T) {
	for _, cfg := range []RepairConfig{{Shards: []int{3}}, {Shards: []int{10, 1 << 20}}, {Sizes: []int64{1 << 20, 0}}} {
		if _, err := Repair(io.Discard, cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
