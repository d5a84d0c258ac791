package node_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/loopback"
	"github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/internal/recovery"
	"github.com/weftnet/weft/internal/store"
	"github.com/weftnet/weft/internal/testseed"
	"github.com/weftnet/weft/redstuff"
	"github.com/weftnet/weft/units"
)

// sdk returns a client of the testbed's network.
func (tb *testbed) sdk() *client.Client {
	tb.t.Helper()
	c, err := client.New(context.Background(), client.Config{ControlPlane: tb.ctl.URL(), KeyFile: filepath.Join(tb.dir, "keys", "client.key")})
	if err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Cleanup(func() { c.Close() })
	return c
}

func (tb *testbed) stop(i int) {
	tb.t.Helper()
	if err := tb.nodes[i].Shutdown(context.Background()); err != nil {
		tb.t.Fatal(err)
	}
}

func (tb *testbed) start(i int) *node.Node {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.Start(ctx, tb.cfgs[i], log.New(testLog{tb.t}, fmt.Sprintf("node %d: ", i), 0))
	if err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Cleanup(func() { n.Shutdown(context.Background()) })
	tb.nodes[i] = n
	return n
}

// testLog sends a node's log to the test's, shown when it fails.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// storeBlobs stores random blobs of the given sizes through the SDK and
// returns their encodings.
func (tb *testbed) storeBlobs(sizes ...int) []*redstuff.Encoded {
	tb.t.Helper()
	rng := testseed.Rand(tb.t)
	c := tb.sdk()
	var out []*redstuff.Encoded
	for _, size := range sizes {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		e, err := tb.codec.Encode(data)
		if err != nil {
			tb.t.Fatal(err)
		}
		res, err := c.Store(context.Background(), data, client.StoreOptions{Epochs: 5})
		if err != nil || res.BlobID != e.ID {
			tb.t.Fatalf("store %d bytes: %v", size, err)
		}
		out = append(out, e)
	}
	return out
}

