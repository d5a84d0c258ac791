package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/recovery"
	"github.com/weftnet/weft/internal/store"
	"github.com/weftnet/weft/redstuff"
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
	mu    sync.Mutex
	sched *recovery.Scheduler
	peers map[control.PublicKey]*peerHealth
	wake  chan struct{}
	wg    sync.WaitGroup
	httpc *http.Client
}

// peerHealth remembers peers that failed or lied, so that the next
// batches avoid or skip them for a while.
type peerHealth struct {
	failedUntil time.Time
	bannedUntil time.Time
}

const (
	failedPenalty = 30 * time.Second
	liarPenalty   = 10 * time.Minute
)

func (n *Node) initRecovery() error {
	n.rec = &recoveryState{
		sched: recovery.NewScheduler(recovery.SchedulerConfig{
			Concurrency: n.cfg.RecoveryConcurrency,
			BatchBlobs:  n.cfg.RecoveryBatchBlobs,
			BatchBytes:  n.cfg.RecoveryBatchBytes,
		}),
		peers: map[control.PublicKey]*peerHealth{},
		wake:  make(chan struct{}, 1),
		httpc: newPeerClient(),
	}
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

// newPeerClient returns the client for calls to peers.
func newPeerClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute},
		// A peer's answer is its own: a redirect must not send the
		// node's calls (and their bodies) to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return errRedirect },
	}
}

var errRedirect = errors.New("node: peers may not redirect")

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
	p := n.codec.Params()
	s := int64(p.SymbolSize(length))
	var pairs []recovery.WantPair
	var lack int64
	for _, shard := range shards {
		wp := recovery.WantPair{Pair: p.PairAt(id, shard)}
		// What cannot be read counts as missing: rebuilding it rewrites it.
		pc, err := n.store.Commitment(id, uint32(wp.Pair))
		switch {
		case err == nil:
			wp.Commitment = pc
		case !errors.Is(err, store.ErrNotFound):
			n.logger.Printf("node: blob %v pair %d: %v; rebuilding the pair", id, wp.Pair, err)
		}
		for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
			if wp.Commitment != nil {
				wp.Have[k], _ = n.store.HasSliver(id, uint32(wp.Pair), k)
			}
			if !wp.Have[k] {
				lack += s * int64(p.SliverLen(k))
			}
		}
		pairs = append(pairs, wp)
	}
	return pairs, lack
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
				if err := n.enqueue(b.ID, b.Length, "start-up: missing on disk", time.Now(), false); err != nil {
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
			batch := n.rec.sched.Next(time.Now())
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
			d = max(time.Until(wake), time.Millisecond)
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
				members = append(members, control.Member{Node: m.Node})
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

// call sends one symbols request to a peer, or serves it from this node's
// own store.
func (n *Node) call(ctx context.Context, self bool, m control.Member, req *recovery.Request) (*recovery.Response, error) {
	if self {
		head, body, _, err := recovery.Serve(n.codec, holder{n}, req, recovery.Limits{MaxBytes: 1 << 62, MaxExtendBytes: 1 << 62})
		if err != nil {
			return nil, err
		}
		return recovery.DecodeResponse(req, append(head, body...))
	}
	raw, err := req.MarshalBinary()
	if err != nil {
		return nil, err
	}
	size := req.ResponseSize(n.codec.Params().N)
	timeout := time.Duration(n.cfg.RecoveryTimeout) + time.Duration(size/(8<<20))*time.Second
	body, err := n.post(ctx, m.Address+"/v1/symbols", raw, size, timeout)
	n.m.recoveryBytes.Add(float64(len(body)))
	if err != nil {
		return nil, fmt.Errorf("node: symbols from %s: %w", m.Name, err)
	}
	return recovery.DecodeResponse(req, body)
}

// post sends body to a peer and returns its answer, of at most limit
// bytes; any status but 200 is an error carrying the peer's message.
func (n *Node) post(ctx context.Context, url string, body []byte, limit int64, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := n.rec.httpc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	switch {
	case err != nil:
		return out, err
	case resp.StatusCode != http.StatusOK:
		return out, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(out))
	case int64(len(out)) > limit:
		return out, fmt.Errorf("answer longer than %d bytes", limit)
	}
	return out, nil
}

// holder is what the node serves symbols from.
type holder struct{ n *Node }

func (h holder) Length(id blob.ID) (uint64, bool, error) {
	b, err := h.n.store.Blob(id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if epoch, _, _ := h.n.state(); epoch >= b.EndEpoch {
		return 0, false, nil
	}
	return b.Length, true, nil
}

func (h holder) Holds(id blob.ID, pair int) bool {
	shard, ok := h.n.owns(id, pair)
	return ok || h.n.readOnly(shard)
}

func (h holder) Sliver(id blob.ID, pair int, k blob.SliverKind) (*blob.Sliver, *blob.PairCommitment, error) {
	sl, pc, err := h.n.store.Sliver(id, uint32(pair), k)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, recovery.ErrNotStored
	}
	return sl, pc, err
}

