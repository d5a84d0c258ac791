package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/httpapi"
	"github.com/weftnet/weft/internal/migration"
	"github.com/weftnet/weft/internal/store"
)

// Shard migration (DESIGN §10). At each epoch change the node compares
// the committees of e−1 and e (migration.PlanFor): shards it gained are
// pulled from their previous owner over POST /v1/shards/{shard}/sync,
// verified sliver by sliver, and what the previous owner does not give
// goes to the recovery queue; shards it gave up stay readOnly (served,
// not written) until the epoch change is done (the EpochDone event),
// then dropGivenUp deletes their pairs. States and cursors live in the
// store (keys k/<shard>, m/migration, m/epochdone), so a restarted node
// resumes where it was. When every gained shard is ready the node
// reports it (reportSyncDone).

// maxSyncAnswer bounds one sync answer; askers keep theirs below
// (SyncBatchBytes). maxSyncRequest bounds a request.
const (
	maxSyncAnswer  = 64 << 20
	maxSyncRequest = 2 + 8 + 4 + 10 + migration.MaxBatchBlobs*blob.HashSize + ed25519.SignatureSize
)

// syncCheckEvery is the wait between two check passes of a gained shard
// whose last blobs are still being recovered.
const syncCheckEvery = 250 * time.Millisecond

// syncState is the node's migration state.
type syncState struct {
	mu         sync.Mutex
	planned    uint64                        // the last epoch change planned
	shards     map[int]*migration.Progress   // gained (until ready) and given-up shards
	reported   uint64                        // the last epoch reported synced
	committees map[uint64]*control.Committee // by epoch (immutable once made)
	puller     *migration.Puller             // the gained shard being worked on, between steps
	wake       chan struct{}
	// attested holds, per epoch, the members that attested EpochSyncDone
	// (seen since start: after a restart a given-up shard waits for a
	// later epoch's change instead).
	attested map[uint64]map[control.PublicKey]bool
	sources  map[uint64]*control.Committee // by epoch: the committee it synced from
}

// newSyncState is an empty migration state.
func newSyncState() *syncState {
	return &syncState{shards: map[int]*migration.Progress{}, committees: map[uint64]*control.Committee{}, wake: make(chan struct{}, 1),
		attested: map[uint64]map[control.PublicKey]bool{}, sources: map[uint64]*control.Committee{}}
}

// initSync loads the persisted shard states, drops given-up shards whose
// epoch change is done, and plans the current epoch if it was not.
func (n *Node) initSync(ctx context.Context) error {
	n.mig = newSyncState()
	var err error
	if n.mig.planned, err = n.store.MigrationEpoch(); err != nil {
		return err
	}
	if err := n.store.ShardStates(func(shard uint32, raw []byte) error {
		p, err := migration.UnmarshalProgress(raw)
		if err != nil {
			return fmt.Errorf("node: shard %d: %w", shard, err)
		}
		n.mig.shards[int(shard)] = p
		return nil
	}); err != nil {
		return err
	}
	done, err := n.store.EpochDone()
	if err != nil {
		return err
	}
	if err := n.dropGivenUp(done); err != nil {
		return err
	}
	n.mu.RLock()
	com := n.committee
	n.mu.RUnlock()
	if err := n.planEpoch(ctx, com); err != nil {
		return fmt.Errorf("node: planning the shard migration of epoch %d: %w", com.Epoch, err)
	}
	n.shardGauges()
	return nil
}

// committeeAt returns the committee of an epoch, cached.
func (n *Node) committeeAt(ctx context.Context, epoch uint64) (*control.Committee, error) {
	n.mig.mu.Lock()
	c := n.mig.committees[epoch]
	n.mig.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := n.ctl.Committee(ctx, epoch)
	if err != nil {
		return nil, err
	}
	if c.Epoch != epoch {
		return nil, fmt.Errorf("node: asked the committee of epoch %d, got %d's", epoch, c.Epoch)
	}
	n.mig.mu.Lock()
	n.mig.committees[epoch] = c
	n.mig.mu.Unlock()
	return c, nil
}

