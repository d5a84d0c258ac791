package sim

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/migration"
	storage "github.com/weftnet/weft/internal/node"
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
			nd.plan = migration.PlanFor(nd.pub, s.com, com, s.cfg.Shards)
			nd.gained = nil
			for _, g := range nd.plan.Gained {
				nd.gained = append(nd.gained, g.Shard)
			}
			for _, sh := range nd.plan.GivenUp {
				if !slices.Contains(nd.old, sh) {
					nd.old = append(nd.old, sh)
				}
			}
			nd.old = slices.DeleteFunc(nd.old, func(sh int) bool { return slices.Contains(shards[i], sh) })
			slices.Sort(nd.old)
		}
	}
	for i, nd := range s.nodes {
		nd.shards = shards[i]
	}
	if s.com == nil || s.com.Epoch != com.Epoch {
		s.prevCom = s.com
	}
	s.owner, s.com = owner, com
	return nil
}

// healView is a node's state as its Healer needs it.
func (s *Sim) healView(nd *node) (*storage.HealView, error) {
	if s.com == nil {
		return nil, fmt.Errorf("sim: no committee yet")
	}
	return &storage.HealView{Self: nd.pub, Epoch: nd.epoch, Shards: nd.shards, Committee: s.com, Previous: s.prevCom}, nil
}

// epochChanged starts the sync of an epoch change that moved shards:
// every member syncs what it gained (perhaps nothing) and attests it.
// Blobs being uploaded go again to the new owners.
func (s *Sim) epochChanged(ev control.Event) {
	if s.changePending {
		s.violation(fmt.Sprintf("done %d", s.epoch-1), "the change to epoch %d was not done before epoch %d began", s.epoch-1, s.epoch)
	}
	s.changePending = false
	s.attested = map[int]bool{}
	for _, nd := range s.nodes {
		nd.attested, nd.attestPend = false, false
	}
	if ev.EpochState != control.EpochSyncing {
		return
	}
	s.changePending, s.changeStart = true, s.now
	s.epochStat.EpochChanges++
	for _, nd := range s.nodes {
		if len(nd.shards) == 0 {
			continue
		}
		nd.syncEpoch, nd.counted = ev.Epoch, map[pairKey]bool{}
		epoch, gen := ev.Epoch, nd.gen
		s.after(time.Duration(500+s.rng.IntN(1000))*time.Millisecond, func() {
			if nd.gen == gen {
				nd.sync(epoch)
			}
		})
	}
	for _, b := range s.w.blobs {
		if b.uploading && !b.certified && !b.certPend {
			s.after(s.w.latency(), func() { s.w.upload(b) })
		}
	}
}

// epochDone ends the current change: the time it took is the row's, and
// previous owners drop what their successors attested.
func (s *Sim) epochDone(epoch uint64) {
	if epoch != s.epoch || !s.changePending {
		return
	}
	s.changePending = false
	s.epochStat.DoneIn = s.now - s.changeStart
	s.dropOld()
}

// changeBound is how long an epoch change may take to be done.
func (s *Sim) changeBound() time.Duration { return s.cfg.EpochDuration / 2 }

// checkChange: an epoch change is done within changeBound.
func (s *Sim) checkChange() {
	if s.changePending && s.now-s.changeStart > s.changeBound() {
		s.violation(fmt.Sprintf("done %d", s.epoch), "the change to epoch %d is not done %s after it began", s.epoch, s.changeBound())
	}
}

// dropOld: once the change is done, a previous owner drops each shard
// it gave up whose new owner attested its sync.
func (s *Sim) dropOld() {
	if s.changePending {
		return
	}
	for _, nd := range s.nodes {
		nd.old = slices.DeleteFunc(nd.old, func(sh int) bool {
			if !s.attested[s.owner[sh]] {
				return false
			}
			nd.drop(sh)
			return true
		})
		if nd.leaving && len(nd.shards) == 0 && len(nd.old) == 0 && !nd.gone {
			nd.retire()
		}
	}
}

