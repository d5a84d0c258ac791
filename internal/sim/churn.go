package sim

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/migration"
)

// weight is how many shards' worth of data a fault of the node puts at
// risk: those it owns and those it still serves from a change not done.
func (nd *node) weight() int { return len(nd.shards) + len(nd.old) }

// committee reads the current committee from the machine, checks that
// every shard has exactly one owner, a member, and works out what the
// epoch change moved: members that joined and left, shards that changed
// hands, the shards each member gained and those it now serves only
// read-only.
func (s *Sim) committee() error {
	com, err := s.m.Committee(0)
	if err != nil {
		return err
	}
	owner := make([]int, s.cfg.Shards)
	for i := range owner {
		owner[i] = -1
	}
	shards := make([][]int, len(s.nodes))
	for _, mem := range com.Members {
		i, ok := s.byKey[mem.Key]
		if !ok {
			return fmt.Errorf("committee member %s is no simulated node", mem.Key.Short())
		}
		if mem.Weight == 0 || s.nodes[i].leaving {
			s.violation(fmt.Sprintf("member %d %d", s.epoch, i), "epoch %d: %s is in the committee with weight %d, leaving %v",
				s.epoch, s.nodes[i].name, mem.Weight, s.nodes[i].leaving)
		}
		for _, sh := range mem.Shards {
			switch {
			case sh < 0 || sh >= s.cfg.Shards:
				return fmt.Errorf("epoch %d: %s owns shard %d of %d", s.epoch, s.nodes[i].name, sh, s.cfg.Shards)
			case owner[sh] >= 0:
				s.violation(fmt.Sprintf("owners %d %d", s.epoch, sh), "epoch %d: shard %d has two owners, %s and %s",
					s.epoch, sh, s.nodes[owner[sh]].name, s.nodes[i].name)
			default:
				owner[sh] = i
			}
		}
		shards[i] = slices.Sorted(slices.Values(mem.Shards))
	}
	for sh, o := range owner {
		if o < 0 {
			s.violation(fmt.Sprintf("owners %d %d", s.epoch, sh), "epoch %d: shard %d has no owner", s.epoch, sh)
			owner[sh] = 0
		}
	}
	if s.owner != nil {
		for sh := range owner {
			if owner[sh] != s.owner[sh] {
				s.epochStat.ShardsMoved++
			}
		}
		for i, nd := range s.nodes {
			was, is := len(nd.shards) > 0, len(shards[i]) > 0
			if is && !was {
				s.epochStat.Joined++
			}
			if was && !is {
				s.epochStat.Left++
			}
			nd.gained = nil
			for _, g := range migration.PlanFor(nd.pub, s.com, com, s.cfg.Shards).Gained {
				nd.gained = append(nd.gained, g.Shard)
			}
		}
	}
	for i, nd := range s.nodes {
		nd.shards = shards[i]
		for _, sh := range nd.shards {
			nd.held[sh] = true
		}
	}
	if s.com == nil || s.com.Epoch != com.Epoch {
		s.prevCom = s.com
	}
	s.owner, s.com = owner, com
	return nil
}

// epochChanged notes the start of an epoch change that moved shards:
// each member's storage node plans it when it applies the event and
// syncs what it gained (StepSync); a dropper attests at once without
// syncing. Blobs being uploaded go again to the new owners.
func (s *Sim) epochChanged(ev control.Event) {
	if s.changePending {
		s.violation(fmt.Sprintf("done %d", s.epoch-1), "the change to epoch %d was not done before epoch %d began", s.epoch-1, s.epoch)
	}
	s.changePending = false
	for _, nd := range s.nodes {
		nd.attested = false
	}
	if ev.EpochState != control.EpochSyncing {
		return
	}
	s.changePending, s.changeStart = true, s.now
	s.epochStat.EpochChanges++
	s.changeBlobs = nil
	for _, b := range s.w.blobs {
		if b.certified && !b.invalid {
			s.changeBlobs = append(s.changeBlobs, b.id)
		}
	}
	slices.SortFunc(s.changeBlobs, compareIDs)
	for _, nd := range s.nodes {
		if len(nd.shards) == 0 {
			continue
		}
		nd.syncEpoch = ev.Epoch
		bytes, pairs := nd.needed()
		s.epochStat.NeededBytes += bytes
		s.epochStat.NeededPairs += pairs
		if nd.kind == dropper && nd.up {
			s.submit(nd.key, control.Payload{EpochSyncDone: &control.EpochSyncDone{Epoch: ev.Epoch}}, nil)
		}
	}
}

