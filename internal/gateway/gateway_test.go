package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/files"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/engine"
	"github.com/weftnet/weft/internal/gateway"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/loopback"
	"github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/units"
)

// testNet is an in-process network (4 nodes × 3 of 12 shards) whose nodes
// are reached through proxies that count sliver requests and can hold
// sliver uploads until released.
type testNet struct {
	c           *client.Client
	sliverGets  atomic.Int64
	mu          sync.Mutex
	uploading   map[string]bool // blob IDs whose slivers reached a node
	holdUploads chan struct{}   // sliver PUTs wait until it is closed, if not nil
}

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	tn := &testNet{uploading: map[string]bool{}}
	dir := t.TempDir()
	g := control.Genesis{Params: control.Params{NetworkID: "weft-gateway-test", Shards: 12, MaxEpochsAhead: 100}}
	var cfgs []*node.Config
	for i := 0; i < 4; i++ {
		kf := filepath.Join(dir, "keys", fmt.Sprintf("node-%d.key", i))
		k, err := keyfile.LoadOrCreate(kf)
		if err != nil {
			t.Fatal(err)
		}
		addr := freeAddr(t)
		proxy := httptest.NewServer(tn.proxy(addr))
		t.Cleanup(proxy.Close)
		g.Nodes = append(g.Nodes, control.NodeRecord{Key: control.KeyOf(k), Name: fmt.Sprint("node-", i), Address: proxy.URL})
		cfgs = append(cfgs, &node.Config{Name: fmt.Sprint("node-", i), Listen: addr, DataDir: filepath.Join(dir, fmt.Sprint("data-", i)), KeyFile: kf})
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
	ctx := context.Background()
	for _, c := range cfgs {
		c.ControlPlane = v.RPC()
		n, err := node.Start(ctx, c, log.New(io.Discard, "", 0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Shutdown(context.Background()) })
	}
	tn.c, err = client.New(ctx, client.Config{ControlPlane: v.RPC(), KeyFile: filepath.Join(dir, "keys", "client.key"), NodeTimeout: units.Duration(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.c.Close() })
	return tn
}

func (tn *testNet) proxy(addr string) http.Handler {
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: addr})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/slivers/") {
			switch r.Method {
			case http.MethodGet:
				tn.sliverGets.Add(1)
			case http.MethodPut:
				tn.mu.Lock()
				tn.uploading[strings.Split(r.URL.Path, "/")[3]] = true
				hold := tn.holdUploads
				tn.mu.Unlock()
				if hold != nil {
					select {
					case <-hold:
					case <-r.Context().Done():
						return
					}
				}
			}
		}
		rp.ServeHTTP(w, r)
	})
}

