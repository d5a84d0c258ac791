package node_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/internal/recovery"
	"github.com/weftnet/weft/redstuff"
	"github.com/weftnet/weft/units"
)

// newLimitsTestbed starts one node holding every shard, with its config
// changed by edit before it starts.
func newLimitsTestbed(t *testing.T, edit func(*node.Config)) *testbed {
	t.Helper()
	tb := newTestbed(t, 1)
	if edit != nil {
		tb.stop(0)
		edit(tb.cfgs[0])
		tb.start(0)
	}
	return tb
}

// registerFake registers a blob ID with no data behind it, of any length.
func (tb *testbed) registerFake(length uint64) blob.ID {
	tb.t.Helper()
	var root blob.Hash
	for i := range root {
		root[i] = byte(rand.Uint32())
	}
	id := blob.ComputeID(blob.RS2D16, length, root)
	if _, err := tb.ctl.Submit(context.Background(), tb.user, control.Payload{RegisterBlob: &control.RegisterBlob{
		ID: id, Length: length, Encoding: blob.RS2D16, Root: root, EndEpoch: 10}}); err != nil {
		tb.t.Fatal(err)
	}
	return id
}

// rawRequest opens a connection to n and sends a request head declaring
// a body of length bytes, without the body.
func rawRequest(t *testing.T, n *node.Node, method, path string, length int64) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: node\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n\r\n", method, path, length)
	return c
}