// needed returns the size and number of the pairs of certified blobs
// on the shards the node gained that it does not hold.
func (nd *node) needed() (bytes int64, pairs int) {
	for _, id := range sortedIDs(nd.known) {
		if !nd.known[id].certified {
			continue
		}
		for _, sh := range nd.gained {
			if pair := nd.s.p.PairAt(id, sh); !nd.pairs[id][pair].complete() {
				bytes += nd.s.pairBytes(id, pair)
				pairs++
			}
		}
	}
	return bytes, pairs
}

// attestedSync: the node's EpochSyncDone for the current change is in a
// block. The node claims every pair of its gained shards of the blobs
// certified before the change began: the simulator holds it to them, as
// acknowledged, until a wipe or the shard moves on.
func (nd *node) attestedSync() {
	nd.attested = true
	for _, id := range nd.s.changeBlobs {
		if k := nd.known[id]; k == nil || !k.certified {
			continue
		}
		for _, sh := range nd.gained {
			nd.acked[pairKey{id, nd.s.p.PairAt(id, sh)}] = true
		}
	}
}

// epochDone ends the current change: the time it took is the row's.
// Previous owners drop what they gave up themselves, as they apply the
// event (followShards).
func (s *Sim) epochDone(epoch uint64) {
	if epoch != s.epoch || !s.changePending {
		return
	}
	s.changePending = false
	s.epochStat.DoneIn = s.now - s.changeStart
}

// changeBound is how long an epoch change may take to be done.
func (s *Sim) changeBound() time.Duration { return s.cfg.EpochDuration / 2 }

// checkChange: an epoch change is done within changeBound.
func (s *Sim) checkChange() {
	if s.changePending && s.now-s.changeStart > s.changeBound() {
		s.violation(fmt.Sprintf("done %d", s.epoch), "the change to epoch %d is not done %s after it began", s.epoch, s.changeBound())
	}
}

// followShards brings the storage node's given-up shards, still served
// read-only, into the simulator's view: those the node dropped (its
// change done and their new owners attested, perhaps while it caught up
// after a restart) leave the view too. A node that left and serves
// nothing more shuts down.
func (nd *node) followShards() {
	if nd.core == nil {
		return
	}
	nd.old = nd.core.ReadOnlyShards()
	for _, sh := range slices.Sorted(maps.Keys(nd.held)) {
		if !slices.Contains(nd.old, sh) && !slices.Contains(nd.shards, sh) {
			nd.drop(sh)
			delete(nd.held, sh)
		}
	}
	if nd.leaving && len(nd.shards) == 0 && len(nd.old) == 0 && !nd.gone {
		nd.retire()
	}
}

// retire shuts down a node that left and no longer serves anything.
func (nd *node) retire() {
	nd.gone, nd.up = true, false
	nd.gen++
	nd.storeErr(nd.st.Close())
	nd.st, nd.disk, nd.core, nd.handler = nil, nil, nil, nil
	nd.pairs, nd.known, nd.acked, nd.lost = map[blob.ID]map[int]*pairState{}, map[blob.ID]*known{}, map[pairKey]bool{}, map[pairKey]bool{}
}

// drop forgets the node's pairs of a shard the storage node dropped;
// what it acknowledged of them is now its successor's to keep.
func (nd *node) drop(sh int) {
	for _, id := range sortedIDs(nd.pairs) {
		pair := nd.s.p.PairAt(id, sh)
		if _, ok := nd.pairs[id][pair]; ok {
			delete(nd.pairs[id], pair)
			nd.s.dirty[id] = true
			nd.removed = true
		}
		delete(nd.acked, pairKey{id, pair})
		delete(nd.lost, pairKey{id, pair})
	}
}