func (tn *testNet) uploads() int {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return len(tn.uploading)
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func freeAddr(t *testing.T) string {
	t.Helper()
	// Below the ephemeral range, so that no outgoing connection takes
	// the port before the server binds it.
	addr, err := loopback.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

var httpc = &http.Client{Timeout: time.Minute}

func do(t *testing.T, method, url string, header map[string]string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// TestHeadAndRangeFetchOnlyWhatTheyNeed: HEAD answers from the control
// plane alone, a one-byte Range fetches the one row that holds it, and a
// whole GET streams the blob.
func TestHeadAndRangeFetchOnlyWhatTheyNeed(t *testing.T) {
	tn := newTestNet(t)
	data := randomBytes(1, 300_000)
	res, err := tn.c.Store(context.Background(), data, client.StoreOptions{Epochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Small chunks, so a whole GET streams in several.
	base := serve(t, gateway.New(tn.c, gateway.Config{ReadChunkBytes: 1}).Handler())
	blobURL := base + "/v1/blobs/" + res.BlobID.String()
	etag := `"` + res.BlobID.String() + `"`

	tn.sliverGets.Store(0)
	resp, body := do(t, http.MethodHead, blobURL, nil, nil)
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(data)) || resp.Header.Get("ETag") != etag || len(body) != 0 {
		t.Fatalf("HEAD: %s, length %d, ETag %q", resp.Status, resp.ContentLength, resp.Header.Get("ETag"))
	}
	if n := tn.sliverGets.Load(); n != 0 {
		t.Fatalf("HEAD fetched %d slivers, want 0", n)
	}

	tn.sliverGets.Store(0)
	resp, body = do(t, http.MethodGet, blobURL, map[string]string{"Range": "bytes=150000-150000"}, nil)
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[150000:150001]) ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 150000-150000/%d", len(data)) {
		t.Fatalf("1-byte range: %s %q %q", resp.Status, body, resp.Header.Get("Content-Range"))
	}
	if n := tn.sliverGets.Load(); n != 1 {
		t.Fatalf("a 1-byte range fetched %d slivers, want 1 (its row)", n)
	}

	for _, tc := range []struct {
		rng        string
		code       int
		start, end int
	}{
		{"", http.StatusOK, 0, len(data)},
		{"bytes=0-", http.StatusPartialContent, 0, len(data)},
		{"bytes=-10", http.StatusPartialContent, len(data) - 10, len(data)},
		{"bytes=299990-400000", http.StatusPartialContent, 299990, len(data)},
		{"bytes=1000-120000", http.StatusPartialContent, 1000, 120001},
		{"bytes=0-1,5-6", http.StatusOK, 0, len(data)}, // several ranges: the whole blob
		{"bytes=300000-", http.StatusRequestedRangeNotSatisfiable, 0, 0},
	} {
		resp, body := do(t, http.MethodGet, blobURL, map[string]string{"Range": tc.rng}, nil)
		if resp.StatusCode != tc.code {
			t.Fatalf("range %q: %s", tc.rng, resp.Status)
		}
		if tc.code != http.StatusRequestedRangeNotSatisfiable && !bytes.Equal(body, data[tc.start:tc.end]) {
			t.Fatalf("range %q: %d bytes, not the blob's [%d, %d)", tc.rng, len(body), tc.start, tc.end)
		}
	}
	if resp, _ := do(t, http.MethodGet, blobURL, map[string]string{"If-None-Match": etag}, nil); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %s", resp.Status)
	}
}

// TestOversizeBodyRefusedUnread: a declared body over the limit gets 413
// before the gateway reads any of it; a chunked one is cut at the limit.
func TestOversizeBodyRefusedUnread(t *testing.T) {
	tn := newTestNet(t)
	var read atomic.Int64
	gw := gateway.New(tn.c, gateway.Config{MaxBlobBytes: 1 << 20})
	base := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = countingBody{r.Body, &read}
		gw.Handler().ServeHTTP(w, r)
	}))
	// A body that never comes (until the test gives up): only the header
	// says how large it is.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/v1/blobs", blockingBody{ctx})
	req.ContentLength = 1 << 40
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("oversize PUT: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || read.Load() != 0 {
		t.Fatalf("oversize PUT: %s after reading %d body bytes", resp.Status, read.Load())
	}

	// Chunked: read up to the limit, no further.
	read.Store(0)
	req, _ = http.NewRequest(http.MethodPut, base+"/v1/blobs", io.LimitReader(zeros{}, 64<<20))
	req.ContentLength = -1
	resp, err = httpc.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked oversize PUT: %s", resp.Status)
		}
	}
	if n := read.Load(); n > 2<<20 {
		t.Fatalf("chunked oversize PUT: gateway read %d bytes of a 1 MiB limit", n)
	}
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// blockingBody sends nothing until ctx ends.
type blockingBody struct{ ctx context.Context }

