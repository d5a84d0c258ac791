package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/loopback"
	"github.com/weftnet/weft/internal/migration"
	"github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/units"
)

// addNode starts a node that is not in the genesis: it registers itself
// as a candidate. It returns its index.
func (tb *testbed) addNode(tune func(*node.Config)) int {
	tb.t.Helper()
	i := len(tb.nodes)
	kf := filepath.Join(tb.dir, "keys", fmt.Sprintf("node-%d.key", i))
	k, err := keyfile.LoadOrCreate(kf)
	if err != nil {
		tb.t.Fatal(err)
	}
	addr, err := loopback.FreeAddr()
	if err != nil {
		tb.t.Fatal(err)
	}
	c := &node.Config{Name: fmt.Sprint("node-", i), Listen: addr, DataDir: filepath.Join(tb.dir, "data", fmt.Sprint(i)), KeyFile: kf,
		ControlPlane: tb.cfgs[0].ControlPlane, MaxBodyBytes: 64 << 20, RecoveryDelay: units.Duration(20 * time.Millisecond),
		SyncBackoff: units.Duration(50 * time.Millisecond)}
	if tune != nil {
		tune(c)
	}
	tb.keys = append(tb.keys, k)
	tb.cfgs = append(tb.cfgs, c)
	tb.nodes = append(tb.nodes, nil)
	tb.start(i)
	return i
}

func (tb *testbed) govern(p control.Payload) {
	tb.t.Helper()
	if _, err := tb.ctl.Submit(context.Background(), tb.admin, p); err != nil {
		tb.t.Fatal(err)
	}
}

// grow gives node i weight 1 and returns the committee the next epoch
// will have, computed as the control plane will (AssignShards), and the
// current one.
func (tb *testbed) grow(i int) (next, prev *control.Committee) {
	tb.t.Helper()
	ctx := context.Background()
	key := control.KeyOf(tb.keys[i])
	tb.govern(control.Payload{SetWeight: &control.SetWeight{Node: key, Weight: 1}})
	prev, err := tb.ctl.Committee(ctx, 0)
	if err != nil {
		tb.t.Fatal(err)
	}
	var nodes []control.NodeRecord
	for _, m := range prev.Members {
		nodes = append(nodes, m.NodeRecord)
	}
	rec, err := tb.ctl.Node(ctx, key)
	if err != nil || rec == nil {
		tb.t.Fatalf("node %d not registered: %v", i, err)
	}
	nodes = append(nodes, *rec)
	return &control.Committee{Epoch: prev.Epoch + 1, Members: control.AssignShards(shards, prev, nodes)}, prev
}

