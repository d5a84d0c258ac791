package sim

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/migration"
	"github.com/weftnet/weft/internal/recovery"
	"github.com/weftnet/weft/redstuff"
)

// pairState is what a node stores of one pair of a blob; durable marks
// the slivers synced to its (simulated) disk.
type pairState struct {
	sl      [2]*blob.Sliver
	durable [2]bool
	pc      *blob.PairCommitment
	src     [2]*redstuff.SymbolSource // extended slivers, kept for recovery requests
}

func (ps *pairState) complete() bool { return ps != nil && ps.sl[0] != nil && ps.sl[1] != nil }

// known is a blob a node learnt of from the machine's events.
type known struct {
	length    uint64
	certified bool
}

// confirmWait is a confirmation owed once the node's writes are synced.
type confirmWait struct {
	id    blob.ID
	reply func(*confirmation)
}

type confirmation struct {
	node  int
	epoch uint64
	sig   []byte
}

type pairKey struct {
	id   blob.ID
	pair int
}

// node is a model of a storage node (see the package doc).
type node struct {
	s      *Sim
	i      int
	name   string
	key    ed25519.PrivateKey
	pub    control.PublicKey
	shards []int
	up     bool
	gen    int // bumped by each crash: stale sync ticks stop

	cursor  uint64
	epoch   uint64
	known   map[blob.ID]*known
	pairs   map[blob.ID]map[int]*pairState
	waiting []confirmWait
	healing bool

	// Churn: shards the node gave up in an epoch change and still serves,
	// read-only, until the change is done and their new owners attested;
	// the shards it gained in the epoch it syncs (syncEpoch), and whether
	// it attested that sync.
	plan       migration.Plan
	old        []int
	gained     []int
	syncEpoch  uint64
	attested   bool
	attestPend bool
	leaving    bool
	counted    map[pairKey]bool // gained pairs whose bytes count as needed

	// What the simulator, not the node, remembers: the pairs the node
	// acknowledged, and those of them an injected fault took.
	acked map[pairKey]bool
	lost  map[pairKey]bool
	// removed: the node deleted slivers since the last check.
	removed bool

	kind         kind
	cutUntil     time.Duration // cut off by a partition until then
	faulted      bool          // a fault hit it, last at lastFault
	lastFault    time.Duration
	unanswered   string // why it could not answer a challenge
	owed         bool   // it answered, or lacked an acknowledged pair
	invalidating map[blob.ID]bool
}

func newNode(s *Sim, i int, key ed25519.PrivateKey) *node {
	return &node{s: s, i: i, name: fmt.Sprintf("node%d", i), key: key, pub: control.KeyOf(key), up: true, epoch: 1,
		known: map[blob.ID]*known{}, pairs: map[blob.ID]map[int]*pairState{}, acked: map[pairKey]bool{}, lost: map[pairKey]bool{},
		invalidating: map[blob.ID]bool{}}
}

// follow applies the machine's events since the node's cursor.
func (nd *node) follow() {
	s := nd.s
	for {
		evs, err := s.m.Events(nd.cursor, 1000)
		if err != nil {
			s.fail(err)
			return
		}
		for _, ev := range evs {
			nd.cursor = ev.Seq
			nd.epoch = max(nd.epoch, ev.Epoch)
			if ev.Type == control.EventChallengeOpened {
				nd.challengeOpened(ev.Window)
			}
			if ev.BlobID == nil {
				continue
			}
			id := *ev.BlobID
			switch ev.Type {
			case control.EventBlobRegistered, control.EventBlobCertified:
				if nd.known[id] == nil {
					info, err := s.m.Blob(id)
					if err != nil {
						s.fail(err)
						return
					}
					nd.known[id] = &known{length: info.Length}
				}
				if ev.Type == control.EventBlobCertified {
					nd.known[id].certified = true
					if nd.missing(id) {
						nd.scheduleHeal(3 * time.Second)
					}
				}
			case control.EventBlobDeleted, control.EventBlobExpired, control.EventBlobInvalid:
				delete(nd.known, id)
				delete(nd.pairs, id)
				for _, k := range sortedKeys(nd.acked) {
					if k.id == id {
						delete(nd.acked, k)
						delete(nd.lost, k)
					}
				}
				nd.removed = true
			}
		}
		if len(evs) < 1000 {
			return
		}
	}
}

