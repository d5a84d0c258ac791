package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/loopback"
	"github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/redstuff"
)

// IngestConfig says what the ingest benchmark measures.
type IngestConfig struct {
	Shards      []int // default 10, 100
	Size        int64 // blob size; default 64 MiB
	Concurrency int   // parallel uploads; default 4
	// Exe is the weft binary to run the node with (default: this one).
	Exe string
}

// IngestResult is one row of the ingest table.
type IngestResult struct {
	Shards      int
	Size        int64
	SliverBytes int64
	Elapsed     time.Duration
	NodeCPU     time.Duration // the node process's user+system time
	Baseline    time.Duration // the same uploads to a discarding HTTP server
}

// Ingest measures sliver ingest on one storage node over loopback HTTP:
// an embedded control plane, one `weft node` process holding every shard,
// and all 2n slivers of a blob uploaded to it (each verified against the
// blob ID and synced before the node answers). The node's CPU time is read
// from /proc; the baseline is the same uploads to an HTTP server in this
// process that only reads and discards bodies.
func Ingest(w io.Writer, cfg IngestConfig) ([]IngestResult, error) {
	if len(cfg.Shards) == 0 {
		cfg.Shards = []int{10, 100}
	}
	if cfg.Size == 0 {
		cfg.Size = 64 << 20
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 4
	}
	if cfg.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cfg.Exe = exe
	}
	fmt.Fprintf(w, "weft bench ingest: one storage node process holding every shard, %d parallel uploads over loopback HTTP\n\n", cfg.Concurrency)
	fmt.Fprintf(w, "%6s %8s %10s | %10s %9s %12s | %12s %9s\n", "shards", "blob", "slivers", "ingest", "MB/s", "node CPU/GB", "discard MB/s", "ratio")
	var out []IngestResult
	for _, n := range cfg.Shards {
		r, err := ingestOne(n, cfg)
		if err != nil {
			return out, fmt.Errorf("bench: ingest n=%d: %w", n, err)
		}
		out = append(out, r)
		gb := float64(r.SliverBytes) / 1e9
		fmt.Fprintf(w, "%6d %8s %10s | %10s %9.1f %11.2fs | %12.1f %8.2fx\n", n, FormatSize(r.Size), FormatSize(r.SliverBytes),
			formatDuration(r.Elapsed), mbps(r.SliverBytes, r.Elapsed), r.NodeCPU.Seconds()/gb,
			mbps(r.SliverBytes, r.Baseline), r.Elapsed.Seconds()/r.Baseline.Seconds())
	}
	return out, nil
}

type upload struct {
	path string
	body []byte
}

func uploads(e *redstuff.Encoded) []upload {
	var ups []upload
	p := e.Params
	for pair := 0; pair < p.N; pair++ {
		for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
			idx := p.PrimaryOf(pair)
			if k == blob.Secondary {
				idx = p.SecondaryOf(pair)
			}
			body, _ := (&blob.SliverMessage{Commitment: e.Pairs[pair], Sliver: e.Sliver(k, idx)}).MarshalBinary()
			ups = append(ups, upload{fmt.Sprintf("/v1/blobs/%s/slivers/%d/%s", e.ID, pair, k), body})
		}
	}
	return ups
}

// send PUTs every upload to base with c parallel requests.
func send(base string, ups []upload, c int) (time.Duration, error) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}}
	work := make(chan upload)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				req, _ := http.NewRequest("PUT", base+u.path, bytes.NewReader(u.body))
				resp, err := hc.Do(req)
				if err == nil {
					msg, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode/100 != 2 {
						err = fmt.Errorf("%s: %d %s", u.path, resp.StatusCode, msg)
					}
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		}()
	}
	for _, u := range ups {
		work <- u
	}
	close(work)
	wg.Wait()
	return time.Since(start), firstErr
}

// procCPU returns a process's user+system CPU time from /proc.
func procCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command (which may hold spaces) start after ")".
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

func ingestOne(n int, cfg IngestConfig) (IngestResult, error) {
	r := IngestResult{Shards: n, Size: cfg.Size}
	dir, err := os.MkdirTemp("", "weft-bench-ingest")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	keyPath := filepath.Join(dir, "keys", "node.key")
	key, err := keyfile.LoadOrCreate(keyPath)
	if err != nil {
		return r, err
	}
	g := control.Genesis{Params: control.Params{NetworkID: "weft-bench", Shards: n, MaxEpochsAhead: 100},
		Nodes: []control.NodeRecord{{Key: control.KeyOf(key), Name: "node-0", Address: "http://127.0.0.1"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	v, ctl, err := embedded(ctx, filepath.Join(dir, "control"), g)
	if err != nil {
		return r, err
	}
	defer v.Shutdown(context.Background())
	defer ctl.Close()

	codec, err := redstuff.New(n)
	if err != nil {
		return r, err
	}
	e, err := codec.Encode(randomBlob(cfg.Size))
	if err != nil {
		return r, err
	}
	user := rpc.NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)))
	if _, err := ctl.Submit(ctx, user, control.Payload{RegisterBlob: &control.RegisterBlob{ID: e.ID, Length: e.Length, Encoding: blob.RS2D16, Root: e.Root, EndEpoch: 10}}); err != nil {
		return r, err
	}
	ups := uploads(e)
	for _, u := range ups {
		r.SliverBytes += int64(len(u.body))
	}

	// The node, as its own process.
	listen, err := loopback.FreeAddr()
	if err != nil {
		return r, err
	}
	nc := node.Config{Name: "node-0", Listen: listen, DataDir: filepath.Join(dir, "data"), KeyFile: keyPath,
		ControlPlane: v.RPC(), MaxBodyBytes: 4 << 30}
	raw, _ := json.Marshal(nc)
	cfgPath := filepath.Join(dir, "node.json")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		return r, err
	}
	cmd := exec.CommandContext(ctx, cfg.Exe, "node", "--config", cfgPath)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.Contains(line, "listening") {
		return r, fmt.Errorf("node did not start: %q %v", line, err)
	}
	cpu0, err := procCPU(cmd.Process.Pid)
	if err != nil {
		return r, err
	}
	if r.Elapsed, err = send("http://"+listen, ups, cfg.Concurrency); err != nil {
		return r, err
	}
	cpu1, err := procCPU(cmd.Process.Pid)
	if err != nil {
		return r, err
	}
	r.NodeCPU = cpu1 - cpu0
	resp, err := http.Get(fmt.Sprintf("http://%s/v1/blobs/%s/confirmation", listen, e.ID))
	if err != nil {
		return r, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("node did not confirm the blob after ingest: %d", resp.StatusCode)
	}

	// Baseline: the same uploads to a server that discards them.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		w.WriteHeader(http.StatusCreated)
	})}
	go srv.Serve(l)
	defer srv.Close()
	r.Baseline, err = send("http://"+l.Addr().String(), ups, cfg.Concurrency)
	return r, err
}
