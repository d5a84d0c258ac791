package control

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/merkle"
	"github.com/weftnet/weft/redstuff"
)

// Storage challenges (DESIGN.md §11). Every ChallengeInterval of block
// time the machine opens a window: a seed from the last committed app
// hash, a uniform sample of live certified blobs, and per (shard, blob)
// a few symbol indices. Each member of the committee answers once, with
// the pair commitment and the challenged symbols of both slivers of each
// of its shards' pairs, proven against the blob IDs; the machine checks
// every byte. At the deadline a member that did not answer fails; a
// member failing EvictAfter windows in a row loses its weight.

// Challenge defaults, used when the genesis leaves a value at 0.
const (
	DefaultChallengeBlobs   = 4
	DefaultChallengeSymbols = 2
	DefaultEvictAfter       = 3
	// MaxAnswerBytes bounds the binary answer of one member in one
	// window; sampling skips a blob that would take the largest member's
	// answer above it (see ChallengeParams).
	MaxAnswerBytes = 2 << 20
	// maxChallengeTxSize bounds a ChallengeAnswer transaction: the answer
	// as base64 in JSON, and a little more.
	maxChallengeTxSize = MaxAnswerBytes*4/3 + 4<<10
)

// ChallengeParams are the effective challenge parameters (defaults
// filled in).
type ChallengeParams struct {
	Interval   time.Duration // 0: challenges are off
	Deadline   time.Duration // answers are accepted while block time < opened + Deadline
	Blobs      int           // blobs sampled per window
	Symbols    int           // symbol indices per (shard, sampled blob)
	EvictAfter int           // consecutive failed windows that cost a node its weight
}

// Challenge returns the effective challenge parameters.
func (p *Params) Challenge() ChallengeParams {
	c := ChallengeParams{Interval: p.ChallengeInterval, Deadline: p.ChallengeDeadline, Blobs: p.ChallengeBlobs,
		Symbols: p.ChallengeSymbols, EvictAfter: p.EvictAfter}
	if c.Deadline == 0 {
		c.Deadline = c.Interval / 2
	}
	if c.Blobs == 0 {
		c.Blobs = DefaultChallengeBlobs
	}
	if c.Symbols == 0 {
		c.Symbols = DefaultChallengeSymbols
	}
	if c.EvictAfter == 0 {
		c.EvictAfter = DefaultEvictAfter
	}
	return c
}

func (p *Params) validateChallenge() error {
	switch {
	case p.ChallengeInterval < 0 || p.ChallengeDeadline < 0:
		return errors.New("control: negative challenge interval or deadline")
	case p.ChallengeDeadline > p.ChallengeInterval:
		return errors.New("control: the challenge deadline must not exceed the interval (one window open at a time)")
	case p.ChallengeBlobs < 0 || p.ChallengeBlobs > 64:
		return errors.New("control: challengeBlobs must be 0..64")
	case p.ChallengeSymbols < 0 || p.ChallengeSymbols > 16:
		return errors.New("control: challengeSymbols must be 0..16")
	case p.EvictAfter < 0 || p.EvictAfter > 1000:
		return errors.New("control: evictAfter must be 0..1000")
	}
	return nil
}

// ChallengeResult is a member's outcome in a window.
type ChallengeResult string

// Challenge results.
const (
	ChallengePending ChallengeResult = "pending"
	ChallengePassed  ChallengeResult = "passed"
	ChallengeFailed  ChallengeResult = "failed"
	// ChallengeVoid: no answer at all landed in the window — the control
	// plane, not the nodes, failed to make blocks in time — so the window
	// counts for no one.
	ChallengeVoid ChallengeResult = "void"
)

// ChallengedBlob is a blob sampled in a window.
type ChallengedBlob struct {
	ID       blob.ID           `json:"blobId"`
	Length   uint64            `json:"length"`
	Encoding blob.EncodingType `json:"encoding"`
}

// ChallengedNode is a committee member in a window: the shards it
// answers for and its result.
type ChallengedNode struct {
	Key    PublicKey       `json:"key"`
	Name   string          `json:"name"`
	Shards []int           `json:"shards"`
	Result ChallengeResult `json:"result"`
	// AnswerBytes is the size of the answer it had to give.
	AnswerBytes int `json:"answerBytes"`
}

