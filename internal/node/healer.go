// The node's self-healing logic without its transport, clock and
// goroutines: what a recovery batch wants (from the store), whom it asks
// (the committees, minus peers that failed or lied lately), the job, and
// what it stores. The storage node runs it over HTTP from its recovery
// loop; the simulator (internal/sim) runs the same code on simulated time
// and a simulated network.

package node

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/recovery"
	"github.com/weftnet/weft/internal/store"
	"github.com/weftnet/weft/redstuff"
)

// Healer rebuilds a node's missing slivers, a batch of blobs at a time.
// Its methods may be called concurrently.
type Healer struct {
	store *store.Store
	codec *redstuff.Codec
	// MaxSymbols bounds the symbols of one request (0: the job's default).
	MaxSymbols int
	// WholeSources: see recovery.Options (BugClassicRepair).
	WholeSources bool

	mu     sync.Mutex
	health map[control.PublicKey]*peerHealth
	// gc orders stored slivers against blob deletion (Node.gc); nil when
	// the caller has no concurrent deletion.
	gc *sync.RWMutex
	// logf reports trouble the batch works around (nil: none).
	logf func(format string, args ...any)
}

// NewHealer returns a Healer over a node's store.
func NewHealer(st *store.Store, codec *redstuff.Codec) *Healer {
	return &Healer{store: st, codec: codec, health: map[control.PublicKey]*peerHealth{}}
}

// HealView is what a batch needs of the node's state: its epoch and
// shards, the committee, and the committee the epoch's shards moved from
// (nil if none), whose members may still serve what they gave up.
type HealView struct {
	Self      control.PublicKey
	Epoch     uint64
	Shards    []int // sorted
	Committee *control.Committee
	Previous  *control.Committee
}

func (v *HealView) owns(shard int) bool {
	_, ok := slices.BinarySearch(v.Shards, shard)
	return ok
}

// Transport sends one round of a job's calls and returns their answers,
// in order, or nil if it gives up (the node is shutting down).
// members[c.Peer] is whom call c goes to; self[c.Peer] is true for the
// node itself.
type Transport func(calls []recovery.Call, members []control.Member, self []bool) []Answer

// Answer is a peer's answer to one call.
type Answer struct {
	Resp *recovery.Response
	Err  error
}

// Missing returns the node's pairs of a blob on the given shards with
// what is stored of each, and the bytes of slivers it lacks. What cannot
// be read counts as missing: rebuilding it rewrites it.
func (h *Healer) Missing(shards []int, id blob.ID, length uint64) ([]recovery.WantPair, int64) {
	p := h.codec.Params()
	s := int64(p.SymbolSize(length))
	var pairs []recovery.WantPair
	var lack int64
	for _, shard := range shards {
		wp := recovery.WantPair{Pair: p.PairAt(id, shard)}
		pc, err := h.store.Commitment(id, uint32(wp.Pair))
		switch {
		case err == nil:
			wp.Commitment = pc
		case !errors.Is(err, store.ErrNotFound) && h.logf != nil:
			h.logf("node: blob %v pair %d: %v; rebuilding the pair", id, wp.Pair, err)
		}
		for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
			if wp.Commitment != nil {
				wp.Have[k], _ = h.store.HasSliver(id, uint32(wp.Pair), k)
			}
			if !wp.Have[k] {
				lack += s * int64(p.SliverLen(k))
			}
		}
		pairs = append(pairs, wp)
	}
	return pairs, lack
}

