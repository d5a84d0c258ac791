package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/files"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/devnet"
	"github.com/weftnet/weft/internal/seeded"
	"github.com/weftnet/weft/redstuff"
)

// FilesConfig says what the files benchmark measures.
type FilesConfig struct {
	Sizes       []int64 // files to store and read; default 1 GiB
	SegmentSize int64   // default client.DefaultSegmentSize
	SmallFiles  int     // files in the batch comparison; default 1000
	SmallSize   int64   // their size; default 1 KiB
	NoGateway   bool    // skip the gateway round trip
}

// rssWatch samples the resident sets of processes until stopped and keeps
// each one's peak.
type rssWatch struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	once sync.Once
	peak map[int]int64
}

func watchRSS(pids []int) *rssWatch {
	w := &rssWatch{stop: make(chan struct{}), done: make(chan struct{}), peak: map[int]int64{}}
	sample := func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, pid := range pids {
			if rss, _ := procStat(pid); rss > w.peak[pid] {
				w.peak[pid] = rss
			}
		}
	}
	sample()
	go func() {
		defer close(w.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				sample()
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return w
}

// end stops sampling (once) and returns the peaks.
func (w *rssWatch) end() map[int]int64 {
	w.once.Do(func() { close(w.stop); <-w.done })
	return w.peak
}

// cpuOf sums the CPU time the processes have used.
func cpuOf(pids []int) time.Duration {
	var sum time.Duration
	for _, pid := range pids {
		_, cpu := procStat(pid)
		sum += cpu
	}
	return sum
}

// cpuSplit prints CPU seconds per GiB stored as client+nodes.
func cpuSplit(client, all time.Duration, size int64) string {
	gib := float64(size) / (1 << 30)
	return fmt.Sprintf("%.1f+%.1f", client.Seconds()/gib, (all-client).Seconds()/gib)
}

// selfHWM is this process's peak resident set (VmHWM).
func selfHWM() int64 {
	raw, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// Files starts the default devnet and stores and reads back, byte-exact,
// files generated from a seed (never held in memory) through the SDK and
// through the devnet's gateway, printing throughput and the peak resident
// sets of the client (this process), the busiest node and the gateway;
// then compares one batch of small files with as many single stores.
func Files(w io.Writer, cfg FilesConfig) error {
	if len(cfg.Sizes) == 0 {
		cfg.Sizes = []int64{1 << 30}
	}
	if cfg.SegmentSize <= 0 {
		cfg.SegmentSize = client.DefaultSegmentSize
	}
	if cfg.SmallFiles <= 0 {
		cfg.SmallFiles = 1000
	}
	if cfg.SmallSize <= 0 {
		cfg.SmallSize = 1 << 10
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(client.MemoryLimit(cfg.SegmentSize)) // as weft store and read do
	}
	ctx := context.Background()
	layout, c, ctl, stop, err := startDevnetClients(ctx, devnet.Config{})
	if err != nil {
		return err
	}
	defer stop()
	var nodePIDs []int
	for _, n := range layout.Nodes {
		if n.PID > 0 {
			nodePIDs = append(nodePIDs, n.PID)
		}
	}
	fmt.Fprintf(w, "weft bench files: %d storage node processes, %d shards, segments of %s\n\n", len(nodePIDs), c.Codec().Params().N, FormatSize(cfg.SegmentSize))
	// The baseline, in this run and on this devnet: blobs of a segment's
	// size stored one after another through Store, reading the input
	// included as it is for the files below. Several, so that the nodes'
	// database flushes, which a first blob leaves for later, are paid in
	// it as they are during a file.
	all := append([]int{os.Getpid()}, nodePIDs...)
	const baseBlobs = 4
	cpu0, self0 := cpuOf(all), cpuOf(all[:1])
	t0 := time.Now()
	for i := range baseBlobs {
		data, _ := io.ReadAll(seeded.Reader(uint64(time.Now().UnixNano())+uint64(100+i), cfg.SegmentSize))
		if _, err := c.Store(ctx, data, client.StoreOptions{Epochs: 2}); err != nil {
			return err
		}
	}
	blobMBps := mbps(baseBlobs*cfg.SegmentSize, time.Since(t0))
	fmt.Fprintf(w, "baseline: %d blobs of %s, one after another, stored at %.1f MB/s; CPU s/GiB %s (client+nodes)\n\n",
		baseBlobs, FormatSize(cfg.SegmentSize), blobMBps, cpuSplit(cpuOf(all[:1])-self0, cpuOf(all)-cpu0, baseBlobs*cfg.SegmentSize))
	fmt.Fprintf(w, "%9s %5s | %10s %8s %11s %10s | %12s %12s | %13s %12s %12s\n", "file", "segs", "store MB/s", "/ blob", "CPU c+n", "read MB/s", "client peak", "busiest node", "gw store MB/s", "gw read MB/s", "gateway peak")
	var rangeID string
	var rangeSize int64
	for i, size := range cfg.Sizes {
		seed := uint64(time.Now().UnixNano()) + uint64(i)
		want := sha256.New()
		nodes := watchRSS(nodePIDs)
		cpu0, self0 := cpuOf(all), cpuOf(all[:1])
		t0 := time.Now()
		r, err := c.StoreFile(ctx, io.TeeReader(seeded.Reader(seed, size), want), size, client.FileOptions{
			StoreOptions: client.StoreOptions{Epochs: 2}, SegmentSize: cfg.SegmentSize})
		if err != nil {
			nodes.end()
			return err
		}
		storeD := time.Since(t0)
		storeCPU, storeClientCPU := cpuOf(all)-cpu0, cpuOf(all[:1])-self0
		got := sha256.New()
		t0 = time.Now()
		n, err := c.ReadFile(ctx, r.BlobID, got)
		readD := time.Since(t0)
		peaks := nodes.end()
		if err != nil {
			return err
		}
		if n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
			return fmt.Errorf("bench: read %d bytes back, not the %d stored", n, size)
		}
		var busiest int64
		for _, p := range peaks {
			busiest = max(busiest, p)
		}
		gwStore, gwRead, gwPeak := "-", "-", "-"
		if !cfg.NoGateway && layout.Gateway != "" {
			id, s, r, p, err := gatewayRoundTrip(layout.Gateway, layout.GatewayPID, seed+1000, size)
			if err != nil {
				return err
			}
			gwStore, gwRead, gwPeak = fmt.Sprintf("%.1f", s), fmt.Sprintf("%.1f", r), FormatSize(p)
			if size >= rangeSize {
				rangeID, rangeSize = id, size
			}
		}
		fmt.Fprintf(w, "%9s %5d | %10.1f %8.2f %11s %10.1f | %12s %12s | %13s %12s %12s\n", FormatSize(size), max(1, len(r.Segments)),
			mbps(size, storeD), mbps(size, storeD)/blobMBps, cpuSplit(storeClientCPU, storeCPU, size), mbps(size, readD), FormatSize(selfHWM()), FormatSize(busiest), gwStore, gwRead, gwPeak)
	}
	if rangeID != "" {
		fmt.Fprintln(w)
		if err := oneByteRange(w, layout, rangeID, rangeSize); err != nil {
			return err
		}
	}
	return smallFiles(ctx, w, c, ctl, cfg)
}

// oneByteRange asks the gateway for single bytes of a stored file (the
// middle one first) and prints each one's time to answer and the bytes
// the nodes sent for it (the sum of their weft_node_bytes_out_total).
func oneByteRange(w io.Writer, layout *devnet.Layout, id string, size int64) error {
	hc := &http.Client{Timeout: time.Minute}
	sent := func() float64 {
		var sum float64
		for _, n := range layout.Nodes {
			if n.PID > 0 {
				sum += metricSum(hc, n.API, "weft_node_bytes_out_total")
			}
		}
		return sum
	}
	// The middle first, then two other offsets, each a cold read of a
	// segment not read since it was stored through the gateway.
	for _, off := range []int64{size / 2, size / 4, size / 4 * 3} {
		before := sent()
		req, err := http.NewRequest(http.MethodGet, layout.Gateway+"/v1/blobs/"+id, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off))
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 2))
		resp.Body.Close()
		d := time.Since(t0)
		if err != nil || resp.StatusCode != http.StatusPartialContent || len(body) != 1 {
			return fmt.Errorf("bench: 1-byte range: %s, %d bytes, %v", resp.Status, len(body), err)
		}
		fmt.Fprintf(w, "1-byte Range at offset %d of the %s file through the gateway: %s, %s fetched from nodes\n",
			off, FormatSize(size), formatDuration(d), FormatSize(int64(sent()-before)))
	}
	return nil
}

