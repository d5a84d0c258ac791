package sim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/download"
	storage "github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/internal/recovery"
	"github.com/weftnet/weft/internal/store"
	"github.com/weftnet/weft/internal/upload"
)

// pairState is what a node holds of one pair of a blob: its in-memory
// view of its store, which it writes through to and reads back after a
// crash.
type pairState struct {
	sl [2]*blob.Sliver
	pc *blob.PairCommitment
}

// write is a sliver write not yet made (BugAckBeforeSync).
type write struct {
	id   blob.ID
	pair int
	sl   *blob.Sliver
	pc   *blob.PairCommitment
}

func (ps *pairState) complete() bool { return ps != nil && ps.sl[0] != nil && ps.sl[1] != nil }

// known is a blob a node learnt of from the machine's events.
type known struct {
	length    uint64
	certified bool
}

type pairKey struct {
	id   blob.ID
	pair int
}

// sliverKey is one sliver of a pair.
type sliverKey struct {
	id   blob.ID
	pair int
	kind blob.SliverKind
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

	cursor uint64
	epoch  uint64
	known  map[blob.ID]*known
	pairs  map[blob.ID]map[int]*pairState

	// The node's disk: internal/store (Pebble) on a crashable in-memory
	// disk. A crash keeps what was synced; a wipe starts an empty one.
	disk    *store.MemDisk
	st      *store.Store
	pending []write // sliver writes the ack-before-sync bug has not made yet

	// Churn: shards the storage node gave up in an epoch change and still
	// serves, read-only, until the change is done and their new owners
	// attested (Node.ReadOnlyShards); the shards it gained in the epoch it
	// syncs (syncEpoch), and whether its EpochSyncDone is in a block.
	old       []int
	held      map[int]bool // shards it owned and may hold pairs of, until it drops them
	gained    []int
	syncEpoch uint64
	attested  bool
	leaving   bool
	syncAt    time.Duration // when the next shard sync step is due (-1: none)

	// What the simulator, not the node, remembers: the pairs the node
	// acknowledged, and those of them an injected fault took.
	acked map[pairKey]bool
	lost  map[pairKey]bool
	// rotted: slivers bit rot corrupted on the node's disk, with the
	// number of scrub passes it had run then (scrubs); its scrub must find
	// and drop them, and its recovery rebuild them. Peers that were
	// served rotten symbols take the node for a liar for
	// recovery.LiarPenalty: it counts as degraded until rotUntil.
	rotted    map[sliverKey]int
	scrubs    int
	rotUntil  time.Duration
	rotWindow bool // it held rotted slivers when the last window opened
	// removed: the node deleted slivers since the last check.
	removed bool
	gone    bool // left the committee, gave everything up and shut down

	kind         kind
	cutUntil     time.Duration // cut off by a partition until then
	faulted      bool          // a fault hit it, last at lastFault
	lastFault    time.Duration
	core         *storage.Node // the storage node over the node's store (node.Embed), opened on first use
	handler      http.Handler  // core's HTTP API
	recoveryAt   time.Duration // when the next recovery tick is due (-1: none)
	answered     uint64        // the last challenge window the node submitted an answer to
	unanswered   string        // why it could not answer a challenge
	owed         bool          // it answered, or lacked an acknowledged pair
	invalidating map[blob.ID]bool
	// symbols counts, by blob, the symbol bytes the recovery batches
	// running now fetched without proofs (countSymbols); nil between.
	symbols map[blob.ID]int64
}

func newNode(s *Sim, i int, key ed25519.PrivateKey) *node {
	nd := &node{s: s, i: i, name: fmt.Sprintf("node%d", i), key: key, pub: control.KeyOf(key), up: true, epoch: 1, recoveryAt: -1, syncAt: -1,
		known: map[blob.ID]*known{}, pairs: map[blob.ID]map[int]*pairState{}, acked: map[pairKey]bool{}, lost: map[pairKey]bool{}, rotted: map[sliverKey]int{}, held: map[int]bool{},
		invalidating: map[blob.ID]bool{}}
	nd.open(store.NewMemDisk())
	return nd
}