// previousCommittee returns the committee the current epoch's shards
// moved from (cached), or nil in the first epoch or if it cannot be had
// now.
func (n *Node) previousCommittee() *control.Committee {
	epoch, _, _ := n.state()
	if epoch <= 1 {
		return nil
	}
	n.mig.mu.Lock()
	prev := n.mig.sources[epoch]
	n.mig.mu.Unlock()
	if prev != nil {
		return prev
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	prev, err := n.syncSource(ctx, epoch)
	if err != nil {
		return nil
	}
	n.mig.mu.Lock()
	n.mig.sources[epoch] = prev
	n.mig.mu.Unlock()
	return prev
}

// syncSource returns the committee shards move from at epoch's change:
// that of the last epoch whose change was done when epoch began.
func (n *Node) syncSource(ctx context.Context, epoch uint64) (*control.Committee, error) {
	change, err := n.ctl.EpochChange(ctx, epoch)
	if err != nil {
		return nil, err
	}
	from := epoch - 1
	if change.PreviousEpoch > 0 {
		from = change.PreviousEpoch
	}
	return n.committeeAt(ctx, from)
}

// planEpoch records what the change to com's epoch moves for this node,
// once per epoch: gained shards start syncing (or recovering, with no
// previous owner), given-up shards turn readOnly.
func (n *Node) planEpoch(ctx context.Context, com *control.Committee) error {
	if com == nil {
		return nil
	}
	n.mig.mu.Lock()
	planned := n.mig.planned
	n.mig.mu.Unlock()
	if com.Epoch <= planned {
		return nil
	}
	// Shards move from the committee of the last epoch whose change was
	// done: its members hold everything certified until then (an epoch
	// that was superseded mid-change may not).
	var prev *control.Committee
	if com.Epoch > 1 {
		var err error
		if prev, err = n.syncSource(ctx, com.Epoch); err != nil {
			return err
		}
	}
	plan := migration.PlanFor(n.id, prev, com, n.params.Shards)
	if err := n.putPlan(com, plan); err != nil {
		return err
	}
	if len(plan.Gained) > 0 || len(plan.GivenUp) > 0 {
		n.logger.Printf("node: epoch %d: gained shards %v, gave up %v", com.Epoch, gainedShards(plan.Gained), plan.GivenUp)
	}
	n.pokeSync()
	n.shardGauges()
	return nil
}

// putPlan records the shard states an epoch change's plan leads to, in
// the store and in memory.
func (n *Node) putPlan(com *control.Committee, plan migration.Plan) error {
	n.mig.mu.Lock()
	defer n.mig.mu.Unlock()
	next := maps.Clone(n.mig.shards)
	mine := map[int]bool{}
	for _, s := range plan.Kept {
		mine[s] = true
	}
	for _, g := range plan.Gained {
		mine[g.Shard] = true
	}
	var del []uint32
	put := map[uint32][]byte{}
	for shard, p := range next {
		switch {
		case mine[shard] && (p.State == migration.Ready || p.State == migration.ReadOnly):
			// Held and settled, or given up and taken back (then gained
			// below): no state to keep.
			delete(next, shard)
			del = append(del, uint32(shard))
		case !mine[shard] && p.State != migration.ReadOnly:
			// Given up before its sync finished: what it holds is served
			// read-only like any given-up shard.
			next[shard] = &migration.Progress{Epoch: com.Epoch, Shard: shard, State: migration.ReadOnly}
		}
	}
	for _, g := range plan.Gained {
		p := &migration.Progress{Epoch: com.Epoch, Shard: g.Shard, State: migration.Recovering}
		if g.HasFrom {
			p.State, p.From, p.FromName, p.FromAddress = migration.Syncing, g.From.Key, g.From.Name, g.From.Address
			// The previous owner's newest address, if it is still a member.
			for _, m := range com.Members {
				if m.Key == g.From.Key {
					p.FromAddress = m.Address
				}
			}
		}
		next[g.Shard] = p
	}
	for _, s := range plan.GivenUp {
		next[s] = &migration.Progress{Epoch: com.Epoch, Shard: s, State: migration.ReadOnly}
	}
	for shard, p := range next {
		if old := n.mig.shards[shard]; old != nil && *old == *p {
			continue
		}
		raw, err := p.Marshal()
		if err != nil {
			return err
		}
		put[uint32(shard)] = raw
	}
	del = slices.DeleteFunc(del, func(s uint32) bool { return put[s] != nil })
	if err := n.store.PutMigration(com.Epoch, put, del); err != nil {
		return err
	}
	n.mig.shards, n.mig.planned = next, com.Epoch
	return nil
}

func gainedShards(gs []migration.Gain) []int {
	out := make([]int, len(gs))
	for i, g := range gs {
		out[i] = g.Shard
	}
	return out
}

func (n *Node) pokeSync() {
	select {
	case n.mig.wake <- struct{}{}:
	default:
	}
}

// shardState returns a copy of a shard's migration state, or nil.
func (n *Node) shardState(shard int) *migration.Progress {
	n.mig.mu.Lock()
	defer n.mig.mu.Unlock()
	if p := n.mig.shards[shard]; p != nil {
		c := *p
		return &c
	}
	return nil
}

// readOnly reports whether the node holds a given-up shard, still served.
func (n *Node) readOnly(shard int) bool {
	p := n.shardState(shard)
	return p != nil && p.State == migration.ReadOnly
}

// settled returns the node's shards whose data is all there to check
// (not being synced or recovered).
func (n *Node) settled(shards []int) []int {
	n.mig.mu.Lock()
	defer n.mig.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(shards), func(s int) bool {
		p := n.mig.shards[s]
		return p != nil && p.State != migration.Ready
	})
}

