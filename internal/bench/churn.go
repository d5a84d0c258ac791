package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/devnet"
	"github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/redstuff"
)

// ChurnConfig says how the churn benchmark runs.
type ChurnConfig struct {
	Epochs  int // epoch changes; default 5
	Preload int // blobs stored before the first change; default 40
	// KillEvery: at every KillEvery-th change the leaving node is killed
	// (SIGKILL) before the change, so its shards come through recovery
	// from the committee; default 3, negative never.
	KillEvery int
	// MinSize and MaxSize bound the writer's blobs; default 4 KiB and
	// 1 MiB.
	MinSize, MaxSize int
}

// ChurnEpoch is one epoch change of the churn benchmark.
type ChurnEpoch struct {
	Epoch          uint64
	Joined, Left   []string
	Members        int
	ShardsMoved    int
	MovedBytes     int64 // the moved shards' slivers of the live blobs
	SyncBytes      int64 // received by the gaining nodes from previous owners
	RecoveryBytes  int64 // received by the gaining nodes through recovery
	ToDone         time.Duration
	Writes, Reads  int // done by the writer during the change
	FailedWrites   int
	FailedReads    int
	LiveBlobs      int
	LiveBlobsBytes int64
}

// Ratio is the bytes the gaining nodes received over the moved slivers'.
func (e ChurnEpoch) Ratio() float64 {
	if e.MovedBytes == 0 {
		return 0
	}
	return float64(e.SyncBytes+e.RecoveryBytes) / float64(e.MovedBytes)
}

// churnWriter stores blobs of min–max bytes and reads them back (and an
// older one) in a loop, counting what fails.
type churnWriter struct {
	c        *client.Client
	rng      *rand.Rand
	min, max int

	mu                         sync.Mutex
	data                       map[blob.ID][]byte
	ids                        []blob.ID
	writes, reads, wErr, rErrs int
	lastErr                    error
}

func (w *churnWriter) step(ctx context.Context) {
	size := w.min + w.rng.IntN(w.max-w.min+1)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(w.rng.Uint32())
	}
	r, err := w.c.Store(ctx, data, client.StoreOptions{Epochs: 100})
	if err != nil && ctx.Err() != nil {
		return
	}
	w.mu.Lock()
	w.writes++
	if err != nil {
		w.wErr++
		w.lastErr = err
		w.mu.Unlock()
		return
	}
	w.data[r.BlobID] = data
	w.ids = append(w.ids, r.BlobID)
	old := w.ids[w.rng.IntN(len(w.ids))]
	w.mu.Unlock()
	for _, id := range []blob.ID{r.BlobID, old} {
		got, err := w.c.Read(ctx, id)
		if err != nil && ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		w.reads++
		if err != nil || !bytes.Equal(got, w.data[id]) {
			w.rErrs++
			w.lastErr = fmt.Errorf("read of %s: %d bytes, %v", id, len(got), err)
		}
		w.mu.Unlock()
	}
}

func (w *churnWriter) counts() (writes, reads, failedWrites, failedReads int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes, w.reads, w.wErr, w.rErrs
}