// storeOptions keep a simulated node's Pebble small: a hundred of them
// share the process.
var storeOptions = store.Options{Reserve: 1 << 20, MemTableSize: 256 << 10, CacheSize: 1 << 20}

// open opens the node's store on disk.
func (nd *node) open(disk *store.MemDisk) {
	st, err := disk.Open(storeOptions)
	if err == nil {
		nd.disk, nd.st = disk, st
		nd.core, nd.handler = nil, nil
		return
	}
	nd.s.fail(fmt.Errorf("%s: %w", nd.name, err))
}

// storeErr fails the run on a store error: the simulated disk never fails.
func (nd *node) storeErr(err error) bool {
	if err != nil {
		nd.s.fail(fmt.Errorf("%s: store: %w", nd.name, err))
		return true
	}
	return false
}

// follow applies the machine's events since the node's cursor.
//
// Each event goes to the storage node itself (Node.Apply): it records a
// blob, queues a certified one it lacks pairs of for recovery, and
// deletes a blob that is gone; it blacks out a challenge window's
// sampled blobs and answers the window; it plans an epoch change, and
// drops the shards it gave up once the change is done; then it moves its
// cursor. The simulator keeps its view of the node in step.
func (nd *node) follow() {
	s := nd.s
	if _, err := nd.api(); err != nil {
		s.fail(err)
		return
	}
	s.events(nd.cursor, func(ev control.Event) bool {
		nd.apply(ev)
		if s.err != nil {
			return false
		}
		if err := nd.core.Apply(context.Background(), ev); err != nil {
			s.fail(fmt.Errorf("%s: %w", nd.name, err))
			return false
		}
		if ev.Type == control.EventChallengeOpened {
			nd.challengeOpened(ev.Window)
		}
		nd.cursor = ev.Seq
		return true
	})
	if s.err != nil || nd.core == nil {
		return
	}
	nd.followShards()
	nd.wakeRecovery()
	nd.wakeSync(syncStepDelay)
}