// myPairs lists the pairs of a blob on the node's shards, in order.
func (nd *node) myPairs(id blob.ID) []int {
	var out []int
	for _, sh := range nd.shards {
		out = append(out, nd.s.p.PairAt(id, sh))
	}
	slices.Sort(out)
	return out
}

// missing reports whether the node lacks a sliver of its pairs of id.
func (nd *node) missing(id blob.ID) bool {
	for _, pair := range nd.myPairs(id) {
		if !nd.pairs[id][pair].complete() {
			return true
		}
	}
	return false
}

// degraded: down, or missing pairs of a blob the writer has begun to
// store.
func (nd *node) degraded() bool {
	if !nd.up || len(nd.lost) > 0 || nd.kind != honest || nd.cutUntil > nd.s.now {
		return true
	}
	if nd.syncEpoch == nd.s.epoch && !nd.attested && len(nd.gained) > 0 {
		return true
	}
	for _, b := range nd.s.w.blobs {
		if b.uploading && nd.missing(b.id) {
			return true
		}
	}
	return false
}

func (nd *node) put(id blob.ID, pair int, sl *blob.Sliver, pc *blob.PairCommitment) {
	ps := nd.pairs[id]
	if ps == nil {
		ps = map[int]*pairState{}
		nd.pairs[id] = ps
	}
	st := ps[pair]
	if st == nil {
		st = &pairState{}
		ps[pair] = st
	}
	if st.sl[sl.Kind] == nil {
		st.sl[sl.Kind], st.durable[sl.Kind] = sl, false
	}
	if st.pc == nil {
		st.pc = pc
	}
	nd.s.dirty[id] = true
}

// upload is a writer's upload of the node's pairs of a blob; it answers
// with a confirmation once they are synced, or nil if refused.
func (nd *node) upload(id blob.ID, pairs []int, slivers [][2]blob.Sliver, pcs []blob.PairCommitment, reply func(*confirmation)) {
	s := nd.s
	k := nd.known[id]
	if !nd.up || k == nil {
		reply(nil)
		return
	}
	for i, pair := range pairs {
		if s.owner[s.p.ShardOf(id, pair)] != nd.i {
			reply(nil)
			return
		}
		for kind := range 2 {
			sl := slivers[i][kind]
			if err := s.codec.VerifySliver(id, k.length, &sl, &pcs[i]); err != nil {
				reply(nil)
				return
			}
		}
	}
	for i, pair := range pairs {
		for kind := range 2 {
			sl := slivers[i][kind]
			nd.put(id, pair, &sl, &pcs[i])
		}
	}
	if s.cfg.Bug == BugAckBeforeSync {
		nd.confirm(id, reply)
		return
	}
	nd.waiting = append(nd.waiting, confirmWait{id: id, reply: reply})
}

// confirm signs a confirmation of id, as the node's API does, if every
// pair of its shards is stored.
func (nd *node) confirm(id blob.ID, reply func(*confirmation)) {
	if nd.missing(id) {
		reply(nil)
		return
	}
	for _, pair := range nd.myPairs(id) {
		nd.acked[pairKey{id, pair}] = true
	}
	sig := ed25519.Sign(nd.key, control.ConfirmationMessage(networkID, nd.epoch, id))
	reply(&confirmation{node: nd.i, epoch: nd.epoch, sig: sig})
	if nd.kind == dropper {
		delete(nd.pairs, id)
	}
}

// syncTick makes the node's writes durable and sends the confirmations
// that waited on them.
func (nd *node) syncTick() {
	gen := nd.gen
	if !nd.up {
		return
	}
	for _, id := range sortedIDs(nd.pairs) {
		for _, pair := range slices.Sorted(maps.Keys(nd.pairs[id])) {
			st := nd.pairs[id][pair]
			for kind := range 2 {
				if st.sl[kind] != nil {
					st.durable[kind] = true
				}
			}
			if st.complete() {
				delete(nd.lost, pairKey{id, pair})
			}
		}
	}
	w := nd.waiting
	nd.waiting = nil
	for _, c := range w {
		nd.confirm(c.id, c.reply)
	}
	nd.s.after(syncInterval, func() {
		if nd.gen == gen {
			nd.syncTick()
		}
	})
}