// advance starts the next epoch and waits until every running node in
// the list is in it.
func (tb *testbed) advance(epoch uint64, wait ...int) {
	tb.t.Helper()
	tb.govern(control.Payload{AdvanceEpoch: &control.AdvanceEpoch{Epoch: epoch}})
	deadline := time.Now().Add(20 * time.Second)
	for _, i := range wait {
		for health(tb.t.(*testing.T), tb.nodes[i]).Epoch != epoch {
			if time.Now().After(deadline) {
				tb.t.Fatalf("node %d not in epoch %d", i, epoch)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// moves returns, for node i, the shards it gains from prev to next and
// the index (in tb) of each one's previous owner.
func (tb *testbed) moves(i int, next, prev *control.Committee) map[int]int {
	tb.t.Helper()
	key := control.KeyOf(tb.keys[i])
	out := map[int]int{}
	for _, m := range next.Members {
		if m.Key != key {
			continue
		}
		for _, s := range m.Shards {
			from, ok := migration.Owner(prev, s)
			if !ok {
				tb.t.Fatalf("shard %d had no owner", s)
			}
			for j := range tb.keys {
				if control.KeyOf(tb.keys[j]) == from.Key {
					out[s] = j
				}
			}
		}
	}
	if len(out) == 0 {
		tb.t.Fatalf("node %d gains nothing", i)
	}
	return out
}

// waitReady polls node n until it is in epoch and every shard it holds
// is ready.
func waitReady(t *testing.T, n *node.Node, epoch uint64, d time.Duration) node.Health {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		h := health(t, n)
		ready := h.Epoch == epoch && len(h.Shards) > 0
		for _, s := range h.ShardStates {
			ready = ready && (s.State == migration.Ready || s.State == migration.ReadOnly)
		}
		if ready {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("node not ready in epoch %d after %v: %+v", epoch, d, h.ShardStates)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stateOf(h node.Health, shard int) migration.State {
	for _, s := range h.ShardStates {
		if s.Shard == shard {
			return s.State
		}
	}
	return ""
}

// syncRequest builds a signed sync request.
func syncRequest(t *testing.T, key ed25519.PrivateKey, epoch uint64, shard int, ids ...blob.ID) []byte {
	t.Helper()
	slices.SortFunc(ids, func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) })
	req := &migration.Request{Epoch: epoch, Shard: uint32(shard), IDs: ids}
	req.Sign("weft-node-test", key)
	raw, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestShardSyncFromPreviousOwner: a new node given weight pulls the
// shards it gains from their previous owners at the epoch change and
// ends holding every pair of them, having received about the moved
// slivers' bytes and rebuilt nothing; the previous owner keeps its
// given-up shard read-only (served, uploads refused), answers only the
// shard's new owner with a valid signature, and drops the shard when the
// change is done.
func TestShardSyncFromPreviousOwner(t *testing.T) {
	tb := newTestbed(t, 6)
	blobs := tb.storeBlobs(30_000, 100_000, 250_000, 60_000, 7)
	ni := tb.addNode(nil)
	n := tb.nodes[ni]
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		h := health(t, n)
		if len(h.Shards) != 0 {
			t.Fatalf("candidate: shards %v", h.Shards)
		}
		if h.SyncDoneEpoch == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("candidate: sync done at %d, want 1", h.SyncDoneEpoch)
		}
	}
	next, prev := tb.grow(ni)
	gained := tb.moves(ni, next, prev)
	release := n.HoldSyncDone() // the old owners keep what they gave up meanwhile
	tb.advance(2, 0, 1, 2, 3, 4, 5, ni)
	h := waitReady(t, n, 2, 30*time.Second)
	waitHolding(t, n, blobs, 10*time.Second)
	moved := tb.checkSlivers(n, ni, blobs)
	received := metric(t, n, "weft_shard_sync_bytes_received_total")
	ratio := received / float64(moved)
	t.Logf("gained %v; moved sliver bytes %d, sync bytes received %.0f: ratio %.4f", gained, moved, received, ratio)
	if ratio > 1.1 || ratio < 1 {
		t.Fatalf("sync received %.0f bytes for %d bytes of moved slivers (ratio %.3f, want ≤ 1.1)", received, moved, ratio)
	}
	if r := metric(t, n, "weft_slivers_recovered_total"); r != 0 {
		t.Fatalf("%v slivers rebuilt by recovery with the previous owners up", r)
	}
	if got, want := metric(t, n, `weft_shard_sync_slivers_total{result="stored"}`), float64(2*len(gained)*len(blobs)); got != want {
		t.Fatalf("%v slivers stored by sync, want %v", got, want)
	}
	for _, s := range h.ShardStates {
		if s.State != migration.Ready || (gained[s.Shard] >= 0 && s.Pulled != int64(len(blobs))) {
			t.Fatalf("shard %+v, want ready with %d pairs pulled", s, len(blobs))
		}
	}

	// The previous owner of one gained shard.
	var shard, oi int
	for shard, oi = range gained {
		break
	}
	old := tb.nodes[oi]
	oh := health(t, old)
	if st := stateOf(oh, shard); st != migration.ReadOnly || slices.Contains(oh.Shards, shard) {
		t.Fatalf("previous owner: shard %d is %q (shards %v), want readOnly", shard, st, oh.Shards)
	}
	if metric(t, old, `weft_shards{state="readOnly"}`) < 1 {
		t.Fatal("weft_shards{state=readOnly} does not count the given-up shard")
	}
	e := blobs[1]
	pair := e.Params.PairAt(e.ID, shard)
	if code, _ := do(t, "GET", sliverURL(old, e.ID, pair, blob.Primary), nil); code != http.StatusOK {
		t.Fatalf("read of a readOnly shard: %d", code)
	}
	if code, _ := do(t, "PUT", sliverURL(old, e.ID, pair, blob.Primary), message(e, pair, blob.Primary)); code != http.StatusMisdirectedRequest {
		t.Fatalf("upload to a readOnly shard: %d, want 421", code)
	}
	// Who may pull: the new owner with its key, nobody else.
	syncURL := url(old, "/v1/shards/%d/sync", shard)
	code, body := do(t, "POST", syncURL, syncRequest(t, tb.keys[ni], 2, shard, e.ID))
	if code != http.StatusOK {
		t.Fatalf("sync request of the new owner: %d %s", code, body)
	}
	if resp, err := migration.DecodeResponse(body, 1); err != nil || resp.Items[0].Status != migration.Present {
		t.Fatalf("sync answer: %v", err)
	}
	other := (oi + 1) % 6
	forged := syncRequest(t, tb.keys[ni], 2, shard, e.ID)
	forged[len(forged)-1] ^= 1
	for _, tc := range []struct {
		name string
		url  string
		body []byte
		code int
	}{
		{"signed by a node that does not own the shard", syncURL, syncRequest(t, tb.keys[other], 2, shard, e.ID), http.StatusForbidden},
		{"bad signature", syncURL, forged, http.StatusForbidden},
		{"epoch without a committee", syncURL, syncRequest(t, tb.keys[ni], 9, shard, e.ID), http.StatusForbidden},
		{"path of another shard", url(old, "/v1/shards/%d/sync", (shard+1)%shards), syncRequest(t, tb.keys[ni], 2, shard, e.ID), http.StatusBadRequest},
		{"asked of a node that did not hold the shard", url(tb.nodes[other], "/v1/shards/%d/sync", shard), syncRequest(t, tb.keys[ni], 2, shard, e.ID), http.StatusMisdirectedRequest},
		{"malformed", syncURL, []byte{1, 'R', 0}, http.StatusBadRequest},
	} {
		if tb.nodes[other].ID() == control.KeyOf(tb.keys[ni]) {
			t.Fatal("test setup")
		}
		if code, body := do(t, "POST", tc.url, tc.body); code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.code)
		}
	}

	// The new owner attests; the change is done: the given-up shard's
	// pairs are dropped, and nothing is served from it any more.
	release()
	for deadline := time.Now().Add(20 * time.Second); stateOf(health(t, old), shard) != ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("shard %d not dropped by its old owner after its new owner attested: %q", shard, stateOf(health(t, old), shard))
		}
	}
	if got := health(t, n).SyncDoneEpoch; got != 2 {
		t.Fatalf("sync done reported for epoch %d, want 2", got)
	}
	if code, _ := do(t, "GET", sliverURL(old, e.ID, pair, blob.Primary), nil); code != http.StatusNotFound {
		t.Fatalf("read of a dropped shard: %d", code)
	}
	if code, _ := do(t, "POST", syncURL, syncRequest(t, tb.keys[ni], 2, shard, e.ID)); code != http.StatusGone {
		t.Fatalf("sync of a dropped shard: %d, want 410", code)
	}
	// Its own shards are untouched.
	waitHolding(t, old, blobs, time.Second)
	// And a node that gained nothing reported the change at once.
	if got := health(t, tb.nodes[other]).SyncDoneEpoch; got != 2 {
		t.Fatalf("a node that gained nothing reported epoch %d", got)
	}
}

