package cli

import (
	"strings"
	"testing"
)

// TestSim: weft sim prints the seed first, the same output for the same
// seed, and a summary; bad flags are usage errors.
func TestSim(t *testing.T) {
	args := []string{"sim", "--seed", "5", "--blobs", "6", "--epochs", "2", "--shards", "7", "--nodes", "5"}
	code, a, stderr := run(t, "", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, a)
	}
	if !strings.HasPrefix(a, "seed 5\n") || !strings.Contains(a, "summary: seed 5: 6 blobs registered, 6 certified") {
		t.Fatalf("unexpected output:\n%s", a)
	}
	if _, b, _ := run(t, "", args...); a != b {
		t.Fatalf("seed 5 ran differently twice:\n%s\n---\n%s", a, b)
	}
	if code, _, stderr := run(t, "", "sim", "--nodes", "20", "--shards", "10"); code != 2 {
		t.Fatalf("more nodes than shards: exit %d, want 2 (%s)", code, stderr)
	}
	churn := append(args, "--churn", "1", "--epochs", "3", "--epoch-duration", "20s")
	code, c, stderr := run(t, "", churn...)
	if code != 0 || !strings.Contains(c, " joined left moved ") || !strings.Contains(c, "\nchurn: ") {
		t.Fatalf("--churn 1: exit %d: %s\n%s", code, stderr, c)
	}
	if code, _, stderr := run(t, "", "sim", "--churn", "2"); code != 2 {
		t.Fatalf("--churn 2: exit %d, want 2 (%s)", code, stderr)
	}
	for _, bad := range []struct{ flag, value, says string }{
		{"--loss", "0.9", "loss and slow must be 0..0.5"},
		{"--byzantine", "9", "Byzantine nodes would hold more than f"},
		{"--bug", "nope", `unknown bug "nope"`},
		{"--inconsistent", "99", "inconsistent blobs must be 0..blobs"},
		{"--partitions", "-1", "partitions must be ≥ 0"},
	} {
		if code, _, stderr := run(t, "", "sim", bad.flag, bad.value); code != 2 || !strings.Contains(stderr, bad.says) {
			t.Errorf("%s %s: exit %d, want 2 saying %q (%s)", bad.flag, bad.value, code, bad.says, stderr)
		}
	}
}