// apply applies one event to the simulator's view of the node.
func (nd *node) apply(ev control.Event) {
	s := nd.s
	nd.epoch = max(nd.epoch, ev.Epoch)
	if ev.BlobID == nil {
		return
	}
	id := *ev.BlobID
	switch ev.Type {
	case control.EventBlobRegistered, control.EventBlobCertified:
		info, err := s.m.Blob(id)
		if err != nil {
			s.fail(err)
			return
		}
		if nd.known[id] == nil {
			nd.known[id] = &known{length: info.Length}
		}
		if ev.Type == control.EventBlobCertified {
			nd.known[id].certified = true
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
	if !nd.up || len(nd.lost) > 0 || len(nd.rotted) > 0 || nd.rotUntil > nd.s.now || nd.kind != honest || nd.cutUntil > nd.s.now {
		return true
	}
	if nd.syncEpoch == nd.s.epoch && !nd.attested && len(nd.gained) > 0 {
		return true
	}
	for _, b := range nd.s.w.blobs {
		// The victim of an inconsistent blob counts from the moment the
		// writer picks it, before the upload begins.
		if b.uploading && !b.invalid && nd.missing(b.id) || b.bad && !b.invalid && nd.s.owner[b.victimShard] == nd.i {
			return true
		}
	}
	return false
}

func (nd *node) put(id blob.ID, pair int, sl *blob.Sliver, pc *blob.PairCommitment) {
	st := nd.remember(id, pair, sl, pc)
	if st == nil {
		return
	}
	if nd.s.cfg.Bug == BugAckBeforeSync {
		nd.pending = append(nd.pending, write{id, pair, sl, st.pc})
		return
	}
	nd.write(id, pair, sl, st.pc)
}

// remember adds a sliver to the node's view of its store, returning its
// pair's state, or nil if the view held it already.
func (nd *node) remember(id blob.ID, pair int, sl *blob.Sliver, pc *blob.PairCommitment) *pairState {
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
	if st.sl[sl.Kind] != nil {
		return nil
	}
	st.sl[sl.Kind] = sl
	if st.pc == nil {
		st.pc = pc
	}
	nd.s.dirty[id] = true
	if st.complete() {
		delete(nd.lost, pairKey{id, pair})
	}
	return st
}

// unwritten reports whether a sliver of a pair waits to be written.
func (nd *node) unwritten(id blob.ID, pair int) bool {
	return slices.ContainsFunc(nd.pending, func(w write) bool { return w.id == id && w.pair == pair })
}

// write stores a sliver; the store syncs it before it returns.
func (nd *node) write(id blob.ID, pair int, sl *blob.Sliver, pc *blob.PairCommitment) {
	if pc == nil {
		nd.s.fail(fmt.Errorf("%s: a sliver of pair %d of %s without its commitment", nd.name, pair, short(id)))
		return
	}
	nd.storeErr(nd.st.PutSliver(id, uint32(pair), sl, pc))
}

// serveClient answers one request of the writer or a reader through the
// storage node's own HTTP API (Handler, called in the event loop): a PUT
// of a sliver message, which the node checks (the shard is its own, the
// blob live, the sizes right, the sliver matches its commitment) and
// stores; a GET of the confirmation, which the node signs only once every
// pair of its shards is stored; a GET of which slivers it holds; a GET of
// a primary sliver. It returns the answer's status, body and Retry-After;
// a node that is down answers nothing (0).
func (nd *node) serveClient(c *writerCall) (int, []byte, time.Duration) {
	s := nd.s
	if !nd.up {
		return 0, nil, 0
	}
	if s.cfg.Bug == BugAckBeforeSync && (c.sl != nil || c.confirm) {
		code, msg := nd.serveAckBeforeSync(c)
		return code, msg, 0
	}
	api, err := nd.api()
	if err != nil {
		s.fail(err)
		return 0, nil, 0
	}
	code, body, h := callHeader(api, c.method, c.path, c.body)
	switch {
	case c.sl != nil && code == http.StatusCreated:
		nd.remember(c.id, c.pair, c.sl, c.pc)
	case c.confirm && code == http.StatusOK:
		nd.confirmed(c.id)
	}
	return code, body, download.RetryAfter(code, h)
}

// confirmed notes that the node confirmed a blob: its pairs of it are
// acknowledged. A dropper then deletes them.
func (nd *node) confirmed(id blob.ID) {
	s := nd.s
	if nd.known[id] == nil {
		info, err := s.m.Blob(id)
		if err != nil {
			s.fail(err)
			return
		}
		nd.known[id] = &known{length: info.Length, certified: info.Certified}
	}
	for _, pair := range nd.myPairs(id) {
		nd.acked[pairKey{id, pair}] = true
	}
	if nd.kind == dropper {
		nd.dropBlob(id)
	}
}

// call sends one request to a node's API within the event loop and
// returns the status and body of its answer.
func call(api http.Handler, method, path string, body []byte) (int, []byte) {
	code, msg, _ := callHeader(api, method, path, body)
	return code, msg
}

// callHeader is call that also returns the answer's header.
func callHeader(api http.Handler, method, path string, body []byte) (int, []byte, http.Header) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes(), rec.Header()
}

// node returns the storage node over the node's store (node.Embed),
// opening it once per store.
func (nd *node) node() (*storage.Node, error) {
	if _, err := nd.api(); err != nil {
		return nil, err
	}
	return nd.core, nil
}

// api returns the storage node over the node's store (node.Embed) and
// its HTTP API, opening it once per store.
func (nd *node) api() (http.Handler, error) {
	if nd.handler == nil {
		e := storage.Embedding{Clock: func() time.Time { return t0.Add(nd.s.now) }, Extend: nd.s.extend, VerifySliver: nd.s.verifySliver, Post: nd.post}
		switch bug := nd.s.cfg.Bug; {
		case bug == BugCorruptAnswer && nd.i == 0:
			e.Bug = bug
		case bug == BugAttestUnsynced, bug == BugNeverAttest, bug == BugBlindScrub, bug == BugClassicRepair:
			e.Bug = bug
		}
		core, err := storage.Embed(context.Background(), &storage.Config{Name: nd.name, SymbolCacheBytes: symbolCacheBytes}, nd.key, nd.st, machineControl{nd.s}, nd.s.codec, e, quiet)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", nd.name, err)
		}
		nd.core, nd.handler = core, core.Handler()
	}
	return nd.handler, nil
}

