package control

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/merkle"
	"github.com/weftnet/weft/redstuff"
)

// chalNet is a testNet with challenges every second (one block), answers
// taken for half a second (so only in the block after the opening one).
func chalNet(t testing.TB, nodes, shards int, edit func(*Params)) *testNet {
	return newTestNetWith(t, nodes, shards, func(p *Params) {
		p.ChallengeInterval = time.Second
		p.ChallengeDeadline = 1500 * time.Millisecond / 2
		p.ChallengeBlobs = 2
		p.EvictAfter = 2
		if edit != nil {
			edit(p)
		}
	})
}

// storeReal registers and certifies a really encoded blob.
func (n *testNet) storeReal(codec *redstuff.Codec, data []byte) *redstuff.Encoded {
	n.t.Helper()
	e, err := codec.Encode(data)
	if err != nil {
		n.t.Fatal(err)
	}
	reg := &RegisterBlob{ID: e.ID, Length: e.Length, Encoding: blob.RS2D16, Root: e.Root, EndEpoch: n.epoch() + 5}
	if r := n.one(n.tx(n.user, Payload{RegisterBlob: reg})); r.err != nil {
		n.t.Fatal(r.err)
	}
	if r := n.one(n.tx(n.user, Payload{CertifyBlob: n.cert(e.ID, n.epoch(), seq(len(n.nodes)), ConfirmationMessage)})); r.err != nil {
		n.t.Fatal(r.err)
	}
	return e
}

// openWindow runs blocks until a window is open and returns it.
func (n *testNet) openWindow() *Window {
	n.t.Helper()
	for range 5 {
		if w, _ := n.m.OpenWindow(); w != nil && n.now.UnixNano() < w.Deadline {
			return w
		}
		n.block()
	}
	n.t.Fatal("no window opened")
	return nil
}

// honestAnswer builds key's answer to w from the encoded blobs.
func honestAnswer(t testing.TB, codec *redstuff.Codec, w *Window, key PublicKey, blobs map[blob.ID]*redstuff.Encoded) []byte {
	t.Helper()
	nd := w.Member(key)
	if nd == nil {
		t.Fatalf("%s not in window %d", key.Short(), w.Window)
	}
	n := codec.Params().N
	var entries []AnswerEntry
	for _, shard := range nd.Shards {
		for j, b := range w.Blobs {
			e := blobs[b.ID]
			p := codec.Params().PairAt(b.ID, shard)
			pc := e.Pairs[p]
			entry := AnswerEntry{Primary: pc.Primary, Secondary: pc.Secondary, Path: pc.Path}
			var srcs [2]*redstuff.SymbolSource
			for k, idx := range [2]int{p, n - 1 - p} {
				sl := e.Sliver(blob.SliverKind(k), idx)
				ss, err := codec.NewSymbolSource(e.Length, &sl, &pc)
				if err != nil {
					t.Fatal(err)
				}
				srcs[k] = ss
			}
			for _, i := range SymbolIndices(w.Seed, shard, j, w.Symbols, n) {
				var pair [2]AnswerSymbol
				for k, ss := range srcs {
					data, _ := ss.Data(i)
					path, err := ss.Path(i)
					if err != nil {
						t.Fatal(err)
					}
					pair[k] = AnswerSymbol{Data: data, Path: path}
				}
				entry.Symbols = append(entry.Symbols, pair)
			}
			entries = append(entries, entry)
		}
	}
	return EncodeAnswer(entries)
}

func TestChallengeHelpersAgreeWithCodec(t *testing.T) {
	for _, n := range []int{4, 7, 10, 100, 1000} {
		p, _ := redstuff.NewParams(n)
		for _, l := range []uint64{0, 1, 1000, 1 << 20, 123456789} {
			if SymbolSize(n, l) != p.SymbolSize(l) {
				t.Fatalf("n=%d length %d: symbol size %d, codec %d", n, l, SymbolSize(n, l), p.SymbolSize(l))
			}
		}
		for i := range 50 {
			id := blobID(i)
			for shard := 0; shard < n; shard += max(1, n/17) {
				if PairAt(n, id, shard) != p.PairAt(id, shard) {
					t.Fatalf("n=%d: pair at shard %d differs", n, shard)
				}
			}
		}
	}
}

