package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/engine"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/loopback"
	"github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/redstuff"
)

// The process tests run the real weft binary, built once, on first use,
// so that the package's other tests, fuzzers and benchmarks do not pay
// for the build.
var procWeft struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if procWeft.dir != "" {
		os.RemoveAll(procWeft.dir)
	}
	os.Exit(code)
}

func procWeftBinary(t *testing.T) string {
	t.Helper()
	procWeft.once.Do(func() {
		dir, err := os.MkdirTemp("", "weft-node-bin")
		if err != nil {
			procWeft.err = err
			return
		}
		procWeft.dir = dir
		procWeft.path = filepath.Join(dir, "weft")
		if runtime.GOOS == "windows" {
			procWeft.path += ".exe"
		}
		out, err := exec.Command("go", "build", "-o", procWeft.path, "github.com/weftnet/weft/cmd/weft").CombinedOutput()
		if err != nil {
			procWeft.err = fmt.Errorf("building weft: %v\n%s", err, out)
		}
	})
	if procWeft.err != nil {
		t.Fatal(procWeft.err)
	}
	return procWeft.path
}

const (
	procShards    = 10
	procNetworkID = "weft-kill-test"
)

// procOutput collects a process's output; when ready is set it receives
// the first complete line.
type procOutput struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan string // capacity 1
	sent  bool
}

func (o *procOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if o.ready != nil && !o.sent {
		if i := bytes.IndexByte(o.buf.Bytes(), '\n'); i >= 0 {
			o.sent = true
			o.ready <- string(o.buf.Bytes()[:i])
		}
	}
	return len(p), nil
}

func (o *procOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// procNode is a running `weft node --config FILE` process.
type procNode struct {
	cmd    *exec.Cmd
	stdout *procOutput
	stderr *procOutput
	exited chan struct{} // closed once the process has exited and been reaped
	http   *http.Client
	base   string // http://addr
}

// procStartNode starts the node and waits, bounded, for its ready line,
// which must name addr.
func procStartNode(t *testing.T, ctx context.Context, bin, cfgPath, addr string) *procNode {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	p := &procNode{
		stdout: &procOutput{ready: make(chan string, 1)},
		stderr: &procOutput{},
		exited: make(chan struct{}),
		http:   &http.Client{Transport: tr, Timeout: 30 * time.Second},
		base:   "http://" + addr,
	}
	p.cmd = exec.Command(bin, "node", "--config", cfgPath)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case line := <-p.stdout.ready:
		if !strings.HasPrefix(line, "node ") || !strings.Contains(line, " listening on http://"+addr+" (id ") {
			t.Fatalf("unexpected ready line %q (want the node listening on %s)", line, addr)
		}
	case <-p.exited:
		t.Fatalf("node exited before it was ready (%v); stderr:\n%s", p.cmd.ProcessState, p.stderr)
	case <-timer.C:
		t.Fatalf("node not ready after 60s; stderr:\n%s", p.stderr)
	case <-ctx.Done():
		t.Fatalf("node not ready: %v; stderr:\n%s", ctx.Err(), p.stderr)
	}
	return p
}

// kill sends SIGKILL (unless the process is gone) and reaps the process.
func (p *procNode) kill() {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Kill()
		<-p.exited
	}
	p.http.CloseIdleConnections()
}

// do sends a request; err is a transport error (including a truncated
// response), never an HTTP status.
func (p *procNode) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, out, nil
}

// procSliver names one sliver of one of the test's blobs.
type procSliver struct {
	blob int
	pair int
	kind blob.SliverKind
}

func (s procSliver) String() string { return fmt.Sprintf("blob %d pair %d %s", s.blob, s.pair, s.kind) }

func procIndex(e *redstuff.Encoded, pair int, k blob.SliverKind) int {
	if k == blob.Secondary {
		return e.Params.SecondaryOf(pair)
	}
	return e.Params.PrimaryOf(pair)
}

func procSliverPath(e *redstuff.Encoded, pair int, k blob.SliverKind) string {
	return fmt.Sprintf("/v1/blobs/%s/slivers/%d/%s", e.ID, pair, k)
}

