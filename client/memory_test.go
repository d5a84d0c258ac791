package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/seeded"
)

// peakHeap samples the heap's live objects while fn runs and returns the
// highest sample above the level before it, in bytes. The collector runs
// often meanwhile (GOGC 5), so samples follow live memory closely.
func peakHeap(t *testing.T, fn func()) int64 {
	t.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() int64 { metrics.Read(s); return int64(s[0].Value.Uint64()) }
	base := read()
	var peak int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for {
			peak = max(peak, read())
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	return peak - base
}

// TestStoreFileBoundedMemory stores and reads back a file sixteen
// segments long, generated from a seed and never held whole, and checks
// that the heap (client and the in-process nodes together) stays within
// a bound that storing the same bytes as one blob exceeds.
func TestStoreFileBoundedMemory(t *testing.T) {
	c, _ := network(t)
	ctx := context.Background()
	const seg = 1 << 20
	const size = 16 * seg
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	want := sha256.New()
	io.Copy(want, seeded.Reader(seed, size))

	var r *client.FileResult
	var err error
	storePeak := peakHeap(t, func() {
		r, err = c.StoreFile(ctx, seeded.Reader(seed, size), size, client.FileOptions{SegmentSize: seg})
	})
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	readPeak := peakHeap(t, func() {
		_, err = c.ReadFile(ctx, r.BlobID, got)
	})
	if err != nil || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("read back: %v", err)
	}
	// The whole-file path: the blob and its encoding at once.
	wholePeak := peakHeap(t, func() {
		data, _ := io.ReadAll(seeded.Reader(seed+1, size))
		if _, err := c.Store(ctx, data, client.StoreOptions{}); err != nil {
			t.Error(err)
		}
	})
	t.Logf("peak heap above idle: segmented store %d MiB, segmented read %d MiB, whole-file store %d MiB", storePeak>>20, readPeak>>20, wholePeak>>20)
	// Two segments with their encodings (about 4.3 MiB each at n = 12)
	// and what the nodes hold while they ingest: well under 64 MiB. The
	// file alone is 16 MiB and its encoding 53 MiB.
	const bound = 64 << 20
	if storePeak > bound || readPeak > bound {
		t.Errorf("segmented store/read peaked at %d/%d MiB above idle, bound %d MiB", storePeak>>20, readPeak>>20, bound>>20)
	}
	if wholePeak <= bound {
		t.Errorf("the whole-file store peaked at %d MiB, within the bound: the bound shows nothing", wholePeak>>20)
	}
}
