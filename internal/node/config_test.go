package node_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/units"
)

// TestConfig: defaults are filled in, durations parse (and "off"), and
// bad values are refused with a message naming the file.
func TestConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "node.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := `"name":"n","listen":"127.0.0.1:1","dataDir":"data","keyFile":"k.key","controlPlane":"http://x"`
	c, err := node.LoadConfig(write(`{` + base + `}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.RecoveryConcurrency != 2 || c.RecoveryBatchBlobs != 64 || c.RecoveryDelay != units.Duration(2*time.Second) ||
		c.ScrubInterval != units.Duration(24*time.Hour) || c.SymbolConcurrency != 2 || c.DataDir != filepath.Join(dir, "data") {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = node.LoadConfig(write(`{` + base + `,"scrubInterval":"off","recoveryDelay":"150ms","recoveryBatchBlobs":1}`))
	if err != nil || c.ScrubInterval != units.Off || c.RecoveryDelay != units.Duration(150*time.Millisecond) || c.RecoveryBatchBlobs != 1 {
		t.Fatalf("%+v %v", c, err)
	}
	for name, body := range map[string]string{
		"bad duration":       `,"scrubInterval":"daily"`,
		"negative duration":  `,"recoveryTimeout":"-1s"`,
		"delay off":          `,"recoveryDelay":"off"`,
		"negative batch":     `,"recoveryBatchBlobs":-1`,
		"unknown field":      `,"recoverySpeed":3`,
		"duration as number": `,"recoveryDelay":5`,
	} {
		if _, err := node.LoadConfig(write(`{` + base + body + `}`)); err == nil || !strings.Contains(err.Error(), "node") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
