package cli

import (
	"strings"
	"testing"
)

// TestDevnetChurnCommandsErrors: the devnet's churn commands say what is
// wrong when no devnet runs in DIR or DIR is missing.
func TestDevnetChurnCommandsErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"devnet", "add-node", "--dir", dir},
		{"devnet", "remove-node", "--dir", dir, "node-1"},
		{"devnet", "advance-epoch", "--dir", dir},
	} {
		if code, out, errs := run(t, "", args...); code != 1 || out != "" || !strings.Contains(errs, "no devnet runs in "+dir) {
			t.Errorf("%v: code %d, out %q, err %q", args, code, out, errs)
		}
	}
	for _, args := range [][]string{
		{"devnet", "add-node"},
		{"devnet", "remove-node", "node-1"},
		{"devnet", "remove-node", "--dir", dir},
		{"devnet", "advance-epoch"},
	} {
		if code, _, errs := run(t, "", args...); code != 2 || errs == "" {
			t.Errorf("%v: code %d, err %q", args, code, errs)
		}
	}
}