// retire shuts down a node that left and no longer serves anything.
func (nd *node) retire() {
	nd.gone, nd.up = true, false
	nd.gen++
	nd.storeErr(nd.st.Close())
	nd.st, nd.disk, nd.core, nd.handler, nd.healer = nil, nil, nil, nil, nil
	nd.pairs, nd.known, nd.acked, nd.lost = map[blob.ID]map[int]*pairState{}, map[blob.ID]*known{}, map[pairKey]bool{}, map[pairKey]bool{}
}

// drop forgets the node's pairs of a shard it no longer owns; what it
// acknowledged of them is now its successor's to keep.
func (nd *node) drop(sh int) {
	for _, id := range sortedIDs(nd.pairs) {
		pair := nd.s.p.PairAt(id, sh)
		if _, ok := nd.pairs[id][pair]; ok {
			delete(nd.pairs[id], pair)
			nd.s.dirty[id] = true
			nd.removed = true
			nd.storeErr(nd.st.DeletePairs(id, []uint32{uint32(pair)}))
		}
		delete(nd.acked, pairKey{id, pair})
		delete(nd.lost, pairKey{id, pair})
	}
}

// sync runs a migration.Puller for each shard the node gained, for
// every certified blob: requests signed by the node go to the shard's
// previous owner, which answers from what it holds, through the sync wire
// format. What the previous owner cannot give (down, wiped, no pair) the
// node rebuilds with a recovery job. It attests once what it fetched is
// synced to its disk.
func (nd *node) sync(epoch uint64) {
	s := nd.s
	if !nd.up || epoch != nd.syncEpoch || epoch != s.epoch || nd.attested || nd.attestPend {
		return
	}
	if s.cfg.Bug == BugAttestUnsynced || nd.kind == dropper {
		nd.attest(epoch)
		return
	}
	var page []migration.Blob
	for _, id := range sortedIDs(nd.known) {
		k := nd.known[id]
		page = append(page, migration.Blob{ID: id, Length: k.length, Certified: k.certified})
		if !k.certified {
			continue
		}
		for _, sh := range nd.gained {
			pair := s.p.PairAt(id, sh)
			if k := (pairKey{id, pair}); !nd.counted[k] && !nd.pairs[id][pair].complete() {
				nd.counted[k] = true
				s.epochStat.NeededBytes += s.pairBytes(id, pair)
			}
		}
	}
	short := false
	for _, g := range nd.plan.Gained {
		if !g.HasFrom {
			short = true
			continue
		}
		src := s.nodes[s.byKey[g.From.Key]]
		u := migration.NewPuller(s.codec, migration.Config{BatchBlobs: 16, BatchBytes: 256 << 10, MaxFailures: 1, VerifySliver: s.verifySliver},
			migration.Progress{Epoch: epoch, Shard: g.Shard, State: migration.Syncing, From: g.From.Key})
		held := func(b migration.Blob) bool { return nd.pairs[b.ID][u.Pair(b.ID)].complete() }
		for rest := page; ; {
			b := u.Next(rest, held)
			if b == nil {
				break
			}
			rest = rest[b.Covered:]
			if len(b.Ask) == 0 {
				continue
			}
			out, err := nd.pull(u, b, src)
			if err != nil {
				s.fail(err)
				return
			}
			for _, p := range out.Store {
				pc := p.Commitment
				nd.put(p.ID, u.Pair(p.ID), &p.Primary, &pc)
				nd.put(p.ID, u.Pair(p.ID), &p.Secondary, &pc)
			}
			if len(out.Recover) > 0 || out.Retry {
				short = true
			}
			if out.GaveUp || out.Retry {
				break
			}
		}
	}
	if short {
		nd.heal(true)
	}
	gen := nd.gen
	s.after(syncInterval+time.Millisecond, func() {
		if nd.gen == gen {
			nd.attest(epoch)
		}
	})
}

