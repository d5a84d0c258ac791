package sim

import (
	"bytes"
	"strings"
	"testing"
)

func run(t *testing.T, cfg Config) (Summary, string) {
	t.Helper()
	var out bytes.Buffer
	sum, err := Run(cfg, &out)
	if err != nil {
		t.Fatalf("seed %d: %v\n%s", cfg.Seed, err, out.String())
	}
	return sum, out.String()
}

// TestSameSeedSameRun: one seed prints the same run twice, byte for byte.
func TestSameSeedSameRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed = 7
	_, a := run(t, cfg)
	_, b := run(t, cfg)
	if a != b {
		t.Fatalf("seed 7 ran differently twice:\n%s\n---\n%s", a, b)
	}
	if !strings.HasPrefix(a, "seed 7\n") {
		t.Fatalf("the seed is not printed first:\n%s", a)
	}
	t.Logf("\n%s", a)
}

// TestSeedsRunClean: a few seeds, with more faults and shard counts, keep
// every invariant and certify every blob.
func TestSeedsRunClean(t *testing.T) {
	for seed, shards := range map[uint64]int{1: 7, 2: 10, 3: 13, 4: 31} {
		cfg := DefaultConfig()
		cfg.Seed, cfg.Shards, cfg.Nodes, cfg.CrashRate, cfg.WipeRate = seed, shards, min(shards, 9), 1, 0.3
		sum, out := run(t, cfg)
		if sum.Violations != 0 || strings.Contains(out, "VIOLATION") {
			t.Errorf("seed %d: %d violations:\n%s", seed, sum.Violations, out)
		}
		if sum.Certified != cfg.Blobs || sum.Crashes+sum.Wipes == 0 {
			t.Errorf("seed %d: %d of %d blobs certified, %d faults injected:\n%s", seed, sum.Certified, cfg.Blobs, sum.Crashes+sum.Wipes, out)
		}
		if sum.Wipes > 0 && sum.RecoveredSlivers == 0 {
			t.Errorf("seed %d: %d wipes and nothing recovered:\n%s", seed, sum.Wipes, out)
		}
	}
}

// TestBrokenNodeIsCaught: nodes that confirm before they sync lose
// acknowledged slivers when they crash; the run says so and prints the
// command that replays it.
func TestBrokenNodeIsCaught(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed, cfg.Blobs, cfg.CrashRate, cfg.WipeRate = 11, 40, 4, 0
	cfg.ackBeforeSync = true
	sum, out := run(t, cfg)
	if sum.Violations == 0 {
		t.Fatalf("nodes acknowledging unsynced writes went unnoticed:\n%s", out)
	}
	if !strings.Contains(out, "it acknowledged (only a disk wipe may take those)") || !strings.Contains(out, "replay with: "+cfg.Command()+"\n") {
		t.Fatalf("no violation or replay command in the output:\n%s", out)
	}
	t.Logf("\n%s", out)
	// The same run with honest nodes is clean.
	cfg.ackBeforeSync = false
	if sum, out := run(t, cfg); sum.Violations != 0 {
		t.Fatalf("honest nodes: %d violations:\n%s", sum.Violations, out)
	}
}
