package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/engine"
	"github.com/weftnet/weft/internal/control/rpc"
)

// ControlConfig says what the control plane benchmark measures.
type ControlConfig struct {
	Blobs       int           // blobs to register and certify; default 2000
	Concurrency int           // concurrent clients, each its own account; default 64
	Committee   int           // storage nodes in the committee; default 10
	Shards      int           // default 100
	Timeout     time.Duration // give up after; default 5 minutes
}

func (c *ControlConfig) defaults() {
	if c.Blobs <= 0 {
		c.Blobs = 2000
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 64
	}
	if c.Committee <= 0 {
		c.Committee = 10
	}
	if c.Shards <= 0 {
		c.Shards = 100
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Minute
	}
}

// ControlResult summarises a control plane benchmark run.
type ControlResult struct {
	Blobs            int
	Elapsed          time.Duration
	PerSecond        float64 // certified blobs per second
	P50, P99         time.Duration
	RegP50, CertP50  time.Duration
	Blocks           int64
	TxPerBlockMedian int
}

func key(seed string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte(seed))
	return ed25519.NewKeyFromSeed(s[:])
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// Control starts the embedded control plane (one CometBFT validator in
// this process, as weft devnet runs it), then registers and certifies
// blobs from concurrent clients over its RPC, and reports certified blobs
// per second and commit latency (broadcast to committed, per transaction).
func Control(w io.Writer, cfg ControlConfig) (*ControlResult, error) {
	cfg.defaults()
	dir, err := os.MkdirTemp("", "weft-bench-control")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	g := control.Genesis{Params: control.Params{NetworkID: "weft-bench", Shards: cfg.Shards, MaxEpochsAhead: 100}}
	var nodes []ed25519.PrivateKey
	for i := 0; i < cfg.Committee; i++ {
		k := key(fmt.Sprint("bench node ", i))
		nodes = append(nodes, k)
		g.Nodes = append(g.Nodes, control.NodeRecord{Key: control.KeyOf(k), Name: fmt.Sprint("node-", i), Address: fmt.Sprintf("http://127.0.0.1:%d", 9100+i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	node, c, err := embedded(ctx, dir, g)
	if err != nil {
		return nil, err
	}
	defer node.Shutdown(context.Background())
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	com, err := c.Committee(ctx, 0)
	if err != nil {
		return nil, err
	}
	// The smallest set of committee members whose shards make a quorum.
	quorum, weight := []ed25519.PrivateKey{}, 0
	for _, k := range nodes {
		if weight >= g.Params.Quorum() {
			break
		}
		quorum = append(quorum, k)
		weight += com.Weight(control.KeyOf(k))
	}
	fmt.Fprintf(w, "weft bench control: embedded CometBFT validator, committee of %d nodes over %d shards (%d signatures per certificate), %d clients\n",
		cfg.Committee, cfg.Shards, len(quorum), cfg.Concurrency)

	var (
		mu         sync.Mutex
		lat        []time.Duration
		reg, certs []time.Duration
		next       int
		firstErr   error
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= cfg.Blobs || firstErr != nil {
			return 0, false
		}
		next++
		return next - 1, true
	}
	start := time.Now()
	startHeight := st.Height
	var wg sync.WaitGroup
	for wk := 0; wk < cfg.Concurrency; wk++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := rpc.NewSigner(key(fmt.Sprint("bench client ", wk)))
			for {
				i, ok := take()
				if !ok {
					return
				}
				root := blob.Hash(sha256.Sum256(binary.BigEndian.AppendUint64([]byte("bench blob"), uint64(i))))
				id := blob.ComputeID(blob.RS2D16, 1<<20, root)
				t0 := time.Now()
				_, err := c.Submit(ctx, s, control.Payload{RegisterBlob: &control.RegisterBlob{ID: id, Length: 1 << 20, Encoding: blob.RS2D16, Root: root, EndEpoch: st.Epoch + 10}})
				t1 := time.Now()
				cert := &control.Certificate{ID: id, Epoch: st.Epoch}
				for _, k := range quorum {
					cert.Signatures = append(cert.Signatures, control.Signature{Node: control.KeyOf(k), Sig: ed25519.Sign(k, control.ConfirmationMessage(g.Params.NetworkID, st.Epoch, id))})
				}
				t2 := time.Now()
				if err == nil {
					_, err = c.Submit(ctx, s, control.Payload{CertifyBlob: cert})
				}
				t3 := time.Now()
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				reg = append(reg, t1.Sub(t0))
				certs = append(certs, t3.Sub(t2))
				lat = append(lat, t1.Sub(t0), t3.Sub(t2))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return nil, fmt.Errorf("bench: %w", firstErr)
	}
	end, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	r := &ControlResult{
		Blobs: cfg.Blobs, Elapsed: elapsed, PerSecond: float64(cfg.Blobs) / elapsed.Seconds(),
		P50: pct(lat, 0.5), P99: pct(lat, 0.99), RegP50: pct(reg, 0.5), CertP50: pct(certs, 0.5),
		Blocks: end.Height - startHeight,
	}
	fmt.Fprintf(w, "\n%8s %10s %14s %12s %12s %14s %14s %8s\n", "blobs", "elapsed", "certified/s", "commit p50", "commit p99", "register p50", "certify p50", "blocks")
	fmt.Fprintf(w, "%8d %10s %14.1f %12s %12s %14s %14s %8d\n", r.Blobs, formatDuration(r.Elapsed), r.PerSecond,
		formatDuration(r.P50), formatDuration(r.P99), formatDuration(r.RegP50), formatDuration(r.CertP50), r.Blocks)
	return r, nil
}

// embedded starts a one-validator control plane in dir, the way weft
// devnet runs it, and connects a client to it.
func embedded(ctx context.Context, dir string, g control.Genesis) (*engine.Validator, *rpc.Client, error) {
	if _, err := engine.Init(engine.InitConfig{Dir: dir, Validators: 1, Genesis: g}); err != nil {
		return nil, nil, err
	}
	node, err := engine.Start(ctx, dir, io.Discard)
	if err != nil {
		return nil, nil, err
	}
	c, err := rpc.Dial(ctx, node.RPC())
	if err != nil {
		node.Shutdown(ctx)
		return nil, nil, err
	}
	return node, c, nil
}