// chiSquare returns the statistic of counts against a uniform
// expectation.
func chiSquare(counts []int) float64 {
	total := 0
	for _, c := range counts {
		total += c
	}
	exp := float64(total) / float64(len(counts))
	x := 0.0
	for _, c := range counts {
		x += (float64(c) - exp) * (float64(c) - exp) / exp
	}
	return x
}

// chiLimit is a generous critical value (p ≈ 0.0001) for df degrees of
// freedom (Wilson–Hilferty).
func chiLimit(df int) float64 {
	k := float64(df)
	z := 3.72
	return k * math.Pow(1-2/(9*k)+z*math.Sqrt(2/(9*k)), 3)
}

func TestChallengeDrawsUniform(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	const count, n = 37, 101
	blobs := make([]int, count)
	syms := make([]int, n)
	for range 20000 {
		var s [32]byte
		for i := range s {
			s[i] = byte(rng.UintN(256))
		}
		blobs[SampleDraw(s[:], rng.Uint64N(8), count)]++
		for _, i := range SymbolIndices(s[:], rng.IntN(n), rng.IntN(4), 2, n) {
			syms[i]++
		}
	}
	if x := chiSquare(blobs); x > chiLimit(count-1) {
		t.Fatalf("seed %d: blob draws not uniform: χ² = %.1f > %.1f", seed, x, chiLimit(count-1))
	}
	if x := chiSquare(syms); x > chiLimit(n-1) {
		t.Fatalf("seed %d: symbol indices not uniform: χ² = %.1f > %.1f", seed, x, chiLimit(n-1))
	}
	// Deterministic: the same seed gives the same draws.
	s := []byte("a seed")
	if SampleDraw(s, 3, 1000) != SampleDraw(s, 3, 1000) || fmt.Sprint(SymbolIndices(s, 1, 2, 4, n)) != fmt.Sprint(SymbolIndices(s, 1, 2, 4, n)) {
		t.Fatal("draws are not deterministic")
	}
}

// TestChallengeSampleUniform runs many windows over a fixed live set and
// checks every blob is sampled about equally often; deleting blobs keeps
// the index dense and the sample uniform over what is left.
func TestChallengeSampleUniform(t *testing.T) {
	n := chalNet(t, 4, 8, func(p *Params) { p.ChallengeBlobs = 3 })
	const k = 16
	ids := make([]blob.ID, k)
	for i := range ids {
		ids[i] = blobID(5000 + i)
		n.register(ids[i], 9, true)
		n.one(n.tx(n.user, Payload{CertifyBlob: n.cert(ids[i], n.epoch(), seq(4), ConfirmationMessage)}))
	}
	// Delete a few: they leave the sample.
	for _, i := range []int{1, 7, 15} {
		if r := n.one(n.tx(n.user, Payload{DeleteBlob: &BlobRef{ID: ids[i]}})); r.err != nil {
			t.Fatal(r.err)
		}
	}
	if got := n.m.getU64(keySampleSize); got != k-3 {
		t.Fatalf("sample index holds %d, want %d", got, k-3)
	}
	counts := map[blob.ID]int{}
	first := n.openWindow().Window
	var last uint64
	for range 1500 {
		n.block()
		w, _ := n.m.OpenWindow()
		if w == nil || w.Window == last {
			continue
		}
		last = w.Window
		if len(w.Blobs) != 3 {
			t.Fatalf("window %d sampled %d blobs", w.Window, len(w.Blobs))
		}
		for _, b := range w.Blobs {
			counts[b.ID]++
		}
	}
	var c []int
	for i, id := range ids {
		if i == 1 || i == 7 || i == 15 {
			if counts[id] != 0 {
				t.Fatalf("deleted blob %d sampled", i)
			}
			continue
		}
		c = append(c, counts[id])
	}
	if x := chiSquare(c); x > chiLimit(len(c)-1) {
		t.Fatalf("windows %d..%d: sample not uniform: χ² = %.1f > %.1f (%v)", first, last, x, chiLimit(len(c)-1), c)
	}
	t.Logf("windows %d..%d, counts %v", first, last, c)
}

func TestChallengeNothingToAnswerPasses(t *testing.T) {
	n := chalNet(t, 4, 8, nil)
	w := n.openWindow()
	if len(w.Blobs) != 0 {
		t.Fatalf("sampled %d blobs of none", len(w.Blobs))
	}
	for _, nd := range w.Nodes {
		if nd.Result != ChallengePassed {
			t.Fatalf("%s: %s with nothing to answer", nd.Name, nd.Result)
		}
	}
}