// pull sends one batch's request to the previous owner src and delivers
// its answer to the puller. The previous owner serves the pairs it holds
// of a shard it owns or gave up to a request signed by the shard's new
// owner.
func (nd *node) pull(u *migration.Puller, b *migration.Batch, src *node) (migration.Outcome, error) {
	s := nd.s
	now := t0.Add(s.now)
	req := u.Request(b)
	req.Sign(networkID, nd.key)
	raw, err := req.MarshalBinary()
	if err != nil {
		return migration.Outcome{}, err
	}
	if !src.up {
		return u.Deliver(b, nil, 0, errDown, now), nil
	}
	if err := s.call(nd.i, src.i); err != nil {
		return u.Deliver(b, nil, 0, err, now), nil
	}
	got, err := migration.DecodeRequest(raw)
	if err != nil {
		return migration.Outcome{}, err
	}
	sh := int(got.Shard)
	if !got.Verify(networkID, nd.pub[:]) || s.owner[sh] != nd.i || !slices.Contains(src.old, sh) && !slices.Contains(src.shards, sh) {
		return migration.Outcome{}, fmt.Errorf("%s: a sync request for shard %d from %s is refused", src.name, sh, nd.name)
	}
	resp := &migration.Response{Items: make([]migration.Item, len(got.IDs))}
	for i, id := range got.IDs {
		it := &resp.Items[i]
		it.Status = migration.NotLive
		if src.known[id] == nil {
			continue
		}
		it.Status = migration.NotHeld
		if st := src.pairs[id][s.p.PairAt(id, sh)]; st.complete() && st.pc != nil {
			it.Status, it.Commitment, it.Primary, it.Secondary = migration.Present, *st.pc, *st.sl[blob.Primary], *st.sl[blob.Secondary]
			if src.kind == liar {
				it.Primary.Data = s.lie(it.Primary.Data)
			}
		}
	}
	body, err := resp.MarshalBinary()
	if err != nil {
		return migration.Outcome{}, err
	}
	n := int64(len(raw) + len(body))
	s.epochStat.SyncBytes += n
	dec, err := migration.DecodeResponse(body, len(got.IDs))
	return u.Deliver(b, dec, n, err, now), nil
}

// attest submits EpochSyncDone once every gained pair of a certified
// blob is stored and synced; else it syncs again. An attestation
// acknowledges those pairs: the node may lose them only to a disk wipe.
func (nd *node) attest(epoch uint64) {
	s := nd.s
	if !nd.up || epoch != nd.syncEpoch || epoch != s.epoch || nd.attested || nd.attestPend {
		return
	}
	for _, id := range sortedIDs(nd.known) {
		if !nd.known[id].certified {
			continue
		}
		for _, sh := range nd.gained {
			pair := s.p.PairAt(id, sh)
			st := nd.pairs[id][pair]
			if s.cfg.Bug != BugAttestUnsynced && nd.kind != dropper && (!st.complete() || nd.unwritten(id, pair)) {
				nd.sync(epoch)
				return
			}
			nd.acked[pairKey{id, pair}] = true
		}
	}
	if s.cfg.Bug == BugNeverAttest {
		return
	}
	nd.attestPend = true
	s.submit(nd.key, control.Payload{EpochSyncDone: &control.EpochSyncDone{Epoch: epoch}}, func(err error) {
		if epoch != s.epoch {
			return // a later epoch began: its sync starts over
		}
		nd.attestPend = false
		switch {
		case err == nil, errors.Is(err, control.ErrAttested):
			nd.attested = true
		case errors.Is(err, control.ErrEpoch):
		default:
			s.fail(fmt.Errorf("%s: EpochSyncDone for epoch %d: %w", nd.name, epoch, err))
		}
	})
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
		if ps := o.pairs[id][pair]; ps != nil && ps.sl[blob.Primary] != nil {
			return ps.sl[blob.Primary]
		}
	}
	for _, nd := range s.nodes {
		if nd.kind == honest && slices.Contains(nd.old, sh) {
			if ps := nd.pairs[id][pair]; ps != nil && ps.sl[blob.Primary] != nil {
				return ps.sl[blob.Primary]
			}
		}
	}
	return nil
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
