package node_test

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/node"
)

// smallDisk mounts a tmpfs of size bytes for the test. Root can, and
// must (CI runs as root); anyone else is told the test needs it.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Geteuid() == 0 {
			t.Fatalf("cannot mount a small filesystem as root: %v %s", err, out)
		}
		t.Skipf("this test mounts a small filesystem and needs root: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill takes every free byte of the filesystem at dir.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	for size := len(chunk) / 2; size > 0; size /= 2 {
		f.Write(chunk[:size])
	}
}

// TestFullDisk: on a full disk uploads are refused with 507, health says
// why, the node keeps answering, and it restarts on the full disk and
// serves what it holds.
func TestFullDisk(t *testing.T) {
	disk := smallDisk(t, "48m")
	tb := newLimitsTestbed(t, func(c *node.Config) {
		c.DataDir = filepath.Join(disk, "data")
		c.DiskReserveBytes = 2 << 20
	})
	n := tb.nodes[0]
	a := tb.register(make([]byte, 100_000), false)
	uploadAll(t, n, a)

	fill(t, disk)
	b := tb.register(make([]byte, 50_000), false)
	code, body := do(t, "PUT", sliverURL(n, b.ID, 0, blob.Primary), message(b, 0, blob.Primary))
	if code != http.StatusInsufficientStorage || !strings.Contains(string(body), "disk full") {
		t.Fatalf("upload on a full disk: %d %s, want 507 disk full", code, body)
	}
	// Health says so; the node keeps answering quickly while the event
	// follower's writes meet the full disk.
	deadline := time.Now().Add(10 * time.Second)
	for {
		start := time.Now()
		var h node.Health
		code, body := do(t, "GET", url(n, "/v1/health"), nil)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("health took %v on a full disk", took)
		}
		if code != http.StatusOK && code != http.StatusServiceUnavailable {
			t.Fatalf("health: %d %s", code, body)
		}
		if strings.Contains(string(body), "disk") && !strings.Contains(string(body), `"status":"ok"`) {
			_ = h
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health on a full disk: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Restart on the full disk: the node opens and serves what it holds.
	tb.stop(0)
	n = tb.start(0)
	code, body = do(t, "GET", sliverURL(n, a.ID, 3, blob.Secondary), nil)
	var msg blob.SliverMessage
	if code != http.StatusOK || msg.UnmarshalBinary(body) != nil {
		t.Fatalf("sliver after restart on a full disk: %d", code)
	}
	if code, body := do(t, "PUT", sliverURL(n, b.ID, 0, blob.Primary), message(b, 0, blob.Primary)); code != http.StatusInsufficientStorage {
		t.Fatalf("upload after restart on a full disk: %d %s, want 507", code, body)
	}
	if h := health(t, n); h.Status == "ok" {
		t.Fatalf("health after restart on a full disk: %+v", h)
	}
}