// crash takes the node down; what it wrote since its last sync is lost.
func (nd *node) crash() {
	nd.up = false
	nd.faulted, nd.lastFault = true, nd.s.now
	nd.gen++
	nd.waiting = nil
	for _, id := range sortedIDs(nd.pairs) {
		for pair, st := range nd.pairs[id] {
			for kind := range 2 {
				if st.sl[kind] != nil && !st.durable[kind] {
					st.sl[kind], st.src[kind] = nil, nil
					nd.s.dirty[id] = true
					nd.removed = true
				}
			}
			if st.sl[0] == nil && st.sl[1] == nil {
				delete(nd.pairs[id], pair)
			}
		}
	}
}

// wipe takes the node down and loses its whole disk.
func (nd *node) wipe() {
	nd.crash()
	for id := range nd.pairs {
		nd.s.dirty[id] = true
	}
	for k := range nd.acked {
		nd.lost[k] = true
	}
	nd.pairs = map[blob.ID]map[int]*pairState{}
	nd.known = map[blob.ID]*known{}
	nd.removed = true
	nd.cursor, nd.epoch = 0, 1
}

// restart brings the node back: it catches up with the events and heals.
func (nd *node) restart() {
	nd.up = true
	nd.healing = false
	nd.follow()
	nd.s.after(syncInterval, nd.syncTick)
	nd.scheduleHeal(time.Second)
	if nd.syncEpoch == nd.s.epoch && !nd.attested {
		epoch, gen := nd.syncEpoch, nd.gen
		nd.s.after(time.Second, func() {
			if nd.gen == gen {
				nd.sync(epoch)
			}
		})
	}
}

func (nd *node) scheduleHeal(d time.Duration) {
	if nd.healing {
		return
	}
	nd.healing = true
	gen := nd.gen
	nd.s.after(d, func() {
		if nd.gen == gen {
			nd.healing = false
			nd.heal(false)
		}
	})
}

var errDown = errors.New("sim: peer down")

// heal rebuilds the missing slivers of the node's pairs of every
// certified blob with a recovery job, its peers answering with
// recovery.Serve from what they hold. The bytes it moves count as
// recovery, or as shard sync when forSync.
func (nd *node) heal(forSync bool) {
	s := nd.s
	if !nd.up || nd.kind == dropper {
		return
	}
	var wants []recovery.Want
	queued := 0
	for _, id := range sortedIDs(nd.known) {
		k := nd.known[id]
		if !k.certified || !nd.missing(id) {
			continue
		}
		w := recovery.Want{ID: id, Length: k.length}
		for _, pair := range nd.myPairs(id) {
			wp := recovery.WantPair{Pair: pair}
			if st := nd.pairs[id][pair]; st != nil {
				wp.Have = [2]bool{st.sl[0] != nil, st.sl[1] != nil}
				wp.Commitment = st.pc
			}
			w.Pairs = append(w.Pairs, wp)
			queued++
		}
		wants = append(wants, w)
	}
	if len(wants) == 0 {
		return
	}
	s.epochStat.QueuePeak = max(s.epochStat.QueuePeak, queued)
	peers := make([]recovery.Peer, len(s.nodes))
	for i, p := range s.nodes {
		peers[i] = recovery.Peer{Shards: slices.Clone(p.shards), Self: i == nd.i, Avoid: !p.up, Previous: slices.Clone(p.old)}
	}
	job := recovery.NewJob(s.codec, peers, wants, recovery.Options{})
	for calls := job.Round(); len(calls) > 0; calls = job.Round() {
		for _, call := range calls {
			peer := s.nodes[call.Peer]
			if !peer.up {
				job.Deliver(call, nil, errDown)
				continue
			}
			if peer != nd {
				if err := s.call(nd.i, peer.i); err != nil {
					job.Deliver(call, nil, err)
					continue
				}
			}
			raw, err := call.Req.MarshalBinary()
			if err != nil {
				s.fail(err)
				return
			}
			req, err := recovery.DecodeRequest(raw, 1<<20)
			if err != nil {
				s.fail(err)
				return
			}
			head, body, _, err := recovery.Serve(s.codec, holder{peer}, req, recovery.Limits{MaxBytes: 1 << 30})
			if err != nil {
				job.Deliver(call, nil, err)
				continue
			}
			if peer.kind == liar {
				body = s.lie(body)
			}
			if peer != nd {
				n := int64(len(raw) + len(head) + len(body))
				if forSync {
					s.epochStat.SyncBytes += n
				} else {
					s.epochStat.RecoveryBytes += n
				}
			}
			resp, err := recovery.DecodeResponse(call.Req, append(head, body...))
			job.Deliver(call, resp, err)
		}
	}
	s.epochStat.LiesCaught += len(job.Liars())
	again := false
	for _, r := range job.Results() {
		if r.Proof != nil || r.PairsProof != nil {
			nd.proved(r)
		} else if r.Err != nil {
			again = true
		}
		for _, rec := range r.Slivers {
			sl := rec.Sliver
			pc := rec.Commitment
			if pc == nil {
				if st := nd.pairs[r.ID][rec.Pair]; st != nil {
					pc = st.pc
				}
			}
			nd.put(r.ID, rec.Pair, &sl, pc)
			s.epochStat.RecoveredSlivers++
			if !forSync {
				s.epochStat.LostBytes += int64(len(sl.Data))
			}
		}
	}
	if again {
		nd.scheduleHeal(5 * time.Second)
	}
}