// Churn starts the default devnet, stores cfg.Preload blobs, then runs
// cfg.Epochs epoch changes with nodes joining (weft devnet add-node) and
// leaving (remove-node) at each, while a writer stores and reads blobs
// all the time. Per change it reports the shards moved, the bytes the
// gaining nodes received (sync and recovery) over the moved slivers'
// bytes (from the live blobs' lengths), the time until the change is
// done, and the failed writes and reads (there should be none).
func Churn(w io.Writer, cfg ChurnConfig) ([]ChurnEpoch, error) {
	if cfg.Epochs <= 0 {
		cfg.Epochs = 5
	}
	if cfg.Preload <= 0 {
		cfg.Preload = 40
	}
	if cfg.KillEvery == 0 {
		cfg.KillEvery = 3
	}
	if cfg.MinSize <= 0 {
		cfg.MinSize = 4 << 10
	}
	if cfg.MaxSize < cfg.MinSize {
		cfg.MaxSize = max(cfg.MinSize, 1<<20)
	}
	ctx := context.Background()
	layout, c, ctl, stop, err := startDevnetClients(ctx, devnet.Config{})
	if err != nil {
		return nil, err
	}
	defer stop()
	dir := filepath.Dir(layout.ClientConfig)
	params, err := redstuff.NewParams(c.Codec().Params().N)
	if err != nil {
		return nil, err
	}

	wr := &churnWriter{c: c, min: cfg.MinSize, max: cfg.MaxSize, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5)), data: map[blob.ID][]byte{}}
	for i := 0; i < cfg.Preload; i++ {
		wr.step(ctx)
	}
	if _, _, fw, fr := wr.counts(); fw+fr > 0 {
		return nil, fmt.Errorf("bench: the writer failed before any change: %v", wr.lastErr)
	}
	wctx, wcancel := context.WithCancel(ctx)
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		for wctx.Err() == nil {
			wr.step(wctx)
		}
	}()
	defer func() { wcancel(); <-wdone }()

	fmt.Fprintf(w, "weft bench churn: devnet of %d storage node processes, %d shards; %d epoch changes, nodes joining and leaving at each;\n", len(layout.Nodes), params.N, cfg.Epochs)
	fmt.Fprintf(w, "a writer stores blobs of %s–%s and reads them back all along (%d stored before the first change)\n\n", FormatSize(int64(cfg.MinSize)), FormatSize(int64(cfg.MaxSize)), cfg.Preload)
	fmt.Fprintf(w, "%5s | %-17s | %-16s | %7s | %6s | %10s | %10s %10s | %5s | %7s | %6s %6s | %6s %6s\n",
		"epoch", "joined", "left", "members", "moved", "slivers", "sync", "recovery", "ratio", "to done", "writes", "failed", "reads", "failed")
	var out []ChurnEpoch
	var leaveOrder []string
	for _, nd := range layout.Nodes {
		leaveOrder = append(leaveOrder, nd.Name)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < cfg.Epochs; i++ {
		var ep ChurnEpoch
		// Join: one node, two every other change.
		for j := 0; j < 1+i%2; j++ {
			added, err := devnet.AddNode(ctx, dir, 0)
			if err != nil {
				return out, err
			}
			ep.Joined = append(ep.Joined, added.Name)
			leaveOrder = append(leaveOrder, added.Name)
		}
		// Leave: the oldest member.
		leaver := leaveOrder[0]
		leaveOrder = leaveOrder[1:]
		if _, err := devnet.RemoveNode(ctx, dir, leaver); err != nil {
			return out, err
		}
		ep.Left = []string{leaver}
		if cfg.KillEvery > 0 && (i+1)%cfg.KillEvery == 0 {
			// The leaver dies before the change: what it held is rebuilt.
			pid, err := nodePID(dir, leaver)
			if err != nil {
				return out, err
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				return out, fmt.Errorf("bench: killing %s: %w", leaver, err)
			}
			ep.Left = []string{leaver + " (killed)"}
		}

		prev, err := ctl.Committee(ctx, 0)
		if err != nil {
			return out, err
		}
		apis, err := nodeAPIs(dir)
		if err != nil {
			return out, err
		}
		live, err := liveBlobs(ctx, ctl)
		if err != nil {
			return out, err
		}
		var pairBytes int64
		for _, b := range live {
			pairBytes += int64(params.Ks+params.Kp) * int64(params.SymbolSize(b.Length))
			ep.LiveBlobsBytes += int64(b.Length)
		}
		ep.LiveBlobs = len(live)
		before := map[string][2]float64{}
		for name, api := range apis {
			before[name] = [2]float64{metricSum(hc, api, "weft_shard_sync_bytes_received_total"), metricSum(hc, api, "weft_recovery_bytes_received_total")}
		}
		w0, r0, fw0, fr0 := wr.counts()

		t0 := time.Now()
		ch, err := devnet.AdvanceEpoch(ctx, dir)
		if err != nil {
			return out, err
		}
		ep.Epoch = ch.Epoch
		if err := waitEpochDone(ctx, ctl, ep.Epoch, 3*time.Minute); err != nil {
			return out, err
		}
		ep.ToDone = time.Since(t0)
		com, err := ctl.Committee(ctx, ep.Epoch)
		if err != nil {
			return out, err
		}
		ep.Members = len(com.Members)
		owner := prev.ShardMap(params.N)
		gainers := map[string]bool{}
		for _, m := range com.Members {
			for _, s := range m.Shards {
				if owner[s] < 0 || prev.Members[owner[s]].Key != m.Key {
					ep.ShardsMoved++
					gainers[m.Name] = true
				}
			}
		}
		ep.MovedBytes = int64(ep.ShardsMoved) * pairBytes
		// Every gaining node holds its shards (late ones too), and its
		// recovery is idle: then count what they received.
		for name := range gainers {
			if err := waitGained(ctx, hc, apis[name], ep.Epoch, 3*time.Minute); err != nil {
				return out, fmt.Errorf("bench: %s: %w", name, err)
			}
			b := before[name]
			ep.SyncBytes += int64(metricSum(hc, apis[name], "weft_shard_sync_bytes_received_total") - b[0])
			ep.RecoveryBytes += int64(metricSum(hc, apis[name], "weft_recovery_bytes_received_total") - b[1])
		}
		w1, r1, fw1, fr1 := wr.counts()
		ep.Writes, ep.Reads, ep.FailedWrites, ep.FailedReads = w1-w0, r1-r0, fw1-fw0, fr1-fr0
		out = append(out, ep)
		fmt.Fprintf(w, "%5d | %-17s | %-16s | %7d | %6d | %10s | %10s %10s | %5.3f | %7s | %6d %6d | %6d %6d\n",
			ep.Epoch, strings.Join(ep.Joined, ","), strings.Join(ep.Left, ","), ep.Members, ep.ShardsMoved, FormatSize(ep.MovedBytes),
			FormatSize(ep.SyncBytes), FormatSize(ep.RecoveryBytes), ep.Ratio(), formatDuration(ep.ToDone), ep.Writes, ep.FailedWrites, ep.Reads, ep.FailedReads)
	}
	wcancel()
	<-wdone
	writes, reads, fw, fr := wr.counts()
	fmt.Fprintf(w, "\n%d blobs live at the end; the writer stored %d and read %d blobs: %d failed writes, %d failed reads\n", len(wr.ids), writes, reads, fw, fr)
	fmt.Fprint(w, `(killed): the leaver was killed before the change, so its shards were rebuilt by recovery;
moved: shards whose owner changed; slivers: their pairs of the live blobs (from the blobs' lengths);
sync, recovery: bytes the gaining nodes received (weft_shard_sync_bytes_received_total,
weft_recovery_bytes_received_total); ratio: (sync + recovery) / slivers; to done: from AdvanceEpoch
until the change is done (members worth n − f shards attested); writes, reads: the writer's during the change.
`)
	if fw+fr > 0 {
		return out, fmt.Errorf("bench: %d writes and %d reads failed, the last: %v", fw, fr, wr.lastErr)
	}
	return out, nil
}