// TestShardSyncPreviousOwnerDown: with the previous owner down, the
// gained shard is rebuilt by recovery from the rest of the committee, at
// about the bytes it holds (blobs of 1–3 MiB: ≤ 1.1×).
func TestShardSyncPreviousOwnerDown(t *testing.T) {
	tb := newTestbed(t, 6)
	blobs := tb.storeBlobs(1<<20, 3<<20, 2<<20)
	ni := tb.addNode(nil)
	next, prev := tb.grow(ni)
	gained := tb.moves(ni, next, prev)
	for _, oi := range gained {
		tb.stop(oi)
	}
	tb.advance(2, ni)
	n := tb.nodes[ni]
	h := waitReady(t, n, 2, 60*time.Second)
	waitHolding(t, n, blobs, 10*time.Second)
	moved := tb.checkSlivers(n, ni, blobs)
	received := metric(t, n, "weft_recovery_bytes_received_total")
	t.Logf("gained %v; moved sliver bytes %d, recovery bytes received %.0f: ratio %.4f", gained, moved, received, received/float64(moved))
	if ratio := received / float64(moved); ratio > 1.1 {
		t.Fatalf("recovery received %.0f bytes for %d bytes of moved slivers (ratio %.3f, want ≤ 1.1 for blobs ≥ 1 MiB)", received, moved, ratio)
	}
	if r := metric(t, n, "weft_slivers_recovered_total"); r != float64(2*len(gained)*len(blobs)) {
		t.Fatalf("%v slivers recovered, want %d", r, 2*len(gained)*len(blobs))
	}
	if m := metric(t, n, `weft_shard_sync_slivers_total{result="missing"}`); m == 0 {
		t.Fatal("no sliver counted missing from the previous owner")
	}
	t.Logf("shards: %+v", h.ShardStates)
}