// Window is a challenge window.
type Window struct {
	Window   uint64           `json:"window"`
	Epoch    uint64           `json:"epoch"`
	Height   int64            `json:"height"`   // the block that opened it
	OpenedAt int64            `json:"openedAt"` // block time, Unix ns
	Deadline int64            `json:"deadline"` // answers only in blocks before this time, Unix ns
	Seed     []byte           `json:"seed"`
	Symbols  int              `json:"symbols"` // indices per (shard, blob)
	Blobs    []ChallengedBlob `json:"blobs"`
	Nodes    []ChallengedNode `json:"nodes"`
	Closed   bool             `json:"closed"`
	Void     bool             `json:"void,omitempty"` // no answer landed: no one failed
}

// Member returns the window's entry for key, or nil.
func (w *Window) Member(key PublicKey) *ChallengedNode {
	for i := range w.Nodes {
		if w.Nodes[i].Key == key {
			return &w.Nodes[i]
		}
	}
	return nil
}

// ChallengeScore is a node's challenge record.
//
// Score is an exponentially weighted pass rate in parts per million
// (integers keep replicas bit-identical): score ← (9·score + 10⁶·pass)/10,
// starting at 10⁶. Streak counts consecutive failed windows.
type ChallengeScore struct {
	Score      int64  `json:"score"`
	Streak     int    `json:"streak"`
	Passed     uint64 `json:"passed"`
	Failed     uint64 `json:"failed"`
	LastWindow uint64 `json:"lastWindow"`
	Evicted    uint64 `json:"evictedWindow,omitempty"` // the window that evicted it, if any
}

// ScoreOne is a score of 1.0.
const ScoreOne = 1_000_000

// NextScore applies one window's outcome to a score.
func NextScore(s ChallengeScore, w uint64, passed bool) ChallengeScore {
	pass := int64(0)
	if passed {
		pass = ScoreOne
		s.Passed++
		s.Streak = 0
	} else {
		s.Failed++
		s.Streak++
	}
	s.Score = (9*s.Score + pass) / 10
	s.LastWindow = w
	return s
}

// ChallengeAnswer is a member's answer to a window: the binary answer
// (EncodeAnswer) for every shard it holds in the window and every
// sampled blob.
type ChallengeAnswer struct {
	Window uint64 `json:"window"`
	Answer []byte `json:"answer"`
}

// challengeState is the machine's bookkeeping: the next window's number
// and time, and the window open now (0: none).
type challengeState struct {
	Next   uint64 `json:"next"`
	NextAt int64  `json:"nextAt"`
	Open   uint64 `json:"open"`
}

var (
	keyChallenge  = []byte("m/challenge")
	keySampleSize = []byte("k/count")
)

func keyWindow(w uint64) []byte { return binary.BigEndian.AppendUint64([]byte("k/w/"), w) }
func keyAnswered(w uint64, k PublicKey) []byte {
	return append(binary.BigEndian.AppendUint64([]byte("k/a/"), w), k[:]...)
}
func keyScore(k PublicKey) []byte { return append([]byte("k/s/"), k[:]...) }

// The sample index: every live certified blob at a dense position, so a
// uniform draw is one read. k/i/ pos → ID ‖ certified at (Unix ns);
// k/p/ ID → pos. Removal moves the last entry into the hole.
func keySampleAt(pos uint64) []byte  { return binary.BigEndian.AppendUint64([]byte("k/i/"), pos) }
func keySamplePos(id blob.ID) []byte { return append([]byte("k/p/"), id[:]...) }

func (m *Machine) sampleAdd(id blob.ID) {
	if m.get(keySamplePos(id)) != nil {
		return
	}
	count := m.getU64(keySampleSize)
	m.set(keySampleAt(count), binary.BigEndian.AppendUint64(bytes.Clone(id[:]), uint64(m.time.UnixNano())))
	m.set(keySamplePos(id), binary.BigEndian.AppendUint64(nil, count))
	m.set(keySampleSize, binary.BigEndian.AppendUint64(nil, count+1))
}

