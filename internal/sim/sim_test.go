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