// saveProgress persists a gained shard's progress, unless a later plan
// replaced the state it came from; it returns false then.
func (n *Node) saveProgress(p migration.Progress) (bool, error) {
	n.mig.mu.Lock()
	defer n.mig.mu.Unlock()
	cur := n.mig.shards[p.Shard]
	if cur == nil || cur.Epoch != p.Epoch || cur.State == migration.ReadOnly {
		return false, nil
	}
	raw, err := p.Marshal()
	if err != nil {
		return false, err
	}
	if err := n.store.PutShardState(uint32(p.Shard), raw); err != nil {
		return false, err
	}
	n.mig.shards[p.Shard] = &p
	return true, nil
}

// syncLoop works on gained shards, a step at a time (StepSync), until
// ctx ends.
func (n *Node) syncLoop(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		st, err := n.StepSync(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			n.logger.Printf("node: shard sync: %v (retrying in %v)", err, backoff)
			wait(ctx, backoff)
			backoff = min(2*backoff, 30*time.Second)
		case st.Idle:
			backoff = time.Second
			select {
			case <-ctx.Done():
			case <-n.mig.wake:
			}
		default:
			backoff = time.Second
			if !st.Wake.IsZero() {
				wait(ctx, st.Wake.Sub(n.clock()))
			}
		}
	}
}

// SyncStepped is what one step of shard sync did and when the next is due.
type SyncStepped struct {
	// Idle: no gained shard to work on and the last planned epoch change
	// reported; the next plan (an EpochChanged event) brings more work.
	Idle bool
	// Wake is when to step again; zero means at once.
	Wake time.Time
	// Stored lists the slivers the step pulled from a previous owner and
	// stored.
	Stored []Rebuilt
}

// StepSync does one step of the node's shard sync: for the first gained
// shard still syncing or recovering, one page of live blobs (pulled from
// the previous owner, or handed to the recovery queue) or one check pass;
// or, once every gained shard is ready, the report of the epoch change
// (EpochSyncDone). Progress is persisted after each page, so a restarted
// node goes on from there. The node's sync loop calls it in turn; the
// simulator calls it on its own clock.
func (n *Node) StepSync(ctx context.Context) (SyncStepped, error) {
	n.mig.mu.Lock()
	var work *migration.Progress
	for _, s := range slices.Sorted(maps.Keys(n.mig.shards)) {
		if p := n.mig.shards[s]; p.State == migration.Syncing || p.State == migration.Recovering {
			c := *p
			work = &c
			break
		}
	}
	planned, reported := n.mig.planned, n.mig.reported
	u := n.mig.puller
	n.mig.mu.Unlock()
	switch {
	case work == nil && planned > reported:
		if err := n.reportSyncDone(ctx, planned); err != nil {
			return SyncStepped{}, err
		}
		n.mig.mu.Lock()
		n.mig.reported = max(n.mig.reported, planned)
		n.mig.mu.Unlock()
		n.logger.Printf("node: epoch %d: every gained shard is ready", planned)
		return SyncStepped{}, nil
	case work == nil:
		return SyncStepped{Idle: true}, nil
	case n.bug == BugAttestUnsynced:
		work.State, work.Checking, work.Cursor = migration.Ready, false, nil
		_, err := n.saveProgress(*work)
		return SyncStepped{}, err
	}
	if u == nil || u.Progress().Shard != work.Shard || u.Progress().Epoch != work.Epoch {
		u = migration.NewPuller(n.codec, migration.Config{
			BatchBlobs: n.cfg.SyncBatchBlobs, BatchBytes: n.cfg.SyncBatchBytes,
			MaxFailures: n.cfg.SyncRetries, Backoff: time.Duration(n.cfg.SyncBackoff), VerifySliver: n.verifySliver,
		}, *work)
	}
	st, keep, err := n.syncPage(ctx, u)
	n.mig.mu.Lock()
	if keep && err == nil {
		n.mig.puller = u
	} else {
		n.mig.puller = nil // started again from the persisted progress
	}
	n.mig.mu.Unlock()
	return st, err
}

