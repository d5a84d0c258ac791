package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/devnet"
)

// DevnetConfig says what the devnet benchmark measures.
type DevnetConfig struct {
	Sizes []int64 // default 1 MiB, 64 MiB
	Runs  int     // stores and reads per size; default 5
}

// Devnet starts the default devnet (7 storage node processes, 28 shards,
// embedded control plane) in a temporary directory and measures storing
// and reading blobs through the Go SDK: MB/s and latency (medians), and
// time to first byte of a read.
func Devnet(w io.Writer, cfg DevnetConfig) error {
	if len(cfg.Sizes) == 0 {
		cfg.Sizes = []int64{1 << 20, 64 << 20}
	}
	if cfg.Runs <= 0 {
		cfg.Runs = 5
	}
	ctx := context.Background()
	layout, c, _, stop, err := startDevnetClients(ctx, devnet.Config{})
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(w, "weft bench devnet: %d storage node processes, %d shards, embedded control plane; medians of %d runs\n\n",
		len(layout.Nodes), c.Codec().Params().N, cfg.Runs)
	fmt.Fprintf(w, "%9s | %11s %11s | %11s %11s %11s\n", "size", "store MB/s", "store", "read MB/s", "read", "first byte")
	for _, size := range cfg.Sizes {
		var stores, reads, firsts []time.Duration
		for run := 0; run < cfg.Runs; run++ {
			data := randomBlob(size)
			data[0], data[len(data)/2] = byte(run), byte(run>>8) // a new blob each run
			t0 := time.Now()
			r, err := c.Store(ctx, data, client.StoreOptions{Epochs: 2})
			if err != nil {
				return err
			}
			stores = append(stores, time.Since(t0))
			t0 = time.Now()
			got, err := c.Read(ctx, r.BlobID)
			if err != nil {
				return err
			}
			d := time.Since(t0)
			if len(got) != len(data) {
				return fmt.Errorf("bench: read %d bytes, stored %d", len(got), len(data))
			}
			reads = append(reads, d)
			// Reads are checked against the blob ID before any byte is
			// returned, so the first byte arrives with the last.
			firsts = append(firsts, d)
		}
		med := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
		fmt.Fprintf(w, "%9s | %11.1f %11s | %11.1f %11s %11s\n", FormatSize(size),
			mbps(size, med(stores)), formatDuration(med(stores)), mbps(size, med(reads)), formatDuration(med(reads)), formatDuration(med(firsts)))
	}
	return nil
}

// startDevnet runs a devnet in a temporary directory until stop is
// called; cfg.Dir is set by it.
func startDevnet(ctx context.Context, cfg devnet.Config) (*devnet.Layout, func(), error) {
	dir, err := os.MkdirTemp("", "weft-bench-devnet")
	if err != nil {
		return nil, nil, err
	}
	cfg.Dir = dir
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- devnet.Run(ctx, cfg) }()
	stop := func() { cancel(); <-done; os.RemoveAll(dir) }
	// Wait for the devnet, unless it stops first.
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer wcancel()
	go func() {
		select {
		case err := <-done:
			done <- err // hand it back to stop
			wcancel()
		case <-wctx.Done():
		}
	}()
	layout, err := devnet.WaitReady(wctx, dir)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	return layout, stop, nil
}

// startDevnetClients starts a devnet and connects the SDK and the control
// plane's RPC client to it; stop closes all three.
func startDevnetClients(ctx context.Context, cfg devnet.Config) (*devnet.Layout, *client.Client, *rpc.Client, func(), error) {
	layout, stop, err := startDevnet(ctx, cfg)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ccfg, err := client.LoadConfig(layout.ClientConfig)
	if err != nil {
		stop()
		return nil, nil, nil, nil, err
	}
	c, err := client.New(ctx, ccfg)
	if err != nil {
		stop()
		return nil, nil, nil, nil, err
	}
	ctl, err := rpc.Dial(ctx, layout.ControlPlane)
	if err != nil {
		c.Close()
		stop()
		return nil, nil, nil, nil, err
	}
	return layout, c, ctl, func() { ctl.Close(); c.Close(); stop() }, nil
}
