package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/engine"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/loopback"
	"github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/internal/recovery"
	"github.com/weftnet/weft/redstuff"
	"github.com/weftnet/weft/units"
)

const shards = 10

type testbed struct {
	t     testing.TB
	dir   string
	ctl   *rpc.Client
	user  *rpc.Signer
	admin *rpc.Signer // governance: weights and epochs
	codec *redstuff.Codec
	cfgs  []*node.Config
	nodes []*node.Node
	keys  []ed25519.PrivateKey
}

// newTestbed starts an embedded control plane and storage nodes holding
// shards between them.
func newTestbed(t testing.TB, nodes int) *testbed {
	t.Helper()
	return newTestbedWith(t, nodes, func(*control.Genesis) {})
}

// newTestbedWith is newTestbed with the genesis edited (after the nodes
// are listed) before the control plane starts.
func newTestbedWith(t testing.TB, nodes int, edit func(*control.Genesis)) *testbed {
	t.Helper()
	tb := &testbed{t: t, dir: t.TempDir()}
	adminSeed := make([]byte, 32)
	adminSeed[0] = 0xad
	tb.admin = rpc.NewSigner(ed25519.NewKeyFromSeed(adminSeed))
	g := control.Genesis{Params: control.Params{NetworkID: "weft-node-test", Shards: shards, MaxEpochsAhead: 100, Admin: tb.admin.Key()}}
	for i := 0; i < nodes; i++ {
		kf := filepath.Join(tb.dir, "keys", fmt.Sprintf("node-%d.key", i))
		k, err := keyfile.LoadOrCreate(kf)
		if err != nil {
			t.Fatal(err)
		}
		tb.keys = append(tb.keys, k)
		addr, err := loopback.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		g.Nodes = append(g.Nodes, control.NodeRecord{Key: control.KeyOf(k), Name: fmt.Sprint("node-", i), Address: "http://" + addr})
		tb.cfgs = append(tb.cfgs, &node.Config{Name: fmt.Sprint("node-", i), Listen: addr,
			DataDir: filepath.Join(tb.dir, "data", fmt.Sprint(i)), KeyFile: kf, MaxBodyBytes: 64 << 20,
			RecoveryDelay: units.Duration(20 * time.Millisecond)})
	}
	edit(&g)
	cp := filepath.Join(tb.dir, "control")
	if _, err := engine.Init(engine.InitConfig{Dir: cp, Validators: 1, Genesis: g, BlockInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	v, err := engine.Start(context.Background(), cp, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Shutdown(context.Background()) })
	ctx := context.Background()
	if tb.ctl, err = rpc.Dial(ctx, v.RPC()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.ctl.Close() })
	tb.user = rpc.NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)))
	if tb.codec, err = redstuff.New(shards); err != nil {
		t.Fatal(err)
	}
	for _, c := range tb.cfgs {
		c.ControlPlane = v.RPC()
		tb.startNode(c)
	}
	return tb
}

func (tb *testbed) startNode(c *node.Config) *node.Node {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.Start(ctx, c, log.New(io.Discard, "", 0))
	if err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Cleanup(func() { n.Shutdown(context.Background()) })
	tb.nodes = append(tb.nodes, n)
	return n
}

// register encodes and registers a blob.
func (tb *testbed) register(data []byte, deletable bool) *redstuff.Encoded {
	tb.t.Helper()
	e, err := tb.codec.Encode(data)
	if err != nil {
		tb.t.Fatal(err)
	}
	if _, err := tb.ctl.Submit(context.Background(), tb.user, control.Payload{RegisterBlob: &control.RegisterBlob{
		ID: e.ID, Length: e.Length, Encoding: blob.RS2D16, Root: e.Root, EndEpoch: 10, Deletable: deletable}}); err != nil {
		tb.t.Fatal(err)
	}
	return e
}

func mustMarshal(r *recovery.Request) []byte {
	raw, err := r.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return raw
}

func url(n *node.Node, format string, args ...any) string {
	return "http://" + n.Addr() + fmt.Sprintf(format, args...)
}