func (b blockingBody) Read(p []byte) (int, error) {
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestConcurrentPutsWithinBudget: with room for two uploads in flight,
// six concurrent PUTs get two uploads going and 503 + Retry-After for the
// rest, and the heap grows by about two uploads, not six.
func TestConcurrentPutsWithinBudget(t *testing.T) {
	tn := newTestNet(t)
	const size = 4 << 20
	const puts = 6
	charge := int64(size) + tn.c.Codec().Params().EncodedSize(size)
	gw := gateway.New(tn.c, gateway.Config{MaxBytesInFlight: 2 * charge, BudgetWait: 300 * time.Millisecond})
	base := serve(t, gw.Handler())
	var bodies [][]byte
	for i := range puts {
		bodies = append(bodies, randomBytes(uint64(100+i), size))
	}
	hold := make(chan struct{})
	tn.mu.Lock()
	tn.holdUploads = hold
	tn.mu.Unlock()
	released := false
	release := func() {
		if !released {
			close(hold)
			released = true
		}
	}
	defer release()

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	type answer struct {
		code       int
		retryAfter string
		body       string
	}
	answers := make(chan answer, puts)
	put := func(i int) {
		req, _ := http.NewRequest(http.MethodPut, base+"/v1/blobs?epochs=2", bytes.NewReader(bodies[i]))
		resp, err := httpc.Do(req)
		if err != nil {
			answers <- answer{code: -1, body: err.Error()}
			return
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answers <- answer{resp.StatusCode, resp.Header.Get("Retry-After"), string(raw)}
	}
	// Two uploads one after the other (concurrent registrations from one
	// account can collide on its nonce, which is not what this tests),
	// each held at the nodes once it gets there.
	for i := range 2 {
		go put(i)
		for deadline := time.Now().Add(30 * time.Second); tn.uploads() < i+1; {
			select {
			case a := <-answers:
				t.Fatalf("PUT %d answered %d before uploading: %s", i, a.code, a.body)
			case <-time.After(10 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("PUT %d did not reach the nodes in 30s", i)
			}
		}
	}
	// The budget is full: the next four are refused, without uploading.
	for i := 2; i < puts; i++ {
		go put(i)
	}
	var got []answer
	for deadline := time.Now().Add(30 * time.Second); len(got) < puts-2; {
		if n := tn.uploads(); n > 2 {
			t.Fatalf("%d uploads in flight at once; the budget has room for 2", n)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %d uploads in flight, answers %v", tn.uploads(), got)
		}
		select {
		case a := <-answers:
			got = append(got, a)
		case <-time.After(10 * time.Millisecond):
		}
	}
	var during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&during)
	grown := int64(during.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %d MiB with uploads held (one upload: %d MiB)", grown>>20, charge>>20)
	if limit := 2*charge + 32<<20; grown > limit {
		t.Errorf("heap grew by %d bytes with uploads held, budget %d", grown, 2*charge)
	}
	if n := tn.uploads(); n != 2 {
		t.Fatalf("%d uploads in flight, want 2", n)
	}
	for _, a := range got {
		if a.code != http.StatusServiceUnavailable || a.retryAfter == "" {
			t.Fatalf("refused PUT: %d, Retry-After %q: %s", a.code, a.retryAfter, a.body)
		}
	}
	release()
	for range 2 {
		if a := <-answers; a.code != http.StatusOK {
			t.Fatalf("admitted PUT: %d: %s", a.code, a.body)
		}
	}
	// The budget is free again.
	for deadline := time.Now().Add(5 * time.Second); gw.BytesInFlight() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still in flight", gw.BytesInFlight())
		}
		runtime.Gosched()
	}
}

// TestSegmentedFile: a PUT larger than the segment size streams into a
// segmented file with a manifest; GET streams it back with the registered
// content type and file name, and a one-byte Range fetches the manifest
// and one row of one segment, not the file.
func TestSegmentedFile(t *testing.T) {
	tn := newTestNet(t)
	const seg = 64 << 10
	data := randomBytes(2, 3*seg+500)
	base := serve(t, gateway.New(tn.c, gateway.Config{SegmentSize: seg}).Handler())
	// Chunked: the gateway does not know the size in advance.
	req, _ := http.NewRequest(http.MethodPut, base+"/v1/blobs?name=r%C3%A9sum%C3%A9.pdf", io.MultiReader(bytes.NewReader(data)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/pdf")
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res client.FileResult
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !res.Manifest || len(res.Segments) != 4 || res.Size != int64(len(data)) {
		t.Fatalf("PUT: %s %+v", resp.Status, res)
	}
	fileURL := base + "/v1/blobs/" + res.BlobID.String()
	resp, body := do(t, http.MethodGet, fileURL, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) || resp.ContentLength != int64(len(data)) {
		t.Fatalf("GET: %s, %d bytes", resp.Status, len(body))
	}
	if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != "application/pdf" || cd != `inline; filename*=utf-8''r%C3%A9sum%C3%A9.pdf` {
		t.Fatalf("GET headers: Content-Type %q, Content-Disposition %q", ct, cd)
	}
	tn.sliverGets.Store(0)
	resp, body = do(t, http.MethodGet, fileURL, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", 2*seg+7, 2*seg+7)}, nil)
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[2*seg+7:2*seg+8]) {
		t.Fatalf("1-byte range: %s %q", resp.Status, body)
	}
	kp := int64(tn.c.Codec().Params().Kp)
	if n := tn.sliverGets.Load(); n > kp+1 {
		t.Fatalf("a 1-byte range fetched %d slivers, want at most %d (the manifest's kp and one row)", n, kp+1)
	}
	// Ranges across segment boundaries.
	for _, rg := range [][2]int{{seg - 10, seg + 10}, {0, 3*seg + 499}, {3*seg - 1, 3*seg + 499}} {
		resp, body := do(t, http.MethodGet, fileURL, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", rg[0], rg[1])}, nil)
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[rg[0]:rg[1]+1]) {
			t.Fatalf("range %v: %s, %d bytes", rg, resp.Status, len(body))
		}
	}
	resp, _ = do(t, http.MethodHead, fileURL, nil, nil)
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(data)) {
		t.Fatalf("HEAD: %s %d", resp.Status, resp.ContentLength)
	}
}

// TestBatchFile: GET /v1/blobs/{id}/files/{name} serves one file of a
// batch (names with / and unicode) with its content type; unknown names
// are 404.
func TestBatchFile(t *testing.T) {
	tn := newTestNet(t)
	in := []files.BatchFile{{Name: "a/b/ünï.txt", ContentType: "text/plain; charset=utf-8", Data: []byte("hello")}, {Name: "empty"}}
	r, err := tn.c.StoreBatch(context.Background(), in, client.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, gateway.New(tn.c, gateway.Config{}).Handler())
	resp, body := do(t, http.MethodGet, base+"/v1/blobs/"+r.BlobID.String()+"/files/a/b/%C3%BCn%C3%AF.txt", nil, nil)
	if resp.StatusCode != http.StatusOK || string(body) != "hello" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("batch file: %s %q %q", resp.Status, body, resp.Header.Get("Content-Type"))
	}
	resp, body = do(t, http.MethodGet, base+"/v1/blobs/"+r.BlobID.String()+"/files/empty", nil, nil)
	if resp.StatusCode != http.StatusOK || len(body) != 0 {
		t.Fatalf("empty file: %s %q", resp.Status, body)
	}
	if resp, _ := do(t, http.MethodGet, base+"/v1/blobs/"+r.BlobID.String()+"/files/nope", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("missing name: %s", resp.Status)
	}
}

// TestPutBatch: a multipart PUT /v1/batches stores its file parts as one
// batch, each readable alone by name; duplicates, no files and an
// oversize declared body are refused.
func TestPutBatch(t *testing.T) {
	tn := newTestNet(t)
	base := serve(t, gateway.New(tn.c, gateway.Config{}).Handler())
	form := func(parts ...[2]string) (*bytes.Buffer, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, p := range parts {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, p[0]))
			h.Set("Content-Type", "text/plain")
			pw, _ := mw.CreatePart(h)
			pw.Write([]byte(p[1]))
		}
		mw.WriteField("note", "not a file")
		mw.Close()
		return &buf, mw.FormDataContentType()
	}
	body, ct := form([2]string{"logs/a.txt", "alpha"}, [2]string{"b.txt", "beta"}, [2]string{"empty.txt", ""})
	resp, raw := do(t, http.MethodPut, base+"/v1/batches", map[string]string{"Content-Type": ct}, body)
	var res client.BatchResult
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &res) != nil || len(res.Index.Entries) != 3 {
		t.Fatalf("PUT /v1/batches: %s %s", resp.Status, raw)
	}
	for name, want := range map[string]string{"logs/a.txt": "alpha", "b.txt": "beta", "empty.txt": ""} {
		resp, got := do(t, http.MethodGet, base+"/v1/blobs/"+res.BlobID.String()+"/files/"+name, nil, nil)
		if resp.StatusCode != http.StatusOK || string(got) != want || resp.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("file %s: %s %q %q", name, resp.Status, got, resp.Header.Get("Content-Type"))
		}
	}
	dup, ct := form([2]string{"x", "1"}, [2]string{"x", "2"})
	if resp, raw := do(t, http.MethodPut, base+"/v1/batches", map[string]string{"Content-Type": ct}, dup); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("duplicate names: %s %s", resp.Status, raw)
	}
	none, ct := form()
	if resp, raw := do(t, http.MethodPut, base+"/v1/batches", map[string]string{"Content-Type": ct}, none); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("no files: %s %s", resp.Status, raw)
	}
	if resp, raw := do(t, http.MethodPut, base+"/v1/batches", map[string]string{"Content-Type": "text/plain"}, strings.NewReader("x")); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("not multipart: %s %s", resp.Status, raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/v1/batches", blockingBody{ctx})
	req.ContentLength = 1 << 30
	req.Header.Set("Content-Type", ct)
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("1 GiB declared batch: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("1 GiB declared batch: %s", resp.Status)
	}
}

// TestStartShutdown starts the gateway as weft gateway does, stores and
// reads a blob through it, and stops it: afterwards nothing listens.
func TestStartShutdown(t *testing.T) {
	tn := newTestNet(t)
	ctx := context.Background()
	g, err := gateway.Start(ctx, tn.c, "127.0.0.1:0", gateway.Config{})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + g.Addr()
	data := randomBytes(7, 5000)
	resp, body := do(t, "PUT", base+"/v1/blobs?epochs=2", nil, bytes.NewReader(data))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %s %s", resp.Status, body)
	}
	var res struct {
		BlobID string `json:"blobId"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if resp, got := do(t, "GET", base+"/v1/blobs/"+res.BlobID, nil, nil); resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("GET: %s, %d bytes", resp.Status, len(got))
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := g.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if c, err := net.DialTimeout("tcp", g.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Shutdown", g.Addr())
	}
}
