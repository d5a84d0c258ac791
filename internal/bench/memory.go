package bench

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// heapSampler tracks the peak of the Go heap (live and not yet swept
// objects) while an operation runs, by sampling runtime/metrics, which
// does not stop the world.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func heapNow() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// settledHeap collects garbage and returns the heap in use.
func settledHeap() uint64 {
	runtime.GC()
	runtime.GC()
	return heapNow()
}

func startSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), peak: heapNow()}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(500 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				h.peak = max(h.peak, heapNow())
			}
		}
	}()
	return h
}

// Stop ends sampling and returns the peak heap seen.
func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	h.done.Wait()
	return max(h.peak, heapNow())
}
