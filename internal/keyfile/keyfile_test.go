package keyfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "node.key")
	k1, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode(), err)
	}
	k2, err := LoadOrCreate(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("reloaded a different key (%v)", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	os.WriteFile(bad, []byte("not a key"), 0o600)
	if _, err := LoadOrCreate(bad); err == nil {
		t.Fatal("a corrupt key file was accepted (or overwritten)")
	}
	if raw, _ := os.ReadFile(bad); string(raw) != "not a key" {
		t.Fatal("a corrupt key file was overwritten")
	}
}