// serveAckBeforeSync answers the writer as a node with the injected
// ack-before-sync bug: it checks each sliver and answers at once, writes
// them only at its next sync tick, and confirms as soon as it has seen
// every sliver of its pairs.
func (nd *node) serveAckBeforeSync(c *writerCall) (int, []byte) {
	s := nd.s
	k := nd.known[c.id]
	switch {
	case k == nil:
		return http.StatusNotFound, nil
	case c.sl != nil:
		if s.owner[s.p.ShardOf(c.id, c.pair)] != nd.i {
			return http.StatusMisdirectedRequest, nil
		}
		if err := s.verifySliver(c.id, k.length, c.sl, c.pc); err != nil {
			return http.StatusBadRequest, []byte(err.Error())
		}
		nd.put(c.id, c.pair, c.sl, c.pc)
		return http.StatusCreated, nil
	case c.confirm:
		if nd.missing(c.id) {
			return http.StatusConflict, nil
		}
		for _, pair := range nd.myPairs(c.id) {
			nd.acked[pairKey{c.id, pair}] = true
		}
		sig := ed25519.Sign(nd.key, control.ConfirmationMessage(networkID, nd.epoch, c.id))
		raw, err := json.Marshal(upload.Confirmation{BlobID: c.id, Epoch: nd.epoch, Node: nd.pub, Signature: sig})
		if err != nil {
			s.fail(err)
		}
		return http.StatusOK, raw
	}
	return http.StatusNotFound, nil
}

// dropBlob deletes the node's slivers of a blob, keeping its record.
func (nd *node) dropBlob(id blob.ID) {
	var pairs []uint32
	for _, pair := range slices.Sorted(maps.Keys(nd.pairs[id])) {
		pairs = append(pairs, uint32(pair))
	}
	delete(nd.pairs, id)
	nd.storeErr(nd.st.DeletePairs(id, pairs))
}

// syncTick makes the writes the ack-before-sync bug held back.
func (nd *node) syncTick() {
	gen := nd.gen
	if !nd.up {
		return
	}
	w := nd.pending
	nd.pending = nil
	for _, x := range w {
		nd.write(x.id, x.pair, x.sl, x.pc)
	}
	nd.s.after(syncInterval, func() {
		if nd.gen == gen {
			nd.syncTick()
		}
	})
}

// crash takes the node down: its disk keeps what was synced
// (MemFS.CrashClone), and the node's view is read back from its store,
// as a restarted storage node finds it.
func (nd *node) crash() {
	nd.up = false
	nd.faulted, nd.lastFault = true, nd.s.now
	nd.gen++
	nd.pending = nil
	disk := nd.disk.Crash()
	nd.storeErr(nd.st.Close())
	nd.open(disk)
	nd.reload()
}

// wipe takes the node down and loses its whole disk.
func (nd *node) wipe() {
	nd.crash()
	for k := range nd.acked {
		nd.lost[k] = true
	}
	clear(nd.rotted)
	nd.storeErr(nd.st.Close())
	nd.open(store.NewMemDisk())
	nd.reload()
}