func procConfirmationPath(e *redstuff.Encoded) string {
	return fmt.Sprintf("/v1/blobs/%s/confirmation", e.ID)
}

func procFreeAddr(t *testing.T) string {
	t.Helper()
	// Below the ephemeral range, so that no outgoing connection takes
	// the port before the server binds it.
	addr, err := loopback.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// procCheckConfirmation checks a confirmation body: the node's signature
// over the blob, for all its shards.
func procCheckConfirmation(body []byte, key control.PublicKey, id blob.ID) error {
	var c node.Confirmation
	if err := json.Unmarshal(body, &c); err != nil {
		return fmt.Errorf("confirmation %q: %v", body, err)
	}
	if c.BlobID != id || c.Node != key || len(c.Shards) != procShards {
		return fmt.Errorf("confirmation for blob %v by %v on %d shards, want blob %v by %v on %d", c.BlobID, c.Node, len(c.Shards), id, key, procShards)
	}
	if !ed25519.Verify(key[:], control.ConfirmationMessage(procNetworkID, c.Epoch, id), c.Signature) {
		return fmt.Errorf("confirmation signature does not verify: %s", body)
	}
	return nil
}

// procGetSliver fetches a sliver: present is false on 404. A sliver that
// is served must be the one encoded, and verify against the blob ID.
func procGetSliver(ctx context.Context, p *procNode, codec *redstuff.Codec, e *redstuff.Encoded, pair int, k blob.SliverKind) (present bool, err error) {
	code, body, err := p.do(ctx, "GET", procSliverPath(e, pair, k), nil)
	if err != nil {
		return false, err
	}
	switch code {
	case http.StatusNotFound:
		return false, nil
	case http.StatusOK:
	default:
		return false, fmt.Errorf("GET: status %d: %s", code, body)
	}
	var msg blob.SliverMessage
	if err := msg.UnmarshalBinary(body); err != nil {
		return true, fmt.Errorf("served sliver (%d bytes) does not decode: %v", len(body), err)
	}
	index := procIndex(e, pair, k)
	if msg.Sliver.Kind != k || int(msg.Sliver.Index) != index || int(msg.Commitment.Pair) != pair {
		return true, fmt.Errorf("served %s sliver %d of pair %d, want %s sliver %d of pair %d", msg.Sliver.Kind, msg.Sliver.Index, msg.Commitment.Pair, k, index, pair)
	}
	if err := codec.VerifySliver(e.ID, e.Length, &msg.Sliver, &msg.Commitment); err != nil {
		return true, fmt.Errorf("served sliver is corrupt: %v", err)
	}
	want := e.Sliver(k, index)
	if msg.Sliver.SymbolSize != want.SymbolSize || !bytes.Equal(msg.Sliver.Data, want.Data) {
		return true, fmt.Errorf("served sliver verifies but differs from the one uploaded")
	}
	return true, nil
}

// procSummary lists the first few problems and counts the rest.
func procSummary(problems []string) string {
	const max = 5
	if len(problems) <= max {
		return strings.Join(problems, "\n")
	}
	return fmt.Sprintf("%s\n… and %d more", strings.Join(problems[:max], "\n"), len(problems)-max)
}

// procUploads tracks what the node confirmed.
type procUploads struct {
	mu         sync.Mutex
	confirmed  map[procSliver]bool
	perBlob    []int // confirmed slivers per blob
	blobsOK    map[int]bool
	unexpected []string
	lost       int // requests cut by the kill
}

// procUpload PUTs items from workers goroutines until they are all done,
// ctx ends or, once killed is set, a request fails. Every 201 is recorded
// as confirmed; when a blob's last sliver is confirmed its confirmation
// is fetched and checked. onConfirm runs after each confirmed sliver.
func procUpload(ctx context.Context, p *procNode, key control.PublicKey, blobs []*redstuff.Encoded, items []procSliver,
	workers int, u *procUploads, killed *atomic.Bool, onConfirm func()) {
	var next atomic.Int64
	var wg sync.WaitGroup
	fail := func(format string, args ...any) {
		u.mu.Lock()
		u.unexpected = append(u.unexpected, fmt.Sprintf(format, args...))
		u.mu.Unlock()
	}
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(items) {
					return
				}
				it := items[i]
				e := blobs[it.blob]
				body, err := (&blob.SliverMessage{Commitment: e.Pairs[it.pair], Sliver: e.Sliver(it.kind, procIndex(e, it.pair, it.kind))}).MarshalBinary()
				if err != nil {
					fail("%v: marshal: %v", it, err)
					return
				}
				code, resp, err := p.do(ctx, "PUT", procSliverPath(e, it.pair, it.kind), body)
				if err != nil {
					if killed.Load() || ctx.Err() != nil {
						u.mu.Lock()
						u.lost++
						u.mu.Unlock()
						return
					}
					fail("%v: PUT: %v", it, err)
					continue
				}
				if code != http.StatusCreated {
					// A complete answer is the node's own: no status but
					// 201 is expected, killed or not.
					fail("%v: PUT: status %d: %s", it, code, resp)
					continue
				}
				u.mu.Lock()
				complete := false
				if !u.confirmed[it] {
					u.confirmed[it] = true
					u.perBlob[it.blob]++
					complete = u.perBlob[it.blob] == 2*procShards
				}
				u.mu.Unlock()
				if onConfirm != nil {
					onConfirm()
				}
				if !complete {
					continue
				}
				code, resp, err = p.do(ctx, "GET", procConfirmationPath(e), nil)
				switch {
				case err != nil && (killed.Load() || ctx.Err() != nil):
					return
				case err != nil:
					fail("blob %d: confirmation: %v", it.blob, err)
				case code != http.StatusOK:
					fail("blob %d: confirmation with every sliver confirmed: status %d: %s", it.blob, code, resp)
				default:
					if err := procCheckConfirmation(resp, key, e.ID); err != nil {
						fail("blob %d: %v", it.blob, err)
						continue
					}
					u.mu.Lock()
					u.blobsOK[it.blob] = true
					u.mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
}

// TestNodeSurvivesKill9DuringUploads runs a storage node as a process,
// kills it with SIGKILL while slivers are being uploaded, restarts it and
// checks that every sliver it confirmed (201) is intact, that every other
// sliver is intact or absent, never corrupt, and that it goes on working.
func TestNodeSurvivesKill9DuringUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the weft binary")
	}
	bin := procWeftBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()

	// The node's identity lives outside its data directory.
	keyPath := filepath.Join(dir, "keys", "node.key")
	k, err := keyfile.LoadOrCreate(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	key := control.KeyOf(k)
	addr := procFreeAddr(t)

	// The control plane runs in-process: it is not under test.
	g := control.Genesis{
		Params: control.Params{NetworkID: procNetworkID, Shards: procShards, MaxEpochsAhead: 100},
		Nodes:  []control.NodeRecord{{Key: key, Name: "kill-node", Address: "http://" + addr}},
	}
	cp := filepath.Join(dir, "control")
	if _, err := engine.Init(engine.InitConfig{Dir: cp, Validators: 1, Genesis: g, BlockInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	v, err := engine.Start(context.Background(), cp, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Shutdown(context.Background()) })
	ctl, err := rpc.Dial(ctx, v.RPC())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close() })
	user := rpc.NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)))
	codec, err := redstuff.New(procShards)
	if err != nil {
		t.Fatal(err)
	}

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("WEFT_KILL_TEST_SEED"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("WEFT_KILL_TEST_SEED: %v", err)
		}
	}
	t.Logf("seed %d (rerun with WEFT_KILL_TEST_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	blobs := make([]*redstuff.Encoded, 6)
	for i := range blobs {
		data := make([]byte, 200_000+rng.IntN(8192))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		e, err := codec.Encode(data)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ctl.Submit(ctx, user, control.Payload{RegisterBlob: &control.RegisterBlob{
			ID: e.ID, Length: e.Length, Encoding: blob.RS2D16, Root: e.Root, EndEpoch: 10}}); err != nil {
			t.Fatal(err)
		}
		blobs[i] = e
	}

	cfgPath := filepath.Join(dir, "node.json")
	raw, err := json.Marshal(node.Config{Name: "kill-node", Listen: addr, DataDir: filepath.Join(dir, "data"),
		KeyFile: keyPath, ControlPlane: v.RPC(), MaxBodyBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	p := procStartNode(t, ctx, bin, cfgPath, addr)

	// The node is the whole committee: it holds every shard.
	code, body, err := p.do(ctx, "GET", "/v1/health", nil)
	var h node.Health
	if err != nil || code != http.StatusOK || json.Unmarshal(body, &h) != nil || h.Node != key || len(h.Shards) != procShards {
		t.Fatalf("health: %d %s %v", code, body, err)
	}

	// Upload from several goroutines, blob after blob, and kill -9 the
	// node once over a third of the slivers are confirmed.
	var items []procSliver
	for b := range blobs {
		for pair := 0; pair < procShards; pair++ {
			for _, kind := range []blob.SliverKind{blob.Primary, blob.Secondary} {
				items = append(items, procSliver{b, pair, kind})
			}
		}
	}
	u := &procUploads{confirmed: map[procSliver]bool{}, perBlob: make([]int, len(blobs)), blobsOK: map[int]bool{}}
	var killed atomic.Bool
	var count atomic.Int64
	// A third of the slivers and a few more: the kill lands in the middle
	// of a blob.
	threshold := int64(len(items)/3 + procShards/2)
	reached := make(chan struct{})
	uctx, stopUploads := context.WithCancel(ctx)
	defer stopUploads()
	uploaded := make(chan struct{})
	go func() {
		defer close(uploaded)
		procUpload(uctx, p, key, blobs, items, 4, u, &killed, func() {
			if count.Add(1) == threshold {
				close(reached)
			}
		})
	}()
	select {
	case <-reached:
	case <-uploaded:
		t.Fatalf("uploads ended before %d slivers were confirmed:\n%s", threshold, procSummary(u.unexpected))
	case <-ctx.Done():
		t.Fatalf("%d slivers not confirmed in time: %v", threshold, ctx.Err())
	}
	// Responses come in waves (the workers run in step), so killing right
	// on one would mostly catch requests that have just been sent. A
	// random delay spreads the kill over every stage of request handling.
	jitter := time.NewTimer(time.Duration(rng.IntN(20_000)) * time.Microsecond)
	select {
	case <-jitter.C:
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	killed.Store(true)
	p.kill()
	stopUploads()
	select {
	case <-uploaded:
	case <-ctx.Done():
		t.Fatal("uploaders did not stop")
	}
	if st := p.cmd.ProcessState; st.ExitCode() != -1 {
		t.Fatalf("node was not killed by the signal: %v", st)
	}
	u.mu.Lock()
	if len(u.unexpected) > 0 {
		t.Errorf("before the kill:\n%s", procSummary(u.unexpected))
	}
	u.unexpected = nil
	t.Logf("killed the node (%v) with %d of %d slivers and %d of %d blobs confirmed, %d uploads cut",
		p.cmd.ProcessState, len(u.confirmed), len(items), len(u.blobsOK), len(blobs), u.lost)
	if len(u.confirmed) == len(items) {
		t.Fatal("every sliver was confirmed before the kill: nothing was in flight")
	}
	if s := p.stderr.String(); s != "" {
		t.Logf("killed node's stderr:\n%s", s)
	}
	confirmed := u.confirmed
	blobsOK := u.blobsOK
	u.mu.Unlock()
	if t.Failed() {
		t.FailNow()
	}

	// Restart on the same address and data.
	p = procStartNode(t, ctx, bin, cfgPath, addr)
	code, body, err = p.do(ctx, "GET", "/v1/health", nil)
	if err != nil || code != http.StatusOK || json.Unmarshal(body, &h) != nil || h.Status != "ok" || h.Node != key || len(h.Shards) != procShards {
		t.Fatalf("health after restart: %d %s %v", code, body, err)
	}

	// Confirmed slivers are intact; others are intact or absent.
	present := make([]map[procSliver]bool, len(blobs))
	extra := 0
	for _, it := range items {
		e := blobs[it.blob]
		ok, err := procGetSliver(ctx, p, codec, e, it.pair, it.kind)
		switch {
		case err != nil:
			t.Errorf("after restart, %v (confirmed %v): %v", it, confirmed[it], err)
		case confirmed[it] && !ok:
			t.Errorf("after restart, confirmed %v is lost", it)
		case !confirmed[it] && ok:
			extra++
		}
		if present[it.blob] == nil {
			present[it.blob] = map[procSliver]bool{}
		}
		present[it.blob][it] = ok
	}
	t.Logf("after restart: %d unconfirmed slivers were stored anyway, %d are absent", extra, len(items)-len(confirmed)-extra)

	// A confirmation is given again for every blob confirmed before the
	// kill, and, for any blob, exactly when all its slivers are stored;
	// the status agrees with the slivers served.
	for b, e := range blobs {
		complete := true
		for _, ok := range present[b] {
			complete = complete && ok
		}
		code, body, err := p.do(ctx, "GET", procConfirmationPath(e), nil)
		switch {
		case err != nil:
			t.Errorf("blob %d: confirmation after restart: %v", b, err)
		case blobsOK[b] && code != http.StatusOK:
			t.Errorf("blob %d was confirmed before the kill, after restart: status %d: %s", b, code, body)
		case complete && code != http.StatusOK, !complete && code != http.StatusConflict:
			t.Errorf("blob %d: confirmation with all slivers stored %v: status %d: %s", b, complete, code, body)
		case code == http.StatusOK:
			if err := procCheckConfirmation(body, key, e.ID); err != nil {
				t.Errorf("blob %d after restart: %v", b, err)
			}
		}
		code, body, err = p.do(ctx, "GET", fmt.Sprintf("/v1/blobs/%s/status", e.ID), nil)
		var st node.HeldSlivers
		if err != nil || code != http.StatusOK || json.Unmarshal(body, &st) != nil || len(st.Pairs) != procShards {
			t.Errorf("blob %d: status after restart: %d %s %v", b, code, body, err)
			continue
		}
		for _, ps := range st.Pairs {
			if ps.Primary != present[b][procSliver{b, ps.Pair, blob.Primary}] || ps.Secondary != present[b][procSliver{b, ps.Pair, blob.Secondary}] {
				t.Errorf("blob %d: status says pair %d has primary %v secondary %v, the node serves primary %v secondary %v", b, ps.Pair,
					ps.Primary, ps.Secondary, present[b][procSliver{b, ps.Pair, blob.Primary}], present[b][procSliver{b, ps.Pair, blob.Secondary}])
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// The restarted node takes the remaining slivers and confirms every
	// blob.
	var rest []procSliver
	for _, it := range items {
		if !confirmed[it] {
			rest = append(rest, it)
		}
	}
	u2 := &procUploads{confirmed: map[procSliver]bool{}, perBlob: make([]int, len(blobs)), blobsOK: map[int]bool{}}
	for it := range confirmed {
		u2.confirmed[it] = true
		u2.perBlob[it.blob]++
	}
	procUpload(ctx, p, key, blobs, rest, 4, u2, new(atomic.Bool), nil)
	if len(u2.unexpected) > 0 {
		t.Errorf("uploads after restart:\n%s", procSummary(u2.unexpected))
	}
	if len(u2.confirmed) != len(items) {
		t.Fatalf("after restart: %d of %d slivers confirmed", len(u2.confirmed), len(items))
	}
	// Every blob is confirmed, including any whose last sliver was
	// confirmed just before the kill cut its confirmation request.
	for b, e := range blobs {
		code, body, err := p.do(ctx, "GET", procConfirmationPath(e), nil)
		if err != nil || code != http.StatusOK {
			t.Fatalf("blob %d: final confirmation: %d %s %v", b, code, body, err)
		}
		if err := procCheckConfirmation(body, key, e.ID); err != nil {
			t.Fatalf("blob %d: final confirmation: %v", b, err)
		}
	}
	for _, it := range items {
		if ok, err := procGetSliver(ctx, p, codec, blobs[it.blob], it.pair, it.kind); err != nil || !ok {
			t.Fatalf("finally, %v: present %v: %v", it, ok, err)
		}
	}
}