type chalFixture struct {
	n     *testNet
	codec *redstuff.Codec
	blobs map[blob.ID]*redstuff.Encoded
	w     *Window
}

func newChalFixture(t *testing.T) *chalFixture {
	const shards = 10
	f := &chalFixture{n: chalNet(t, 4, shards, nil), blobs: map[blob.ID]*redstuff.Encoded{}}
	var err error
	if f.codec, err = redstuff.New(shards); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{100, 3000, 70} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.UintN(256))
		}
		e := f.n.storeReal(f.codec, data)
		f.blobs[e.ID] = e
	}
	f.n.block()
	f.n.block()
	f.w = f.n.openWindow()
	if len(f.w.Blobs) != 2 {
		t.Fatalf("sampled %d blobs, want 2", len(f.w.Blobs))
	}
	return f
}

func (f *chalFixture) answerTx(key ed25519.PrivateKey, w uint64, answer []byte) []byte {
	return f.n.tx(key, Payload{ChallengeAnswer: &ChallengeAnswer{Window: w, Answer: answer}})
}

// TestChallengeChecker: the checker accepts exactly the honest answer.
func TestChallengeChecker(t *testing.T) {
	f := newChalFixture(t)
	n, w := f.n, f.w
	N := f.codec.Params().N
	key0 := KeyOf(n.nodes[0])
	honest := honestAnswer(t, f.codec, w, key0, f.blobs)
	nd := w.Member(key0)
	if err := CheckAnswer(N, w, nd.Shards, honest); err != nil {
		t.Fatalf("honest answer refused: %v", err)
	}
	// Every single-bit flip is refused.
	for i := range len(honest) * 8 {
		bad := append([]byte(nil), honest...)
		bad[i/8] ^= 1 << (i % 8)
		if err := CheckAnswer(N, w, nd.Shards, bad); !errors.Is(err, ErrAnswer) {
			t.Fatalf("bit %d flipped: %v", i, err)
		}
	}
	// Truncated, extended.
	for _, bad := range [][]byte{honest[:len(honest)-1], append(append([]byte(nil), honest...), 0), {}} {
		if err := CheckAnswer(N, w, nd.Shards, bad); !errors.Is(err, ErrAnswer) {
			t.Fatalf("%d bytes: %v", len(bad), err)
		}
	}
	// A wrong index: a true symbol with its true path, of another
	// position than the one asked.
	wrongIdx := *w
	wrongIdx.Seed = append([]byte("other"), w.Seed...)
	other := honestAnswer(t, f.codec, &wrongIdx, key0, f.blobs)
	if err := CheckAnswer(N, w, nd.Shards, other); !errors.Is(err, ErrAnswer) {
		t.Fatalf("answer for other indices: %v", err)
	}
	// Another node's answer (other shards).
	key1 := KeyOf(n.nodes[1])
	theirs := honestAnswer(t, f.codec, w, key1, f.blobs)
	stranger := testKey("stranger")
	rs := n.blockAfter(100*time.Millisecond, f.answerTx(n.nodes[0], w.Window, theirs), f.answerTx(stranger, w.Window, honest),
		f.answerTx(n.nodes[0], w.Window+1, honest), f.answerTx(n.nodes[0], w.Window, honest))
	for i, want := range []error{ErrAnswer, ErrNotAllowed, ErrWindow, nil} {
		if !errors.Is(rs[i].err, want) {
			t.Fatalf("tx %d: %v, want %v", i, rs[i].err, want)
		}
	}
}