// nodeAPIs maps the running nodes of the devnet in dir to their APIs.
// nodePID returns the process of a running node of the devnet in dir.
func nodePID(dir, name string) (int, error) {
	var l devnet.Layout
	raw, err := os.ReadFile(filepath.Join(dir, "devnet.json"))
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return 0, err
	}
	for _, nd := range l.Nodes {
		if nd.Name == name && nd.PID > 0 {
			return nd.PID, nil
		}
	}
	return 0, fmt.Errorf("bench: no running node %s", name)
}

func nodeAPIs(dir string) (map[string]string, error) {
	var l devnet.Layout
	raw, err := os.ReadFile(filepath.Join(dir, "devnet.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, nd := range l.Nodes {
		if !nd.Left && nd.API != "" {
			out[nd.Name] = nd.API
		}
	}
	return out, nil
}

func liveBlobs(ctx context.Context, ctl *rpc.Client) ([]control.BlobInfo, error) {
	var out []control.BlobInfo
	var after *blob.ID
	for {
		page, err := ctl.LiveBlobs(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, b := range page {
			if b.Status == control.StatusCertified {
				out = append(out, b)
			}
		}
		if len(page) < 1000 {
			return out, nil
		}
		after = &page[len(page)-1].ID
	}
}

func waitEpochDone(ctx context.Context, ctl *rpc.Client, epoch uint64, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		ch, err := ctl.EpochChange(ctx, epoch)
		if err == nil && ch.State == control.EpochDone {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: epoch %d not done after %v (%+v, %v)", epoch, d, ch, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitGained waits until a node reported its sync of epoch and its
// recovery queue is empty.
func waitGained(ctx context.Context, hc *http.Client, api string, epoch uint64, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		var h node.Health
		if err := getJSON(ctx, hc, api+"/v1/health", &h); err == nil && h.SyncDoneEpoch >= epoch && h.Recovery.Pending == 0 && h.Recovery.InProgress == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sync of epoch %d not done after %v", epoch, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// metricSum sums a Prometheus metric's samples on a node (0 if it does
// not answer).
func metricSum(hc *http.Client, api, name string) float64 {
	resp, err := hc.Get(api + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			sum += v
		}
	}
	return sum
}