// Peers returns the committee as a job sees it at now, and the members'
// records by peer index.
func (h *Healer) Peers(now time.Time, v *HealView) ([]recovery.Peer, []control.Member) {
	if v.Committee == nil {
		return nil, nil
	}
	members := slices.Clone(v.Committee.Members)
	previous := map[control.PublicKey][]int{}
	if v.Previous != nil {
		for _, m := range v.Previous.Members {
			previous[m.Key] = m.Shards
			if !slices.ContainsFunc(members, func(c control.Member) bool { return c.Key == m.Key }) {
				members = append(members, control.Member{NodeRecord: m.NodeRecord})
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	peers := make([]recovery.Peer, len(members))
	for i, m := range members {
		peers[i] = recovery.Peer{Shards: m.Shards, Previous: previous[m.Key], Self: m.Key == v.Self}
		if ph := h.health[m.Key]; ph != nil {
			peers[i].Avoid = now.Before(ph.failedUntil)
			peers[i].Banned = now.Before(ph.bannedUntil)
		}
	}
	return peers, members
}

// Batch is what one batch did: an outcome per blob for the scheduler,
// the job's results as stored, and the peers it caught lying.
type Batch struct {
	Outcomes []recovery.Outcome
	Results  []recovery.Result
	// Stored lists the slivers stored, Liars the peers caught lying (by
	// member), and Corrupt the blobs whose own slivers failed proofs.
	Stored  []Rebuilt
	Liars   map[control.PublicKey]string
	Failed  []control.PublicKey
	Corrupt []blob.ID
}

// Rebuilt is a sliver a batch rebuilt and stored.
type Rebuilt struct {
	ID blob.ID
	store.StoredSliver
}

// Run recovers one batch on the clock now: the missing slivers of each
// certified, live blob of the node's shards are rebuilt from its peers
// through send, and stored; peers that failed are asked last for
// FailedPenalty, liars not at all for LiarPenalty. If send gives up (nil
// answers), the batch ends with nothing stored and ok false.
func (h *Healer) Run(now func() time.Time, v *HealView, batch []recovery.Entry, send Transport) (*Batch, bool) {
	out := &Batch{Outcomes: make([]recovery.Outcome, 0, len(batch))}
	var wants []recovery.Want
	for _, e := range batch {
		b, err := h.store.Blob(e.ID)
		switch {
		case errors.Is(err, store.ErrNotFound) || (err == nil && (v.Epoch >= b.EndEpoch || !b.Certified)):
			// Gone, or not certified yet: its certification queues it again.
			out.Outcomes = append(out.Outcomes, recovery.Outcome{ID: e.ID, Final: true})
			continue
		case err != nil:
			out.Outcomes = append(out.Outcomes, recovery.Outcome{ID: e.ID, Err: err})
			continue
		}
		pairs, lack := h.Missing(v.Shards, e.ID, b.Length)
		if lack == 0 {
			out.Outcomes = append(out.Outcomes, recovery.Outcome{ID: e.ID})
			continue
		}
		wants = append(wants, recovery.Want{ID: e.ID, Length: b.Length, Pairs: pairs})
	}
	if len(wants) == 0 {
		return out, true
	}
	peers, members := h.Peers(now(), v)
	self := make([]bool, len(peers))
	for i, p := range peers {
		self[i] = p.Self
	}
	job := recovery.NewJob(h.codec, peers, wants, recovery.Options{MaxRequestSymbols: h.MaxSymbols, WholeSources: h.WholeSources})
	for calls := job.Round(); len(calls) > 0; calls = job.Round() {
		answers := send(calls, members, self)
		if answers == nil {
			return out, false
		}
		for i, c := range calls {
			job.Deliver(c, answers[i].Resp, answers[i].Err)
		}
	}
	h.note(now(), job, members, v.Self, out)
	for _, r := range job.Results() {
		o, stored := h.store1(v, r)
		out.Outcomes = append(out.Outcomes, o)
		for _, it := range stored {
			out.Stored = append(out.Stored, Rebuilt{ID: r.ID, StoredSliver: it})
		}
		out.Results = append(out.Results, r)
	}
	out.Corrupt = job.CorruptLocal()
	return out, true
}

// note remembers the peers that failed or lied in a job.
func (h *Healer) note(now time.Time, job *recovery.Job, members []control.Member, self control.PublicKey, out *Batch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	health := func(k control.PublicKey) *peerHealth {
		ph := h.health[k]
		if ph == nil {
			ph = &peerHealth{}
			h.health[k] = ph
		}
		return ph
	}
	for _, p := range job.Failed() {
		health(members[p].Key).failedUntil = now.Add(failedPenalty)
		out.Failed = append(out.Failed, members[p].Key)
	}
	for p, why := range job.Liars() {
		if members[p].Key == self {
			continue
		}
		health(members[p].Key).bannedUntil = now.Add(liarPenalty)
		if out.Liars == nil {
			out.Liars = map[control.PublicKey]string{}
		}
		out.Liars[members[p].Key] = why
	}
}

// store1 stores what a job rebuilt for one blob, if the blob is still
// live and the pairs still the node's.
func (h *Healer) store1(v *HealView, r recovery.Result) (recovery.Outcome, []store.StoredSliver) {
	out := recovery.Outcome{ID: r.ID, Err: r.Err, Final: errors.Is(r.Err, recovery.ErrInconsistent)}
	if len(r.Slivers) == 0 {
		return out, nil
	}
	var items []store.StoredSliver
	for i := range r.Slivers {
		s := &r.Slivers[i]
		if v.owns(h.codec.Params().ShardOf(r.ID, s.Pair)) {
			items = append(items, store.StoredSliver{Pair: uint32(s.Pair), Sliver: &s.Sliver, Commitment: s.Commitment})
		}
	}
	if h.gc != nil {
		h.gc.RLock()
		defer h.gc.RUnlock()
	}
	b, err := h.store.Blob(r.ID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return recovery.Outcome{ID: r.ID, Final: true}, nil
		}
		return recovery.Outcome{ID: r.ID, Err: err}, nil
	}
	if v.Epoch >= b.EndEpoch {
		return recovery.Outcome{ID: r.ID, Final: true}, nil
	}
	if err := h.store.PutSlivers(r.ID, items); err != nil {
		if h.logf != nil {
			h.logf("node: storing recovered slivers of blob %v: %v", r.ID, err)
		}
		return recovery.Outcome{ID: r.ID, Err: err}, nil
	}
	return out, items
}