// TestChallengeAnswerLifecycle: an answer in time passes once; a second
// one, a late one and a replay in a later window are refused; a member
// that did not answer fails.
func TestChallengeAnswerLifecycle(t *testing.T) {
	f := newChalFixture(t)
	n, w := f.n, f.w
	a0 := honestAnswer(t, f.codec, w, KeyOf(n.nodes[0]), f.blobs)
	a1 := honestAnswer(t, f.codec, w, KeyOf(n.nodes[1]), f.blobs)
	a2 := honestAnswer(t, f.codec, w, KeyOf(n.nodes[2]), f.blobs)
	// Answers are due before the deadline: this block is 1 s after the
	// opening one, past the 750 ms deadline, so build a block at once.
	rs := n.blockAfter(500*time.Millisecond, f.answerTx(n.nodes[0], w.Window, a0), f.answerTx(n.nodes[1], w.Window, a1), f.answerTx(n.nodes[0], w.Window, a0))
	for i, want := range []error{nil, nil, ErrAnswered} {
		if !errors.Is(rs[i].err, want) {
			t.Fatalf("tx %d: %v, want %v", i, rs[i].err, want)
		}
	}
	// Late: the next block is past the deadline.
	r := n.block(f.answerTx(n.nodes[2], w.Window, a2))
	if !errors.Is(r[0].err, ErrWindow) {
		t.Fatalf("late answer: %v", r[0].err)
	}
	closed, _ := n.m.ChallengeWindow(w.Window)
	want := []ChallengeResult{ChallengePassed, ChallengePassed, ChallengeFailed, ChallengeFailed}
	for i := range want {
		if nd := closed.Member(KeyOf(n.nodes[i])); nd.Result != want[i] {
			t.Fatalf("node %d: %s, want %s", i, nd.Result, want[i])
		}
	}
	// Replay of an older window's answer in the next one.
	next, _ := n.m.OpenWindow()
	if next == nil || next.Window == w.Window {
		t.Fatal("no next window")
	}
	rs = n.blockAfter(100*time.Millisecond, f.answerTx(n.nodes[0], w.Window, a0), f.answerTx(n.nodes[0], next.Window, a0))
	if !errors.Is(rs[0].err, ErrWindow) || !errors.Is(rs[1].err, ErrAnswer) {
		t.Fatalf("old answer replayed: %v; relabelled to the new window: %v", rs[0].err, rs[1].err)
	}
}

func TestChallengeScoreTable(t *testing.T) {
	s := ChallengeScore{Score: ScoreOne}
	steps := []struct {
		pass         bool
		score        int64
		streak       int
		passed, fail uint64
	}{
		{true, 1_000_000, 0, 1, 0},
		{false, 900_000, 1, 1, 1},
		{false, 810_000, 2, 1, 2},
		{true, 829_000, 0, 2, 2},
		{false, 746_100, 1, 2, 3},
	}
	for i, st := range steps {
		s = NextScore(s, uint64(i+1), st.pass)
		if s.Score != st.score || s.Streak != st.streak || s.Passed != st.passed || s.Failed != st.fail || s.LastWindow != uint64(i+1) {
			t.Fatalf("step %d: %+v, want %+v", i, s, st)
		}
	}
}

