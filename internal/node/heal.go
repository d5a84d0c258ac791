// Recovery batches: each runs the node's Healer (healer.go) as a
// recovery.Job against the committee (and the previous one while shards
// move), over HTTP; what it stored is counted, proofs of inconsistency go
// to the invalidation loop.

package node

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/recovery"
)

// runBatch recovers one batch and reports to the scheduler.
func (n *Node) runBatch(ctx context.Context, batch []recovery.Entry) {
	b := n.recoverBatch(ctx, batch, n.httpTransport(ctx))
	if b == nil || ctx.Err() != nil {
		// Shutting down: the entries stay queued on disk as they were.
		return
	}
	n.finishBatch(b.Outcomes)
	n.poke()
}

// RecoverDue runs the recovery batches due now, one after another, with
// send as the transport, and returns what each did. The simulator calls
// it when RecoveryWake says; the node's own loop runs its batches
// concurrently over HTTP.
func (n *Node) RecoverDue(ctx context.Context, send Transport) []*Batch {
	var out []*Batch
	// At most one batch per queued blob: a blob due again at once (queued
	// anew while its batch ran) waits for the next call.
	n.rec.mu.Lock()
	limit := n.rec.sched.Len()
	n.rec.mu.Unlock()
	for len(out) < limit && ctx.Err() == nil {
		n.rec.mu.Lock()
		batch := n.rec.sched.Next(n.clock())
		n.rec.mu.Unlock()
		if batch == nil {
			break
		}
		b := n.recoverBatch(ctx, batch, send)
		if b == nil {
			break
		}
		n.finishBatch(b.Outcomes)
		out = append(out, b)
	}
	return out
}

// RecoveryWake returns when the next recovery batch is due, if any is
// queued.
func (n *Node) RecoveryWake() (time.Time, bool) {
	n.rec.mu.Lock()
	defer n.rec.mu.Unlock()
	return n.rec.sched.Wake()
}

// finishBatch reports a batch's outcomes to the scheduler and updates
// the persisted queue: what failed stays queued, with back-off.
func (n *Node) finishBatch(outcomes []recovery.Outcome) {
	n.rec.mu.Lock()
	keep, drop := n.rec.sched.Finish(outcomes, n.clock())
	n.rec.mu.Unlock()
	for _, e := range keep {
		raw, _ := json.Marshal(e)
		if err := n.store.PutQueued(e.ID, raw, false); err != nil {
			n.logger.Printf("node: recovery queue: %v", err)
		}
	}
	for _, id := range drop {
		if err := n.store.DeleteQueued(id); err != nil {
			n.logger.Printf("node: recovery queue: %v", err)
		}
	}
}

// healView is the node's state as a recovery batch needs it.
func (n *Node) healView() *HealView {
	n.mu.RLock()
	v := &HealView{Self: n.id, Epoch: n.epoch, Shards: n.shards, Committee: n.committee}
	n.mu.RUnlock()
	// The committee shards moved from: its members may still serve what
	// they gave up (read-only), which a pair rebuilt without its
	// commitment is checked with when the sibling's shard moved too.
	v.Previous = n.previousCommittee()
	return v
}

// httpTransport sends a round's calls to peers over HTTP, up to 8 at
// once.
func (n *Node) httpTransport(ctx context.Context) Transport {
	return func(calls []recovery.Call, members []control.Member, self []bool) []Answer {
		answers := make([]Answer, len(calls))
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i, c := range calls {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				answers[i].Resp, answers[i].Err = n.call(ctx, self[c.Peer], members[c.Peer], c.Req)
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return nil
		}
		return answers
	}
}

// recoverBatch rebuilds the missing slivers of a batch of blobs and
// stores them, with the node's Healer and send as its transport; nil if
// the transport gave up (shutting down).
func (n *Node) recoverBatch(ctx context.Context, batch []recovery.Entry, send Transport) *Batch {
	// Peers withhold the blobs of an open challenge window, which this
	// node samples alike: those wait for the window to close, without an
	// attempt counted, instead of costing rounds every peer refuses.
	var later []recovery.Outcome
	now := n.clock()
	batch = slices.DeleteFunc(slices.Clone(batch), func(e recovery.Entry) bool {
		wait, dark := n.blackedOut(e.ID)
		if dark {
			later = append(later, recovery.Outcome{ID: e.ID, Until: now.Add(wait)})
		}
		return dark
	})
	out := &Batch{}
	if len(batch) > 0 {
		var ok bool
		if out, ok = n.rec.healer.Run(n.clock, n.healView(), batch, send); !ok {
			return nil
		}
	}
	out.Outcomes = append(out.Outcomes, later...)
	for key, why := range out.Liars {
		n.m.liars.Inc()
		n.logger.Printf("node: recovery: peer %s %s; not asked again for %v", key.Short(), why, liarPenalty)
	}
	for _, it := range out.Stored {
		n.m.recovered.WithLabelValues(it.Sliver.Kind.String()).Inc()
		n.m.stored.Inc()
		n.m.storedBytes.Add(float64(len(it.Sliver.Data)))
	}
	for _, r := range out.Results {
		if errors.Is(r.Err, recovery.ErrInconsistent) {
			n.inconsistent(ctx, r)
		} else if r.Err != nil {
			n.m.recoveryFailures.Inc()
		}
	}
	// Our own slivers that failed their proofs: check them now.
	for _, id := range out.Corrupt {
		n.logger.Printf("node: recovery: this node's own slivers of blob %v failed their proofs; checking them", id)
		if b, err := n.store.Blob(id); err == nil {
			if _, err := n.checkBlob(ctx, b, func(int64) error { return nil }); err != nil {
				n.logger.Printf("node: checking blob %v: %v", id, err)
			}
		}
	}
	return out
}

// inconsistent records a recovery's proof that a blob is inconsistently
// encoded and hands the blob to the invalidation loop.
func (n *Node) inconsistent(ctx context.Context, r recovery.Result) {
	n.m.inconsistent.Inc()
	n.logger.Printf("node: recovery: %v", r.Err)
	var raw []byte
	var err error
	switch {
	case r.Proof != nil:
		raw, err = r.Proof.MarshalBinary()
	case r.PairsProof != nil:
		raw, err = r.PairsProof.MarshalBinary()
	}
	if err == nil && raw != nil {
		if err = n.store.PutInconsistency(r.ID, raw); err == nil && n.invalid != nil {
			select {
			case n.invalid <- r.ID:
			case <-ctx.Done():
			}
		}
	}
	if err != nil {
		n.logger.Printf("node: recording inconsistency proof of blob %v: %v", r.ID, err)
	}
}