// syncPage does one step of a gained shard's puller; keep says whether
// the puller goes on (its shard neither ready nor replaced by a newer
// plan).
func (n *Node) syncPage(ctx context.Context, u *migration.Puller) (st SyncStepped, keep bool, err error) {
	pr := u.Progress()
	reason := fmt.Sprintf("epoch %d: shard %d gained", pr.Epoch, pr.Shard)
	switch {
	case pr.State == migration.Ready:
		return st, false, nil
	case pr.Checking:
		missing, err := n.checkShard(ctx, pr.Shard, reason)
		if err != nil {
			return st, false, err
		}
		ready := u.Checked(missing)
		if ok, err := n.saveProgress(u.Progress()); !ok || err != nil {
			return st, false, err
		}
		if ready {
			n.logger.Printf("node: shard %d is ready (%d pairs pulled from %s, %d blobs recovered)", pr.Shard, pr.Pulled, pr.FromName, pr.ToRecovery)
			n.shardGauges()
			return st, false, nil
		}
		st.Wake = n.clock().Add(syncCheckEvery)
		return st, true, nil
	}
	page, err := n.livePage(ctx, pr.Cursor, n.cfg.SyncBatchBlobs)
	if err != nil {
		return st, false, err
	}
	if len(page) == 0 {
		u.EndOfBlobs()
	} else if pr.State == migration.Recovering {
		for _, b := range page {
			if b.Certified {
				if err := n.enqueueLive(ctx, b, reason+": previous owner unreachable"); err != nil {
					return st, false, err
				}
			}
		}
		u.Enqueued(page)
	} else {
		retry, err := n.pullBatch(ctx, u, page, reason, &st.Stored)
		if err != nil {
			return st, false, err
		}
		if !retry.IsZero() {
			st.Wake = retry
			return st, true, nil
		}
	}
	// The synced write of the progress also makes the queue entries and
	// pairs written before it durable.
	if ok, err := n.saveProgress(u.Progress()); !ok || err != nil {
		return st, false, err
	}
	n.shardGauges()
	return st, true, nil
}

// reportSyncDone tells the control plane that every shard this node
// gained at epoch is ready (EpochSyncDone), through n.syncDone; nil does
// nothing.
func (n *Node) reportSyncDone(ctx context.Context, epoch uint64) error {
	n.mig.mu.Lock()
	fn := n.syncDone
	n.mig.mu.Unlock()
	if fn == nil || n.bug == BugNeverAttest {
		return nil
	}
	return fn(ctx, epoch)
}

// noteSynced records that node attested holding every shard it gained at
// epoch (EpochSyncDone, late ones included); if that epoch's change is
// done, the shards this node gave that node are dropped now.
func (n *Node) noteSynced(epoch uint64, node control.PublicKey) error {
	n.mig.mu.Lock()
	if n.mig.attested[epoch] == nil {
		n.mig.attested[epoch] = map[control.PublicKey]bool{}
	}
	n.mig.attested[epoch][node] = true
	n.mig.mu.Unlock()
	done, err := n.store.EpochDone()
	if err != nil || done < epoch {
		return err
	}
	return n.dropGivenUp(done)
}

