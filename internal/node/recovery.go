package node

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/recovery"
	"github.com/weftnet/weft/internal/store"
)

// Self-healing. Blobs whose slivers the node lacks go into a persistent
// queue (store keys q/<id>, loaded at start); a scheduler (package
// recovery, pure) hands out batches; each batch runs as a recovery.Job
// whose calls go to peers over POST /v1/symbols, one per peer per round
// for the whole batch. What comes back verified is stored; what failed is
// tried again later with back-off.
//
// Blobs enter the queue when they are certified and the node lacks some
// of its slivers (after a short delay, for uploads still in flight), when
// the node starts with an empty cursor (a new or wiped disk: it pages
// through the control plane's live blobs), and when the scrub finds a
// sliver missing or corrupt.

// recoveryState is the node's part of recovery that outlives one batch.
type recoveryState struct {
	mu     sync.Mutex
	sched  *recovery.Scheduler
	healer *Healer
	wake   chan struct{}
	wg     sync.WaitGroup
	httpc  *http.Client
}

// peerHealth remembers peers that failed or lied, so that the next
// batches avoid or skip them for a while.
type peerHealth struct {
	failedUntil time.Time
	bannedUntil time.Time
}

const (
	failedPenalty = recovery.FailedPenalty
	liarPenalty   = recovery.LiarPenalty
)

func (n *Node) initRecovery() error {
	n.rec = &recoveryState{
		sched: recovery.NewScheduler(recovery.SchedulerConfig{
			Concurrency: n.cfg.RecoveryConcurrency,
			BatchBlobs:  n.cfg.RecoveryBatchBlobs,
			BatchBytes:  n.cfg.RecoveryBatchBytes,
		}),
		healer: NewHealer(n.store, n.codec),
		wake:   make(chan struct{}, 1),
		httpc:  newPeerClient(),
	}
	n.rec.healer.MaxSymbols = n.cfg.MaxSymbolsPerRequest
	n.rec.healer.WholeSources = n.bug == BugClassicRepair
	n.rec.healer.gc = &n.gc
	n.rec.healer.logf = n.logger.Printf
	n.m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "weft_recovery_queue_length", Help: "Blobs queued for recovery, waiting or in progress.",
	}, func() float64 {
		n.rec.mu.Lock()
		defer n.rec.mu.Unlock()
		return float64(n.rec.sched.Len())
	}))
	// The persisted queue, as it was when the node stopped.
	return n.store.Queued(func(id blob.ID, raw []byte) error {
		var e recovery.Entry
		if err := json.Unmarshal(raw, &e); err != nil || e.ID != id {
			n.logger.Printf("node: dropping unreadable recovery queue entry of blob %v", id)
			return n.store.DeleteQueued(id)
		}
		n.rec.sched.Add(e)
		return nil
	})
}

// poke wakes the recovery loop.
func (n *Node) poke() {
	select {
	case n.rec.wake <- struct{}{}:
	default:
	}
}

// RecoveryCounts returns the blobs waiting for recovery and those being
// recovered.
func (n *Node) RecoveryCounts() (pending, inProgress int) {
	n.rec.mu.Lock()
	defer n.rec.mu.Unlock()
	return n.rec.sched.Pending(), n.rec.sched.InProgress()
}

// missing returns the node's pairs of a blob with what is stored of each,
// and the bytes of slivers it lacks.
func (n *Node) missing(id blob.ID, length uint64) ([]recovery.WantPair, int64) {
	_, shards, _ := n.state()
	return n.rec.healer.Missing(shards, id, length)
}

// enqueue queues a blob for recovery if the node lacks any of its
// slivers. With sync, the queue entry is on disk when it returns.
func (n *Node) enqueue(id blob.ID, length uint64, reason string, notBefore time.Time, sync bool) error {
	if n.forgot(id) {
		return nil
	}
	_, lack := n.missing(id, length)
	if lack == 0 {
		return nil
	}
	e := recovery.Entry{ID: id, Weight: lack, NotBefore: notBefore, Reason: reason}
	n.rec.mu.Lock()
	added := n.rec.sched.Add(e)
	if !added {
		e, _ = n.rec.sched.Entry(id)
	}
	n.rec.mu.Unlock()
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := n.store.PutQueued(id, raw, sync); err != nil {
		return err
	}
	n.poke()
	return nil
}

// dequeue forgets a blob that is gone.
func (n *Node) dequeue(id blob.ID) {
	n.rec.mu.Lock()
	n.rec.sched.Remove(id)
	n.rec.mu.Unlock()
}

// bootstrap runs on a node whose cursor is zero (a new or wiped disk):
// instead of replaying the control plane's whole history it pages through
// the live blobs, records them, queues the certified ones for recovery,
// and starts following events from where the control plane is now.
func (n *Node) bootstrap(ctx context.Context) error {
	st, err := n.ctl.Status(ctx)
	if err != nil {
		return err
	}
	cursor := st.NextSeq - 1
	if cursor == 0 {
		return nil
	}
	var after *blob.ID
	queued := 0
	for {
		page, err := n.ctl.LiveBlobs(ctx, after, 1000)
		if err != nil {
			return err
		}
		for _, b := range page {
			rec := &store.Blob{ID: b.ID, Length: b.Length, EndEpoch: b.EndEpoch, Certified: b.Certified}
			if err := n.store.PutBlob(rec); err != nil {
				return err
			}
			if b.Certified {
				if err := n.enqueue(b.ID, b.Length, "start-up: missing on disk", n.clock(), false); err != nil {
					return err
				}
				queued++
			}
		}
		if len(page) < 1000 {
			break
		}
		after = &page[len(page)-1].ID
	}
	// The synced cursor also makes the queue entries above durable.
	if err := n.store.SetCursor(cursor); err != nil {
		return err
	}
	n.mu.Lock()
	n.cursor = cursor
	n.mu.Unlock()
	n.logger.Printf("node: started on an empty disk: %d live blobs queued for recovery, following events from %d", queued, cursor)
	return nil
}

// recoverLoop starts batches as the scheduler allows until ctx ends.
func (n *Node) recoverLoop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		n.rec.mu.Lock()
		for {
			batch := n.rec.sched.Next(n.clock())
			if batch == nil {
				break
			}
			n.rec.wg.Add(1)
			go func() {
				defer n.rec.wg.Done()
				n.runBatch(ctx, batch)
			}()
		}
		wake, ok := n.rec.sched.Wake()
		n.rec.mu.Unlock()
		d := time.Hour
		if ok {
			d = max(wake.Sub(n.clock()), time.Millisecond)
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
			n.rec.wg.Wait()
			return
		case <-n.rec.wake:
		case <-timer.C:
		}
	}
}