// lyingSyncProxy stands at a node's registered address, passes
// everything to the node, and corrupts the slivers of its sync answers
// (well formed, false bytes).
func lyingSyncProxy(t *testing.T, addr, target string, gate func(req *migration.Request) bool) *atomic.Int64 {
	t.Helper()
	var lies atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+target+r.URL.Path, bytes.NewReader(raw))
		if sr, err := migration.DecodeRequest(raw); err == nil && gate != nil && !gate(sr) {
			<-r.Context().Done()
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if sr, err := migration.DecodeRequest(raw); err == nil && gate == nil && resp.StatusCode == http.StatusOK {
			if ans, err := migration.DecodeResponse(body, len(sr.IDs)); err == nil {
				for _, it := range ans.Items {
					if it.Status == migration.Present {
						it.Primary.Data[0] ^= 0x5a // aliases body
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

// behindProxy restarts node i on another port, keeping its registered
// address for a proxy, and returns both addresses.
func (tb *testbed) behindProxy(i int) (registered, inner string) {
	tb.t.Helper()
	tb.stop(i)
	registered = tb.cfgs[i].Listen
	inner, err := loopback.FreeAddr()
	if err != nil {
		tb.t.Fatal(err)
	}
	tb.cfgs[i].Listen, tb.cfgs[i].Address = inner, "http://"+registered
	tb.start(i)
	return registered, inner
}

// TestShardSyncLyingPreviousOwner: slivers a previous owner corrupts are
// caught by verification, never stored, and the blobs recovered.
func TestShardSyncLyingPreviousOwner(t *testing.T) {
	tb := newTestbed(t, 6)
	blobs := tb.storeBlobs(30_000, 100_000, 7)
	ni := tb.addNode(nil)
	next, prev := tb.grow(ni)
	gained := tb.moves(ni, next, prev)
	var lies []*atomic.Int64
	for _, oi := range gained {
		registered, inner := tb.behindProxy(oi)
		lies = append(lies, lyingSyncProxy(t, registered, inner, nil))
	}
	tb.advance(2, ni)
	n := tb.nodes[ni]
	waitReady(t, n, 2, 60*time.Second)
	waitHolding(t, n, blobs, 10*time.Second)
	tb.checkSlivers(n, ni, blobs)
	told := int64(0)
	for _, l := range lies {
		told += l.Load()
	}
	if told == 0 {
		t.Fatal("the previous owner was never asked")
	}
	if bad := metric(t, n, `weft_shard_sync_slivers_total{result="verified_failed"}`); bad != float64(2*told) {
		t.Fatalf("%v slivers failed verification, %d pairs were corrupted", bad, told)
	}
	if stored := metric(t, n, `weft_shard_sync_slivers_total{result="stored"}`); stored != 0 {
		t.Fatalf("%v slivers stored from a liar", stored)
	}
	if r := metric(t, n, "weft_slivers_recovered_total"); r == 0 {
		t.Fatal("nothing recovered")
	}
}

// TestShardSyncResumesAfterRestart: a new owner stopped in the middle of
// a sync resumes from its persisted cursor: what it pulled before is not
// asked again.
func TestShardSyncResumesAfterRestart(t *testing.T) {
	tb := newTestbed(t, 6)
	blobs := tb.storeBlobs(30_000, 40_000, 50_000, 60_000, 70_000, 80_000)
	ni := tb.addNode(func(c *node.Config) { c.SyncBatchBlobs = 1 })
	next, prev := tb.grow(ni)
	gained := tb.moves(ni, next, prev)
	if len(gained) != 1 {
		t.Fatalf("gains %v, want one shard", gained)
	}
	var mu sync.Mutex
	var asked [][]blob.ID
	open := make(chan struct{})
	for _, oi := range gained {
		registered, inner := tb.behindProxy(oi)
		lyingSyncProxy(t, registered, inner, func(r *migration.Request) bool {
			mu.Lock()
			asked = append(asked, r.IDs)
			k := len(asked)
			mu.Unlock()
			if k <= 2 {
				return true
			}
			select {
			case <-open:
				return true
			default:
				return false // held: the asker times out or stops
			}
		})
	}
	tb.advance(2, ni)
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		k := len(asked)
		mu.Unlock()
		if k >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sync never reached its third request")
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.stop(ni)
	mu.Lock()
	before := slices.Concat(asked[:2]...)
	third := asked[2]
	asked = nil
	mu.Unlock()
	close(open)
	n := tb.start(ni)
	waitReady(t, n, 2, 30*time.Second)
	waitHolding(t, n, blobs, 10*time.Second)
	tb.checkSlivers(n, ni, blobs)
	mu.Lock()
	defer mu.Unlock()
	if len(asked) == 0 || !slices.Equal(asked[0], third) {
		t.Fatalf("after restart the first request asked %v, want the interrupted one %v", asked, third)
	}
	for _, ids := range asked {
		for _, id := range ids {
			if slices.Contains(before, id) {
				t.Fatalf("blob %v pulled before the restart was asked again", id)
			}
		}
	}
	t.Logf("pulled %d blobs before the restart, %d requests after", len(before), len(asked))
}

// TestShardSyncWaitsOutChallengeBlackout: while a challenge window is
// open, previous owners refuse sync batches that hold a sampled blob
// (the blackout). A new owner that samples the same blobs waits for the
// window to close instead of counting the refusal as the previous
// owner's failure; with two tries 50 ms apart (the second covers the
// moment between the two nodes seeing the window close), refusals would
// give the shard up to recovery. Windows here sample every blob and black
// them out most of the time.
func TestShardSyncWaitsOutChallengeBlackout(t *testing.T) {
	tb := windowsTestbed(t, 4*time.Second, 1500*time.Millisecond, 64, 1000)
	blobs := tb.storeBlobs(20_000, 50_000, 9_000)
	ni := tb.addNode(func(c *node.Config) { c.SyncRetries = 2 })
	n := tb.nodes[ni]
	tb.waitWindow("sampling the blobs", 20*time.Second, func(r *control.WindowReport) bool { return len(r.Blobs) == len(blobs) })
	next, prev := tb.grow(ni)
	gained := tb.moves(ni, next, prev)
	release := n.HoldSyncDone()
	defer release()
	tb.advance(2, 0, 1, 2, 3, ni)
	waitReady(t, n, 2, 30*time.Second)
	waitHolding(t, n, blobs, 10*time.Second)
	if r := metric(t, n, "weft_slivers_recovered_total"); r != 0 {
		t.Fatalf("%v slivers rebuilt by recovery: the previous owners' blackout was taken for a failure", r)
	}
	if got, want := metric(t, n, `weft_shard_sync_slivers_total{result="stored"}`), float64(2*len(gained)*len(blobs)); got != want {
		t.Fatalf("%v slivers stored by sync, want %v", got, want)
	}
}