// reload reads the node's blobs, slivers and event cursor back from its
// store; what its view held that the store lost counts as removed.
func (nd *node) reload() {
	s := nd.s
	blobs := map[blob.ID]*known{}
	err := nd.st.Blobs(func(b *store.Blob) (bool, error) {
		blobs[b.ID] = &known{length: b.Length, certified: b.Certified}
		return true, nil
	})
	if nd.storeErr(err) {
		return
	}
	pairs := map[blob.ID]map[int]*pairState{}
	shards := slices.Concat(nd.shards, nd.old)
	for _, id := range sortedIDs(blobs) {
		for _, sh := range shards {
			pair := s.p.PairAt(id, sh)
			for kind := range 2 {
				sl, pc, err := nd.st.Sliver(id, uint32(pair), blob.SliverKind(kind))
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if nd.storeErr(err) {
					return
				}
				if pairs[id] == nil {
					pairs[id] = map[int]*pairState{}
				}
				st := pairs[id][pair]
				if st == nil {
					st = &pairState{pc: pc}
					pairs[id][pair] = st
				}
				st.sl[kind] = sl
			}
		}
	}
	for _, id := range sortedIDs(nd.pairs) {
		for pair, st := range nd.pairs[id] {
			for kind := range 2 {
				if st.sl[kind] != nil && (pairs[id][pair] == nil || pairs[id][pair].sl[kind] == nil) {
					s.dirty[id] = true
					nd.removed = true
				}
			}
		}
	}
	cursor, err := nd.st.Cursor()
	if nd.storeErr(err) {
		return
	}
	nd.known, nd.pairs, nd.cursor = blobs, pairs, cursor
	if cursor == 0 {
		nd.epoch = 1
	}
}

// restart brings the node back: it catches up with the events and heals.
func (nd *node) restart() {
	if nd.gone {
		return
	}
	nd.up = true
	nd.recoveryAt, nd.syncAt = -1, -1
	nd.follow()
	if nd.gone {
		return // it left and dropped the last of what it served
	}
	nd.resumeInvalidations()
	nd.s.after(syncInterval, nd.syncTick)
}

var errDown = errors.New("sim: peer down")

// symbolCacheBytes bounds each storage node's cache of the slivers it
// extended to serve symbols (node.Config.SymbolCacheBytes): enough for
// the few hundred slivers a node holds at n = 1000 with the simulator's
// small blobs, a fraction of the 64 MiB a real node keeps.
const symbolCacheBytes = 8 << 20

// transport sends a recovery round's calls over the simulated network.
func (nd *node) transport() storage.Transport {
	return func(calls []recovery.Call, members []control.Member, _ []bool) []storage.Answer {
		answers := make([]storage.Answer, len(calls))
		for i, c := range calls {
			answers[i].Resp, answers[i].Err = nd.ask(members[c.Peer].Key, c.Req)
		}
		return answers
	}
}

// absorb brings what a recovery batch stored into the simulator's view
// of the node and counts it; a proof of inconsistency has the blob
// invalidated. It reports whether some blob failed (to try again).
func (nd *node) absorb(out *storage.Batch) {
	s := nd.s
	s.epochStat.LiesCaught += len(out.Liars)
	mismatched := map[blob.ID]bool{}
	for _, r := range out.Results {
		mismatched[r.ID] = r.Mismatched
		if !r.Mismatched {
			s.epochStat.RepairSymbolBytes += nd.symbols[r.ID]
			s.epochStat.CheckBytes += r.CheckBytes
		}
		delete(nd.symbols, r.ID)
	}
	for _, it := range out.Stored {
		nd.remember(it.ID, int(it.Pair), it.Sliver, it.Commitment)
		s.epochStat.RecoveredSlivers++
		s.epochStat.LostBytes += int64(len(it.Sliver.Data))
		if !mismatched[it.ID] {
			s.epochStat.LostCleanBytes += int64(len(it.Sliver.Data))
		}
	}
	for _, r := range out.Results {
		if r.Proof != nil || r.PairsProof != nil {
			nd.proved(r)
		}
	}
}

