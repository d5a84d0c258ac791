package recovery

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/redstuff"
)

// Errors a Result carries.
var (
	// ErrIncomplete: the job ended before every missing sliver of the blob
	// was rebuilt (peers failed, lied or did not hold enough); retry later.
	ErrIncomplete = errors.New("recovery: incomplete")
	// ErrInconsistent: the blob is inconsistently encoded; rebuilding it
	// again will not help.
	ErrInconsistent = redstuff.ErrInconsistent
)

// Peer is a storage node a job may ask for symbols.
type Peer struct {
	Shards []int
	// Self is the node running the job: its calls are served from its own
	// store and cost no network bytes, so its slivers are used first.
	Self bool
	// Avoid marks a peer that failed lately: asked only after the others.
	Avoid bool
	// Banned marks a peer that lied lately: never asked.
	Banned bool
	// Previous lists shards the peer held in the epoch whose committee
	// the current one took over from, and may still serve read-only: it is
	// asked for a pair's commitment when the shard's current owner has
	// none yet (a shard that moved in the same change as the one being
	// rebuilt), before the pair is rebuilt only to check with.
	Previous []int
}

// Want is a blob the node must complete: every pair it holds, with what
// is stored of each.
type Want struct {
	ID     blob.ID
	Length uint64
	Pairs  []WantPair
}

// WantPair is one pair of the node's, with which slivers are stored
// (index by blob.SliverKind) and its commitment, if stored.
type WantPair struct {
	Pair       int
	Have       [2]bool
	Commitment *blob.PairCommitment
}

// Options tune a job. The zero value is ready to use.
type Options struct {
	// Margin is how many sources beyond the k needed are asked from the
	// start, as a fraction of k (rounded down): spare symbols for peers
	// that fail. Default 0.01. Peers that fail anyway are replaced in the
	// next round.
	Margin float64
	// MaxRounds bounds the rounds of one job. Default 8.
	MaxRounds int
	// WholeSources has each source asked for every symbol of its sliver,
	// not only those of the targets: the bandwidth of a classic erasure
	// code's repair, for the simulator's test that its bound catches it.
	WholeSources bool
	// MaxRequestBytes bounds the answer to one call. Default 32 MiB.
	MaxRequestBytes int64
	// MaxRequestSymbols bounds the symbols of one call. Default 100 000.
	MaxRequestSymbols int
	// MaxRequestExtendBytes bounds the slivers one call has its peer
	// extend (Limits.MaxExtendBytes). Default DefaultMaxExtendBytes.
	MaxRequestExtendBytes int64
}

func (o *Options) defaults() {
	if o.Margin == 0 {
		o.Margin = 0.01
	}
	if o.MaxRounds == 0 {
		o.MaxRounds = 8
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = 32 << 20
	}
	if o.MaxRequestSymbols == 0 {
		o.MaxRequestSymbols = 100_000
	}
	if o.MaxRequestExtendBytes == 0 {
		o.MaxRequestExtendBytes = DefaultMaxExtendBytes
	}
}

// Recovered is a rebuilt sliver, verified against the blob ID, with the
// commitment of its pair.
type Recovered struct {
	Pair       int
	Sliver     blob.Sliver
	Commitment *blob.PairCommitment
}

// Result is what a job did for one blob.
type Result struct {
	ID      blob.ID
	Slivers []Recovered
	// Err is nil when every missing sliver was rebuilt; it wraps
	// ErrIncomplete or ErrInconsistent otherwise.
	Err error
	// Proof shows the blob inconsistent to anyone, when Err is
	// ErrInconsistent and the node knew the commitment it failed against;
	// PairsProof does when it did not (it rebuilt whole pairs).
	Proof      *blob.InconsistencyProof
	PairsProof *blob.PairsInconsistencyProof
	// Mismatched: a sliver rebuilt missed its commitment, or a pair the
	// blob ID (a lie, or an inconsistent blob), and the job asked more
	// (spare sources, checks, proofs) to find out which.
	Mismatched bool
	// CheckBytes counts the bytes of the slivers of neighbour pairs
	// rebuilt only to check the blob's own pairs with (their commitments
	// could not be had), not kept: each time one was rebuilt.
	CheckBytes int64
}

// How long a node stops asking a peer caught lying (Peer.Banned), and
// asks last a peer whose calls failed (Peer.Avoid).
const (
	LiarPenalty   = 10 * time.Minute
	FailedPenalty = 30 * time.Second
)

// Call is one request to one peer.
type Call struct {
	Peer int
	Req  *Request
	refs []blobRef
}

type blobRef struct {
	b           *blobState
	commitments []int     // pair of each requested commitment
	items       []*source // source of each item
}

// Job rebuilds the missing slivers of a batch of blobs. It does no I/O: it
// hands out rounds of calls, one request per peer covering every blob of
// the batch (cut into several where an answer would exceed the Options'
// bounds), and takes their answers. It is not safe for concurrent use.
//
// A round asks, for each group of slivers to rebuild (the primary or the
// secondary slivers a blob lacks), k source slivers plus a small margin,
// and from each source the symbols of all the group's targets, without
// proofs. Sources that fail are replaced the next round. A rebuilt sliver
// is checked against its commitment (or, when the node lacks it, its pair
// against the blob ID with a neighbour's commitment); on a mismatch the
// job first looks for the one peer to blame (suspect) and checks its
// symbols with proofs; failing that, the group is asked again with
// proofs, which exposes a lying peer (banned for the rest of the job and
// reported) or proves the blob inconsistent.
type Job struct {
	c      *redstuff.Codec
	p      redstuff.Params
	o      Options
	peers  []Peer
	owner  []int // shard → peer, -1 if none
	prev   []int // shard → peer that held it before, -1 if none or the owner
	blobs  []*blobState
	round  int
	failed map[int]bool   // peers whose calls failed this job; the node itself once its slivers rotted
	liars  map[int]string // peers caught lying, with what they did
	// corrupt lists blobs of which the node's own slivers failed proofs:
	// they rotted on its disk.
	corrupt map[blob.ID]bool
}

type blobState struct {
	id         blob.ID
	length     uint64
	s          int
	pairs      map[int]*pairState // the node's pairs of this blob
	groups     [2]*group          // by target kind
	unknown    map[int]bool       // pairs rebuilt without their commitment
	known      map[int]blob.PairCommitment
	asked      map[int]bool    // commitments asked, by pair
	refused    map[[2]int]bool // {pair, peer}: commitments a peer could not give
	done       bool
	mismatched bool  // see Result.Mismatched
	checkBytes int64 // see Result.CheckBytes
	err        error
	proof      *blob.InconsistencyProof
	pairsProof *blob.PairsInconsistencyProof
	out        []Recovered
}

type pairState struct {
	pair  int
	have  [2]bool
	pc    *blob.PairCommitment
	data  [2][]byte
	roots [2]blob.Hash
	built [2]bool                  // rebuilt, checked or not
	used  [2][]blob.RecoverySymbol // what an unchecked rebuild used
	// what an unchecked rebuild without proofs was offered, and by whom
	offer     [2][]blob.RecoverySymbol
	offeredBy [2][]*source
	stored    bool // handed out as a result
	aux       bool // not the node's: rebuilt only to check a neighbour
}

type group struct {
	target  blob.SliverKind
	k       int
	margin  int
	targets map[int]bool // target sliver indices still to rebuild
	proofs  bool
	tried   map[int]bool // sources asked at this proof level
	prefer  map[int]bool // sources to ask first: those that gave a mismatch
	sources []*source
	// A mismatch without proofs first looks for the one peer whose
	// symbols, left out, let the target rebuild (suspect); widened is set
	// once the group asked spare sources for that, wide once it asked
	// every source there is, to locate several wrong symbols (locate).
	widened bool
	wide    bool
	// checks are the suspects' sources, each asked with proofs for its
	// symbol of the target (at) its peer was blamed for; asked once the
	// calls are out.
	checks []*source
	asked  bool
}