// chainTxs counts the transactions in the control plane's blocks after
// height from (exclusive) up to its current height, from CometBFT's
// /blockchain, and returns them with that height.
func chainTxs(ctx context.Context, ctl *rpc.Client, from int64) (int64, int64, error) {
	st, err := ctl.Status(ctx)
	if err != nil {
		return 0, 0, err
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	var txs int64
	for hi := st.Height; hi > from; {
		lo := max(from+1, hi-19)
		var out struct {
			Result struct {
				BlockMetas []struct {
					NumTxs string `json:"num_txs"`
				} `json:"block_metas"`
			} `json:"result"`
		}
		if err := getJSON(ctx, hc, fmt.Sprintf("%s/blockchain?minHeight=%d&maxHeight=%d", ctl.URL(), lo, hi), &out); err != nil {
			return 0, 0, err
		}
		if len(out.Result.BlockMetas) == 0 {
			return 0, 0, fmt.Errorf("bench: no blocks %d..%d from %s", lo, hi, ctl.URL())
		}
		for _, m := range out.Result.BlockMetas {
			n, err := strconv.ParseInt(m.NumTxs, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("bench: block meta num_txs %q", m.NumTxs)
			}
			txs += n
		}
		hi = lo - 1
	}
	return txs, st.Height, nil
}

// gatewayRoundTrip PUTs a seeded file through the gateway (streamed) and
// GETs it back, returning MB/s both ways and the gateway's peak RSS.
func gatewayRoundTrip(base string, pid int, seed uint64, size int64) (string, float64, float64, int64, error) {
	watch := watchRSS([]int{pid})
	defer watch.end()
	want := sha256.New()
	req, err := http.NewRequest(http.MethodPut, base+"/v1/blobs?epochs=2", io.TeeReader(seeded.Reader(seed, size), want))
	if err != nil {
		return "", 0, 0, 0, err
	}
	req.ContentLength = size
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, 0, 0, err
	}
	var res client.FileResult
	err = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil {
		return "", 0, 0, 0, fmt.Errorf("bench: gateway PUT: %s %v", resp.Status, err)
	}
	storeD := time.Since(t0)
	t0 = time.Now()
	resp, err = http.Get(base + "/v1/blobs/" + res.BlobID.String())
	if err != nil {
		return "", 0, 0, 0, err
	}
	got := sha256.New()
	n, err := io.Copy(got, resp.Body)
	resp.Body.Close()
	readD := time.Since(t0)
	if err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		return "", 0, 0, 0, fmt.Errorf("bench: gateway GET: %s, %d bytes, %v", resp.Status, n, err)
	}
	peak := watch.end()[pid]
	return res.BlobID.String(), mbps(size, storeD), mbps(size, readD), peak, nil
}