// waitHolding polls node n until it holds both slivers of every pair of
// its shards of every blob.
func waitHolding(t *testing.T, n *node.Node, blobs []*redstuff.Encoded, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for _, e := range blobs {
		for {
			code, body := do(t, "GET", url(n, "/v1/blobs/%s/status", e.ID), nil)
			var st node.HeldSlivers
			complete := code == http.StatusOK && json.Unmarshal(body, &st) == nil && len(st.Pairs) > 0
			for _, ps := range st.Pairs {
				complete = complete && ps.Primary && ps.Secondary
			}
			if complete {
				break
			}
			if time.Now().After(deadline) {
				_, q := do(t, "GET", url(n, "/v1/recovery"), nil)
				t.Fatalf("node does not hold blob %v after %v: %s\nqueue: %s", e.ID, d, body, q)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// checkSlivers fetches every sliver node n holds of each blob and checks
// it is the encoder's and verifies against the blob ID; it returns their
// bytes.
func (tb *testbed) checkSlivers(n *node.Node, i int, blobs []*redstuff.Encoded) int64 {
	tb.t.Helper()
	var total int64
	for _, e := range blobs {
		mine, _ := tb.pairsOf(e, i)
		for _, pair := range mine {
			for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
				code, body := do(tb.t, "GET", sliverURL(n, e.ID, pair, k), nil)
				var msg blob.SliverMessage
				if code != http.StatusOK || msg.UnmarshalBinary(body) != nil {
					tb.t.Fatalf("blob %v pair %d %s: %d", e.ID, pair, k, code)
				}
				idx := e.Params.PrimaryOf(pair)
				if k == blob.Secondary {
					idx = e.Params.SecondaryOf(pair)
				}
				if !bytes.Equal(msg.Sliver.Data, e.Sliver(k, idx).Data) {
					tb.t.Fatalf("blob %v pair %d %s differs from the encoder's", e.ID, pair, k)
				}
				if err := tb.codec.VerifySliver(e.ID, e.Length, &msg.Sliver, &msg.Commitment); err != nil {
					tb.t.Fatal(err)
				}
				total += int64(len(msg.Sliver.Data))
			}
		}
	}
	return total
}

// metric returns the sum of a Prometheus metric's samples on node n.
func metric(t *testing.T, n *node.Node, name string) float64 {
	t.Helper()
	_, body := do(t, "GET", url(n, "/metrics"), nil)
	sum := 0.0
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q", line)
		}
		sum += v
	}
	return sum
}

func health(t *testing.T, n *node.Node) node.Health {
	t.Helper()
	var h node.Health
	code, body := do(t, "GET", url(n, "/v1/health"), nil)
	if code != http.StatusOK || json.Unmarshal(body, &h) != nil {
		t.Fatalf("health: %d %s", code, body)
	}
	return h
}

// TestRecoverMissedWriteAndWipedDisk: a node that was down during writes
// rebuilds what it missed once it is back, and a node whose disk was
// wiped rebuilds every pair of its shards, downloading about what it
// rebuilds.
func TestRecoverMissedWriteAndWipedDisk(t *testing.T) {
	tb := newTestbed(t, 4)
	// Node 1 is down during the writes (at most 3 shards: f = 3).
	tb.stop(1)
	blobs := tb.storeBlobs(0, 1, 50_000, 400_000)
	n1 := tb.start(1)
	waitHolding(t, n1, blobs, 30*time.Second)
	got := tb.checkSlivers(n1, 1, blobs)
	if r := metric(t, n1, "weft_slivers_recovered_total"); r == 0 {
		t.Fatal("no slivers counted as recovered")
	}
	t.Logf("node 1 recovered %d sliver bytes after missing the writes, received %.0f bytes", got, metric(t, n1, "weft_recovery_bytes_received_total"))

	// Node 2 loses its disk; the same identity starts on an empty one.
	tb.stop(2)
	if err := os.RemoveAll(tb.cfgs[2].DataDir); err != nil {
		t.Fatal(err)
	}
	n2 := tb.start(2)
	waitHolding(t, n2, blobs, 30*time.Second)
	held := tb.checkSlivers(n2, 2, blobs)
	recv := metric(t, n2, "weft_recovery_bytes_received_total")
	t.Logf("wiped node 2 holds %d sliver bytes again, received %.0f bytes (%.3f×)", held, recv, recv/float64(held))
	if recv > 1.2*float64(held) {
		t.Fatalf("received %.0f bytes to rebuild %d", recv, held)
	}
	if h := health(t, n2); h.Recovery.Pending != 0 || h.Recovery.InProgress != 0 {
		t.Fatalf("health after recovery: %+v", h.Recovery)
	}
	if q := metric(t, n2, "weft_recovery_queue_length"); q != 0 {
		t.Fatalf("queue length %v", q)
	}
	// It serves reads again: with the others' help a client reads it all.
	for _, e := range blobs {
		data, err := tb.sdk().Read(context.Background(), e.ID)
		if err != nil || int64(len(data)) != int64(e.Length) {
			t.Fatalf("read %v: %v", e.ID, err)
		}
	}
}

// lyingProxy stands at a node's registered address, passes everything to
// the node, and corrupts the symbols it answers: its answers stay well
// formed, only the symbols' bytes are false.
func lyingProxy(t *testing.T, addr, target string) *atomic.Int64 {
	t.Helper()
	var lies atomic.Int64
	u, _ := neturl.Parse("http://" + target)
	rp := httputil.NewSingleHostReverseProxy(u)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/symbols" {
			rp.ServeHTTP(w, r)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		resp, err := http.Post("http://"+target+"/v1/symbols", "application/octet-stream", bytes.NewReader(raw))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		req, err1 := recovery.DecodeRequest(raw, 1<<20)
		ans, err2 := recovery.DecodeResponse(req, body)
		if resp.StatusCode == http.StatusOK && err1 == nil && err2 == nil {
			for _, b := range ans.Blobs {
				for _, it := range b.Items {
					for _, sym := range it.Symbols {
						sym[0] ^= 0x5a // aliases body
						lies.Add(1)
					}
				}
			}
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return &lies
}

// TestRecoverAroundLyingPeer: a peer that serves corrupted symbols is
// caught through proofs and routed around; recovery completes.
func TestRecoverAroundLyingPeer(t *testing.T) {
	// 8 nodes over 10 shards: two hold 2, six hold 1. The wiped node holds
	// 1 and the liar 2: honest peers still hold ks = 7 shards.
	tb := newTestbed(t, 8)
	blobs := tb.storeBlobs(30_000, 100_000, 250_000, 7)
	var liar, wiped = -1, -1
	for i := range tb.nodes {
		switch n := len(health(t, tb.nodes[i]).Shards); {
		case n == 2 && liar < 0:
			liar = i
		case n == 1 && wiped < 0:
			wiped = i
		}
	}
	if liar < 0 || wiped < 0 {
		t.Fatalf("shard spread: no node with 2 and one with 1 shard")
	}
	// The liar: the real node, now on another port, behind a proxy on its
	// registered address that corrupts its symbols.
	tb.stop(liar)
	registered := tb.cfgs[liar].Listen
	inner, err := loopback.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	tb.cfgs[liar].Listen = inner
	tb.start(liar)
	lies := lyingProxy(t, registered, inner)

	tb.stop(wiped)
	os.RemoveAll(tb.cfgs[wiped].DataDir)
	n := tb.start(wiped)
	waitHolding(t, n, blobs, 60*time.Second)
	tb.checkSlivers(n, wiped, blobs)
	if lies.Load() == 0 {
		t.Fatal("the liar was never asked")
	}
	if caught := metric(t, n, "weft_recovery_lying_peers_total"); caught == 0 {
		t.Fatalf("the liar served %d false symbols and was never caught", lies.Load())
	}
	t.Logf("liar served %d false symbols, caught %.0f times", lies.Load(), metric(t, n, "weft_recovery_lying_peers_total"))
}

// TestScrubRepairsCorruptSlivers: a sliver that rots on disk is found by
// the scrub, dropped and rebuilt from peers.
func TestScrubRepairsCorruptSlivers(t *testing.T) {
	tb := newTestbed(t, 4)
	blobs := tb.storeBlobs(120_000)
	e := blobs[0]
	mine, _ := tb.pairsOf(e, 1)
	tb.stop(1)
	// Rot: one sliver's bytes change, another disappears.
	st, err := store.Open(tb.cfgs[1].DataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	sl, pc, err := st.Sliver(e.ID, uint32(mine[0]), blob.Secondary)
	if err != nil {
		t.Fatal(err)
	}
	sl.Data[len(sl.Data)/2] ^= 1
	if err := st.PutSliver(e.ID, uint32(mine[0]), sl, pc); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSliver(e.ID, uint32(mine[1]), blob.Primary, false); err != nil {
		t.Fatal(err)
	}
	st.Close()
	tb.cfgs[1].ScrubInterval = units.Duration(50 * time.Millisecond)
	n := tb.start(1)
	waitHolding(t, n, blobs, 30*time.Second)
	// The status only says present: wait for the rotten one to be
	// replaced too.
	deadline := time.Now().Add(30 * time.Second)
	for metric(t, n, "weft_slivers_recovered_total") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("recovered %v slivers, corrupt found %v", metric(t, n, "weft_slivers_recovered_total"), metric(t, n, "weft_scrub_corrupt_slivers_total"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.checkSlivers(n, 1, blobs)
	// The rotten sliver is found by the scrub, or sooner, when recovery of
	// the missing one catches it serving false symbols; the missing one
	// may be rebuilt before the scrub comes to it.
	if c := metric(t, n, "weft_scrub_corrupt_slivers_total"); c < 1 {
		t.Fatalf("the rotten sliver was never found")
	}
}

// TestScrubIsDueAcrossRestarts: the scrub's schedule is kept on disk, so
// a node whose last pass is older than the interval scrubs as soon as it
// starts, instead of waiting a whole interval after each restart (a node
// restarted daily would then never scrub).
func TestScrubIsDueAcrossRestarts(t *testing.T) {
	tb := newTestbed(t, 1)
	tb.storeBlobs(1000)
	tb.stop(0)
	st, err := store.Open(tb.cfgs[0].DataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetScrubbedAt(time.Now().Add(-2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	tb.cfgs[0].ScrubInterval = units.Duration(time.Hour)
	n := tb.start(0)
	deadline := time.Now().Add(30 * time.Second)
	for metric(t, n, "weft_scrub_passes_total") < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no scrub pass 30s after a start with the last pass 2h ago and a 1h interval")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRecoveryQueueEndpoint: GET /v1/recovery answers the queue as JSON.
func TestRecoveryQueueEndpoint(t *testing.T) {
	tb := newTestbed(t, 1)
	code, body := do(t, "GET", url(tb.nodes[0], "/v1/recovery"), nil)
	var q node.RecoveryQueue
	if code != http.StatusOK || json.Unmarshal(body, &q) != nil || q.Entries == nil {
		t.Fatalf("%d %s", code, body)
	}
	if code, _ := do(t, "GET", url(tb.nodes[0], "/v1/blobs/%s/inconsistency", blob.ID{1}), nil); code != http.StatusNotFound {
		t.Fatalf("inconsistency of an unknown blob: %d", code)
	}
}