func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// livePage returns a page of the control plane's live blobs after a
// cursor.
func (n *Node) livePage(ctx context.Context, after *blob.ID, limit int) ([]migration.Blob, error) {
	infos, err := n.ctl.LiveBlobs(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	page := make([]migration.Blob, len(infos))
	for i, b := range infos {
		page[i] = migration.Blob{ID: b.ID, Length: b.Length, Certified: b.Certified}
	}
	return page, nil
}

// holdsPair reports whether both slivers of a blob's pair on a shard are
// stored.
func (n *Node) holdsPair(id blob.ID, shard int) bool {
	pair := uint32(n.codec.Params().PairAt(id, shard))
	p, _ := n.store.HasSliver(id, pair, blob.Primary)
	s, _ := n.store.HasSliver(id, pair, blob.Secondary)
	return p && s
}

// enqueueLive queues a live blob for recovery, recording it first if the
// node has not seen it yet.
func (n *Node) enqueueLive(ctx context.Context, b migration.Blob, reason string) error {
	rec, status, err := n.blobInfo(ctx, b.ID)
	if err != nil {
		return err
	}
	if status != control.StatusCertified || rec == nil {
		return nil // gone meanwhile, or certified later: its event queues it
	}
	return n.enqueue(b.ID, rec.Length, reason, n.clock(), false)
}

// pullBatch asks the previous owner for the next batch of a page, stores
// what verifies and queues the rest for recovery. It returns when to
// retry if the call failed and may be retried.
func (n *Node) pullBatch(ctx context.Context, u *migration.Puller, page []migration.Blob, reason string, stored *[]Rebuilt) (time.Time, error) {
	pr := u.Progress()
	b := u.Next(page, func(bl migration.Blob) bool { return n.holdsPair(bl.ID, pr.Shard) })
	u.Seen(len(page))
	// The previous owner refuses the blobs of an open challenge window
	// (the blackout, DESIGN §11), which this node samples alike: a batch
	// that holds one waits for the window to close, and is no failure of
	// the previous owner.
	var dark time.Duration
	for _, bl := range b.Ask {
		if d, ok := n.blackedOut(bl.ID); ok {
			dark = max(dark, d)
		}
	}
	if dark > 0 {
		return n.clock().Add(dark), nil
	}
	var out migration.Outcome
	if len(b.Ask) == 0 {
		out = u.Deliver(b, &migration.Response{}, 0, nil, n.clock())
	} else {
		req := u.Request(b)
		req.Sign(n.params.NetworkID, n.key)
		resp, size, err := n.pullCall(ctx, pr, req, b.Size)
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		if err != nil {
			n.logger.Printf("node: shard %d: pairs from %s: %v", pr.Shard, pr.FromName, err)
		}
		out = u.Deliver(b, resp, size, err, n.clock())
	}
	n.m.syncSlivers.WithLabelValues("verified_failed").Add(float64(out.Rejected))
	n.m.syncSlivers.WithLabelValues("missing").Add(float64(out.Missing))
	if out.Retry {
		return out.RetryAt, nil
	}
	if out.GaveUp {
		n.logger.Printf("node: shard %d: previous owner %s failed %d calls; rebuilding the rest of the shard from the committee", pr.Shard, pr.FromName, n.cfg.SyncRetries)
	}
	if out.Rejected > 0 {
		n.m.liars.Inc()
		n.logger.Printf("node: shard %d: previous owner %s served %d slivers that fail verification", pr.Shard, pr.FromName, out.Rejected)
	}
	for i := range out.Store {
		slivers, err := n.storePulled(ctx, pr.Shard, &out.Store[i])
		if err != nil {
			return time.Time{}, err
		}
		for _, sl := range slivers {
			*stored = append(*stored, Rebuilt{out.Store[i].ID, sl})
		}
	}
	for _, bl := range out.Recover {
		if err := n.enqueueLive(ctx, bl, reason); err != nil {
			return time.Time{}, err
		}
	}
	return time.Time{}, nil
}

// pullCall sends one sync request to the previous owner.
func (n *Node) pullCall(ctx context.Context, pr migration.Progress, req *migration.Request, size int64) (*migration.Response, int64, error) {
	raw, err := req.MarshalBinary()
	if err != nil {
		return nil, 0, err
	}
	limit := migration.HeaderSize + int64(len(req.IDs)) + size
	timeout := time.Duration(n.cfg.SyncTimeout) + time.Duration(size/(8<<20))*time.Second
	body, err := n.post(ctx, fmt.Sprintf("%s/v1/shards/%d/sync", pr.FromAddress, pr.Shard), raw, limit, timeout)
	n.m.syncBytes.Add(float64(len(body)))
	if err != nil {
		return nil, int64(len(body)), err
	}
	resp, err := migration.DecodeResponse(body, len(req.IDs))
	return resp, int64(len(body)), err
}

// storePulled stores a verified pair if the blob is still live and the
// shard still this node's, and returns the slivers it stored (none
// otherwise).
func (n *Node) storePulled(ctx context.Context, shard int, p *migration.Pair) ([]store.StoredSliver, error) {
	n.gc.RLock()
	defer n.gc.RUnlock()
	rec, status, err := n.blobInfo(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	if status != control.StatusCertified && status != control.StatusRegistered {
		return nil, nil
	}
	if _, ok := n.owns(rec.ID, int(p.Commitment.Pair)); !ok {
		return nil, nil
	}
	pc := p.Commitment
	slivers := []store.StoredSliver{
		{Pair: pc.Pair, Sliver: &p.Primary, Commitment: &pc},
		{Pair: pc.Pair, Sliver: &p.Secondary, Commitment: &pc},
	}
	if err := n.store.PutSlivers(p.ID, slivers); err != nil {
		return nil, err
	}
	n.m.syncSlivers.WithLabelValues("stored").Add(2)
	n.m.stored.Add(2)
	n.m.storedBytes.Add(float64(len(p.Primary.Data) + len(p.Secondary.Data)))
	return slivers, nil
}

// checkShard passes over every live certified blob, queues for recovery
// those whose pair on the shard is missing, and returns how many were.
func (n *Node) checkShard(ctx context.Context, shard int, reason string) (int, error) {
	missing := 0
	var after *blob.ID
	for {
		page, err := n.livePage(ctx, after, 1000)
		if err != nil {
			return 0, err
		}
		for _, b := range page {
			if b.Certified && !n.holdsPair(b.ID, shard) {
				missing++
				if err := n.enqueueLive(ctx, b, reason); err != nil {
					return 0, err
				}
			}
		}
		if len(page) < 1000 {
			return missing, nil
		}
		after = &page[len(page)-1].ID
	}
}

// dropGivenUp deletes the pairs of the shards given up at or before
// epoch, once that epoch's change is done. It is idempotent: the done
// epoch is recorded first, so a node that stops half way drops the rest
// when it starts again.
func (n *Node) dropGivenUp(epoch uint64) error {
	if epoch == 0 {
		return nil
	}
	if done, err := n.store.EpochDone(); err != nil {
		return err
	} else if epoch > done {
		if err := n.store.SetEpochDone(epoch); err != nil {
			return err
		}
	}
	// A shard given up at an earlier epoch goes now; one given up at this
	// epoch only once its new owner attested holding it, so that a late
	// syncer still pulls from this node rather than from the committee.
	n.mig.mu.Lock()
	var drop []int
	var pending []*migration.Progress
	for s, p := range n.mig.shards {
		switch {
		case p.State != migration.ReadOnly || p.Epoch > epoch:
		case p.Epoch < epoch:
			drop = append(drop, s)
		default:
			pending = append(pending, p)
		}
	}
	attested := n.mig.attested[epoch]
	n.mig.mu.Unlock()
	if len(pending) > 0 {
		com, err := n.committeeAt(context.Background(), epoch)
		if err != nil {
			return err
		}
		for _, p := range pending {
			if owner, ok := migration.Owner(com, p.Shard); ok && attested[owner.Key] {
				drop = append(drop, p.Shard)
			}
		}
	}
	if len(drop) == 0 {
		return nil
	}
	slices.Sort(drop)
	params := n.codec.Params()
	if err := n.store.Blobs(func(b *store.Blob) (bool, error) {
		pairs := make([]uint32, len(drop))
		for i, s := range drop {
			pairs[i] = uint32(params.PairAt(b.ID, s))
		}
		n.sources.dropBlob(b.ID)
		return true, n.store.DeletePairs(b.ID, pairs)
	}); err != nil {
		return err
	}
	del := make([]uint32, len(drop))
	for i, s := range drop {
		del[i] = uint32(s)
	}
	if err := n.store.PutMigration(0, nil, del); err != nil {
		return err
	}
	n.mig.mu.Lock()
	for _, s := range drop {
		if p := n.mig.shards[s]; p != nil && p.State == migration.ReadOnly {
			delete(n.mig.shards, s)
		}
	}
	n.mig.mu.Unlock()
	n.logger.Printf("node: epoch %d done: dropped given-up shards %v", epoch, drop)
	n.shardGauges()
	return nil
}

// ShardHealth is a shard's state in GET /v1/health.
type ShardHealth struct {
	Shard int             `json:"shard"`
	State migration.State `json:"state"`
	// Epoch is the epoch change that gained or gave up the shard.
	Epoch uint64 `json:"epoch,omitempty"`
	// From is the previous owner a gained shard is pulled from.
	From string `json:"from,omitempty"`
	// Progress of a gained shard: blobs the pass is past, of the live
	// blobs seen so far; pairs pulled; blobs handed to recovery; answer
	// bytes received; pairs the last check found missing.
	BlobsDone  int64 `json:"blobsDone,omitempty"`
	BlobsKnown int64 `json:"blobsKnown,omitempty"`
	Pulled     int64 `json:"pulled,omitempty"`
	ToRecovery int64 `json:"toRecovery,omitempty"`
	Bytes      int64 `json:"bytes,omitempty"`
	Missing    int64 `json:"missing,omitempty"`
}

// shardHealth lists the node's shards, held and read-only, with their
// states.
func (n *Node) shardHealth() (out []ShardHealth, reported uint64) {
	epoch, shards, _ := n.state()
	n.mig.mu.Lock()
	defer n.mig.mu.Unlock()
	// Between taking an epoch's committee and planning its change, a shard
	// may be gained and not yet known as such: not ready until planned.
	settled := migration.Ready
	if n.mig.planned < epoch {
		settled = migration.Syncing
	}
	seen := map[int]bool{}
	for _, s := range shards {
		seen[s] = true
		h := ShardHealth{Shard: s, State: settled}
		if p := n.mig.shards[s]; p != nil && p.State != migration.ReadOnly {
			h = ShardHealth{Shard: s, State: p.State, Epoch: p.Epoch, From: p.FromName, BlobsDone: p.BlobsDone, BlobsKnown: p.BlobsKnown,
				Pulled: p.Pulled, ToRecovery: p.ToRecovery, Bytes: p.Bytes, Missing: p.Missing}
		}
		out = append(out, h)
	}
	for s, p := range n.mig.shards {
		if !seen[s] && p.State == migration.ReadOnly {
			out = append(out, ShardHealth{Shard: s, State: migration.ReadOnly, Epoch: p.Epoch})
		}
	}
	slices.SortFunc(out, func(a, b ShardHealth) int { return a.Shard - b.Shard })
	if out == nil {
		out = []ShardHealth{}
	}
	return out, n.mig.reported
}

// shardGauges sets weft_shards{state}.
func (n *Node) shardGauges() {
	hs, _ := n.shardHealth()
	counts := map[migration.State]int{}
	for _, h := range hs {
		counts[h.State]++
	}
	for _, s := range []migration.State{migration.Ready, migration.Syncing, migration.Recovering, migration.ReadOnly} {
		n.m.shardStates.WithLabelValues(string(s)).Set(float64(counts[s]))
	}
}

// serveSync answers a new owner's request for its shard's pairs of a
// page of blobs. Only the shard's owner in the request's epoch may ask,
// with its signature; only a node that held the shard in the epoch before
// (and still holds it, owned or read-only) answers. The answer is bounded
// by maxSyncAnswer and held within the in-flight byte budget; the request
// takes a serving slot before its body is read.
func (n *Node) serveSync(w http.ResponseWriter, r *http.Request) error {
	shard, err := strconv.Atoi(r.PathValue("shard"))
	if err != nil || shard < 0 || shard >= n.codec.Params().N {
		return httpapi.Errorf(http.StatusBadRequest, "shard %q is not in 0..%d", r.PathValue("shard"), n.codec.Params().N-1)
	}
	if r.ContentLength > maxSyncRequest {
		n.m.refused.WithLabelValues("too_large").Inc()
		return httpapi.Errorf(http.StatusRequestEntityTooLarge, "sync request of %d bytes exceeds %d", r.ContentLength, maxSyncRequest)
	}
	select {
	case n.symSlots <- struct{}{}:
		defer func() { <-n.symSlots }()
	case <-r.Context().Done():
		return httpapi.Errorf(http.StatusServiceUnavailable, "busy")
	}
	release, err := n.reserveBody(w, r, maxSyncRequest)
	if err != nil {
		return err
	}
	defer release()
	raw, err := n.readBody(w, r, maxSyncRequest)
	if err != nil {
		return bodyError("sync request", err)
	}
	defer putBuffer(raw)
	req, err := migration.DecodeRequest(raw)
	if err != nil {
		return httpapi.Errorf(http.StatusBadRequest, "%v", err)
	}
	if int(req.Shard) != shard {
		return httpapi.Errorf(http.StatusBadRequest, "request for shard %d sent to the path of shard %d", req.Shard, shard)
	}
	for _, id := range req.IDs {
		if err := n.refuseBlackout(w, id); err != nil {
			return err
		}
	}
	if req.Epoch < 2 {
		return httpapi.Errorf(http.StatusBadRequest, "no shard moves at epoch %d", req.Epoch)
	}
	com, err := n.committeeAt(r.Context(), req.Epoch)
	if err != nil {
		return httpapi.Errorf(http.StatusForbidden, "no committee for epoch %d: %v", req.Epoch, err)
	}
	owner, ok := migration.Owner(com, shard)
	if !ok || !req.Verify(n.params.NetworkID, owner.Key[:]) {
		return httpapi.Errorf(http.StatusForbidden, "not signed by the owner of shard %d in epoch %d", shard, req.Epoch)
	}
	prev, err := n.syncSource(r.Context(), req.Epoch)
	if err != nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "the committee epoch %d syncs from: %v", req.Epoch, err)
	}
	if was, ok := migration.Owner(prev, shard); !ok || was.Key != n.id {
		return httpapi.Errorf(http.StatusMisdirectedRequest, "this node did not hold shard %d in epoch %d", shard, prev.Epoch)
	}
	if _, owned := slices.BinarySearch(n.currentShards(), shard); !owned && !n.readOnly(shard) {
		return httpapi.Errorf(http.StatusGone, "this node no longer holds shard %d", shard)
	}
	// The answer's size from the blobs' lengths, before reading any.
	params := n.codec.Params()
	epoch, _, _ := n.state()
	recs := make([]*store.Blob, len(req.IDs))
	size := int64(migration.HeaderSize)
	for i, id := range req.IDs {
		size++
		b, err := n.store.Blob(id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (epoch >= b.EndEpoch || !b.Certified)) {
			continue
		}
		if err != nil {
			return err
		}
		recs[i] = b
		size += migration.ItemSize(params, b.Length)
	}
	if size > maxSyncAnswer {
		n.m.refused.WithLabelValues("too_large").Inc()
		return httpapi.Errorf(http.StatusRequestEntityTooLarge, "the answer would take up to %d bytes, more than %d: ask for fewer blobs", size, maxSyncAnswer)
	}
	got, ok := n.inflight.acquire(r.Context(), size)
	if !ok {
		n.m.refused.WithLabelValues("busy").Inc()
		retryAfter(w, 1)
		return httpapi.Errorf(http.StatusServiceUnavailable, "busy: %d bytes in flight", n.inflight.inUse())
	}
	defer n.inflight.release(got)
	out := migration.AppendResponseHeader(make([]byte, 0, size), len(req.IDs))
	for i, id := range req.IDs {
		it := migration.Item{Status: migration.NotLive}
		if recs[i] != nil {
			it.Status = migration.NotHeld
			pair := uint32(params.PairAt(id, shard))
			p, pc, err1 := n.store.Sliver(id, pair, blob.Primary)
			s, _, err2 := n.store.Sliver(id, pair, blob.Secondary)
			if err1 == nil && err2 == nil {
				it = migration.Item{Status: migration.Present, Commitment: *pc, Primary: *p, Secondary: *s}
			}
		}
		if out, err = migration.AppendItem(out, &it); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	n.writeDeadline(w, int64(len(out)))
	_, err = w.Write(out)
	return err
}

func (n *Node) currentShards() []int {
	_, shards, _ := n.state()
	return shards
}