// wakeRecovery arranges for the node's recovery queue to run when its
// next batch is due.
func (nd *node) wakeRecovery() {
	s := nd.s
	if !nd.up || nd.kind == dropper || nd.core == nil {
		return
	}
	at, ok := nd.core.RecoveryWake()
	if !ok {
		return
	}
	when := max(at.Sub(t0), s.now)
	if nd.recoveryAt >= 0 && nd.recoveryAt <= when {
		return // a tick comes sooner
	}
	nd.recoveryAt = when
	gen := nd.gen
	s.after(when-s.now, func() {
		if nd.gen == gen && nd.recoveryAt == when {
			nd.recoveryAt = -1
			nd.recover()
		}
	})
}

// recover runs the recovery batches the storage node's queue has due now
// (Node.RecoverDue), over the simulated network.
func (nd *node) recover() {
	s := nd.s
	if !nd.up || nd.kind == dropper {
		return
	}
	pending, running := nd.core.RecoveryCounts()
	s.epochStat.QueuePeak = max(s.epochStat.QueuePeak, pending+running)
	nd.symbols = map[blob.ID]int64{}
	for _, b := range nd.core.RecoverDue(context.Background(), nd.transport()) {
		nd.absorb(b)
	}
	for _, n := range nd.symbols {
		s.epochStat.RepairSymbolBytes += n // blobs no batch reported
	}
	nd.symbols = nil
	nd.followRot()
	nd.wakeRecovery()
}

// ask sends one symbols request to a peer over the simulated network;
// the peer's storage node answers it from its store as it answers POST
// /v1/symbols (Node.ServeSymbols; a call to itself, Node.ServeOwnSymbols),
// and a liar corrupts the answer.
func (nd *node) ask(key control.PublicKey, req *recovery.Request) (*recovery.Response, error) {
	s := nd.s
	i, ok := s.byKey[key]
	if !ok {
		return nil, fmt.Errorf("sim: no node %s", key.Short())
	}
	peer := s.nodes[i]
	if !peer.up || peer.gone {
		return nil, errDown
	}
	if peer != nd {
		if err := s.call(nd.i, peer.i); err != nil {
			return nil, err
		}
	}
	core, err := peer.node()
	if err != nil {
		return nil, err
	}
	var raw, head, body []byte
	if peer == nd {
		head, body, err = core.ServeOwnSymbols(req)
	} else if raw, err = req.MarshalBinary(); err == nil {
		head, body, err = core.ServeSymbols(raw)
	}
	if err != nil {
		return nil, err
	}
	if peer.kind == liar {
		body = s.lie(body)
	}
	resp, err := recovery.DecodeResponse(req, append(head, body...))
	if peer != nd {
		s.epochStat.RecoveryBytes += int64(len(raw) + len(head) + len(body))
		if err == nil {
			nd.countSymbols(req, resp)
		}
	}
	return resp, err
}