// syncStepDelay is the least simulated time between two shard sync
// steps of a node: a page's round trip.
const syncStepDelay = 20 * time.Millisecond

// wakeSync arranges for the node's next shard sync step in d.
func (nd *node) wakeSync(d time.Duration) {
	s := nd.s
	if !nd.up || nd.gone || nd.kind == dropper || nd.core == nil {
		return
	}
	when := s.now + d
	if nd.syncAt >= 0 && nd.syncAt <= when {
		return // a step comes sooner
	}
	nd.syncAt = when
	gen := nd.gen
	s.after(d, func() {
		if nd.gen == gen && nd.syncAt == when {
			nd.syncAt = -1
			nd.stepSync()
		}
	})
}

// stepSync runs one step of the storage node's shard sync (StepSync):
// a page pulled from a previous owner through Embedding.Post, handed to
// the recovery queue, a check pass, or the EpochSyncDone report.
func (nd *node) stepSync() {
	s := nd.s
	if !nd.up || nd.kind == dropper || nd.core == nil {
		return
	}
	st, err := nd.core.StepSync(context.Background())
	if err != nil {
		s.fail(fmt.Errorf("%s: shard sync: %w", nd.name, err))
		return
	}
	for _, it := range st.Stored {
		nd.remember(it.ID, int(it.Pair), it.Sliver, it.Commitment)
	}
	nd.wakeRecovery()
	if st.Idle {
		return
	}
	d := syncStepDelay
	if !st.Wake.IsZero() {
		d = max(d, st.Wake.Sub(t0)-s.now)
	}
	nd.wakeSync(d)
}

// post carries the storage node's calls to peers (Embedding.Post) over
// the simulated network: the peer's own storage node answers through its
// HTTP API (a shard sync request: its serveSync). A liar flips a byte of
// every primary sliver it serves.
func (nd *node) post(_ context.Context, url string, body []byte, limit int64, _ time.Duration) ([]byte, error) {
	s := nd.s
	rest, _ := strings.CutPrefix(url, "http://")
	host, path, _ := strings.Cut(rest, "/")
	name, _, _ := strings.Cut(host, ".")
	i, err := strconv.Atoi(strings.TrimPrefix(name, "node"))
	if err != nil || i < 0 || i >= len(s.nodes) || s.nodes[i].name != name {
		return nil, fmt.Errorf("sim: no peer at %s", url)
	}
	peer := s.nodes[i]
	if !peer.up || peer.gone {
		return nil, errDown
	}
	if err := s.call(nd.i, peer.i); err != nil {
		return nil, err
	}
	api, err := peer.api()
	if err != nil {
		s.fail(err)
		return nil, err
	}
	code, out := call(api, http.MethodPost, "/"+path, body)
	sync := strings.HasSuffix(path, "/sync")
	if sync {
		s.epochStat.SyncBytes += int64(len(body) + len(out))
	}
	switch {
	case code != http.StatusOK:
		return out, fmt.Errorf("%d %s: %s", code, http.StatusText(code), bytes.TrimSpace(out))
	case int64(len(out)) > limit:
		return out, fmt.Errorf("answer longer than %d bytes", limit)
	}
	if !sync {
		return out, nil
	}
	// The sliver bytes a sync answer carries; a liar's primary slivers
	// are corrupted.
	r, err := migration.DecodeRequest(body)
	var resp *migration.Response
	if err == nil {
		resp, err = migration.DecodeResponse(out, len(r.IDs))
	}
	if err != nil {
		if peer.kind == liar {
			return nil, err
		}
		return out, nil
	}
	for i := range resp.Items {
		if it := &resp.Items[i]; it.Status == migration.Present {
			s.epochStat.SyncSliverBytes += int64(len(it.Primary.Data) + len(it.Secondary.Data))
			if peer.kind == liar {
				it.Primary.Data = s.lie(it.Primary.Data)
			}
		}
	}
	if peer.kind == liar {
		return resp.MarshalBinary()
	}
	return out, nil
}