func (m *Machine) sampleRemove(id blob.ID) {
	raw := m.get(keySamplePos(id))
	if len(raw) != 8 {
		return
	}
	pos := binary.BigEndian.Uint64(raw)
	last := m.getU64(keySampleSize) - 1
	if pos != last {
		moved := bytes.Clone(m.get(keySampleAt(last)))
		m.set(keySampleAt(pos), moved)
		m.set(keySamplePos(blob.ID(moved[:32])), binary.BigEndian.AppendUint64(nil, pos))
	}
	m.del(keySampleAt(last))
	m.del(keySamplePos(id))
	m.set(keySampleSize, binary.BigEndian.AppendUint64(nil, last))
}

// unlive takes a blob out of the live set (and the challenge sample).
func (m *Machine) unlive(id blob.ID) {
	m.del(keyLive(id))
	m.sampleRemove(id)
}

func (m *Machine) challengeState() challengeState {
	var s challengeState
	if !m.getJSON(keyChallenge, &s) {
		s = challengeState{Next: 1, NextAt: m.time.UnixNano() + int64(m.params.ChallengeInterval)}
	}
	return s
}

// endChallenges runs at the end of every block: it closes the open
// window once its deadline has passed, then opens the next one when it
// is due.
func (m *Machine) endChallenges() {
	cp := m.params.Challenge()
	if cp.Interval <= 0 {
		return
	}
	s := m.challengeState()
	now := m.time.UnixNano()
	if s.Open != 0 {
		var w Window
		if m.getJSON(keyWindow(s.Open), &w) && now >= w.Deadline {
			m.closeWindow(&w, cp)
			s.Open = 0
		}
	}
	if s.Open == 0 && now >= s.NextAt {
		m.openWindow(s.Next, cp)
		s.Open, s.Next, s.NextAt = s.Next, s.Next+1, now+int64(cp.Interval)
	}
	m.setJSON(keyChallenge, s)
}

// WindowSeed is H(domain ‖ network ‖ window ‖ height ‖ the last committed
// app hash): every replica knows it, nobody knows it before the previous
// block is committed.
func WindowSeed(networkID string, w uint64, height int64, lastAppHash []byte) []byte {
	h := sha256.New()
	h.Write([]byte("weft/challenge/v1\x00"))
	h.Write([]byte(networkID))
	h.Write([]byte{0})
	h.Write(binary.BigEndian.AppendUint64(nil, w))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(height)))
	h.Write(lastAppHash)
	return h.Sum(nil)
}