// checkAcked: no acknowledged sliver is lost but through an injected
// wipe.
func (nd *node) checkAcked() {
	if nd.kind != honest {
		return
	}
	for _, k := range sortedKeys(nd.acked) {
		if nd.lost[k] || nd.pairs[k.id][k.pair].complete() {
			continue
		}
		if nd.s.w.byID[k.id] == nil {
			continue
		}
		nd.s.violation(fmt.Sprintf("acked %d %s %d", nd.i, k.id, k.pair), "%s lost pair %d of blob %d (%s) it acknowledged (only a disk wipe may take those)",
			nd.name, k.pair, nd.s.w.byID[k.id].n, short(k.id))
	}
}

// holder serves a node's slivers to recovery.Serve.
type holder struct{ nd *node }

func (h holder) Length(id blob.ID) (uint64, bool, error) {
	k := h.nd.known[id]
	if k == nil {
		return 0, false, nil
	}
	return k.length, true, nil
}

func (h holder) Holds(id blob.ID, pair int) bool {
	sh := h.nd.s.p.ShardOf(id, pair)
	return slices.Contains(h.nd.shards, sh) || slices.Contains(h.nd.old, sh)
}

func (h holder) Sliver(id blob.ID, pair int, k blob.SliverKind) (*blob.Sliver, *blob.PairCommitment, error) {
	st := h.nd.pairs[id][pair]
	if st == nil || st.sl[k] == nil || st.pc == nil {
		return nil, nil, recovery.ErrNotStored
	}
	return st.sl[k], st.pc, nil
}

func (h holder) CachedSource(id blob.ID, pair int, k blob.SliverKind) *redstuff.SymbolSource {
	if st := h.nd.pairs[id][pair]; st != nil {
		return st.src[k]
	}
	return nil
}

func (h holder) KeepSource(id blob.ID, pair int, k blob.SliverKind, src *redstuff.SymbolSource) {
	if st := h.nd.pairs[id][pair]; st != nil && st.sl[k] != nil {
		h.nd.s.keepSource(st, k, src)
	}
}

func (h holder) Commitment(id blob.ID, pair int) (*blob.PairCommitment, error) {
	st := h.nd.pairs[id][pair]
	if st == nil || st.pc == nil {
		return nil, recovery.ErrNotStored
	}
	return st.pc, nil
}

func sortedIDs[V any](m map[blob.ID]V) []blob.ID {
	return slices.SortedFunc(maps.Keys(m), func(a, b blob.ID) int { return compareIDs(a, b) })
}

func compareIDs(a, b blob.ID) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

func sortedKeys(m map[pairKey]bool) []pairKey {
	return slices.SortedFunc(maps.Keys(m), func(a, b pairKey) int {
		if c := compareIDs(a.id, b.id); c != 0 {
			return c
		}
		return a.pair - b.pair
	})
}