type source struct {
	b       *blobState
	g       *group
	index   int
	peer    int
	proofs  bool
	pending bool
	ok      bool
	syms    map[int]blob.RecoverySymbol // by target index
	// more: the pending ask is for targets added to the group after the
	// source answered (its answer adds to syms); local: the symbols are
	// cut from a sliver this job rebuilt (addLocal), not asked.
	more  bool
	local bool
	// A check's targets, and the symbols the peer sent for them without
	// proofs.
	at   []int
	sent map[int][]byte
}

// NewJob prepares the recovery of wants from peers. A blob listed twice
// is taken once.
func NewJob(c *redstuff.Codec, peers []Peer, wants []Want, o Options) *Job {
	o.defaults()
	p := c.Params()
	j := &Job{c: c, p: p, o: o, peers: peers, owner: make([]int, p.N), prev: make([]int, p.N), failed: map[int]bool{}, liars: map[int]string{}, corrupt: map[blob.ID]bool{}}
	for i := range j.owner {
		j.owner[i], j.prev[i] = -1, -1
	}
	for i, peer := range peers {
		for _, s := range peer.Shards {
			if s >= 0 && s < p.N {
				j.owner[s] = i
			}
		}
	}
	for i, peer := range peers {
		for _, s := range peer.Previous {
			if s >= 0 && s < p.N && j.owner[s] != i {
				j.prev[s] = i
			}
		}
	}
	seen := map[blob.ID]bool{}
	for _, w := range wants {
		if seen[w.ID] {
			continue
		}
		seen[w.ID] = true
		b := &blobState{id: w.ID, length: w.Length, s: p.SymbolSize(w.Length), pairs: map[int]*pairState{},
			unknown: map[int]bool{}, known: map[int]blob.PairCommitment{}, asked: map[int]bool{}, refused: map[[2]int]bool{}}
		for kind := range b.groups {
			k := p.SliverLen(blob.SliverKind(kind))
			b.groups[kind] = &group{target: blob.SliverKind(kind), k: k, margin: int(float64(k) * o.Margin),
				targets: map[int]bool{}, tried: map[int]bool{}}
		}
		for _, wp := range w.Pairs {
			if wp.Pair < 0 || wp.Pair >= p.N {
				continue
			}
			ps := &pairState{pair: wp.Pair, have: wp.Have, pc: wp.Commitment}
			if ps.pc == nil {
				ps.have = [2]bool{} // a sliver without its commitment cannot be served or checked
			}
			b.pairs[wp.Pair] = ps
			if ps.pc != nil {
				b.known[wp.Pair] = *ps.pc
			}
			for kind := range ps.have {
				if !ps.have[kind] {
					b.groups[kind].targets[j.index(blob.SliverKind(kind), wp.Pair)] = true
				}
			}
			if ps.pc == nil {
				b.unknown[wp.Pair] = true
			}
		}
		b.done = len(b.groups[0].targets) == 0 && len(b.groups[1].targets) == 0
		j.blobs = append(j.blobs, b)
	}
	return j
}

// index returns the sliver index of kind k in pair.
func (j *Job) index(k blob.SliverKind, pair int) int {
	if k == blob.Primary {
		return j.p.PrimaryOf(pair)
	}
	return j.p.SecondaryOf(pair)
}

// Round checks what the last round brought, rebuilds what it can and
// returns the calls of the next round; none when the job is over.
func (j *Job) Round() []Call {
	for _, b := range j.blobs {
		if !b.done {
			j.step(b)
		}
	}
	if j.round >= j.o.MaxRounds {
		return nil
	}
	j.round++
	reqs := map[int]*Call{}
	local := false
	for _, b := range j.blobs {
		if !b.done && j.plan(b, reqs) {
			local = true
		}
	}
	var calls []Call
	for peer := range j.peers {
		if c, ok := reqs[peer]; ok {
			calls = append(calls, j.split(c)...)
		}
	}
	if len(calls) == 0 && local {
		// The node's own rebuilt slivers completed a group's sources:
		// rebuild with them before asking anyone.
		j.round--
		return j.Round()
	}
	if len(calls) == 0 {
		// Nothing more can be asked: the rest stays incomplete.
		for _, b := range j.blobs {
			if !b.done && b.err == nil {
				b.err = fmt.Errorf("%w: blob %v: not enough peers answered", ErrIncomplete, b.id)
			}
		}
	}
	return calls
}

// split cuts a call whose answer would exceed the limits into several.
func (j *Job) split(c *Call) []Call {
	var out []Call
	cur := &Call{Peer: c.Peer, Req: &Request{}}
	var bytes, ext int64
	var syms int
	for i := range c.Req.Blobs {
		br, ref := &c.Req.Blobs[i], &c.refs[i]
		cur.Req.Blobs = append(cur.Req.Blobs, BlobRequest{ID: br.ID, SymbolSize: br.SymbolSize, Commitments: br.Commitments})
		cur.refs = append(cur.refs, blobRef{b: ref.b, commitments: ref.commitments})
		bytes += int64(len(br.Commitments)) * commitmentSize(j.p.N)
		for k, it := range br.Items {
			size := itemSize(&it, br.SymbolSize, j.p.N)
			e := itemExtend(&it, br.SymbolSize, j.p)
			if (bytes+size > j.o.MaxRequestBytes || syms+len(it.Positions) > j.o.MaxRequestSymbols || ext+e > j.o.MaxRequestExtendBytes) && bytes > 0 {
				out = append(out, *cur)
				cur = &Call{Peer: c.Peer, Req: &Request{Blobs: []BlobRequest{{ID: br.ID, SymbolSize: br.SymbolSize}}}, refs: []blobRef{{b: ref.b}}}
				bytes, syms, ext = 0, 0, 0
			}
			last := len(cur.Req.Blobs) - 1
			cur.Req.Blobs[last].Items = append(cur.Req.Blobs[last].Items, it)
			cur.refs[last].items = append(cur.refs[last].items, ref.items[k])
			bytes += size
			ext += e
			syms += len(it.Positions)
		}
	}
	return append(out, *cur)
}

// Deliver hands the job the answer to a call, or the error that ended it.
// An error wrapping ErrWire (a complete answer that did not parse) counts
// as a lie.
func (j *Job) Deliver(c Call, resp *Response, err error) {
	if err == nil && len(resp.Blobs) != len(c.Req.Blobs) {
		err = fmt.Errorf("recovery: answer for %d blobs, asked %d", len(resp.Blobs), len(c.Req.Blobs))
	}
	if errors.Is(err, ErrWire) && !j.peers[c.Peer].Self {
		// A complete answer that does not parse: no honest peer sends one.
		j.ban(c.Peer, "sent a malformed answer: "+err.Error())
	}
	if err != nil {
		j.failed[c.Peer] = true
		for _, ref := range c.refs {
			for _, q := range ref.commitments {
				ref.b.refused[[2]int{q, c.Peer}] = true
				delete(ref.b.asked, q)
			}
			for _, src := range ref.items {
				src.pending = false
				src.moreFailed()
			}
		}
		return
	}
	for i, ref := range c.refs {
		b := ref.b
		ans := &resp.Blobs[i]
		for k, q := range ref.commitments {
			a := &ans.Commitments[k]
			delete(b.asked, q)
			if a.Missing != Present {
				b.refused[[2]int{q, c.Peer}] = true
				continue
			}
			if int(a.Commitment.Pair) != q || j.c.VerifyCommitment(b.id, b.length, &a.Commitment) != nil {
				j.ban(c.Peer, fmt.Sprintf("served a false commitment of pair %d of blob %v", q, b.id))
				b.refused[[2]int{q, c.Peer}] = true
				continue
			}
			b.known[q] = a.Commitment
		}
		for k, src := range ref.items {
			src.pending = false
			if j.liars[c.Peer] != "" {
				continue
			}
			a := &ans.Items[k]
			if a.Missing != Present {
				src.moreFailed()
				continue
			}
			it := &c.Req.Blobs[i].Items[k]
			syms := make(map[int]blob.RecoverySymbol, len(it.Positions))
			lied := ""
			for m, pos := range it.Positions {
				sym := blob.RecoverySymbol{Source: it.Source, Data: a.Symbols[m]}
				if it.Source == blob.Secondary {
					sym.Row, sym.Col = pos, it.Index
				} else {
					sym.Row, sym.Col = it.Index, pos
				}
				if it.Proofs {
					sym.Proof = &blob.SymbolProof{Path: a.Paths[m], Pair: a.Pair}
					if err := j.c.VerifySymbol(b.id, b.length, &sym); err != nil {
						lied = fmt.Sprintf("served a false symbol (%d, %d) of blob %v: %v", sym.Row, sym.Col, b.id, err)
						break
					}
					if sent, ok := src.sent[int(pos)]; ok && !bytes.Equal(sent, sym.Data) {
						// The proof shows what the symbol is: the peer
						// sent another without one.
						lied = fmt.Sprintf("served a false symbol (%d, %d) of blob %v without its proof, and the true one with it", sym.Row, sym.Col, b.id)
						break
					}
				}
				syms[int(pos)] = sym
			}
			if lied != "" {
				if j.peers[c.Peer].Self {
					// Our own sliver rotted: stop using our slivers.
					j.corrupt[b.id] = true
					j.failed[c.Peer] = true
					j.drop(c.Peer)
				} else {
					j.ban(c.Peer, lied)
				}
				continue
			}
			if src.more {
				maps.Copy(src.syms, syms)
				src.more = false
				continue
			}
			src.ok, src.syms = true, syms
		}
	}
}