func (h holder) CachedSource(id blob.ID, pair int, k blob.SliverKind) *redstuff.SymbolSource {
	return h.n.sources.get(sourceKey{id, pair, k})
}

func (h holder) KeepSource(id blob.ID, pair int, k blob.SliverKind, src *redstuff.SymbolSource) {
	h.n.m.extensions.Inc()
	h.n.sources.put(sourceKey{id, pair, k}, src)
}

func (h holder) Commitment(id blob.ID, pair int) (*blob.PairCommitment, error) {
	pc, err := h.n.store.Commitment(id, uint32(pair))
	if errors.Is(err, store.ErrNotFound) {
		return nil, recovery.ErrNotStored
	}
	return pc, err
}

// scrubLoop re-verifies every stored sliver against its commitment, one
// pass every ScrubInterval, paced to ScrubBytesPerSecond. A sliver that
// is missing, unreadable or wrong is dropped and its blob queued for
// recovery.
func (n *Node) scrubLoop(ctx context.Context) {
	if n.cfg.ScrubInterval < 0 {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(n.cfg.ScrubInterval)):
		}
		if err := n.scrub(ctx); err != nil && ctx.Err() == nil {
			n.logger.Printf("node: scrub: %v", err)
		}
	}
}

func (n *Node) scrub(ctx context.Context) error {
	start := time.Now()
	var done int64
	err := n.store.Blobs(func(b *store.Blob) (bool, error) {
		err := n.checkBlob(ctx, b, func(bytes int64) error {
			done += bytes
			return n.pace(ctx, start, done)
		})
		return err == nil, err
	})
	if err == nil {
		n.m.scrubPasses.Inc()
	}
	return err
}

// checkBlob verifies the node's slivers of a certified, live blob against
// their commitments. Missing, unreadable or wrong ones are dropped and the
// blob queued for recovery. paced is called with the bytes of each good
// sliver checked.
func (n *Node) checkBlob(ctx context.Context, b *store.Blob, paced func(int64) error) error {
	epoch, shards, _ := n.state()
	if !b.Certified || epoch >= b.EndEpoch {
		return nil
	}
	p := n.codec.Params()
	bad := false
	// Shards still being synced or recovered are not checked: their sync
	// queues what they lack.
	for _, shard := range n.settled(shards) {
		pair := p.PairAt(b.ID, shard)
		for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			sl, pc, err := n.store.Sliver(b.ID, uint32(pair), k)
			if errors.Is(err, store.ErrNotFound) {
				bad = true
				n.m.corrupt.Inc()
				continue
			}
			n.m.scrubbed.Inc()
			switch {
			case err != nil:
				n.logger.Printf("node: scrub: blob %v pair %d %s: unreadable: %v", b.ID, pair, k, err)
				err = n.store.DeleteSliver(b.ID, uint32(pair), k, false)
			case n.codec.VerifySliver(b.ID, b.Length, sl, pc) != nil:
				// VerifySliver checks the commitment too; tell which is bad.
				if n.codec.VerifyCommitment(b.ID, b.Length, pc) != nil {
					n.logger.Printf("node: scrub: blob %v pair %d: commitment does not match the blob ID", b.ID, pair)
					err = n.store.DeleteSliver(b.ID, uint32(pair), k, true)
				} else {
					n.logger.Printf("node: scrub: blob %v pair %d: %s sliver does not match its commitment", b.ID, pair, k)
					err = n.store.DeleteSliver(b.ID, uint32(pair), k, false)
				}
			default:
				if err := paced(int64(len(sl.Data))); err != nil {
					return err
				}
				continue
			}
			bad = true
			n.m.corrupt.Inc()
			if err != nil {
				return err
			}
		}
	}
	if bad {
		n.sources.dropBlob(b.ID)
		return n.enqueue(b.ID, b.Length, "scrub: missing or corrupt sliver", time.Now(), true)
	}
	return nil
}

// pace waits until done bytes fit the scrub's rate since start.
func (n *Node) pace(ctx context.Context, start time.Time, done int64) error {
	due := start.Add(time.Duration(float64(done) / float64(n.cfg.ScrubBytesPerSecond) * float64(time.Second)))
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RecoveryQueue is the answer of GET /v1/recovery.
type RecoveryQueue struct {
	Pending    int              `json:"pending"`
	InProgress int              `json:"inProgress"`
	Entries    []recovery.Entry `json:"entries"` // the first 100, by blob ID
}

func (n *Node) recoveryQueue(w http.ResponseWriter, r *http.Request) error {
	n.rec.mu.Lock()
	q := RecoveryQueue{Pending: n.rec.sched.Pending(), InProgress: n.rec.sched.InProgress(), Entries: n.rec.sched.Entries(100)}
	n.rec.mu.Unlock()
	writeJSON(w, q)
	return nil
}
