package devnet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/devnet"
	"github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/redstuff"
)

// reload reads devnet.json again (nodes added or left).
func (n *net_) reload() {
	n.t.Helper()
	raw, err := os.ReadFile(filepath.Join(n.dir, "devnet.json"))
	if err != nil {
		n.t.Fatal(err)
	}
	var l devnet.Layout
	if err := json.Unmarshal(raw, &l); err != nil {
		n.t.Fatal(err)
	}
	n.layout = l
}

func (n *net_) index(name string) int {
	n.t.Helper()
	i := slices.IndexFunc(n.layout.Nodes, func(nd devnet.NodeInfo) bool { return nd.Name == name })
	if i < 0 {
		n.t.Fatalf("no node %s in devnet.json", name)
	}
	return i
}

// devnetCmd runs weft devnet SUB --dir DIR ARGS and checks it printed
// one line.
func (n *net_) devnetCmd(sub string, args ...string) string {
	n.t.Helper()
	out, err := n.weft(append([]string{"devnet", sub, "--dir", n.dir}, args...)...)
	if err != nil {
		n.t.Fatal(err)
	}
	if strings.Count(out, "\n") != 1 {
		n.t.Fatalf("weft devnet %s printed %q", sub, out)
	}
	n.t.Logf("weft devnet %s: %s", sub, strings.TrimSpace(out))
	return out
}

// writer stores and reads blobs through the SDK until stopped, and
// counts every failure.
type writer struct {
	t    *testing.T
	c    *client.Client
	rng  *rand.Rand
	mu   sync.Mutex
	data map[blob.ID][]byte
	ids  []blob.ID
	errs []error
}

// startWriter runs a writer until stop is called.
func startWriter(ctx context.Context, t *testing.T, c *client.Client, rng *rand.Rand) (w *writer, stop func()) {
	w = &writer{t: t, c: c, rng: rng, data: map[blob.ID][]byte{}}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.run(wctx) }()
	return w, func() { cancel(); <-done }
}

func (w *writer) run(ctx context.Context) {
	for ctx.Err() == nil {
		size := 2<<10 + w.rng.IntN(1<<20-2<<10)
		if w.rng.IntN(2) == 0 {
			size = 2<<10 + w.rng.IntN(64<<10)
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(w.rng.Uint32())
		}
		r, err := w.c.Store(ctx, data, client.StoreOptions{Epochs: 100})
		if err != nil && ctx.Err() != nil {
			return // stopped mid-store: it may be certified, but not read
		}
		if err != nil {
			w.fail(fmt.Errorf("store of %d bytes: %w", size, err))
			continue
		}
		w.mu.Lock()
		w.data[r.BlobID] = data
		w.ids = append(w.ids, r.BlobID)
		old := w.ids[w.rng.IntN(len(w.ids))]
		w.mu.Unlock()
		for _, id := range []blob.ID{r.BlobID, old} {
			got, err := w.c.Read(ctx, id)
			if ctx.Err() != nil {
				return
			}
			if err != nil || !bytes.Equal(got, w.blob(id)) {
				w.fail(fmt.Errorf("read of %s: %d bytes, %v", id, len(got), err))
			}
		}
	}
}

func (w *writer) fail(err error) {
	w.t.Logf("writer: %v", err)
	w.mu.Lock()
	w.errs = append(w.errs, err)
	w.mu.Unlock()
}

func (w *writer) blob(id blob.ID) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.data[id]
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.ids)
}