func seedU64(seed []byte, label string, args ...uint64) uint64 {
	h := sha256.New()
	h.Write(seed)
	h.Write([]byte(label))
	for _, a := range args {
		h.Write(binary.BigEndian.AppendUint64(nil, a))
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return binary.BigEndian.Uint64(sum[:8])
}

// SampleDraw is the t-th position drawn from the sample index of count
// entries: uniform up to a bias below count/2⁶⁴.
func SampleDraw(seed []byte, t, count uint64) uint64 { return seedU64(seed, "blob", t) % count }

// SymbolIndices returns the challenged symbol positions of a (shard,
// sampled blob j): count positions in 0..n−1, each uniform, drawn
// independently (repeats are allowed).
func SymbolIndices(seed []byte, shard, j, count, n int) []int {
	out := make([]int, count)
	for t := range out {
		out[t] = int(seedU64(seed, "symbol", uint64(shard), uint64(j), uint64(t)) % uint64(n))
	}
	return out
}

// SymbolSize is the symbol size of a blob of the given length on n
// shards (redstuff.Params.SymbolSize, repeated here to keep the state
// machine free of the codec; a test checks they agree).
func SymbolSize(n int, length uint64) int {
	f := (n - 1) / 3
	cells := uint64(n-2*f) * uint64(n-f)
	s := (length + cells - 1) / cells
	s += s & 1
	return int(max(s, 2))
}

// PairAt is the pair of a blob stored on a shard (redstuff.Params.PairAt).
func PairAt(n int, id blob.ID, shard int) int {
	rot := int(binary.BigEndian.Uint64(id[:8]) % uint64(n))
	return (shard - rot + n) % n
}

// EntrySize is the size of one (shard, blob) entry of an answer.
func EntrySize(n, symbols int, length uint64) int {
	d := merkle.Depth(n) * merkle.HashSize
	return 2*merkle.HashSize + d + symbols*2*(SymbolSize(n, length)+d)
}

// AnswerSize is the size of the answer for a number of shards.
func AnswerSize(n, shards, symbols int, blobs []ChallengedBlob) int {
	size := 1
	for _, b := range blobs {
		size += shards * EntrySize(n, symbols, b.Length)
	}
	return size
}

func (m *Machine) openWindow(w uint64, cp ChallengeParams) {
	n := m.params.Shards
	_, last, err := m.LastBlock()
	if err != nil && m.err == nil {
		m.err = err
	}
	seed := WindowSeed(m.params.NetworkID, w, m.height, last)
	epoch, _ := m.epoch()
	now := m.time.UnixNano()
	win := Window{Window: w, Epoch: epoch, Height: m.height, OpenedAt: now, Deadline: now + int64(cp.Deadline), Seed: seed, Symbols: cp.Symbols}

	// Members and the shards each answers for: all it holds, but while
	// the epoch's change is under way not the shards it gained and has
	// not attested holding yet.
	var com Committee
	m.getJSON(keyCommittee(epoch), &com)
	change := m.epochChange(epoch)
	var since []*Committee
	if change.PreviousEpoch > 0 {
		for e := change.PreviousEpoch; e < epoch; e++ {
			var c Committee
			if m.getJSON(keyCommittee(e), &c) {
				since = append(since, &c)
			}
		}
	}
	maxShards := 0
	for _, mem := range com.Members {
		shards := slices.Sorted(slices.Values(mem.Shards))
		if len(since) > 0 && m.get(keyAttested(epoch, mem.Key)) == nil {
			gained := GainedShards(&com, since, mem.Key)
			shards = slices.DeleteFunc(shards, func(s int) bool { return slices.Contains(gained, s) })
		}
		if shards == nil {
			shards = []int{}
		}
		win.Nodes = append(win.Nodes, ChallengedNode{Key: mem.Key, Name: mem.Name, Shards: shards, Result: ChallengePending})
		maxShards = max(maxShards, len(shards))
	}

	// The sample: uniform draws from the index of live certified blobs,
	// skipping blobs certified less than an interval ago (their missing
	// slivers may still be being rebuilt), repeats, and blobs that would
	// take the largest answer above MaxAnswerBytes. At most 4× the sample
	// size draws.
	count := m.getU64(keySampleSize)
	cutoff := now - int64(cp.Interval)
	size := 1
	for t := uint64(0); count > 0 && t < uint64(4*cp.Blobs) && len(win.Blobs) < cp.Blobs; t++ {
		raw := m.get(keySampleAt(SampleDraw(seed, t, count)))
		if len(raw) != 40 || int64(binary.BigEndian.Uint64(raw[32:])) > cutoff {
			continue
		}
		id := blob.ID(raw[:32])
		if slices.ContainsFunc(win.Blobs, func(b ChallengedBlob) bool { return b.ID == id }) {
			continue
		}
		var b Blob
		if !m.getJSON(keyBlob(id), &b) || b.Status(epoch) != StatusCertified {
			continue
		}
		add := maxShards * EntrySize(n, cp.Symbols, b.Length)
		if size+add > MaxAnswerBytes {
			continue
		}
		size += add
		win.Blobs = append(win.Blobs, ChallengedBlob{ID: id, Length: b.Length, Encoding: b.Encoding})
	}
	if win.Blobs == nil {
		win.Blobs = []ChallengedBlob{}
	}
	for i := range win.Nodes {
		nd := &win.Nodes[i]
		if len(win.Blobs) == 0 || len(nd.Shards) == 0 {
			nd.Result = ChallengePassed // nothing to answer
			continue
		}
		nd.AnswerBytes = AnswerSize(n, len(nd.Shards), cp.Symbols, win.Blobs)
	}
	m.setJSON(keyWindow(w), win)
	m.emit(Event{Type: EventChallengeOpened, Window: w})
}

func (m *Machine) closeWindow(w *Window, cp ChallengeParams) {
	// Decision: a window in which members had to answer and not one answer
	// landed is void. Honest members answer within a block or two; that
	// none did says the control plane made no blocks before the deadline
	// (a stalled or overloaded validator), and failing everyone for it
	// would, in evictAfter such windows, evict the whole committee.
	required, answered := 0, 0
	for _, nd := range w.Nodes {
		if nd.AnswerBytes > 0 {
			required++
			if nd.Result == ChallengePassed {
				answered++
			}
		}
	}
	w.Void = required > 0 && answered == 0
	for i := range w.Nodes {
		nd := &w.Nodes[i]
		if nd.Result == ChallengePending {
			nd.Result = ChallengeFailed
			if w.Void {
				nd.Result = ChallengeVoid
			}
		}
		m.del(keyAnswered(w.Window, nd.Key))
	}
	w.Closed = true
	m.setJSON(keyWindow(w.Window), w)
	m.emit(Event{Type: EventChallengeClosed, Window: w.Window})
	if w.Void {
		return
	}
	for i := range w.Nodes {
		nd := &w.Nodes[i]
		s := m.score(nd.Key)
		s = NextScore(s, w.Window, nd.Result == ChallengePassed)
		if s.Streak >= cp.EvictAfter {
			var node NodeRecord
			if m.getJSON(keyNode(nd.Key), &node) && node.Weight > 0 && !m.lastWeighted(nd.Key) {
				node.Weight = 0
				m.putNode(node)
				s.Evicted = w.Window
				k := nd.Key
				m.emit(Event{Type: EventNodeEvicted, Node: &k, Window: w.Window})
			}
		}
		m.setJSON(keyScore(nd.Key), s)
	}
}

func (m *Machine) score(k PublicKey) ChallengeScore {
	var s ChallengeScore
	if !m.getJSON(keyScore(k), &s) {
		s = ChallengeScore{Score: ScoreOne}
	}
	return s
}

// resetStreak forgets a node's failures when governance gives it weight
// again, so that a re-admitted node is not evicted by its past.
func (m *Machine) resetStreak(k PublicKey) {
	var s ChallengeScore
	if m.getJSON(keyScore(k), &s) && s.Streak > 0 {
		s.Streak = 0
		m.setJSON(keyScore(k), s)
	}
}

func (m *Machine) challengeAnswer(sender PublicKey, a *ChallengeAnswer) error {
	if m.params.ChallengeInterval <= 0 {
		return fmt.Errorf("%w: challenges are off", ErrWindow)
	}
	s := m.challengeState()
	var w Window
	switch {
	case a.Window == 0 || a.Window != s.Open || !m.getJSON(keyWindow(a.Window), &w) || w.Closed:
		return fmt.Errorf("%w: window %d (open: %d)", ErrWindow, a.Window, s.Open)
	case m.time.UnixNano() >= w.Deadline:
		return fmt.Errorf("%w: window %d: the deadline has passed", ErrWindow, a.Window)
	}
	i := slices.IndexFunc(w.Nodes, func(nd ChallengedNode) bool { return nd.Key == sender })
	if i < 0 {
		return fmt.Errorf("%w: %s is not challenged in window %d", ErrNotAllowed, sender.Short(), a.Window)
	}
	nd := &w.Nodes[i]
	if nd.Result != ChallengePending || m.get(keyAnswered(w.Window, sender)) != nil {
		return fmt.Errorf("%w: %s in window %d (%s)", ErrAnswered, sender.Short(), a.Window, nd.Result)
	}
	if err := CheckAnswer(m.params.Shards, &w, nd.Shards, a.Answer); err != nil {
		return err
	}
	nd.Result = ChallengePassed
	m.set(keyAnswered(w.Window, sender), []byte{1})
	m.setJSON(keyWindow(w.Window), w)
	return nil
}

// AnswerVersion is the first byte of a binary challenge answer.
const AnswerVersion = 1

// AnswerSymbol is a challenged symbol with its Merkle path in its
// sliver's tree.
type AnswerSymbol struct {
	Data []byte
	Path []merkle.Hash
}

// AnswerEntry proves one (shard, sampled blob): the pair commitment of
// the blob's pair on the shard (both roots and the pair leaf's path) and,
// for each challenged index i, symbol i of the primary sliver's expanded
// row and symbol i of the secondary sliver's expanded column.
type AnswerEntry struct {
	Primary, Secondary merkle.Hash
	Path               []merkle.Hash
	Symbols            [][2]AnswerSymbol // per index: primary, secondary
}

// SourceFunc returns the symbol source of a stored sliver of a blob's
// pair (a sliver the asker holds, with its pair's commitment).
type SourceFunc func(id blob.ID, pair int, k blob.SliverKind) (*redstuff.SymbolSource, error)

// BuildAnswer is a member's answer to win for its shards: it cuts the
// challenged symbols, with their paths, from the slivers source returns,
// in the window's canonical order (EncodeAnswer). A storage node and the
// simulator both answer with it.
func BuildAnswer(c *redstuff.Codec, win *Window, shards []int, source SourceFunc) ([]byte, error) {
	p := c.Params()
	var entries []AnswerEntry
	for _, shard := range shards {
		for j, b := range win.Blobs {
			pair := p.PairAt(b.ID, shard)
			var srcs [2]*redstuff.SymbolSource
			var pc *blob.PairCommitment
			for k, idx := range [2]int{p.PrimaryOf(pair), p.SecondaryOf(pair)} {
				kind := blob.SliverKind(k)
				ss, err := source(b.ID, pair, kind)
				if err != nil {
					return nil, fmt.Errorf("shard %d, blob %v: %s sliver %d: %w", shard, b.ID, kind, idx, err)
				}
				srcs[k], pc = ss, ss.Pair()
			}
			e := AnswerEntry{Primary: pc.Primary, Secondary: pc.Secondary, Path: pc.Path}
			for _, i := range SymbolIndices(win.Seed, shard, j, win.Symbols, p.N) {
				var sy [2]AnswerSymbol
				for k, ss := range srcs {
					data, err := ss.Data(i)
					if err != nil {
						return nil, err
					}
					path, err := ss.Path(i)
					if err != nil {
						return nil, err
					}
					sy[k] = AnswerSymbol{Data: data, Path: path}
				}
				e.Symbols = append(e.Symbols, sy)
			}
			entries = append(entries, e)
		}
	}
	return EncodeAnswer(entries), nil
}

// EncodeAnswer lays out entries in the window's canonical order: for
// each shard the member answers for (ascending), each sampled blob in
// sample order. Every field has a fixed size known to the checker, so
// there is no framing: version ‖ per entry (primary root ‖ secondary
// root ‖ path ‖ per index (primary symbol ‖ path ‖ secondary symbol ‖
// path)).
func EncodeAnswer(entries []AnswerEntry) []byte {
	b := []byte{AnswerVersion}
	for _, e := range entries {
		b = append(b, e.Primary[:]...)
		b = append(b, e.Secondary[:]...)
		for _, h := range e.Path {
			b = append(b, h[:]...)
		}
		for _, pair := range e.Symbols {
			for _, s := range pair {
				b = append(b, s.Data...)
				for _, h := range s.Path {
					b = append(b, h[:]...)
				}
			}
		}
	}
	return b
}

// CheckAnswer checks a member's binary answer to a window for the given
// shards against the sampled blob IDs alone.
func CheckAnswer(n int, w *Window, shards []int, answer []byte) error {
	if want := AnswerSize(n, len(shards), w.Symbols, w.Blobs); len(answer) != want {
		return fmt.Errorf("%w: %d bytes, want %d", ErrAnswer, len(answer), want)
	}
	if answer[0] != AnswerVersion {
		return fmt.Errorf("%w: version %d", ErrAnswer, answer[0])
	}
	depth := merkle.Depth(n)
	path := make([]merkle.Hash, depth)
	r := answer[1:]
	hash := func() (h merkle.Hash) {
		copy(h[:], r)
		r = r[merkle.HashSize:]
		return h
	}
	readPath := func() {
		for k := range path {
			path[k] = hash()
		}
	}
	var pairBuf [2 * merkle.HashSize]byte
	var hs merkle.Hasher
	for _, shard := range shards {
		for j, b := range w.Blobs {
			s := SymbolSize(n, b.Length)
			p := PairAt(n, b.ID, shard)
			primary, secondary := hash(), hash()
			readPath()
			copy(pairBuf[:], primary[:])
			copy(pairBuf[merkle.HashSize:], secondary[:])
			root, ok := merkle.RootFromPath(hs.Leaf(pairBuf[:]), p, n, path)
			if !ok || blob.ComputeID(b.Encoding, b.Length, root) != b.ID {
				return fmt.Errorf("%w: shard %d, blob %v: the pair commitment does not lead to the blob ID", ErrAnswer, shard, b.ID)
			}
			for t, i := range SymbolIndices(w.Seed, shard, j, w.Symbols, n) {
				for k, sliverRoot := range [2]merkle.Hash{primary, secondary} {
					data := r[:s]
					r = r[s:]
					readPath()
					if !merkle.Verify(sliverRoot, hs.Leaf(data), i, n, path) {
						return fmt.Errorf("%w: shard %d, blob %v, index %d (%d): the %s symbol does not match its sliver root",
							ErrAnswer, shard, b.ID, t, i, blob.SliverKind(k))
					}
				}
			}
		}
	}
	return nil
}

// NodeReport is a member's line in a window report: its result there,
// and its score and weight now.
type NodeReport struct {
	Name        string          `json:"name"`
	Key         PublicKey       `json:"key"`
	Shards      []int           `json:"shards"`
	Result      ChallengeResult `json:"result"`
	Score       float64         `json:"score"`
	Streak      int             `json:"streak"`
	Weight      uint64          `json:"weight"`
	AnswerBytes int             `json:"answerBytes"`
}

// WindowReport is a window as `weft challenges` shows it.
type WindowReport struct {
	Window   uint64           `json:"window"`
	Epoch    uint64           `json:"epoch"`
	OpenedAt time.Time        `json:"openedAt"`
	Deadline time.Time        `json:"deadline"`
	Closed   bool             `json:"closed"`
	Void     bool             `json:"void,omitempty"`
	Seed     []byte           `json:"seed"`
	Symbols  int              `json:"symbols"`
	Blobs    []ChallengedBlob `json:"blobs"`
	Nodes    []NodeReport     `json:"nodes"`
}

// ChallengeWindow returns a window, or nil if it was never opened.
func (m *Machine) ChallengeWindow(w uint64) (*Window, error) {
	var win Window
	if !m.getJSON(keyWindow(w), &win) {
		return nil, m.err
	}
	return &win, m.err
}

// OpenWindow returns the window open now, or nil.
func (m *Machine) OpenWindow() (*Window, error) {
	if m.params == nil || m.params.ChallengeInterval <= 0 {
		return nil, nil
	}
	var s challengeState
	if !m.getJSON(keyChallenge, &s) || s.Open == 0 {
		return nil, m.err
	}
	return m.ChallengeWindow(s.Open)
}

// Score returns a node's challenge record (a fresh one for a node never
// challenged).
func (m *Machine) Score(k PublicKey) (ChallengeScore, error) { return m.score(k), m.err }

// ChallengeReports returns window w's report, or with w = 0 the latest
// limit windows, newest first.
func (m *Machine) ChallengeReports(w uint64, limit int) ([]WindowReport, error) {
	var ws []uint64
	if w != 0 {
		ws = []uint64{w}
	} else {
		var s challengeState
		m.getJSON(keyChallenge, &s)
		for v := s.Next; v > 1 && len(ws) < limit; v-- {
			ws = append(ws, v-1)
		}
	}
	out := []WindowReport{}
	for _, v := range ws {
		win, err := m.ChallengeWindow(v)
		if err != nil {
			return nil, err
		}
		if win == nil {
			if w != 0 {
				return nil, fmt.Errorf("%w: no challenge window %d", ErrBadRequest, w)
			}
			continue
		}
		r := WindowReport{Window: win.Window, Epoch: win.Epoch, OpenedAt: time.Unix(0, win.OpenedAt).UTC(),
			Deadline: time.Unix(0, win.Deadline).UTC(), Closed: win.Closed, Void: win.Void, Seed: win.Seed, Symbols: win.Symbols, Blobs: win.Blobs, Nodes: []NodeReport{}}
		for _, nd := range win.Nodes {
			s := m.score(nd.Key)
			var node NodeRecord
			m.getJSON(keyNode(nd.Key), &node)
			r.Nodes = append(r.Nodes, NodeReport{Name: nd.Name, Key: nd.Key, Shards: nd.Shards, Result: nd.Result,
				Score: float64(s.Score) / ScoreOne, Streak: s.Streak, Weight: node.Weight, AnswerBytes: nd.AnswerBytes})
		}
		out = append(out, r)
	}
	return out, m.err
}