// smallFiles compares one batch of small files with single stores.
func smallFiles(ctx context.Context, w io.Writer, c *client.Client, ctl *rpc.Client, cfg FilesConfig) error {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	fs := make([]files.BatchFile, cfg.SmallFiles)
	for i := range fs {
		data := make([]byte, cfg.SmallSize)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		fs[i] = files.BatchFile{Name: fmt.Sprintf("small/%04d.bin", i), Data: data}
	}
	fmt.Fprintf(w, "\n%d files of %s: one batch against single stores (n = %d)\n", cfg.SmallFiles, FormatSize(cfg.SmallSize), c.Codec().Params().N)
	fmt.Fprintf(w, "%-14s | %14s %8s %10s\n", "", "encoded bytes", "txs", "wall time")
	st, err := ctl.Status(ctx)
	if err != nil {
		return err
	}
	h0 := st.Height
	t0 := time.Now()
	br, err := c.StoreBatch(ctx, fs, client.StoreOptions{Epochs: 2})
	if err != nil {
		return err
	}
	batchD := time.Since(t0)
	got, _, err := c.ReadBatchFile(ctx, br.BlobID, fs[len(fs)/2].Name)
	if err != nil || !bytes.Equal(got, fs[len(fs)/2].Data) {
		return fmt.Errorf("bench: batch file read back: %v", err)
	}
	batchTxs, h1, err := chainTxs(ctx, ctl, h0)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%-14s | %14d %8d %10s\n", "one batch", br.EncodedSize, batchTxs, formatDuration(batchD))
	var encoded int64
	t0 = time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var firstErr error
	for _, f := range fs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, err := c.Store(ctx, f.Data, client.StoreOptions{Epochs: 2})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if err == nil {
				encoded += r.EncodedSize
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	singleD := time.Since(t0)
	singleTxs, _, err := chainTxs(ctx, ctl, h1)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%-14s | %14d %8d %10s\n", "single stores", encoded, singleTxs, formatDuration(singleD))
	return offlineSmallFiles(w, fs)
}

// offlineSmallFiles encodes the small files at n = 1000, as one batch and
// one at a time, without a network: encoded bytes, the transactions a
// store would take (a registration and a certificate per blob) and the
// encode time. The single encodes are timed on a sample of them and
// scaled up, and say so.
func offlineSmallFiles(w io.Writer, fs []files.BatchFile) error {
	const n, sample = 1000, 20
	codec, err := redstuff.New(n)
	if err != nil {
		return err
	}
	raw, _, err := files.PackBatch(fs)
	if err != nil {
		return err
	}
	if e, err := codec.Encode(raw[:min(len(raw), 1<<10)]); err == nil { // warm the buffers and tables
		e.Release()
	}
	t0 := time.Now()
	e, err := codec.Encode(raw)
	if err != nil {
		return err
	}
	batchD, batchBytes := time.Since(t0), e.EncodedSize()
	e.Release()
	k := min(sample, len(fs))
	var singleBytes int64
	t0 = time.Now()
	for _, f := range fs[:k] {
		e, err := codec.Encode(f.Data)
		if err != nil {
			return err
		}
		singleBytes += e.EncodedSize()
		e.Release()
	}
	per := time.Since(t0) / time.Duration(k)
	fmt.Fprintf(w, "\nat n = %d (offline encode only)\n", n)
	fmt.Fprintf(w, "%-14s | %14s %8s %10s\n", "", "encoded bytes", "txs", "encode")
	fmt.Fprintf(w, "%-14s | %14d %8d %10s\n", "one batch", batchBytes, 2, formatDuration(batchD))
	fmt.Fprintf(w, "%-14s | %14d %8d %10s  (%s each, timed on %d)\n", "single blobs", singleBytes/int64(k)*int64(len(fs)), 2*len(fs),
		formatDuration(per*time.Duration(len(fs))), formatDuration(per), k)
	return nil
}