// moreFailed ends a source whose ask for more targets failed: without
// their symbols it cannot serve the group, as if it had failed at first.
func (s *source) moreFailed() {
	if s.more {
		s.more, s.ok, s.syms = false, false, nil
	}
}

// ban stops using a peer that lied, and drops what it sent.
func (j *Job) ban(peer int, why string) {
	if j.liars[peer] == "" {
		j.liars[peer] = why
	}
	j.drop(peer)
}

// drop forgets the sources a peer gave.
func (j *Job) drop(peer int) {
	for _, b := range j.blobs {
		for _, g := range b.groups {
			g.sources = slices.DeleteFunc(g.sources, func(s *source) bool { return s.peer == peer })
		}
	}
}

// Liars returns the peers caught lying in this job, with what they did.
func (j *Job) Liars() map[int]string { return j.liars }

// Failed returns the peers, other than the node itself, whose calls
// failed in this job.
func (j *Job) Failed() []int {
	var out []int
	for p := range j.failed {
		if !j.peers[p].Self {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// CorruptLocal returns the blobs of which the node's own slivers served
// symbols that failed their proofs: they rotted on its disk and should be
// checked and rebuilt.
func (j *Job) CorruptLocal() []blob.ID {
	return slices.SortedFunc(maps.Keys(j.corrupt), func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) })
}

// step rebuilds what the symbols at hand allow.
func (j *Job) step(b *blobState) {
	for _, g := range b.groups {
		if len(g.targets) == 0 {
			continue
		}
		if len(g.checks) > 0 && j.settle(g) {
			continue
		}
		var ok []*source
		pending := false
		for _, s := range g.sources {
			if s.ok && s.proofs == g.proofs {
				ok = append(ok, s)
			}
			pending = pending || s.pending
		}
		if len(ok) < g.k || g.widened && pending {
			// A widened group waits for its spares.
			continue
		}
		var ins []*rebuildIn
		for _, t := range slices.Sorted(maps.Keys(g.targets)) {
			in := &rebuildIn{t: t, ps: b.pairs[j.p.PairOf(g.target, t)]}
			for _, s := range ok {
				if sym, found := s.syms[t]; found {
					in.syms = append(in.syms, sym)
					in.from = append(in.from, s)
				}
			}
			if len(in.syms) >= g.k {
				ins = append(ins, in)
			}
		}
		j.prebuild(b, g, ins)
		for _, in := range ins {
			if !j.rebuild(b, g, in) {
				break
			}
		}
		if b.done {
			return
		}
	}
	if len(b.unknown) > 0 {
		j.checkPairs(b)
	}
	j.collect(b)
}

// rebuildIn is what rebuilding target t takes: syms, each sent by the
// source at the same place in from, and, when prebuild decoded it with
// other targets, the result.
type rebuildIn struct {
	t    int
	ps   *pairState
	syms []blob.RecoverySymbol
	from []*source
	pre  *prebuilt
}

type prebuilt struct {
	data []byte
	root blob.Hash
	used []int
}

// prebuild decodes, in one go, the targets of ins that rebuild without a
// commitment from the same sources' positions: with small symbols a
// decoding costs much the same for ten slivers as for one. A batch that
// fails leaves its targets to rebuild one at a time, which tells whom
// to blame; so the outcome is the same as without it, only cheaper.
func (j *Job) prebuild(b *blobState, g *group, ins []*rebuildIn) {
	batches := map[string][]*rebuildIn{}
	var keys []string
	for _, in := range ins {
		if in.ps.pc != nil {
			continue
		}
		key := positionsKey(in.from, g.k)
		if batches[key] == nil {
			keys = append(keys, key)
		}
		batches[key] = append(batches[key], in)
	}
	for _, key := range keys {
		batch := batches[key]
		if len(batch) < 2 {
			continue
		}
		indices := make([]int, len(batch))
		lists := make([][]blob.RecoverySymbol, len(batch))
		for i, in := range batch {
			indices[i], lists[i] = in.t, in.syms
		}
		data, roots, used, err := j.c.RebuildManyUnchecked(b.id, b.length, g.target, indices, lists)
		if err != nil {
			continue
		}
		for i, in := range batch {
			in.pre = &prebuilt{data: data[i], root: roots[i], used: used[i]}
		}
	}
}

// positionsKey names the set of the first k distinct source positions in
// from, the symbols the codec decodes from.
func positionsKey(from []*source, k int) string {
	seen := map[int]bool{}
	var pos []int
	for _, s := range from {
		if len(pos) == k {
			break
		}
		if !seen[s.index] {
			seen[s.index] = true
			pos = append(pos, s.index)
		}
	}
	slices.Sort(pos)
	return fmt.Sprint(pos)
}

// rebuild rebuilds target in.t of group g from in.syms; it reports false
// when the group changed course (proofs needed, a source dropped) or the
// blob is finished.
func (j *Job) rebuild(b *blobState, g *group, in *rebuildIn) bool {
	var (
		data []byte
		root blob.Hash
		err  error
	)
	var used []int
	ps, t, syms, from := in.ps, in.t, in.syms, in.from
	if ps.pc != nil {
		data, err = j.c.Rebuild(b.id, b.length, g.target, t, ps.pc, syms)
	} else {
		if in.pre != nil {
			data, root, used = in.pre.data, in.pre.root, in.pre.used
		} else {
			data, root, used, err = j.c.RebuildUnchecked(b.id, b.length, g.target, t, syms)
		}
		if err == nil && g.proofs {
			ps.used[g.target] = nil
			for _, i := range used {
				ps.used[g.target] = append(ps.used[g.target], syms[i])
			}
		}
		if err == nil && !g.proofs {
			ps.offer[g.target], ps.offeredBy[g.target] = syms, from
		}
	}
	var bad *redstuff.BadSymbolError
	var inc *redstuff.InconsistencyError
	switch {
	case err == nil:
		if ps.aux {
			b.checkBytes += int64(len(data))
		}
		ps.data[g.target], ps.roots[g.target], ps.built[g.target] = data, root, true
		delete(g.targets, t)
		return true
	case errors.Is(err, redstuff.ErrRootMismatch):
		b.mismatched = true
		if g.proofs || !j.suspect(b, g, ps, t, syms, from) {
			g.toProofs()
		}
		return false
	case errors.As(err, &inc):
		b.done, b.err, b.proof = true, fmt.Errorf("%w: blob %v", ErrInconsistent, b.id), &inc.Proof
		return false
	case errors.As(err, &bad):
		// Not through DecodeResponse, which cuts every symbol to the
		// request's size, after Deliver verified the proven ones: only an
		// answer handed to Deliver by other means gets here. Its sender
		// is to blame (our own sliver, if we sent it).
		src := from[bad.Index]
		if j.peers[src.peer].Self {
			j.corrupt[b.id] = true
			j.failed[src.peer] = true
			j.drop(src.peer)
		} else {
			j.ban(src.peer, bad.Error())
		}
		return false
	default:
		b.done, b.err = true, fmt.Errorf("%w: blob %v: %v", ErrIncomplete, b.id, err)
		return false
	}
}

// suspect looks, after target t of g failed its commitment, for the one
// peer whose symbols are to blame: left out, the rest rebuild t. Such a
// peer's sources are dropped and checked: asked for their symbol of t
// with proofs, which bans the peer if it lied (the group then goes on
// without it) or, if it did not, sends the group to proofs after all
// (more than one liar, or a blob inconsistently encoded). So one liar
// costs one proven symbol per source it gave, not a proven round of the
// group. When no peer's symbols can be left out with k left, suspect
// first has the group ask as many spare sources as a peer gave. It
// reports false when the group must go to proofs now.
func (j *Job) suspect(b *blobState, g *group, ps *pairState, t int, syms []blob.RecoverySymbol, from []*source) bool {
	short := false
	var right []byte
	peer := blame(from, usedPeers(from, g.k), func(peer int) bool {
		rest, _ := without(syms, from, peer)
		if len(rest) < g.k {
			short = true
			return false
		}
		data, err := j.c.Rebuild(b.id, b.length, g.target, t, ps.pc, rest)
		right = data
		return err == nil
	})
	if peer >= 0 {
		g.checks, g.asked = nil, false
		j.checkWrong(b, g, t, right, syms, from, peer)
		return true
	}
	if short && j.widen(b, g, mostPerPeer(from)) {
		return true
	}
	if j.widenAll(b, g) {
		return true
	}
	wrong, root, ok := j.locate(b, g, t, syms, from)
	if !ok || root != ps.pc.Root(g.target) || len(wrong) == 0 {
		return false
	}
	g.checks, g.asked = nil, false
	for _, src := range wrong {
		j.checkSource(b, g, src, t)
	}
	return true
}

// blame returns the first peer of from that explains a mismatch (left
// out, the rest rebuild), or −1. Only the peers in used can: the codec
// rebuilds from the first k distinct symbols it is given, so leaving out
// a peer none of whose symbols it took rebuilds the same wrong sliver.
func blame(from []*source, used map[int]bool, explains func(peer int) bool) int {
	seen := map[int]bool{}
	for _, src := range from {
		if !seen[src.peer] && used[src.peer] {
			seen[src.peer] = true
			if explains(src.peer) {
				return src.peer
			}
		}
	}
	return -1
}

// usedPeers returns the peers that sent one of the first k distinct
// symbols of from: those the codec rebuilds from.
func usedPeers(from []*source, k int) map[int]bool {
	peers := map[int]bool{}
	seen := map[int]bool{}
	for _, src := range from {
		if len(seen) == k {
			break
		}
		if !seen[src.index] {
			seen[src.index] = true
			peers[src.peer] = true
		}
	}
	return peers
}

// mostPerPeer returns the most sources one peer gave of from.
func mostPerPeer(from []*source) int {
	count := map[int]int{}
	most := 0
	for _, src := range from {
		count[src.peer]++
		most = max(most, count[src.peer])
	}
	return most
}

// without returns syms and from less what peer sent.
func without(syms []blob.RecoverySymbol, from []*source, peer int) ([]blob.RecoverySymbol, []*source) {
	return withoutPeers(syms, from, map[int]bool{peer: true})
}

// withoutPeers returns syms and from less what the peers sent.
func withoutPeers(syms []blob.RecoverySymbol, from []*source, peers map[int]bool) ([]blob.RecoverySymbol, []*source) {
	rest := make([]blob.RecoverySymbol, 0, len(syms))
	by := make([]*source, 0, len(from))
	for i, src := range from {
		if !peers[src.peer] {
			rest, by = append(rest, syms[i]), append(by, src)
		}
	}
	return rest, by
}

// check drops a suspect's sources from g and has their symbols of
// target t asked again with proofs.
func (j *Job) check(b *blobState, g *group, peer, t int) {
	for _, src := range g.sources {
		if src.peer == peer && src.ok {
			g.addCheck(src, t)
		}
	}
	g.sources = slices.DeleteFunc(g.sources, func(src *source) bool { return src.peer == peer })
}

// checkWrong checks peer, found to blame for target t of g: the
// symbols it sent for t that differ from the sliver rebuilt without it
// (right) are asked again with proofs, each where it is wrong; if none
// differ (leaving it out changed which symbols were used, not which were
// wrong), all its symbols of t are (check).
func (j *Job) checkWrong(b *blobState, g *group, t int, right []byte, syms []blob.RecoverySymbol, from []*source, peer int) {
	if !j.checkDiffering(b, g, t, right, syms, from, peer) {
		j.check(b, g, peer, t)
	}
}

// checkDiffering has the symbols of target t that peer sent (syms, by
// the sources in from) and that differ from the sliver data asked again
// with proofs, each where it is wrong (checkSource). It reports whether
// there were any.
func (j *Job) checkDiffering(b *blobState, g *group, t int, data []byte, syms []blob.RecoverySymbol, from []*source, peer int) bool {
	wrong, _ := j.disagree(b, g, t, data, syms, from, func(src *source) bool { return src.peer == peer })
	for _, src := range wrong {
		j.checkSource(b, g, src, t)
	}
	return len(wrong) > 0
}

// disagree returns the sources, of those that pick takes, whose symbols
// of target t in syms differ from the sliver data; false if data cannot
// be extended.
func (j *Job) disagree(b *blobState, g *group, t int, data []byte, syms []blob.RecoverySymbol, from []*source, pick func(*source) bool) ([]*source, bool) {
	ss, err := j.c.NewSymbolSource(b.length, &blob.Sliver{Kind: g.target, Index: uint32(t), SymbolSize: uint32(b.s), Data: data}, &blob.PairCommitment{})
	if err != nil {
		return nil, false
	}
	var wrong []*source
	for i, src := range from {
		if !pick(src) {
			continue
		}
		if d, err := ss.Data(src.index); err != nil || !bytes.Equal(d, syms[i].Data) {
			wrong = append(wrong, src)
		}
	}
	return wrong, true
}

// checkSource drops src's peer from g and has src's symbol of target t
// asked again with a proof: it was found wrong (locate). A symbol the
// node cut from a sliver this job rebuilt is only dropped.
func (j *Job) checkSource(b *blobState, g *group, src *source, t int) {
	if !src.local {
		g.addCheck(src, t)
	}
	g.sources = slices.DeleteFunc(g.sources, func(s *source) bool { return s.peer == src.peer })
}

// addCheck has src's symbol of target t asked again with a proof, in
// the check of src's sliver if there is one already.
func (g *group) addCheck(src *source, t int) {
	i := slices.IndexFunc(g.checks, func(c *source) bool { return c.peer == src.peer && c.index == src.index })
	if i < 0 {
		g.checks = append(g.checks, &source{b: src.b, g: g, index: src.index, peer: src.peer, proofs: true, sent: map[int][]byte{}})
		i = len(g.checks) - 1
	}
	c := g.checks[i]
	if slices.Contains(c.at, t) {
		return
	}
	c.at = append(c.at, t)
	slices.Sort(c.at)
	if sym, ok := src.syms[t]; ok {
		c.sent[t] = sym.Data
	}
}

// widen has g ask spare sources, as many as one peer gave, when some
// peer's symbols could not be left out with k left to find the liar: the
// first time, or again after a liar was caught or spares failed. It
// reports false when there are no spares to be had. Each call adds to
// the sources the group keeps asking for, so it ends when candidates
// run out, and a mismatch that no one peer explains with every peer
// tried goes to proofs.
func (j *Job) widen(b *blobState, g *group, most int) bool {
	if len(j.candidates(b, g, 1)) == 0 {
		return false
	}
	g.widened = true
	g.margin += most
	return true
}

// suspectPairs is suspect for pairs rebuilt without their commitments
// that failed the check against the blob ID: it looks for the peers
// whose symbols, left out of the failed pairs' slivers, make them all
// check. The failed pairs are tried together because they are checked
// together: a pair rebuilt right fails too while the neighbour it is
// checked with was rebuilt from a lie. A peer is left out of both kinds
// of sliver, or, when one kind has no symbols to spare, of the other
// kind alone (a liar may have lied in one kind only). Several liars may
// have fed one blob, each a different pair, so they are looked for one
// after another: each time the peer whose symbols, left out with those
// found before, leave the fewest failed pairs. Each is checked in the
// groups it was left out of, at the first target of a pair its symbols
// made wrong. It reports false when the groups must go to proofs now.
func (j *Job) suspectPairs(b *blobState, res map[int]redstuff.PairCheck, roots map[int]redstuff.PairRoots, known []blob.PairCommitment) bool {
	var failed []int
	for _, p := range slices.Sorted(maps.Keys(res)) {
		if res[p] != redstuff.PairMismatch {
			continue
		}
		if ps := b.pairs[p]; ps.offer[0] == nil || ps.offer[1] == nil {
			return false
		}
		failed = append(failed, p)
	}
	if len(failed) == 0 {
		return false
	}
	var found []*pairTrial
	out := [2]map[int]bool{{}, {}} // by kind, the peers found so far
	trial := maps.Clone(roots)
	data := map[[2]int][]byte{} // by pair and kind, the slivers the trial's roots are of
	for _, p := range failed {
		for kind := range b.groups {
			data[[2]int{p, kind}] = b.pairs[p].data[kind]
		}
	}
	remaining := failed
	short := false // some peer could not be left out with k left
	for len(remaining) > 0 {
		// The peers the codec used for what still fails, in the order
		// they gave symbols.
		used := map[int]*[2]map[int]bool{}
		var order []int
		seen := map[int]bool{}
		for _, p := range remaining {
			ps := b.pairs[p]
			used[p] = &[2]map[int]bool{}
			for kind, g := range b.groups {
				_, by := withoutPeers(ps.offer[kind], ps.offeredBy[kind], out[kind])
				used[p][kind] = usedPeers(by, g.k)
				for _, src := range by {
					if !seen[src.peer] && used[p][kind][src.peer] {
						seen[src.peer] = true
						order = append(order, src.peer)
					}
				}
			}
		}
		var best *pairTrial
		try := func(peer int, kinds [2]bool) *pairTrial {
			t := &pairTrial{used: used, out: out, peer: peer, kinds: kinds}
			if !j.leaveOut(b, remaining, failed, trial, known, t) {
				short = short || t.short != [2]bool{}
				return t
			}
			if len(t.left) < len(remaining) && (best == nil || len(t.left) < len(best.left)) {
				best = t
			}
			t.done = len(t.left) == 0
			return t
		}
	peers:
		for _, peer := range order {
			t := try(peer, [2]bool{true, true})
			if t.done {
				break
			}
			// One kind could not do without the peer: leave it out of
			// the other alone.
			for kind := range t.short {
				if !t.short[kind] && t.short[1-kind] {
					var kinds [2]bool
					kinds[kind] = true
					if try(peer, kinds).done {
						break peers
					}
				}
			}
		}
		if best == nil {
			break
		}
		for kind := range best.kinds {
			if best.kinds[kind] {
				out[kind] = maps.Clone(out[kind])
				out[kind][best.peer] = true
			}
		}
		found = append(found, best)
		trial, remaining = best.roots, best.left
		maps.Copy(data, best.data)
	}
	if len(found) > 0 {
		for _, g := range b.groups {
			g.checks, g.asked = nil, false
		}
		for _, t := range found {
			for kind, g := range b.groups {
				if t.kinds[kind] {
					j.checkPairsWrong(b, g, kind, failed, remaining, data, t)
				}
			}
		}
	}
	if len(remaining) == 0 || len(found) > 0 && !short {
		return len(found) > 0
	}
	// Widen the groups too short to leave a peer out. A group with
	// enough sources is not widened, so this ends once no short group
	// can widen.
	widened := false
	for kind, g := range b.groups {
		if !short {
			break
		}
		most, tight := 0, false
		for _, p := range remaining {
			ps := b.pairs[p]
			m := mostPerPeer(ps.offeredBy[kind])
			most, tight = max(most, m), tight || len(ps.offer[kind])-m < g.k
		}
		if tight && j.widen(b, g, most) {
			widened = true
		}
	}
	if widened || len(found) > 0 {
		return true
	}
	return j.locatePairs(b, failed, roots, known)
}

// locatePairs is what is left when no peer left out makes the failed
// pairs check (several wrong symbols in one sliver): both groups ask
// every source there is, then each failed sliver is decoded from
// subsets of its symbols until most of them agree with what it rebuilt
// (locate). If the pairs so rebuilt check against the blob ID, the
// symbols that disagree are the lies, each checked with a proof. It
// reports false when the groups must go to proofs now.
func (j *Job) locatePairs(b *blobState, failed []int, roots map[int]redstuff.PairRoots, known []blob.PairCommitment) bool {
	asked := false
	for _, g := range b.groups {
		if j.widenAll(b, g) {
			asked = true
		}
	}
	if asked {
		return true
	}
	trial := maps.Clone(roots)
	var wrong [2][]*source
	var at [2][]int
	for _, p := range failed {
		ps, rr := b.pairs[p], trial[p]
		for kind, g := range b.groups {
			t := j.index(g.target, p)
			w, root, ok := j.locate(b, g, t, ps.offer[kind], ps.offeredBy[kind])
			if !ok {
				return false
			}
			if g.target == blob.Primary {
				rr.Primary = root
			} else {
				rr.Secondary = root
			}
			for _, src := range w {
				wrong[kind], at[kind] = append(wrong[kind], src), append(at[kind], t)
			}
		}
		trial[p] = rr
	}
	got, _ := j.c.CheckPairs(b.id, b.length, trial, known)
	for _, p := range failed {
		if got[p] != redstuff.PairVerified {
			return false
		}
	}
	if len(wrong[0])+len(wrong[1]) == 0 {
		return false
	}
	for kind, g := range b.groups {
		g.checks, g.asked = nil, false
		for i, src := range wrong[kind] {
			j.checkSource(b, g, src, at[kind][i])
		}
	}
	return true
}

// widenAll has g ask every source there is, once: spares to decode
// around several wrong symbols (locate). Plain symbols are cheap next to
// proven ones: at n = 1000 a 2-byte symbol against some 700 bytes with
// its proof. It reports whether the group asks more.
func (j *Job) widenAll(b *blobState, g *group) bool {
	if g.wide {
		return false
	}
	g.wide = true
	if len(j.candidates(b, g, 1)) == 0 {
		return false
	}
	g.widened = true
	g.margin = j.p.N
	return true
}

// maxLocateTries bounds the decodings locate tries for one sliver.
const maxLocateTries = 256

// locate looks for the sliver that target t of g is, given syms (sent by
// the sources at the same place in from), some of which may be wrong: it
// decodes from the symbols of a random subset of the peers, or of the
// symbols, at a time (the first try in the order given) and takes the
// first sliver that all
// but at most (m − k)/2 of the m symbols agree with; a code of distance
// m − k + 1 has one such sliver at most, so it is the true one if so many
// symbols are right. It returns the sources whose symbols disagree, and
// the sliver's root; false when no try gives such a sliver (then too
// many are wrong for the symbols at hand, or the blob is inconsistent).
func (j *Job) locate(b *blobState, g *group, t int, syms []blob.RecoverySymbol, from []*source) ([]*source, blob.Hash, bool) {
	positions := map[int]bool{}
	var peers []int
	byPeer := map[int][]int{} // places in from, by peer
	for i, src := range from {
		positions[src.index] = true
		if byPeer[src.peer] == nil {
			peers = append(peers, src.peer)
		}
		byPeer[src.peer] = append(byPeer[src.peer], i)
	}
	radius := (len(positions) - g.k) / 2
	if radius < 1 {
		return nil, blob.Hash{}, false
	}
	rng := rand.New(rand.NewPCG(binary.BigEndian.Uint64(b.id[:8]), uint64(t)<<1|uint64(g.target)))
	order := slices.Clone(peers)
	each := make([]int, len(from))
	for i := range each {
		each[i] = i
	}
	for try := 0; try < maxLocateTries; try++ {
		// The symbols of the first peers of a random order that give k
		// positions (a liar's symbols are left out together), or, every
		// other try, the first symbols of a random order (when the peers
		// are too few to leave a liar out).
		take := map[int]bool{} // by place in from
		have := map[int]bool{}
		switch {
		case try == 0:
			for i := range from {
				take[i] = true
			}
		case try%2 == 1:
			rng.Shuffle(len(order), func(x, y int) { order[x], order[y] = order[y], order[x] })
			for _, peer := range order {
				if len(have) >= g.k {
					break
				}
				for _, i := range byPeer[peer] {
					take[i], have[from[i].index] = true, true
				}
			}
		default:
			rng.Shuffle(len(each), func(x, y int) { each[x], each[y] = each[y], each[x] })
			for _, i := range each {
				if len(have) >= g.k {
					break
				}
				take[i], have[from[i].index] = true, true
			}
		}
		var subset []blob.RecoverySymbol
		for i := range from {
			if take[i] {
				subset = append(subset, syms[i])
			}
		}
		data, root, _, err := j.c.RebuildUnchecked(b.id, b.length, g.target, t, subset)
		if err != nil {
			continue
		}
		wrong, ok := j.disagree(b, g, t, data, syms, from, func(*source) bool { return true })
		if !ok {
			return nil, blob.Hash{}, false
		}
		if len(wrong) <= radius {
			return wrong, root, true
		}
	}
	return nil, blob.Hash{}, false
}

// checkPairsWrong checks t.peer, found to blame for the failed pairs, in
// g (of kind): its symbols that differ from the slivers of the pairs that
// now check are asked again with proofs, each where it is wrong; if none
// differ, all its symbols of the first target it changed are.
func (j *Job) checkPairsWrong(b *blobState, g *group, kind int, failed, remaining []int, data map[[2]int][]byte, t *pairTrial) {
	checked := false
	for _, p := range failed {
		d := data[[2]int{p, kind}]
		if d == nil || slices.Contains(remaining, p) {
			continue
		}
		ps := b.pairs[p]
		if j.checkDiffering(b, g, j.index(g.target, p), d, ps.offer[kind], ps.offeredBy[kind], t.peer) {
			checked = true
		}
	}
	if !checked && t.at[kind] >= 0 {
		j.check(b, g, t.peer, t.at[kind])
	}
}

// pairTrial is the symbols one peer sent, of the kinds marked, left out
// of the failed pairs with those of the peers found before (out), and
// what came of it.
type pairTrial struct {
	used  map[int]*[2]map[int]bool // by pair and kind, the peers the codec used without out
	out   [2]map[int]bool
	peer  int
	kinds [2]bool
	roots map[int]redstuff.PairRoots // the trial's roots
	data  map[[2]int][]byte          // by pair and kind, the slivers it rebuilt
	at    [2]int                     // by kind, the first target the peer made wrong, or −1
	left  []int                      // the failed pairs that still fail
	short [2]bool                    // by kind, a sliver had fewer than k symbols left
	done  bool                       // every failed pair checks
}

// leaveOut rebuilds the slivers of t's kinds of the remaining pairs that
// t.peer's symbols fed, without them and out's, and checks every failed
// pair again. It reports false when a sliver could not be rebuilt (too
// few symbols left: t.short, by kind). The peer is blamed for the first
// target of each kind whose root it changed in a pair that now checks;
// if there is none, for the first target of each kind whose root it
// changed.
func (j *Job) leaveOut(b *blobState, remaining, failed []int, trial map[int]redstuff.PairRoots, known []blob.PairCommitment, t *pairTrial) bool {
	t.roots = maps.Clone(trial)
	t.data = map[[2]int][]byte{}
	var changed [2][]int
	ok := true
	for kind, g := range b.groups {
		if !t.kinds[kind] {
			continue
		}
		skip := maps.Clone(t.out[kind])
		skip[t.peer] = true
		for _, p := range remaining {
			if !t.used[p][kind][t.peer] {
				continue // that sliver rebuilds as it did
			}
			ps, rr := b.pairs[p], t.roots[p]
			rest, _ := withoutPeers(ps.offer[kind], ps.offeredBy[kind], skip)
			if len(rest) < g.k {
				t.short[kind], ok = true, false
				break
			}
			data, root, _, err := j.c.RebuildUnchecked(b.id, b.length, g.target, j.index(g.target, p), rest)
			if err != nil {
				return false
			}
			t.data[[2]int{p, kind}] = data
			old := &rr.Secondary
			if g.target == blob.Primary {
				old = &rr.Primary
			}
			if root != *old {
				changed[kind] = append(changed[kind], p)
			}
			*old = root
			t.roots[p] = rr
		}
	}
	if !ok {
		return false
	}
	got, _ := j.c.CheckPairs(b.id, b.length, t.roots, known)
	t.left = nil
	for _, p := range failed {
		if got[p] != redstuff.PairVerified {
			t.left = append(t.left, p)
		}
	}
	t.at = [2]int{-1, -1}
	for kind, g := range b.groups {
		for _, p := range changed[kind] {
			if got[p] == redstuff.PairVerified {
				t.at[kind] = j.index(g.target, p)
				break
			}
		}
	}
	if t.at == [2]int{-1, -1} {
		for kind, g := range b.groups {
			if len(changed[kind]) > 0 {
				t.at[kind] = j.index(g.target, changed[kind][0])
			}
		}
	}
	return true
}

// settle ends a group's checks once all are answered: the suspects that
// lied are banned and the group goes on without the suspects (one whose
// call failed is not asked again in this job: the group does without
// its symbols, and what it rebuilds is checked all the same), or, if one
// of them proved the symbol it sent, the group goes to proofs. It
// reports whether the group is still waiting.
func (j *Job) settle(g *group) bool {
	if !g.asked || slices.ContainsFunc(g.checks, func(c *source) bool { return c.pending }) {
		return true
	}
	honest := slices.ContainsFunc(g.checks, func(c *source) bool { return c.ok && j.liars[c.peer] == "" })
	g.checks = nil
	if honest {
		g.toProofs()
	}
	return false
}

// toProofs drops the group's sources: the next round asks for proven
// symbols, first from the sources that gave the mismatch, so that a liar
// among them is caught.
func (g *group) toProofs() {
	if !g.proofs {
		g.prefer = map[int]bool{}
		for _, s := range g.sources {
			if s.ok {
				g.prefer[s.index] = true
			}
		}
	}
	g.proofs = true
	g.sources = nil
	g.tried = map[int]bool{}
	g.checks = nil
}

// checkPairs checks the pairs rebuilt without commitments against the
// blob ID, with the commitments fetched from peers.
func (j *Job) checkPairs(b *blobState) {
	roots := map[int]redstuff.PairRoots{}
	for p := range b.unknown {
		ps := b.pairs[p]
		if ps.built[blob.Primary] && ps.built[blob.Secondary] {
			roots[p] = redstuff.PairRoots{Primary: ps.roots[blob.Primary], Secondary: ps.roots[blob.Secondary]}
		}
	}
	if len(roots) == 0 {
		return
	}
	known := make([]blob.PairCommitment, 0, len(b.known))
	for _, q := range slices.Sorted(maps.Keys(b.known)) {
		known = append(known, b.known[q])
	}
	res, pcs := j.c.CheckPairs(b.id, b.length, roots, known)
	mismatch := false
	for p, v := range res {
		switch v {
		case redstuff.PairVerified:
			ps := b.pairs[p]
			ps.pc = pcs[p]
			ps.offer, ps.offeredBy = [2][]blob.RecoverySymbol{}, [2][]*source{}
			b.known[p] = *pcs[p]
			delete(b.unknown, p)
		case redstuff.PairMismatch:
			mismatch = true
		}
	}
	if !mismatch {
		return
	}
	b.mismatched = true
	proven := b.groups[0].proofs && b.groups[1].proofs
	if proven {
		b.done = true
		b.err = fmt.Errorf("%w: blob %v: proven symbols rebuild pairs that do not lead to the blob ID", ErrInconsistent, b.id)
		proof := &blob.PairsInconsistencyProof{}
		for _, p := range slices.Sorted(maps.Keys(roots)) {
			proof.Pairs = append(proof.Pairs, uint32(p))
			ps := b.pairs[p]
			proof.Symbols = append(append(proof.Symbols, ps.used[blob.Primary]...), ps.used[blob.Secondary]...)
		}
		proof.Known = known
		b.pairsProof = proof
		return
	}
	// Unproven symbols: some peer may have lied. Rebuild every pair still
	// unchecked, without the peers to blame if there are some, else from
	// proven symbols.
	suspected := j.suspectPairs(b, res, roots, known)
	for p := range b.unknown {
		ps := b.pairs[p]
		ps.built = [2]bool{}
		ps.data = [2][]byte{}
		ps.offer, ps.offeredBy = [2][]blob.RecoverySymbol{}, [2][]*source{}
		for kind := range b.groups {
			b.groups[kind].targets[j.index(blob.SliverKind(kind), p)] = true
		}
	}
	// The symbols cut from those slivers (addLocal) may be as wrong as
	// they were: the slivers serve again once rebuilt.
	for _, g := range b.groups {
		g.sources = slices.DeleteFunc(g.sources, func(s *source) bool {
			if s.local && b.unknown[j.p.PairOf(g.target.Other(), s.index)] {
				delete(g.tried, s.index)
				return true
			}
			return false
		})
	}
	if !suspected {
		for _, g := range b.groups {
			g.toProofs()
		}
	}
}

// collect moves verified slivers to the blob's results and ends it when
// nothing is left.
func (j *Job) collect(b *blobState) {
	for _, p := range slices.Sorted(maps.Keys(b.pairs)) {
		ps := b.pairs[p]
		if ps.stored || ps.pc == nil || b.unknown[p] {
			continue
		}
		if ps.aux {
			ps.stored, ps.data = true, [2][]byte{}
			continue
		}
		for kind := range ps.built {
			if ps.built[kind] {
				k := blob.SliverKind(kind)
				b.out = append(b.out, Recovered{Pair: p, Commitment: ps.pc,
					Sliver: blob.Sliver{Kind: k, Index: uint32(j.index(k, p)), SymbolSize: uint32(b.s), Data: ps.data[kind]}})
				ps.built[kind], ps.have[kind], ps.data[kind] = false, true, nil
			}
		}
		if ps.have[0] && ps.have[1] {
			ps.stored = true
		}
	}
	if len(b.groups[0].targets) == 0 && len(b.groups[1].targets) == 0 && len(b.unknown) == 0 {
		b.done = true
	}
}

// plan adds the blob's asks of this round to reqs. It reports whether it
// added sources from slivers the job rebuilt (addLocal).
func (j *Job) plan(b *blobState, reqs map[int]*Call) (local bool) {
	add := func(peer int) (*BlobRequest, *blobRef) {
		c := reqs[peer]
		if c == nil {
			c = &Call{Peer: peer, Req: &Request{}}
			reqs[peer] = c
		}
		if n := len(c.Req.Blobs); n > 0 && c.Req.Blobs[n-1].ID == b.id {
			return &c.Req.Blobs[n-1], &c.refs[n-1]
		}
		c.Req.Blobs = append(c.Req.Blobs, BlobRequest{ID: b.id, SymbolSize: b.s})
		c.refs = append(c.refs, blobRef{b: b})
		return &c.Req.Blobs[len(c.Req.Blobs)-1], &c.refs[len(c.refs)-1]
	}
	// Commitments that let the pairs rebuilt without theirs be checked.
	for _, p := range slices.Sorted(maps.Keys(b.unknown)) {
		cands := j.c.CommitmentCandidates(p, b.unknown)
		if len(cands) == 0 || slices.ContainsFunc(cands, func(q int) bool { _, ok := b.known[q]; return ok || b.asked[q] }) {
			continue
		}
		asked := false
	ask:
		for _, q := range cands {
			shard := j.p.ShardOf(b.id, q)
			// The shard's owner, then the one that held it before.
			for _, peer := range []int{j.owner[shard], j.prev[shard]} {
				if peer < 0 || b.refused[[2]int{q, peer}] || j.peers[peer].Banned || j.liars[peer] != "" || j.failed[peer] || j.peers[peer].Self {
					continue
				}
				b.asked[q] = true
				br, ref := add(peer)
				br.Commitments = append(br.Commitments, uint32(q))
				ref.commitments = append(ref.commitments, q)
				asked = true
				break ask
			}
		}
		if !asked {
			// No commitment to be had next to p: rebuild the nearest
			// neighbour too (not to keep, only to check p with), and
			// look one subtree further.
			q := cands[0]
			b.pairs[q] = &pairState{pair: q, aux: true}
			b.unknown[q] = true
			for kind, g := range b.groups {
				g.targets[j.index(blob.SliverKind(kind), q)] = true
			}
		}
	}
	for _, g := range b.groups {
		if len(g.targets) == 0 {
			continue
		}
		if len(g.checks) > 0 {
			if !g.asked {
				g.asked = true
				for _, c := range g.checks {
					c.pending = true
					br, ref := add(c.peer)
					positions := make([]uint32, len(c.at))
					for i, t := range c.at {
						positions[i] = uint32(t)
					}
					br.Items = append(br.Items, Item{Source: g.target.Other(), Index: uint32(c.index), Proofs: true, Positions: positions})
					ref.items = append(ref.items, c)
				}
			}
			continue
		}
		for _, s := range g.sources {
			if !s.ok || s.pending || s.proofs != g.proofs {
				continue
			}
			more := j.missing(g, s)
			if len(more) == 0 {
				continue
			}
			// Targets added since the source answered (a neighbour pair
			// rebuilt only to check): ask it for those alone, keeping
			// what it gave.
			if s.local {
				if !j.cutLocal(b, g, s, more) {
					s.ok, s.syms = false, nil
				}
				continue
			}
			if j.liars[s.peer] != "" || j.failed[s.peer] || j.peers[s.peer].Banned {
				s.ok, s.syms = false, nil
				continue
			}
			s.pending, s.more = true, true
			br, ref := add(s.peer)
			br.Items = append(br.Items, Item{Source: g.target.Other(), Index: uint32(s.index), Proofs: s.proofs, Positions: more})
			ref.items = append(ref.items, s)
		}
		active := 0
		for _, s := range g.sources {
			if s.pending || s.ok {
				active++
			}
		}
		want := g.k + g.margin
		if active >= want {
			continue
		}
		positions := make([]uint32, 0, len(g.targets))
		for _, t := range slices.Sorted(maps.Keys(g.targets)) {
			positions = append(positions, uint32(t))
		}
		if j.o.WholeSources {
			positions = positions[:0]
			for t := range j.p.N {
				positions = append(positions, uint32(t))
			}
		}
		cands := j.candidates(b, g, want-active)
		if active+len(cands) < g.k {
			added := j.addLocal(b, g)
			local = local || added > 0
			active += added
			if active+len(cands) < g.k && !j.localLater(b, g) {
				if b.err == nil {
					b.err = fmt.Errorf("%w: blob %v: %d %s sources to be had, %d needed", ErrIncomplete, b.id, active+len(cands), g.target.Other(), g.k)
				}
				continue
			}
			// Ask what there is; the node's own slivers that the other
			// group is rebuilding will complete the set.
		}
		for _, idx := range cands {
			peer := j.owner[j.p.ShardOf(b.id, j.p.PairOf(g.target.Other(), idx))]
			g.tried[idx] = true
			s := &source{b: b, g: g, index: idx, peer: peer, proofs: g.proofs, pending: true}
			g.sources = append(g.sources, s)
			br, ref := add(peer)
			br.Items = append(br.Items, Item{Source: g.target.Other(), Index: uint32(idx), Proofs: g.proofs, Positions: positions})
			ref.items = append(ref.items, s)
		}
	}
	return local
}

// addLocal adds to g, as sources that answered, the node's own slivers of
// the other kind that this job rebuilt: the two-step repair of a pair
// lost whole. With f shards' worth of peers unable to help, a lost
// primary sliver has only 2f peer sources of the 2f + 1 it needs; the
// pair's secondary sliver, rebuilt first from f + 1 primary symbols, is
// the last one. Without proofs any rebuilt sliver serves (a sliver
// rebuilt without its commitment is checked with its pair afterwards);
// with proofs only one checked against its commitment, whose symbols
// then carry proofs. It returns how many it added.
func (j *Job) addLocal(b *blobState, g *group) int {
	self := slices.IndexFunc(j.peers, func(p Peer) bool { return p.Self })
	if self < 0 || j.corrupt[b.id] {
		return 0
	}
	other := g.target.Other()
	added := 0
	for _, q := range slices.Sorted(maps.Keys(b.pairs)) {
		idx := j.index(other, q)
		if g.tried[idx] {
			continue
		}
		sl, pc := j.localSliver(b, g, idx)
		if sl == nil {
			continue
		}
		s := &source{b: b, g: g, index: idx, peer: self, proofs: g.proofs, ok: true, local: true, syms: map[int]blob.RecoverySymbol{}}
		if !cutSymbols(j.c, b, s, sl, pc, slices.Collect(maps.Keys(g.targets))) {
			continue
		}
		g.tried[idx] = true
		g.sources = append(g.sources, s)
		added++
	}
	return added
}

// localSliver returns the node's own sliver of the kind other than g's
// with the given index that this job rebuilt, and its pair's commitment
// (an empty one when not known), or nil if it has none (or none that a
// group with proofs can use).
func (j *Job) localSliver(b *blobState, g *group, idx int) (*blob.Sliver, *blob.PairCommitment) {
	other := g.target.Other()
	q := j.p.PairOf(other, idx)
	ps := b.pairs[q]
	if ps == nil || ps.aux {
		return nil, nil
	}
	data := ps.data[other]
	if !ps.built[other] {
		data = nil
		for _, r := range b.out {
			if r.Pair == q && r.Sliver.Kind == other {
				data = r.Sliver.Data
			}
		}
	}
	checked := ps.pc != nil && !b.unknown[q]
	if data == nil || g.proofs && !checked {
		return nil, nil
	}
	pc := ps.pc
	if pc == nil {
		pc = &blob.PairCommitment{Pair: uint32(q)}
	}
	return &blob.Sliver{Kind: other, Index: uint32(idx), SymbolSize: uint32(b.s), Data: data}, pc
}

// cutLocal adds to a source from addLocal its symbols at targets.
func (j *Job) cutLocal(b *blobState, g *group, s *source, targets []uint32) bool {
	sl, pc := j.localSliver(b, g, s.index)
	if sl == nil {
		return false
	}
	ts := make([]int, len(targets))
	for i, t := range targets {
		ts[i] = int(t)
	}
	return cutSymbols(j.c, b, s, sl, pc, ts)
}

// cutSymbols adds to s the symbols of sliver sl at targets, with proofs
// if s takes them; it reports false if any cannot be cut.
func cutSymbols(c *redstuff.Codec, b *blobState, s *source, sl *blob.Sliver, pc *blob.PairCommitment, targets []int) bool {
	ss, err := c.NewSymbolSource(b.length, sl, pc)
	if err != nil {
		return false
	}
	for _, t := range targets {
		sym, err := ss.Symbol(t, s.proofs)
		if err != nil {
			return false
		}
		s.syms[t] = sym
	}
	return true
}

// missing returns the targets of g that source s has no symbol for.
func (j *Job) missing(g *group, s *source) []uint32 {
	var out []uint32
	for _, t := range slices.Sorted(maps.Keys(g.targets)) {
		if _, ok := s.syms[t]; !ok {
			out = append(out, uint32(t))
		}
	}
	return out
}

// localLater reports whether the other group is still rebuilding one of
// the node's own slivers that addLocal could then add to g.
func (j *Job) localLater(b *blobState, g *group) bool {
	other := g.target.Other()
	og := b.groups[other]
	for q, ps := range b.pairs {
		idx := j.index(other, q)
		if !ps.aux && !g.tried[idx] && og.targets[idx] && !g.proofs {
			return true
		}
	}
	return false
}

// candidates picks up to want untried sources for a group: the node's own
// slivers first, then the sources a mismatch is to be explained by, then
// peers in good standing, then those that failed lately. Within a class
// it takes every source a peer holds before the next peer's, peers in an
// order of their own for each blob: a blob is asked of as few peers as
// the group allows (each peer asked costs a blob header), and its load
// is spread over peers across blobs.
func (j *Job) candidates(b *blobState, g *group, want int) []int {
	src := g.target.Other()
	type cand struct{ idx, class, rank int }
	var cs []cand
	seed := binary.BigEndian.Uint64(b.id[8:16]) ^ uint64(g.target)
	for idx := 0; idx < j.p.N; idx++ {
		if g.tried[idx] {
			continue
		}
		pair := j.p.PairOf(src, idx)
		peer := j.owner[j.p.ShardOf(b.id, pair)]
		if peer < 0 || j.liars[peer] != "" || j.failed[peer] || j.peers[peer].Banned {
			continue
		}
		class := 2
		switch {
		case j.peers[peer].Self:
			// Not one this job rebuilt: it is not stored yet, and
			// addLocal cuts its symbols.
			ps := b.pairs[pair]
			if ps == nil || !ps.have[src] || slices.ContainsFunc(b.out, func(r Recovered) bool { return r.Pair == pair && r.Sliver.Kind == src }) {
				continue
			}
			class = 0
		case g.prefer[idx]:
			class = 1
		case j.peers[peer].Avoid:
			class = 3
		}
		cs = append(cs, cand{idx, class, int(mix(seed ^ uint64(peer)))})
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.class != b.class {
			return a.class - b.class
		}
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return a.idx - b.idx
	})
	out := make([]int, 0, want)
	for i := 0; i < len(cs) && len(out) < want; i++ {
		out = append(out, cs[i].idx)
	}
	slices.Sort(out) // a peer's sources in order: small index deltas on the wire
	return out
}

// mix is a 64-bit finaliser (SplitMix64), for a per-blob spread of sources.
func mix(x uint64) uint32 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return uint32(x ^ (x >> 31))
}

// Results returns what the job did for each blob, in the order given
// (duplicates dropped). Call it once Round returned no calls.
func (j *Job) Results() []Result {
	out := make([]Result, 0, len(j.blobs))
	for _, b := range j.blobs {
		if !b.done {
			j.step(b)
		}
		r := Result{ID: b.id, Slivers: b.out, Err: b.err, Proof: b.proof, PairsProof: b.pairsProof, Mismatched: b.mismatched, CheckBytes: b.checkBytes}
		if !b.done && r.Err == nil {
			r.Err = fmt.Errorf("%w: blob %v: %d rounds were not enough", ErrIncomplete, b.id, j.o.MaxRounds)
		}
		out = append(out, r)
	}
	return out
}