func sliverURL(n *node.Node, id blob.ID, pair int, k blob.SliverKind) string {
	return url(n, "/v1/blobs/%s/slivers/%d/%s", id, pair, k)
}

func do(t testing.TB, method, u string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func message(e *redstuff.Encoded, pair int, k blob.SliverKind) []byte {
	p := e.Params
	idx := p.PrimaryOf(pair)
	if k == blob.Secondary {
		idx = p.SecondaryOf(pair)
	}
	raw, _ := (&blob.SliverMessage{Commitment: e.Pairs[pair], Sliver: e.Sliver(k, idx)}).MarshalBinary()
	return raw
}

// pairsOf returns the pairs of a blob that node i holds.
func (tb *testbed) pairsOf(e *redstuff.Encoded, i int) (mine, others []int) {
	var h node.Health
	_, body := do(tb.t, "GET", url(tb.nodes[i], "/v1/health"), nil)
	json.Unmarshal(body, &h)
	owned := map[int]bool{}
	for _, s := range h.Shards {
		owned[s] = true
	}
	for pair := 0; pair < shards; pair++ {
		if owned[e.Params.ShardOf(e.ID, pair)] {
			mine = append(mine, pair)
		} else {
			others = append(others, pair)
		}
	}
	return mine, others
}

func TestStoreConfirmServe(t *testing.T) {
	tb := newTestbed(t, 2)
	n := tb.nodes[0]
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	e := tb.register(data, true)
	mine, others := tb.pairsOf(e, 0)
	if len(mine) != shards/2 {
		t.Fatalf("node 0 holds %d pairs, want %d", len(mine), shards/2)
	}

	// Refusals, each with a JSON error.
	bad := message(e, mine[0], blob.Primary)
	bad[len(bad)-1] ^= 1
	unknown := blob.ID{9, 9, 9}
	params := tb.codec.Params()
	unknownPair := params.PairAt(unknown, params.ShardOf(e.ID, mine[0])) // on a shard this node holds
	for _, tc := range []struct {
		name   string
		method string
		url    string
		body   []byte
		code   int
	}{
		{"shard not held", "PUT", sliverURL(n, e.ID, others[0], blob.Primary), message(e, others[0], blob.Primary), http.StatusMisdirectedRequest},
		{"unregistered blob", "PUT", sliverURL(n, unknown, unknownPair, blob.Primary), message(e, mine[0], blob.Primary), http.StatusNotFound},
		{"sliver fails verification", "PUT", sliverURL(n, e.ID, mine[0], blob.Primary), bad, http.StatusUnprocessableEntity},
		{"malformed body", "PUT", sliverURL(n, e.ID, mine[0], blob.Primary), []byte("hello"), http.StatusBadRequest},
		{"body for another sliver", "PUT", sliverURL(n, e.ID, mine[0], blob.Primary), message(e, mine[0], blob.Secondary), http.StatusBadRequest},
		{"body longer than the blob's slivers", "PUT", sliverURL(n, e.ID, mine[0], blob.Secondary), message(e, mine[0], blob.Primary), http.StatusRequestEntityTooLarge},
		{"oversized body", "PUT", sliverURL(n, e.ID, mine[0], blob.Primary), make([]byte, 65<<20), http.StatusRequestEntityTooLarge},
		{"bad blob ID", "PUT", url(n, "/v1/blobs/xyz/slivers/0/primary"), nil, http.StatusBadRequest},
		{"pair out of range", "PUT", url(n, "/v1/blobs/%s/slivers/10/primary", e.ID), nil, http.StatusBadRequest},
		{"bad kind", "PUT", url(n, "/v1/blobs/%s/slivers/1/tertiary", e.ID), nil, http.StatusBadRequest},
		{"confirmation before upload", "GET", url(n, "/v1/blobs/%s/confirmation", e.ID), nil, http.StatusConflict},
		{"sliver not stored", "GET", sliverURL(n, e.ID, mine[0], blob.Primary), nil, http.StatusNotFound},
		{"no such endpoint", "GET", url(n, "/v2/nothing"), nil, http.StatusNotFound},
	} {
		code, body := do(t, tc.method, tc.url, tc.body)
		var e struct{ Error string }
		if code != tc.code || json.Unmarshal(body, &e) != nil || e.Error == "" {
			t.Errorf("%s: status %d body %q, want %d with a JSON error", tc.name, code, body, tc.code)
		}
	}

	// Upload every pair this node holds.
	for i, pair := range mine {
		for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
			if code, body := do(t, "PUT", sliverURL(n, e.ID, pair, k), message(e, pair, k)); code != http.StatusCreated {
				t.Fatalf("upload pair %d %s: %d %s", pair, k, code, body)
			}
			if i == 0 && k == blob.Primary {
				// Half way, no confirmation yet.
				if code, _ := do(t, "GET", url(n, "/v1/blobs/%s/confirmation", e.ID), nil); code != http.StatusConflict {
					t.Fatalf("confirmation with slivers missing: %d", code)
				}
			}
		}
	}
	code, body := do(t, "GET", url(n, "/v1/blobs/%s/confirmation", e.ID), nil)
	var conf node.Confirmation
	if code != http.StatusOK || json.Unmarshal(body, &conf) != nil {
		t.Fatalf("confirmation: %d %s", code, body)
	}
	if conf.Node != control.KeyOf(tb.keys[0]) || !ed25519.Verify(conf.Node[:], control.ConfirmationMessage("weft-node-test", conf.Epoch, e.ID), conf.Signature) {
		t.Fatalf("confirmation does not verify: %+v", conf)
	}

	// Served slivers verify against the blob ID alone.
	code, body = do(t, "GET", sliverURL(n, e.ID, mine[1], blob.Secondary), nil)
	var msg blob.SliverMessage
	if code != http.StatusOK || msg.UnmarshalBinary(body) != nil {
		t.Fatalf("get sliver: %d", code)
	}
	if err := tb.codec.VerifySliver(e.ID, e.Length, &msg.Sliver, &msg.Commitment); err != nil {
		t.Fatalf("served sliver: %v", err)
	}

	// Status lists the node's pairs.
	code, body = do(t, "GET", url(n, "/v1/blobs/%s/status", e.ID), nil)
	var st node.HeldSlivers
	if code != http.StatusOK || json.Unmarshal(body, &st) != nil || len(st.Pairs) != len(mine) || !st.Pairs[0].Primary || !st.Pairs[0].Secondary {
		t.Fatalf("status: %d %s", code, body)
	}

	// Recovery symbols for two blobs in one request, with and without proofs.
	e2 := tb.register(data[:777], false)
	for _, pair := range mine {
		do(t, "PUT", sliverURL(n, e2.ID, pair, blob.Primary), message(e2, pair, blob.Primary))
	}
	req := &recovery.Request{Blobs: []recovery.BlobRequest{
		{ID: e.ID, SymbolSize: e.SymbolSize, Commitments: []uint32{uint32(mine[1]), uint32(others[0])}, Items: []recovery.Item{
			{Source: blob.Secondary, Index: uint32(e.Params.SecondaryOf(mine[0])), Positions: []uint32{0, 3, 9}, Proofs: true},
			{Source: blob.Primary, Index: uint32(others[0]), Positions: []uint32{1}},
		}},
		{ID: e2.ID, SymbolSize: e2.SymbolSize, Items: []recovery.Item{
			{Source: blob.Primary, Index: uint32(mine[0]), Positions: []uint32{1, 2}},
			{Source: blob.Secondary, Index: uint32(e2.Params.SecondaryOf(mine[0])), Positions: []uint32{1}},
		}},
		{ID: blob.ID{1, 2, 3}, SymbolSize: 2, Items: []recovery.Item{{Source: blob.Primary, Index: 0, Positions: []uint32{1}}}},
	}}
	raw, _ := req.MarshalBinary()
	code, body = do(t, "POST", url(n, "/v1/symbols"), raw)
	if code != http.StatusOK {
		t.Fatalf("symbols: %d %s", code, body)
	}
	resp, err := recovery.DecodeResponse(req, body)
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Blobs[0].Commitments; c[0].Missing != recovery.Present || c[0].Commitment.Primary != e.Pairs[mine[1]].Primary || c[1].Missing != recovery.NotHeld {
		t.Fatalf("commitments: %+v", c)
	}
	proven := resp.Blobs[0].Items[0]
	for i, pos := range []uint32{0, 3, 9} {
		sym := blob.RecoverySymbol{Source: blob.Secondary, Row: pos, Col: uint32(e.Params.SecondaryOf(mine[0])), Data: proven.Symbols[i],
			Proof: &blob.SymbolProof{Path: proven.Paths[i], Pair: proven.Pair}}
		if err := tb.codec.VerifySymbol(e.ID, e.Length, &sym); err != nil {
			t.Fatalf("proven symbol %d: %v", i, err)
		}
	}
	if resp.Blobs[0].Items[1].Missing != recovery.NotHeld {
		t.Fatalf("item on another node's shard: %v", resp.Blobs[0].Items[1].Missing)
	}
	plain := resp.Blobs[1].Items[0]
	want := e2.Sliver(blob.Primary, mine[0])
	if plain.Missing != recovery.Present || string(plain.Symbols[0]) != string(want.Data[e2.SymbolSize:2*e2.SymbolSize]) || plain.Paths != nil {
		t.Fatalf("unproven symbols: %+v", plain)
	}
	if resp.Blobs[1].Items[1].Missing != recovery.NotStored || resp.Blobs[2].Items[0].Missing != recovery.Unknown {
		t.Fatalf("missing reasons: %v %v", resp.Blobs[1].Items[1].Missing, resp.Blobs[2].Items[0].Missing)
	}
	for name, body := range map[string][]byte{
		"malformed":     []byte("{"),
		"trailing byte": append(raw, 0),
		"too many":      mustMarshal(&recovery.Request{Blobs: []recovery.BlobRequest{{ID: e.ID, SymbolSize: 2, Items: []recovery.Item{{Positions: make([]uint32, 100_001)}}}}}),
	} {
		if code, _ := do(t, "POST", url(n, "/v1/symbols"), body); code != http.StatusBadRequest {
			t.Errorf("symbols request %s: status %d", name, code)
		}
	}

	// Health and metrics.
	code, body = do(t, "GET", url(n, "/v1/health"), nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"status":"ok"`) {
		t.Fatalf("health: %d %s", code, body)
	}
	code, body = do(t, "GET", url(n, "/metrics"), nil)
	if code != http.StatusOK || !strings.Contains(string(body), `weft_node_requests_total{code="201",route="put_sliver"}`) || !strings.Contains(string(body), "weft_node_disk_bytes") {
		t.Fatalf("metrics: %d\n%s", code, body)
	}

	// Deleting the blob on the control plane makes the node drop it.
	if _, err := tb.ctl.Submit(context.Background(), tb.user, control.Payload{DeleteBlob: &control.BlobRef{ID: e.ID}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := do(t, "GET", sliverURL(n, e.ID, mine[0], blob.Primary), nil)
		if code == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("deleted blob's slivers were not collected")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := do(t, "PUT", sliverURL(n, e.ID, mine[0], blob.Primary), message(e, mine[0], blob.Primary)); code != http.StatusGone {
		t.Fatalf("upload for a deleted blob: %d, want 410", code)
	}

	// A restart keeps slivers and the event cursor.
	var before node.Health
	_, hb := do(t, "GET", url(n, "/v1/health"), nil)
	json.Unmarshal(hb, &before)
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	n = tb.startNode(tb.cfgs[0])
	var after node.Health
	_, hb = do(t, "GET", url(n, "/v1/health"), nil)
	json.Unmarshal(hb, &after)
	if after.Cursor < before.Cursor || after.Node != before.Node {
		t.Fatalf("after restart: %+v, before %+v", after, before)
	}
	if code, _ := do(t, "GET", sliverURL(n, e2.ID, mine[0], blob.Primary), nil); code != http.StatusOK {
		t.Fatalf("sliver after restart: %d", code)
	}
}