// countSymbols adds the bytes of the symbols an answer carries without
// proofs to their blobs' counts (node.symbols), which the batches the
// calls were for sort out (absorb).
func (nd *node) countSymbols(req *recovery.Request, resp *recovery.Response) {
	if nd.symbols == nil {
		return
	}
	for i := range resp.Blobs {
		for k := range resp.Blobs[i].Items {
			it := &req.Blobs[i].Items[k]
			if resp.Blobs[i].Items[k].Missing == recovery.Present && !it.Proofs {
				nd.symbols[req.Blobs[i].ID] += int64(len(it.Positions) * req.Blobs[i].SymbolSize)
			}
		}
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

// rot flips a byte of one sliver the node stores, on its disk and in
// its view: bit rot. It reports whether the node had a sliver to rot.
func (nd *node) rot() bool {
	s := nd.s
	var cands []sliverKey
	for _, id := range sortedIDs(nd.pairs) {
		for _, pair := range slices.Sorted(maps.Keys(nd.pairs[id])) {
			st := nd.pairs[id][pair]
			for kind := range 2 {
				k := sliverKey{id, pair, blob.SliverKind(kind)}
				if st.sl[kind] != nil && len(st.sl[kind].Data) > 0 && st.pc != nil && !nd.isRotted(k) {
					cands = append(cands, k)
				}
			}
		}
	}
	if len(cands) == 0 {
		return false
	}
	k := cands[s.rng.IntN(len(cands))]
	st := nd.pairs[k.id][k.pair]
	bad := *st.sl[k.kind]
	bad.Data = s.lie(bad.Data)
	if nd.storeErr(nd.st.PutSliver(k.id, uint32(k.pair), &bad, st.pc)) {
		return false
	}
	st.sl[k.kind] = &bad
	nd.rotted[k] = nd.scrubs
	nd.rotUntil = s.now + recovery.LiarPenalty
	if pk := (pairKey{k.id, k.pair}); nd.acked[pk] {
		nd.lost[pk] = true // a fault took it: only rebuilding brings it back
	}
	nd.faulted, nd.lastFault = true, s.now
	s.dirty[k.id] = true
	return true
}

func (nd *node) isRotted(k sliverKey) bool {
	_, ok := nd.rotted[k]
	return ok
}

// followRot brings into the node's view the rotted slivers its own code
// dropped (its scrub, or a recovery that found its own slivers failing
// their proofs), for its recovery to rebuild, and those written again.
func (nd *node) followRot() {
	s := nd.s
	for _, k := range sortedSlivers(nd.rotted) {
		st := nd.pairs[k.id][k.pair]
		if st == nil || st.sl[k.kind] == nil {
			delete(nd.rotted, k) // its blob is gone
			continue
		}
		sl, _, err := nd.st.Sliver(k.id, uint32(k.pair), k.kind)
		switch {
		case errors.Is(err, store.ErrNotFound):
			st.sl[k.kind] = nil
			delete(nd.rotted, k)
			nd.removed, s.dirty[k.id] = true, true
		case nd.storeErr(err):
			return
		case !bytes.Equal(sl.Data, st.sl[k.kind].Data):
			// Written again since (an upload or a sync of the same pair).
			st.sl[k.kind] = sl
			delete(nd.rotted, k)
			if st.complete() {
				delete(nd.lost, pairKey{k.id, k.pair})
			}
			s.dirty[k.id] = true
		}
	}
}

// checkRot: a node's scrub finds bit rot on the shards it owns within
// two passes (the first may find the shard still syncing).
func (nd *node) checkRot() {
	s := nd.s
	for _, k := range sortedSlivers(nd.rotted) {
		if nd.scrubs-nd.rotted[k] >= 2 && slices.Contains(nd.shards, s.p.ShardOf(k.id, k.pair)) {
			s.violation(fmt.Sprintf("rot %d %s %d %d", nd.i, k.id, k.pair, k.kind), "%s still holds the %s sliver of pair %d of %s that rotted, after %d scrub passes",
				nd.name, k.kind, k.pair, short(k.id), nd.scrubs-nd.rotted[k])
		}
	}
}

// scrubTick runs the storage node's scrub (Node.Scrub, one pass) once an
// epoch.
func (nd *node) scrubTick() {
	s := nd.s
	if nd.gone {
		return
	}
	s.after(s.cfg.EpochDuration, nd.scrubTick)
	if !nd.up || nd.kind == dropper || nd.core == nil {
		return
	}
	bad, err := nd.core.Scrub(context.Background())
	if err != nil {
		s.fail(fmt.Errorf("%s: scrub: %w", nd.name, err))
		return
	}
	s.epochStat.ScrubFound += bad
	nd.scrubs++
	nd.followRot()
	nd.checkRot()
	nd.wakeRecovery()
}

func sortedSlivers[V any](m map[sliverKey]V) []sliverKey {
	return slices.SortedFunc(maps.Keys(m), func(a, b sliverKey) int {
		if c := compareIDs(a.id, b.id); c != 0 {
			return c
		}
		if a.pair != b.pair {
			return a.pair - b.pair
		}
		return int(a.kind) - int(b.kind)
	})
}
