package devnet_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weftnet/weft/internal/devnet"
)

// running reports whether pid runs (a zombie waiting to be reaped does not).
func running(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	i := bytes.LastIndexByte(raw, ')')
	return i < 0 || i+2 >= len(raw) || (raw[i+2] != 'Z' && raw[i+2] != 'X')
}

// killLeftovers kills, when the test ends, whichever of pids (children of
// a devnet this test started) still run.
func killLeftovers(t *testing.T, pids []int) {
	t.Cleanup(func() {
		for _, pid := range pids {
			if running(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

// TestKill9StopsChildren: when the devnet process is killed with kill -9,
// its nodes and gateway die with it.
func TestKill9StopsChildren(t *testing.T) {
	n := startDevnet(t)
	var pids []int
	for _, nd := range n.layout.Nodes {
		pids = append(pids, nd.PID)
	}
	if n.layout.GatewayPID != 0 {
		pids = append(pids, n.layout.GatewayPID)
	}
	killLeftovers(t, pids)
	n.cmd.Process.Kill()
	n.cmd.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var alive []int
		for _, pid := range pids {
			if running(pid) {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("20s after kill -9 of the devnet, its children %v still run", alive)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestResumeStopsStaleNode: a node of the directory left running (by an
// earlier devnet, or by hand) holds its database and port; the next run
// stops it and starts its own.
func TestResumeStopsStaleNode(t *testing.T) {
	dir := t.TempDir()
	n := startDevnetIn(t, dir)
	// node-2 restarted by hand (so not the devnet's child), then the
	// devnet killed: node-2 stays, holding its database and port.
	n.kill(2)
	n.restart(2)
	stale := n.nodes[2]
	delete(n.nodes, 2)
	killLeftovers(t, []int{stale.Process.Pid})
	exited := make(chan struct{})
	go func() { stale.Wait(); close(exited) }()
	n.cmd.Process.Kill()
	n.cmd.Wait()
	if !running(stale.Process.Pid) {
		t.Fatal("the hand-started node died with the devnet")
	}

	n = startDevnetIn(t, dir)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the stale node (PID %d) still runs after the devnet resumed", stale.Process.Pid)
	}
	if pid := n.layout.Nodes[2].PID; pid == stale.Process.Pid || !running(pid) {
		t.Fatalf("node-2 is PID %d (stale one %d)", pid, stale.Process.Pid)
	}
	waitHealth(t, n.layout.Nodes[2].API)
}

func waitHealth(t *testing.T, api string) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(api + "/v1/health")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return body
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy in 30s: %v", api, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runUntilReadyOrExit runs a devnet in dir until it either writes
// devnet.json (ready: it is then stopped) or exits, and returns its
// output and whether it became ready.
func runUntilReadyOrExit(t *testing.T, dir string) (string, bool) {
	t.Helper()
	os.Remove(filepath.Join(dir, "devnet.json"))
	cmd := exec.Command(weftBin, "devnet", "--dir", dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ready := make(chan struct{})
	go func() {
		if _, err := devnet.WaitReady(ctx, dir); err == nil {
			close(ready)
		}
	}()
	select {
	case <-ready:
		return out.String(), true
	case <-exited:
		return out.String(), false
	case <-ctx.Done():
		t.Fatalf("devnet neither ready nor exited in 90s:\n%s", out.String())
		return "", false
	}
}

// TestReadinessDoesNotLie: a devnet whose node cannot start fails with a
// clear message instead of reporting ready — whether another process
// answers on the node's address or the node just exits.
func TestReadinessDoesNotLie(t *testing.T) {
	dir := t.TempDir()
	n := startDevnetIn(t, dir)
	layout := n.layout
	health := waitHealth(t, layout.Nodes[3].API)
	n.stop()

	// An impostor on node-3's address, answering its health like node-3.
	l, err := net.Listen("tcp", strings.TrimPrefix(layout.Nodes[3].API, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	imp := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(health)
	})}
	go imp.Serve(l)
	out, ready := runUntilReadyOrExit(t, dir)
	imp.Close()
	if ready {
		t.Fatalf("devnet ready while node-3's address was held by another process:\n%s", out)
	}
	if !strings.Contains(out, "node-3") || !strings.Contains(out, "in use") {
		t.Fatalf("devnet failed without saying why:\n%s", out)
	}

	// node-4 cannot open its data: it exits, and the devnet says so.
	data := layout.Nodes[4].DataDir
	if err := os.Rename(data, data+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, ready = runUntilReadyOrExit(t, dir)
	if ready {
		t.Fatalf("devnet ready while node-4 could not start:\n%s", out)
	}
	if !strings.Contains(out, "node-4 exited") {
		t.Fatalf("devnet failed without saying node-4 exited:\n%s", out)
	}
	t.Logf("failed in %v: %s", time.Since(start), firstLine(out, "node-4"))
	// No child of the failed run is left behind.
	for _, nd := range layout.Nodes {
		if addrBusy(nd.API) {
			t.Errorf("%s's address is still held after the devnet failed", nd.Name)
		}
	}
}

func firstLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func addrBusy(api string) bool {
	l, err := net.Listen("tcp", strings.TrimPrefix(api, "http://"))
	if err != nil {
		return true
	}
	l.Close()
	return false
}
