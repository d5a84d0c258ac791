package devnet_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/devnet"
)

var weftBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "weft-devnet-bin")
	if err != nil {
		panic(err)
	}
	weftBin = filepath.Join(dir, "weft")
	if out, err := exec.Command("go", "build", "-o", weftBin, "github.com/weftnet/weft/cmd/weft").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building weft: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type net_ struct {
	t      *testing.T
	dir    string
	cmd    *exec.Cmd
	layout devnet.Layout
	nodes  map[int]*exec.Cmd // nodes restarted by hand
}

func startDevnet(t *testing.T) *net_ {
	t.Helper()
	return startDevnetIn(t, t.TempDir())
}

// startDevnetIn starts (or resumes) the devnet in dir, with more flags
// of weft devnet if given, and stops it with SIGTERM when the test ends.
func startDevnetIn(t *testing.T, dir string, flags ...string) *net_ {
	t.Helper()
	os.Remove(filepath.Join(dir, "devnet.json"))
	n := &net_{t: t, dir: dir, nodes: map[int]*exec.Cmd{}}
	n.cmd = exec.Command(weftBin, append([]string{"devnet", "--dir", n.dir}, flags...)...)
	var out bytes.Buffer
	n.cmd.Stdout, n.cmd.Stderr = &out, &out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	layout, err := devnet.WaitReady(ctx, n.dir)
	if err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	n.layout = *layout
	return n
}

// stop stops the devnet with SIGTERM, as Ctrl-C would.
func (n *net_) stop() {
	if n.cmd.ProcessState != nil {
		return
	}
	for _, c := range n.nodes {
		c.Process.Signal(syscall.SIGTERM)
		c.Wait()
	}
	n.nodes = map[int]*exec.Cmd{}
	n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		n.cmd.Process.Kill()
		n.t.Errorf("devnet did not stop on SIGTERM")
	}
}