// poll calls ok every 20 ms until it holds or d passes.
func poll(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDone waits until epoch's change is done.
func waitDone(t *testing.T, ctl *rpc.Client, epoch uint64, d time.Duration) {
	t.Helper()
	var last *control.EpochChange
	deadline := time.Now().Add(d)
	for {
		ch, err := ctl.EpochChange(context.Background(), epoch)
		if err == nil && ch.State == control.EpochDone {
			return
		}
		last = ch
		if time.Now().After(deadline) {
			t.Fatalf("epoch %d not done after %v: %+v %v", epoch, d, last, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// liveIDs lists the certified live blobs on the control plane.
func liveIDs(t *testing.T, ctl *rpc.Client) []string {
	t.Helper()
	var out []string
	for _, b := range liveBlobs(t, ctl) {
		out = append(out, b.ID.String())
	}
	return out
}

func liveBlobs(t *testing.T, ctl *rpc.Client) []control.BlobInfo {
	t.Helper()
	var out []control.BlobInfo
	var after *blob.ID
	for {
		page, err := ctl.LiveBlobs(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page {
			if b.Status == control.StatusCertified {
				out = append(out, b)
			}
		}
		if len(page) < 1000 {
			return out
		}
		after = &page[len(page)-1].ID
	}
}

// TestChurn: with real processes and a writer storing and reading blobs
// all along through the SDK (never failing), two nodes join (one of them
// is killed with SIGKILL in the middle of its sync and restarted: it
// resumes), then two leave (one of them killed before the change: its
// shards come through recovery). At the end every committee member holds
// both slivers of every pair of its shards of every certified live blob,
// every blob reads back byte-exact, the nodes that left were stopped, and
// the devnet stops and resumes with all of it.
func TestChurn(t *testing.T) {
	dir := t.TempDir()
	n := startDevnetIn(t, dir)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := n.sdk(ctx)
	ctl := n.control(ctx)

	w, stopWriter := startWriter(ctx, t, c, rand.New(rand.NewPCG(seed, 4)))
	defer stopWriter()
	// Some data for the new nodes to sync.
	poll(t, time.Minute, "the writer's first blobs", func() bool { return w.count() >= 30 })

	// Two nodes join; the first is killed in the middle of its sync and
	// restarted by hand.
	n.devnetCmd("add-node")
	n.devnetCmd("add-node", "--weight", "1")
	n.reload()
	if len(n.layout.Nodes) != 9 {
		t.Fatalf("%d nodes after two add-node", len(n.layout.Nodes))
	}
	joiner := n.index("node-7")
	st, _ := ctl.Status(ctx)
	// What pulling all of node-7's shards would cost: a resumed sync pulls
	// less.
	params, _ := redstuff.NewParams(c.Codec().Params().N)
	var pairBytes int64
	for _, b := range liveBlobs(t, ctl) {
		pairBytes += int64(params.Ks+params.Kp) * int64(params.SymbolSize(b.Length))
	}
	n.devnetCmd("advance-epoch")
	e1 := st.Epoch + 1
	// Killed once it pulled something and some shard is still syncing.
	var killedAt []node.ShardHealth
	deadline := time.Now().Add(time.Minute)
	for killedAt == nil {
		var h node.Health
		_, body := n.get(joiner, "/v1/health")
		if json.Unmarshal(body, &h) == nil && h.Epoch >= e1 {
			pulled, syncing := false, false
			for _, s := range h.ShardStates {
				pulled = pulled || s.Pulled > 0 || s.BlobsDone > 0
				syncing = syncing || s.State == "syncing"
			}
			if pulled && syncing {
				killedAt = h.ShardStates
			}
			if h.SyncDoneEpoch >= e1 {
				t.Fatalf("node-7 synced before it could be killed: %+v", h.ShardStates)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node-7 never seen syncing: %s", body)
		}
		time.Sleep(2 * time.Millisecond)
	}
	n.kill(joiner)
	t.Logf("node-7 killed while syncing: %+v", killedAt)
	var pulledBefore int64
	for _, s := range killedAt {
		pulledBefore += s.Bytes
	}
	n.restart(joiner)
	waitDone(t, ctl, e1, 90*time.Second)
	var gained int
	poll(t, 90*time.Second, "node-7 reports its sync", func() bool {
		var h node.Health
		_, body := n.get(joiner, "/v1/health")
		if json.Unmarshal(body, &h) != nil {
			return false
		}
		gained = len(h.Shards)
		return h.SyncDoneEpoch >= e1
	})
	// It resumed: what it pulled before the kill is not pulled again.
	full := int64(len(killedAt)) * pairBytes
	after := int64(n.metric(joiner, "weft_shard_sync_bytes_received_total"))
	t.Logf("node-7: %d shards, pulling all would be %d bytes; %d pulled before the kill, %d after the restart", gained, full, pulledBefore, after)
	if after > full-pulledBefore/2 {
		t.Fatalf("node-7 pulled %d bytes after its restart, of %d for all its shards, %d of which it had before the kill", after, full, pulledBefore)
	}

	// Two nodes leave; one of them is killed before the change.
	order := rng.Perm(7)
	dead, leaver := fmt.Sprint("node-", order[0]), fmt.Sprint("node-", order[1])
	n.devnetCmd("remove-node", dead)
	n.devnetCmd("remove-node", leaver)
	n.kill(n.index(dead))
	recoveredBefore := 0.0
	for i, nd := range n.layout.Nodes {
		if nd.Name != dead {
			recoveredBefore += max(0, n.metric(i, "weft_recovery_bytes_received_total"))
		}
	}
	n.devnetCmd("advance-epoch")
	e2 := e1 + 1
	waitDone(t, ctl, e2, 90*time.Second)
	poll(t, 90*time.Second, "both leavers stopped", func() bool {
		n.reload()
		return n.layout.Nodes[n.index(dead)].Left && n.layout.Nodes[n.index(leaver)].Left
	})

	// The end: every member holds everything.
	stopWriter()
	if len(w.errs) > 0 {
		t.Fatalf("the writer failed %d times, first: %v", len(w.errs), w.errs[0])
	}
	t.Logf("the writer stored %d blobs", w.count())
	ids := liveIDs(t, ctl)
	for _, id := range w.ids {
		if !slices.Contains(ids, id.String()) {
			t.Fatalf("%s is not certified and live", id)
		}
	}
	com, err := ctl.Committee(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(com.Members) != 7 {
		t.Fatalf("%d members after two joined and two left", len(com.Members))
	}
	recovered := 0.0
	for _, m := range com.Members {
		if m.Name == dead || m.Name == leaver {
			t.Fatalf("%s is still a member", m.Name)
		}
		i := n.index(m.Name)
		n.waitHoldsAll(i, ids, time.Minute)
		recovered += max(0, n.metric(i, "weft_recovery_bytes_received_total"))
	}
	// The dead node's shards were rebuilt from the others: their new
	// owners handed them to recovery.
	fromDead := 0
	for _, m := range com.Members {
		var h node.Health
		_, body := n.get(n.index(m.Name), "/v1/health")
		json.Unmarshal(body, &h)
		for _, s := range h.ShardStates {
			if s.Epoch == e2 && s.From == dead {
				fromDead++
				t.Logf("%s: shard %d from %s: %+v", m.Name, s.Shard, dead, s)
				if s.ToRecovery == 0 || s.Pulled != 0 {
					t.Fatalf("%s's shard %d, gained from the dead %s: %+v", m.Name, s.Shard, dead, s)
				}
			}
		}
	}
	if fromDead == 0 {
		t.Fatalf("no member lists a shard gained from %s", dead)
	}
	if recovered <= recoveredBefore {
		t.Fatalf("no bytes recovered after %s died (%.0f before, %.0f after)", dead, recoveredBefore, recovered)
	}
	for _, name := range []string{dead, leaver} {
		if pid := n.layout.Nodes[n.index(name)].PID; pid != 0 {
			t.Fatalf("%s left with PID %d in devnet.json", name, pid)
		}
	}
	readAll := func() {
		t.Helper()
		for _, id := range w.ids {
			got, err := c.Read(ctx, id)
			if err != nil || !bytes.Equal(got, w.data[id]) {
				t.Fatalf("read of %s: %d bytes, %v", id, len(got), err)
			}
		}
	}
	readAll()

	// Stop and resume: the same seven members run, the leavers do not.
	n.stop()
	n = startDevnetIn(t, dir)
	if len(n.layout.Nodes) != 9 {
		t.Fatalf("%d nodes after resume", len(n.layout.Nodes))
	}
	for _, nd := range n.layout.Nodes {
		left := nd.Name == dead || nd.Name == leaver
		if nd.Left != left || (nd.PID != 0) == left {
			t.Fatalf("after resume: %+v", nd)
		}
	}
	for _, m := range com.Members {
		n.waitHoldsAll(n.index(m.Name), ids, time.Minute)
	}
	c.Close()
	c = n.sdk(ctx)
	readAll()
}