// pairBytes is the size of a pair's two slivers.
func (s *Sim) pairBytes(id blob.ID, pair int) int64 {
	b := s.w.byID[id]
	if b == nil {
		return 0
	}
	return int64(len(b.enc.Sliver(blob.Primary, s.p.PrimaryOf(pair)).Data) + len(b.enc.Sliver(blob.Secondary, s.p.SecondaryOf(pair)).Data))
}

// readPrimary is a pair's primary sliver as a reader finds it on honest
// nodes: from the shard's owner, or, while a change is not done, from a
// node that still serves the shard read-only.
func (s *Sim) readPrimary(id blob.ID, pair int) *blob.Sliver {
	sh := s.p.ShardOf(id, pair)
	if o := s.nodes[s.owner[sh]]; o.kind == honest {
		if sl := o.primary(id, pair); sl != nil {
			return sl
		}
	}
	for _, nd := range s.nodes {
		if nd.kind == honest && slices.Contains(nd.old, sh) {
			if sl := nd.primary(id, pair); sl != nil {
				return sl
			}
		}
	}
	return nil
}

// primary is the node's primary sliver of a pair as a reader takes it:
// one bit rot corrupted fails the reader's check against its commitment.
func (nd *node) primary(id blob.ID, pair int) *blob.Sliver {
	ps := nd.pairs[id][pair]
	if ps == nil || ps.sl[blob.Primary] == nil || nd.isRotted(sliverKey{id, pair, blob.Primary}) {
		return nil
	}
	return ps.sl[blob.Primary]
}

// churn: each epoch, members worth about Churn·f shards leave (the
// last one drawn with the chance of the budget left) and as many new
// nodes register and get weight from governance, so long as the
// committee keeps at least half the starting nodes (and at least two)
// and no more members than shards. Both take effect at the next epoch
// boundary.
func (s *Sim) churn() {
	var members []*node
	joining := 0
	for _, nd := range s.nodes {
		switch {
		case nd.leaving:
		case len(nd.shards) > 0:
			members = append(members, nd)
		default:
			joining++ // registered, not yet in a committee
		}
	}
	budget := s.cfg.Churn * float64(s.f)
	leaves := 0
	for _, k := range s.rng.Perm(len(members)) {
		nd := members[k]
		w := float64(len(nd.shards))
		if budget <= 0 || len(members)-leaves <= max(2, (s.cfg.Nodes+1)/2) || w > budget && s.rng.Float64() >= budget/w {
			break
		}
		budget -= w
		leaves++
		s.leave(nd)
	}
	for range leaves {
		if len(members)+joining >= s.cfg.Shards {
			break
		}
		joining++
		s.join()
	}
}

// join adds a node: it registers, then governance gives it weight.
func (s *Sim) join() {
	nd := newNode(s, len(s.nodes), s.newKey())
	s.nodes = append(s.nodes, nd)
	s.byKey[nd.pub] = nd.i
	s.after(time.Duration(s.rng.Int64N(int64(syncInterval))), nd.syncTick)
	s.after(time.Duration(s.rng.Int64N(int64(s.cfg.EpochDuration))), nd.scrubTick)
	reg := &control.RegisterNode{Name: nd.name, Address: fmt.Sprintf("http://%s.sim:7000", nd.name)}
	s.submit(nd.key, control.Payload{RegisterNode: reg}, func(err error) {
		if err != nil {
			s.fail(fmt.Errorf("%s: RegisterNode: %w", nd.name, err))
			return
		}
		s.submit(s.admin, control.Payload{SetWeight: &control.SetWeight{Node: nd.pub, Weight: 1}}, func(err error) {
			if err != nil {
				s.fail(fmt.Errorf("%s: SetWeight: %w", nd.name, err))
			}
		})
	})
}

// leave has a member send LeaveCommittee.
func (s *Sim) leave(nd *node) {
	s.submit(nd.key, control.Payload{LeaveCommittee: &control.LeaveCommittee{}}, func(err error) {
		if err != nil {
			s.fail(fmt.Errorf("%s: LeaveCommittee: %w", nd.name, err))
			return
		}
		nd.leaving = true
	})
}

// ratio prints sync bytes over bytes needed.
func ratio(got, need int64) string {
	if need == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(got)/float64(need))
}