// weft runs the CLI against the devnet.
func (n *net_) weft(args ...string) (string, error) {
	cmd := exec.Command(weftBin, args...)
	cmd.Env = append(os.Environ(), "WEFT_CONFIG="+n.layout.ClientConfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("weft %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// sdk connects the SDK to the devnet with its client config; it is
// closed when the test ends.
func (n *net_) sdk(ctx context.Context) *client.Client {
	n.t.Helper()
	ccfg, err := client.LoadConfig(n.layout.ClientConfig)
	if err != nil {
		n.t.Fatal(err)
	}
	c, err := client.New(ctx, ccfg)
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { c.Close() })
	return c
}

// control connects to the devnet's control plane; it is closed when the
// test ends.
func (n *net_) control(ctx context.Context) *rpc.Client {
	n.t.Helper()
	ctl, err := rpc.Dial(ctx, n.layout.ControlPlane)
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { ctl.Close() })
	return ctl
}

func (n *net_) pid(i int) int {
	if c := n.nodes[i]; c != nil {
		return c.Process.Pid
	}
	return n.layout.Nodes[i].PID
}

func (n *net_) kill(i int) {
	n.t.Helper()
	syscall.Kill(n.pid(i), syscall.SIGKILL)
	if c := n.nodes[i]; c != nil {
		c.Wait()
		delete(n.nodes, i)
	}
	// Wait until the port is free.
	addr := strings.TrimPrefix(n.layout.Nodes[i].API, "http://")
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			l.Close()
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("node %d's port stays busy", i)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restart starts node i by hand, as an operator would.
func (n *net_) restart(i int) {
	n.t.Helper()
	cmd := exec.Command(weftBin, "node", "--config", n.layout.Nodes[i].Config)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.Contains(line, "listening") {
		n.t.Fatalf("node %d did not restart: %q %v", i, line, err)
	}
	n.nodes[i] = cmd
}

func TestStoreAndReadWithNodesDown(t *testing.T) {
	n := startDevnet(t)
	if len(n.layout.Nodes) != 7 {
		t.Fatalf("%d nodes", len(n.layout.Nodes))
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	sizes := []int{0, 1, 1 << 20, 20 << 20}
	files := map[int]string{}
	for _, size := range sizes {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		files[size] = filepath.Join(t.TempDir(), fmt.Sprint(size))
		if err := os.WriteFile(files[size], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Two nodes (8 shards ≤ f = 9) are down during the write.
	down := rng.Perm(7)
	n.kill(down[0])
	n.kill(down[1])
	ids := map[int]string{}
	gwIDs := map[int]string{}
	for _, size := range sizes {
		out, err := n.weft("store", "--json", files[size])
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			BlobID         string `json:"blobId"`
			Size           int64  `json:"size"`
			EncodedSize    int64  `json:"encodedSize"`
			CertifiedEpoch uint64 `json:"certifiedEpoch"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Size != int64(size) || r.CertifiedEpoch == 0 {
			t.Fatalf("store %d bytes: %q %v", size, out, err)
		}
		ids[size] = r.BlobID
		st, err := n.weft("status", "--json", r.BlobID)
		var info struct {
			Status         *string `json:"status"`
			CertifiedEpoch *uint64 `json:"certifiedEpoch"`
			EndEpoch       *uint64 `json:"endEpoch"`
		}
		if err != nil || json.Unmarshal([]byte(st), &info) != nil || info.Status == nil || *info.Status != "certified" || info.CertifiedEpoch == nil || info.EndEpoch == nil {
			t.Fatalf("status: %s %v", st, err)
		}
		// The same bytes through the gateway, with a different end epoch
		// (the blob exists already: it is extended, not uploaded again),
		// and a variant that is new to the network.
		data, _ := os.ReadFile(files[size])
		variant := append(append([]byte(nil), data...), 'g')
		for _, body := range [][]byte{data, variant} {
			req, _ := http.NewRequest("PUT", n.layout.Gateway+"/v1/blobs?epochs=7", bytes.NewReader(body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var gr struct {
				BlobID string `json:"blobId"`
			}
			json.NewDecoder(resp.Body).Decode(&gr)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || (len(body) == len(data) && gr.BlobID != r.BlobID) {
				t.Fatalf("gateway store of %d bytes: %d %q", len(body), resp.StatusCode, gr.BlobID)
			}
			if len(body) != len(data) {
				gwIDs[size] = gr.BlobID
			}
		}
	}
	// They come back by hand; two others go down for the read.
	n.restart(down[0])
	n.restart(down[1])
	n.kill(down[2])
	n.kill(down[3])
	for _, size := range sizes {
		out := filepath.Join(t.TempDir(), "out")
		if _, err := n.weft("read", ids[size], "-o", out); err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(files[size])
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, want) {
			t.Fatalf("read of %d bytes differs (%d bytes back)", size, len(got))
		}
		resp, err := http.Get(n.layout.Gateway + "/v1/blobs/" + gwIDs[size])
		if err != nil {
			t.Fatal(err)
		}
		gotGW, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(gotGW, append(want, 'g')) {
			t.Fatalf("gateway read of %d bytes: %d, %d bytes", size+1, resp.StatusCode, len(gotGW))
		}
	}
	// A node that lies: its port answers every sliver request with a
	// well-formed sliver of garbage.
	n.restart(down[2])
	liar := down[3]
	addr := strings.TrimPrefix(n.layout.Nodes[liar].API, "http://")
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var lied atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lied.Add(1)
		var pair int
		fmt.Sscanf(r.URL.Path[strings.LastIndex(r.URL.Path, "/slivers/")+len("/slivers/"):], "%d", &pair)
		msg := blob.SliverMessage{
			Commitment: blob.PairCommitment{Pair: uint32(pair), Path: make([]blob.Hash, 5)},
			Sliver:     blob.Sliver{Kind: blob.Primary, Index: uint32(pair), SymbolSize: 2, Data: bytes.Repeat([]byte{7}, 38)},
		}
		raw, _ := msg.MarshalBinary()
		w.Write(raw)
	})}
	go srv.Serve(l)
	defer srv.Close()
	for _, size := range sizes {
		got, err := n.weft("read", ids[size])
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(files[size])
		if got != string(want) {
			t.Fatalf("read with a lying node returned different bytes")
		}
	}
	if lied.Load() == 0 {
		t.Fatalf("the lying node was never asked (seed %d)", seed)
	}
	t.Logf("the lying node answered %d requests", lied.Load())
}

func TestGateway(t *testing.T) {
	n := startDevnet(t)
	gw := n.layout.Gateway
	if gw == "" {
		t.Fatal("devnet.json has no gateway")
	}
	data := make([]byte, 3<<20+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	put := func(body []byte, query string) (int, map[string]any) {
		req, _ := http.NewRequest("PUT", gw+"/v1/blobs"+query, bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, res := put(data, "?epochs=3&deletable=true")
	if code != http.StatusOK || res["blobId"] == nil {
		t.Fatalf("PUT: %d %v", code, res)
	}
	id := res["blobId"].(string)
	if code, res := put(nil, "?epochs=zero"); code != http.StatusBadRequest {
		t.Fatalf("bad epochs: %d %v", code, res)
	}
	get := func(path string, hdr map[string]string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", gw+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get("/v1/blobs/"+id, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, data) || resp.Header.Get("Content-Length") != fmt.Sprint(len(data)) || resp.Header.Get("ETag") != `"`+id+`"` {
		t.Fatalf("GET: %d, %d bytes, headers %v", resp.StatusCode, len(body), resp.Header)
	}
	resp, body = get("/v1/blobs/"+id, map[string]string{"Range": "bytes=1000-2999"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[1000:3000]) {
		t.Fatalf("Range: %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := get("/v1/blobs/"+id, map[string]string{"If-None-Match": `"` + id + `"`}); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
	unknown := blob.ID{1, 2, 3}
	// status --json of an unknown blob still has every field.
	if st, err := n.weft("status", "--json", unknown.String()); err != nil || !strings.Contains(st, `"status": "unknown"`) || !strings.Contains(st, `"certifiedEpoch": 0`) || !strings.Contains(st, `"endEpoch": 0`) {
		t.Fatalf("status of an unknown blob: %s %v", st, err)
	}
	if resp, _ := get("/v1/blobs/"+unknown.String(), nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown blob: %d", resp.StatusCode)
	}
	if resp, _ := get("/v1/blobs/not-an-id", nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad ID: %d", resp.StatusCode)
	}
	if _, err := n.weft("delete", id); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get("/v1/blobs/"+id, nil); resp.StatusCode != http.StatusGone {
		t.Fatalf("deleted blob: %d", resp.StatusCode)
	}
	// The empty blob round-trips too.
	code, res = put(nil, "")
	if code != http.StatusOK {
		t.Fatalf("PUT empty: %d %v", code, res)
	}
	if resp, body := get("/v1/blobs/"+res["blobId"].(string), nil); resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("GET empty: %d, %d bytes", resp.StatusCode, len(body))
	}
}

// TestDevnetResumes: stopping the devnet and starting it again on the same
// directory brings back the same network with its data.
func TestDevnetResumes(t *testing.T) {
	dir := t.TempDir()
	n := startDevnetIn(t, dir)
	file := filepath.Join(t.TempDir(), "blob")
	data := bytes.Repeat([]byte("resume "), 100_000)
	os.WriteFile(file, data, 0o600)
	id, err := n.weft("store", file)
	if err != nil {
		t.Fatal(err)
	}
	before := n.layout
	n.stop()
	for _, nd := range before.Nodes {
		if syscall.Kill(nd.PID, 0) == nil {
			t.Fatalf("node %s (pid %d) still runs after the devnet stopped", nd.Name, nd.PID)
		}
	}
	n = startDevnetIn(t, dir)
	if n.layout.ControlPlane != before.ControlPlane || len(n.layout.Nodes) != len(before.Nodes) || n.layout.Nodes[0].API != before.Nodes[0].API {
		t.Fatalf("a different network came back: %+v", n.layout)
	}
	out := filepath.Join(t.TempDir(), "out")
	js, err := n.weft("read", "--json", strings.TrimSpace(id), "-o", out)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, data) || !strings.Contains(js, `"size": 700000`) {
		t.Fatalf("after resume: %d bytes, %s", len(got), js)
	}
}

// TestFilesThroughTheCLI: a file stored in segments (a small
// --segment-size) reads back byte-exact by its manifest's ID, --raw reads
// the manifest itself, and a batch stored with --batch prints one address
// per file, each readable alone.
func TestFilesThroughTheCLI(t *testing.T) {
	n := startDevnet(t)
	dir := t.TempDir()
	data := make([]byte, 3<<20+5)
	for i := range data {
		data[i] = byte(i*13 + i>>9)
	}
	big := filepath.Join(dir, "big.bin")
	os.WriteFile(big, data, 0o600)
	out, err := n.weft("store", "--segment-size", "1MiB", big)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out)
	got := filepath.Join(dir, "got.bin")
	if _, err := n.weft("read", id, "-o", got); err != nil {
		t.Fatal(err)
	}
	if back, _ := os.ReadFile(got); !bytes.Equal(back, data) {
		t.Fatalf("segmented file read back %d bytes, stored %d", len(back), len(data))
	}
	raw, err := n.weft("read", "--raw", id)
	if err != nil || !strings.HasPrefix(raw, "weft/manifest\n") {
		t.Fatalf("--raw: %.40q %v", raw, err)
	}

	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "sub", "ünï.txt")
	os.MkdirAll(filepath.Dir(b), 0o700)
	os.WriteFile(a, []byte("alpha"), 0o600)
	os.WriteFile(b, []byte("beta"), 0o600)
	out, err = n.weft("store", "--batch", a, b)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "/"+a) || !strings.HasSuffix(lines[1], "/"+b) {
		t.Fatalf("store --batch printed %q", out)
	}
	for i, want := range []string{"alpha", "beta"} {
		if got, err := n.weft("read", lines[i]); err != nil || got != want {
			t.Fatalf("read %s: %q %v", lines[i], got, err)
		}
	}
	if _, err := n.weft("store", "--batch", a, a); err == nil {
		t.Fatal("a batch with the same name twice was stored")
	}
}