// TestChallengeEviction: a member that never answers loses its weight
// after EvictAfter windows (2 here) and the next epoch gives it no
// shards; governance re-admits it with its streak forgotten.
func TestChallengeEviction(t *testing.T) {
	f := newChalFixture(t)
	n := f.n
	silent := KeyOf(n.nodes[3])
	// The windows of the fixture's set-up went unanswered: governance
	// restores every weight, which also forgets the streaks.
	var txs [][]byte
	for _, k := range n.nodes {
		txs = append(txs, n.tx(n.admin, Payload{SetWeight: &SetWeight{Node: KeyOf(k), Weight: 1}}))
	}
	n.blockAfter(100*time.Millisecond, txs...)
	var evicted *Event
	for w := f.w; evicted == nil && w.Window < f.w.Window+4; {
		var txs [][]byte
		for i := 0; i < 3; i++ {
			txs = append(txs, f.answerTx(n.nodes[i], w.Window, honestAnswer(t, f.codec, w, KeyOf(n.nodes[i]), f.blobs)))
		}
		for i, r := range n.blockAfter(500*time.Millisecond, txs...)[:3] {
			if r.err != nil {
				t.Fatalf("window %d node %d: %v", w.Window, i, r.err)
			}
		}
		for _, r := range n.block() {
			for _, ev := range r.events {
				if ev.Type == EventNodeEvicted {
					evicted = &ev
				}
			}
		}
		w, _ = n.m.OpenWindow()
	}
	if evicted == nil || *evicted.Node != silent || evicted.Window != f.w.Window+1 {
		t.Fatalf("eviction: %+v", evicted)
	}
	reps, err := n.m.ChallengeReports(evicted.Window, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range reps[0].Nodes {
		wantW, wantR := uint64(1), ChallengePassed
		if nd.Key == silent {
			wantW, wantR = 0, ChallengeFailed
		}
		if nd.Weight != wantW || nd.Result != wantR {
			t.Fatalf("%s: weight %d %s", nd.Name, nd.Weight, nd.Result)
		}
		if nd.Key == silent && (math.Abs(nd.Score-0.81) > 1e-9 || nd.Streak != 2) {
			t.Fatalf("silent node's score %v streak %d, want 0.81 and 2 (the set-up's windows were void)", nd.Score, nd.Streak)
		}
	}
	n.one(n.tx(n.admin, Payload{AdvanceEpoch: &AdvanceEpoch{Epoch: n.epoch() + 1}}))
	if c, _ := n.m.Committee(0); c.Weight(silent) != 0 {
		t.Fatalf("evicted node holds %d shards in epoch %d", c.Weight(silent), c.Epoch)
	}
	if r := n.one(n.tx(n.admin, Payload{SetWeight: &SetWeight{Node: silent, Weight: 1}})); r.err != nil {
		t.Fatal(r.err)
	}
	if s, _ := n.m.Score(silent); s.Streak != 0 {
		t.Fatalf("re-admitted node's streak %d", s.Streak)
	}
}

// TestChallengeVoidWindow: a window in which not one answer landed (the
// control plane made no blocks in time) fails no one.
func TestChallengeVoidWindow(t *testing.T) {
	f := newChalFixture(t)
	n := f.n
	for w, _ := n.m.OpenWindow(); w != nil && w.Window == f.w.Window; w, _ = n.m.OpenWindow() {
		n.blockAfter(500 * time.Millisecond)
	}
	reps, err := n.m.ChallengeReports(f.w.Window, 1)
	if err != nil || len(reps) != 1 || !reps[0].Closed {
		t.Fatalf("window %d: %+v %v", f.w.Window, reps, err)
	}
	for _, nd := range reps[0].Nodes {
		if nd.Result != ChallengeVoid || nd.Streak != 0 || nd.Score != 1 || nd.Weight != 1 {
			t.Fatalf("%s in a void window: %+v", nd.Name, nd)
		}
	}
	// One answer makes the window count: the silent members fail it.
	w, _ := n.m.OpenWindow()
	for w == nil {
		n.blockAfter(500 * time.Millisecond)
		w, _ = n.m.OpenWindow()
	}
	if r := n.blockAfter(100*time.Millisecond, f.answerTx(n.nodes[0], w.Window, honestAnswer(t, f.codec, w, KeyOf(n.nodes[0]), f.blobs)))[0]; r.err != nil {
		t.Fatal(r.err)
	}
	for cur, _ := n.m.OpenWindow(); cur != nil && cur.Window == w.Window; cur, _ = n.m.OpenWindow() {
		n.blockAfter(500 * time.Millisecond)
	}
	reps, _ = n.m.ChallengeReports(w.Window, 1)
	failed := 0
	for _, nd := range reps[0].Nodes {
		if nd.Result == ChallengeFailed {
			failed++
		}
	}
	if reps[0].Void || failed != len(reps[0].Nodes)-1 {
		t.Fatalf("window %d with one answer: void %v, %d failed", w.Window, reps[0].Void, failed)
	}
}

// BenchmarkChallengeAnswer measures checking one member's answer at
// n = 1000 with 100 shards (the cap per node), 4 blobs of 1 MiB and 2
// indices.
func BenchmarkChallengeAnswerN1000(b *testing.B) {
	const N = 1000
	codec, err := redstuff.New(N)
	if err != nil {
		b.Fatal(err)
	}
	w := &Window{Window: 1, Seed: []byte("bench seed"), Symbols: 2}
	blobs := map[blob.ID]*redstuff.Encoded{}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 4 {
		data := make([]byte, 1<<20)
		for i := range data {
			data[i] = byte(rng.UintN(256))
		}
		e, err := codec.Encode(data)
		if err != nil {
			b.Fatal(err)
		}
		blobs[e.ID] = e
		w.Blobs = append(w.Blobs, ChallengedBlob{ID: e.ID, Length: e.Length, Encoding: blob.RS2D16})
	}
	key := PublicKey{1}
	shards := make([]int, 100)
	for i := range shards {
		shards[i] = i * 10
	}
	w.Nodes = []ChallengedNode{{Key: key, Shards: shards}}
	answer := honestAnswer(b, codec, w, key, blobs)
	b.ReportMetric(float64(len(answer)), "answer-bytes")
	b.SetBytes(int64(len(answer)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := CheckAnswer(N, w, shards, answer); err != nil {
			b.Fatal(err)
		}
	}
}

var _ = merkle.Depth
