// Recovery batches: each runs as a recovery.Job against the committee
// (and the previous one while shards move), remembers peers that failed
// or lied, and stores what comes back verified.

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
	"github.com/weftnet/weft/internal/store"
)

// runBatch recovers one batch and reports to the scheduler.
func (n *Node) runBatch(ctx context.Context, batch []recovery.Entry) {
	outcomes := n.recoverBatch(ctx, batch)
	if ctx.Err() != nil {
		// Shutting down: the entries stay queued on disk as they were.
		return
	}
	n.rec.mu.Lock()
	keep, drop := n.rec.sched.Finish(outcomes, time.Now())
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
	n.poke()
}

// peers returns the committee as a job sees it, and the members' keys
// and addresses by peer index.
func (n *Node) peers() ([]recovery.Peer, []control.Member) {
	n.mu.RLock()
	com := n.committee
	n.mu.RUnlock()
	if com == nil {
		return nil, nil
	}
	// The committee shards moved from: its members may still serve what
	// they gave up (read-only), which a pair rebuilt without its
	// commitment is checked with when the sibling's shard moved too.
	members := slices.Clone(com.Members)
	previous := map[control.PublicKey][]int{}
	if prev := n.previousCommittee(); prev != nil {
		for _, m := range prev.Members {
			previous[m.Key] = m.Shards
			if !slices.ContainsFunc(members, func(c control.Member) bool { return c.Key == m.Key }) {
				members = append(members, control.Member{NodeRecord: m.NodeRecord})
			}
		}
	}
	now := time.Now()
	n.rec.mu.Lock()
	defer n.rec.mu.Unlock()
	peers := make([]recovery.Peer, len(members))
	for i, m := range members {
		peers[i] = recovery.Peer{Shards: m.Shards, Previous: previous[m.Key], Self: m.Key == n.id}
		if h := n.rec.peers[m.Key]; h != nil {
			peers[i].Avoid = now.Before(h.failedUntil)
			peers[i].Banned = now.Before(h.bannedUntil)
		}
	}
	return peers, members
}

// recoverBatch rebuilds the missing slivers of a batch of blobs and
// stores them.
func (n *Node) recoverBatch(ctx context.Context, batch []recovery.Entry) []recovery.Outcome {
	outcomes := make([]recovery.Outcome, 0, len(batch))
	var wants []recovery.Want
	epoch, _, _ := n.state()
	for _, e := range batch {
		b, err := n.store.Blob(e.ID)
		switch {
		case errors.Is(err, store.ErrNotFound) || (err == nil && (epoch >= b.EndEpoch || !b.Certified)):
			// Gone, or not certified yet: its certification queues it again.
			outcomes = append(outcomes, recovery.Outcome{ID: e.ID, Final: true})
			continue
		case err != nil:
			outcomes = append(outcomes, recovery.Outcome{ID: e.ID, Err: err})
			continue
		}
		pairs, lack := n.missing(e.ID, b.Length)
		if lack == 0 {
			outcomes = append(outcomes, recovery.Outcome{ID: e.ID})
			continue
		}
		wants = append(wants, recovery.Want{ID: e.ID, Length: b.Length, Pairs: pairs})
	}
	if len(wants) == 0 {
		return outcomes
	}
	peers, members := n.peers()
	job := recovery.NewJob(n.codec, peers, wants, recovery.Options{MaxRequestSymbols: n.cfg.MaxSymbolsPerRequest})
	for calls := job.Round(); len(calls) > 0; calls = job.Round() {
		type answer struct {
			resp *recovery.Response
			err  error
		}
		answers := make([]answer, len(calls))
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i, c := range calls {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				answers[i].resp, answers[i].err = n.call(ctx, peers[c.Peer].Self, members[c.Peer], c.Req)
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return nil
		}
		for i, c := range calls {
			job.Deliver(c, answers[i].resp, answers[i].err)
		}
	}
	n.notePeers(job, members)
	for _, r := range job.Results() {
		outcomes = append(outcomes, n.storeRecovered(ctx, r))
	}
	// Our own slivers that failed their proofs: check them now.
	for _, id := range job.CorruptLocal() {
		n.logger.Printf("node: recovery: this node's own slivers of blob %v failed their proofs; checking them", id)
		if b, err := n.store.Blob(id); err == nil {
			if err := n.checkBlob(ctx, b, func(int64) error { return nil }); err != nil {
				n.logger.Printf("node: checking blob %v: %v", id, err)
			}
		}
	}
	return outcomes
}

// notePeers remembers the peers that failed or lied in a job.
func (n *Node) notePeers(job *recovery.Job, members []control.Member) {
	now := time.Now()
	n.rec.mu.Lock()
	defer n.rec.mu.Unlock()
	health := func(k control.PublicKey) *peerHealth {
		h := n.rec.peers[k]
		if h == nil {
			h = &peerHealth{}
			n.rec.peers[k] = h
		}
		return h
	}
	for _, p := range job.Failed() {
		health(members[p].Key).failedUntil = now.Add(failedPenalty)
	}
	for p, why := range job.Liars() {
		if members[p].Key == n.id {
			continue
		}
		health(members[p].Key).bannedUntil = now.Add(liarPenalty)
		n.m.liars.Inc()
		n.logger.Printf("node: recovery: peer %s (%s) %s; not asked again for %v", members[p].Name, members[p].Key.Short(), why, liarPenalty)
	}
}

// storeRecovered stores what a job rebuilt for one blob, if the blob is
// still live and the pairs still the node's.
func (n *Node) storeRecovered(ctx context.Context, r recovery.Result) recovery.Outcome {
	out := recovery.Outcome{ID: r.ID, Err: r.Err}
	if errors.Is(r.Err, recovery.ErrInconsistent) {
		out.Final = true
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
			if err = n.store.PutInconsistency(r.ID, raw); err == nil {
				select {
				case n.invalid <- r.ID:
				case <-ctx.Done():
				}
			}
		}
		if err != nil {
			n.logger.Printf("node: recording inconsistency proof of blob %v: %v", r.ID, err)
		}
	} else if r.Err != nil {
		n.m.recoveryFailures.Inc()
	}
	if len(r.Slivers) == 0 {
		return out
	}
	var items []store.StoredSliver
	for i := range r.Slivers {
		s := &r.Slivers[i]
		if _, ok := n.owns(r.ID, s.Pair); ok {
			items = append(items, store.StoredSliver{Pair: uint32(s.Pair), Sliver: &s.Sliver, Commitment: s.Commitment})
		}
	}
	n.gc.RLock()
	defer n.gc.RUnlock()
	b, err := n.store.Blob(r.ID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return recovery.Outcome{ID: r.ID, Final: true}
		}
		return recovery.Outcome{ID: r.ID, Err: err}
	}
	if epoch, _, _ := n.state(); epoch >= b.EndEpoch {
		return recovery.Outcome{ID: r.ID, Final: true}
	}
	if err := n.store.PutSlivers(r.ID, items); err != nil {
		n.logger.Printf("node: storing recovered slivers of blob %v: %v", r.ID, err)
		return recovery.Outcome{ID: r.ID, Err: err}
	}
	for _, it := range items {
		n.m.recovered.WithLabelValues(it.Sliver.Kind.String()).Inc()
		n.m.stored.Inc()
		n.m.storedBytes.Add(float64(len(it.Sliver.Data)))
	}
	return out
}