// readStatus reads a response status from c, waiting at most d.
func readStatus(c net.Conn, d time.Duration) (int, error) {
	c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestPutRefusesOversizeDeclaredBody: a PUT whose Content-Length exceeds
// what a sliver of that blob can be is refused before its body is read.
func TestPutRefusesOversizeDeclaredBody(t *testing.T) {
	tb := newLimitsTestbed(t, nil)
	e := tb.register(make([]byte, 1000), false)
	n := tb.nodes[0]
	c := rawRequest(t, n, "PUT", fmt.Sprintf("/v1/blobs/%s/slivers/0/primary", e.ID), 1<<20)
	code, err := readStatus(c, 5*time.Second)
	if err != nil || code != http.StatusRequestEntityTooLarge {
		t.Fatalf("PUT declaring 1 MiB for a sliver of a 1000-byte blob, no body sent: %d %v, want 413 at once", code, err)
	}
}

// TestDeclaredLengthsDoNotAllocate: many PUTs that declare big bodies and
// send a trickle take no memory for what they did not send.
func TestDeclaredLengthsDoNotAllocate(t *testing.T) {
	tb := newLimitsTestbed(t, func(c *node.Config) { c.MaxBodyBytes = 1 << 30 })
	id := tb.registerFake(1 << 30) // primary slivers of ~268 MiB
	n := tb.nodes[0]
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const conns, declared = 8, 200 << 20
	var cs []net.Conn
	for i := range conns {
		c := rawRequest(t, n, "PUT", fmt.Sprintf("/v1/blobs/%s/slivers/%d/primary", id, i%shards), declared)
		c.Write(make([]byte, 4096))
		cs = append(cs, c)
	}
	// Each request reaches the handler within the window; none may make
	// the heap grow by more than a small multiple of what was sent.
	const bound = 64 << 20
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		var now runtime.MemStats
		runtime.ReadMemStats(&now)
		if grew := int64(now.TotalAlloc) - int64(before.TotalAlloc); grew > bound {
			t.Fatalf("%d connections declaring %d MiB each made the node allocate %d MiB", conns, declared>>20, grew>>20)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSlowBodyIsCutOff: a body sent slower than the minimum rate is cut
// off within the request timeout, and an honest upload still works.
func TestSlowBodyIsCutOff(t *testing.T) {
	tb := newLimitsTestbed(t, func(c *node.Config) {
		c.RequestTimeout = units.Duration(500 * time.Millisecond)
		c.MinBytesPerSecond = 4096
	})
	n := tb.nodes[0]
	e := tb.register(make([]byte, 100_000), false)
	raw := message(e, 0, blob.Primary)
	c := rawRequest(t, n, "PUT", fmt.Sprintf("/v1/blobs/%s/slivers/0/primary", e.ID), int64(len(raw)))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < len(raw); i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := c.Write(raw[i : i+1]); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	code, err := readStatus(c, 5*time.Second)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a body sent at 20 bytes/s was still being read after %v", time.Since(start))
	}
	if err == nil && code < 400 {
		t.Fatalf("slow body: status %d", code)
	}
	// Honest uploads, at full speed, are served.
	if code, body := do(t, "PUT", sliverURL(n, e.ID, 1, blob.Primary), message(e, 1, blob.Primary)); code != http.StatusCreated {
		t.Fatalf("honest upload: %d %s", code, body)
	}
}

// TestConnectionCap: connections beyond the cap are closed, idle ones
// first, and the node keeps answering.
func TestConnectionCap(t *testing.T) {
	tb := newLimitsTestbed(t, func(c *node.Config) { c.MaxConnections = 4 })
	n := tb.nodes[0]
	const idle = 12
	var cs []net.Conn
	for range idle {
		c, err := net.Dial("tcp", n.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs = append(cs, c)
	}
	// At most 4 stay open: poll each until the server closes it.
	closed := 0
	deadline := time.Now().Add(5 * time.Second)
	for _, c := range cs {
		c.SetReadDeadline(deadline)
		if _, err := c.Read(make([]byte, 1)); err == io.EOF || (err != nil && !isTimeout(err)) {
			closed++
		}
		if time.Now().After(deadline) {
			break
		}
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		deadline = time.Now().Add(time.Second)
	}
	if open := idle - closed; open > 4 {
		t.Fatalf("%d idle connections kept open, cap is 4", open)
	}
	if h := health(t, n); h.Status != "ok" {
		t.Fatalf("health: %+v", h)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestRePutDoesNotRewrite: uploading a sliver the node holds answers
// success without writing it again.
func TestRePutDoesNotRewrite(t *testing.T) {
	tb := newLimitsTestbed(t, nil)
	n := tb.nodes[0]
	e := tb.register(make([]byte, 200_000), false)
	raw := message(e, 2, blob.Secondary)
	for i := range 50 {
		if code, body := do(t, "PUT", sliverURL(n, e.ID, 2, blob.Secondary), raw); code/100 != 2 {
			t.Fatalf("PUT %d: %d %s", i, code, body)
		}
	}
	if stored := metric(t, n, "weft_node_slivers_stored_total"); stored != 1 {
		t.Fatalf("50 PUTs of one sliver stored it %v times", stored)
	}
}

// uploadAll stores every sliver of e on node n.
func uploadAll(t *testing.T, n *node.Node, e *redstuff.Encoded) {
	t.Helper()
	for pair := range shards {
		for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
			if code, body := do(t, "PUT", sliverURL(n, e.ID, pair, k), message(e, pair, k)); code/100 != 2 {
				t.Fatalf("upload pair %d %s: %d %s", pair, k, code, body)
			}
		}
	}
}

// TestSymbolRequestLimits: a request that repeats itself is refused, and
// an extended sliver is served from the cache the second time.
func TestSymbolRequestLimits(t *testing.T) {
	tb := newLimitsTestbed(t, nil)
	n := tb.nodes[0]
	e := tb.register(make([]byte, 300_000), false)
	uploadAll(t, n, e)
	s := e.Params.SymbolSize(e.Length)
	item := recovery.Item{Source: blob.Secondary, Index: 3, Positions: []uint32{8, 9}}
	for name, req := range map[string]*recovery.Request{
		"same item twice": {Blobs: []recovery.BlobRequest{{ID: e.ID, SymbolSize: s, Items: []recovery.Item{item, item}}}},
		"same blob twice": {Blobs: []recovery.BlobRequest{{ID: e.ID, SymbolSize: s, Items: []recovery.Item{item}}, {ID: e.ID, SymbolSize: s}}},
		"same position twice": {Blobs: []recovery.BlobRequest{{ID: e.ID, SymbolSize: s, Items: []recovery.Item{
			{Source: blob.Secondary, Index: 3, Positions: []uint32{8, 8}}}}}},
		"same commitment twice": {Blobs: []recovery.BlobRequest{{ID: e.ID, SymbolSize: s, Commitments: []uint32{1, 1}}}},
	} {
		if code, body := do(t, "POST", url(n, "/v1/symbols"), mustMarshal(req)); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, code, body)
		}
	}
	ok := &recovery.Request{Blobs: []recovery.BlobRequest{{ID: e.ID, SymbolSize: s, Items: []recovery.Item{item}}}}
	if code, body := do(t, "POST", url(n, "/v1/symbols"), mustMarshal(ok)); code != http.StatusOK {
		t.Fatalf("symbols: %d %s", code, body)
	}
	first := metric(t, n, "weft_symbol_extensions_total")
	if first != 1 {
		t.Fatalf("one parity request made %v extensions, want 1", first)
	}
	if code, body := do(t, "POST", url(n, "/v1/symbols"), mustMarshal(ok)); code != http.StatusOK {
		t.Fatalf("symbols: %d %s", code, body)
	}
	if again := metric(t, n, "weft_symbol_extensions_total"); again != first {
		t.Fatalf("the same request again extended the sliver again (%v extensions)", again)
	}
}
