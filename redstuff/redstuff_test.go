package redstuff

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/merkle"
)

var (
	codecMu sync.Mutex
	codecs  = map[int]*Codec{}
)

// codecFor caches codecs: building the GF(2^16) tables is the slow part.
func codecFor(t testing.TB, n int, opts ...Option) *Codec {
	t.Helper()
	if len(opts) > 0 {
		c, err := New(n, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	codecMu.Lock()
	defer codecMu.Unlock()
	if c := codecs[n]; c != nil {
		return c
	}
	c, err := New(n)
	if err != nil {
		t.Fatal(err)
	}
	codecs[n] = c
	return c
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// randLength picks the lengths where off-by-one errors live: empty, one
// byte, exact multiples of the matrix, one more or less, and anything.
func randLength(rng *rand.Rand, p Params, max int) int {
	cells := p.Kp * p.Ks * 2
	k := 1 + rng.IntN(max/cells+1)
	candidates := []int{0, 1, 2, 3, cells, cells - 1, cells + 1, k * cells, k*cells - 1, k*cells + 1, rng.IntN(max + 1)}
	l := candidates[rng.IntN(len(candidates))]
	return min(l, max)
}

// randN draws a shard count, mostly small so the tests stay quick, now and
// then up to 1000.
func randN(rng *rand.Rand) int {
	switch rng.IntN(8) {
	case 0:
		return 4 + rng.IntN(997)
	case 1, 2:
		return 4 + rng.IntN(150)
	default:
		return 4 + rng.IntN(40)
	}
}

func symbolsFor(t testing.TB, c *Codec, e *Encoded, target blob.SliverKind, index int, from []int, proofs bool) []blob.RecoverySymbol {
	t.Helper()
	p := c.Params()
	var syms []blob.RecoverySymbol
	for _, src := range from {
		sl := e.Sliver(target.Other(), src)
		ss, err := c.NewSymbolSource(e.Length, &sl, &e.Pairs[p.PairOf(target.Other(), src)])
		if err != nil {
			t.Fatal(err)
		}
		sym, err := ss.Symbol(index, proofs)
		if err != nil {
			t.Fatal(err)
		}
		syms = append(syms, sym)
	}
	return syms
}

func TestRoundTrip(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	rounds := 24
	if testing.Short() {
		rounds = 8
	}
	for round := 0; round < rounds; round++ {
		n := randN(rng)
		c := codecFor(t, n)
		p := c.Params()
		length := randLength(rng, p, 200_000)
		data := randBytes(rng, length)
		name := fmt.Sprintf("seed=%d/round=%d/n=%d/len=%d", seed, round, n, length)

		e, err := c.Encode(data)
		if err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		if got, want := e.SymbolSize, p.SymbolSize(uint64(length)); got != want {
			t.Fatalf("%s: symbol size %d, want %d", name, got, want)
		}
		// Systematic: the first kp primary slivers are the blob.
		var joined []byte
		for r := 0; r < p.Kp; r++ {
			joined = append(joined, e.Primary[r]...)
		}
		if !bytes.Equal(joined[:length], data) || bytes.ContainsFunc(joined[length:], func(r rune) bool { return r != 0 }) {
			t.Fatalf("%s: systematic slivers are not the zero-padded blob", name)
		}
		id1, err := c.BlobID(data)
		if err != nil {
			t.Fatal(err)
		}
		id2, err := c.BlobIDReader(bytes.NewReader(data), uint64(length))
		if err != nil {
			t.Fatal(err)
		}
		if id1 != e.ID || id2 != e.ID {
			t.Fatalf("%s: BlobID %v / BlobIDReader %v differ from Encode %v", name, id1, id2, e.ID)
		}

		// Every sliver of a sample of pairs verifies against the ID alone.
		for _, pair := range rng.Perm(n)[:min(n, 12)] {
			for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
				sl := e.Sliver(k, p.PairOf(k, pair))
				if err := c.VerifySliver(e.ID, e.Length, &sl, &e.Pairs[pair]); err != nil {
					t.Fatalf("%s: pair %d %s: %v", name, pair, k, err)
				}
			}
		}

		// Decode from a random kp-subset, and from the systematic rows.
		for _, subset := range [][]int{rng.Perm(n)[:p.Kp], rng.Perm(n)[:p.Kp+rng.IntN(n-p.Kp+1)], perm0(p.Kp)} {
			var sl []blob.Sliver
			for _, r := range subset {
				sl = append(sl, e.Sliver(blob.Primary, r))
			}
			got, err := c.Decode(e.ID, e.Length, sl)
			if err != nil {
				t.Fatalf("%s: decode from rows %v: %v", name, subset, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("%s: decode from rows %v returned different bytes", name, subset)
			}
		}

		// Rebuild a random primary sliver from ks symbols without proofs
		// and a random secondary sliver from kp proven symbols.
		r := rng.IntN(n)
		got, err := c.Rebuild(e.ID, e.Length, blob.Primary, r, &e.Pairs[r], symbolsFor(t, c, e, blob.Primary, r, rng.Perm(n)[:p.Ks], false))
		if err != nil || !bytes.Equal(got, e.Primary[r]) {
			t.Fatalf("%s: rebuild primary %d: %v", name, r, err)
		}
		col := rng.IntN(n)
		got, err = c.Rebuild(e.ID, e.Length, blob.Secondary, col, &e.Pairs[n-1-col], symbolsFor(t, c, e, blob.Secondary, col, rng.Perm(n)[:p.Kp], true))
		if err != nil || !bytes.Equal(got, e.Secondary[col]) {
			t.Fatalf("%s: rebuild secondary %d: %v", name, col, err)
		}
		// One symbol short is refused.
		_, err = c.Rebuild(e.ID, e.Length, blob.Secondary, col, &e.Pairs[n-1-col], symbolsFor(t, c, e, blob.Secondary, col, rng.Perm(n)[:p.Kp-1], false))
		if !errors.Is(err, ErrTooFew) {
			t.Fatalf("%s: rebuild from kp-1 symbols: got %v, want ErrTooFew", name, err)
		}
		e.Release()
	}
}

func perm0(k int) []int {
	s := make([]int, k)
	for i := range s {
		s[i] = i
	}
	return s
}

// flipBit flips one random bit of b in place.
func flipBit(rng *rand.Rand, b []byte) {
	i := rng.IntN(len(b) * 8)
	b[i/8] ^= 1 << (i % 8)
}

func TestTamperingIsDetected(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	for round := 0; round < 20; round++ {
		n := 4 + rng.IntN(60)
		c := codecFor(t, n)
		p := c.Params()
		length := randLength(rng, p, 50_000)
		data := randBytes(rng, length)
		e, err := c.Encode(append([]byte(nil), data...))
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("seed=%d/round=%d/n=%d/len=%d", seed, round, n, length)
		pair := rng.IntN(n)
		k := blob.SliverKind(rng.IntN(2))
		idx := p.PairOf(k, pair)

		// A flipped bit anywhere in a sliver.
		sl := e.Sliver(k, idx)
		sl.Data = append([]byte(nil), sl.Data...)
		flipBit(rng, sl.Data)
		if err := c.VerifySliver(e.ID, e.Length, &sl, &e.Pairs[pair]); !errors.Is(err, ErrVerify) {
			t.Fatalf("%s: corrupted %s sliver %d: got %v, want ErrVerify", name, k, idx, err)
		}
		// ... in its commitment: either root or any path element.
		sl = e.Sliver(k, idx)
		pc := clonePair(e.Pairs[pair])
		target := rng.IntN(2 + len(pc.Path))
		switch {
		case target == 0:
			flipBit(rng, pc.Primary[:])
		case target == 1:
			flipBit(rng, pc.Secondary[:])
		default:
			flipBit(rng, pc.Path[target-2][:])
		}
		if err := c.VerifySliver(e.ID, e.Length, &sl, &pc); !errors.Is(err, ErrVerify) {
			t.Fatalf("%s: corrupted commitment (part %d): got %v, want ErrVerify", name, target, err)
		}
		// ... in the blob ID, or a wrong length.
		badID := e.ID
		flipBit(rng, badID[:])
		if err := c.VerifySliver(badID, e.Length, &sl, &e.Pairs[pair]); !errors.Is(err, ErrVerify) {
			t.Fatalf("%s: wrong blob ID: got %v, want ErrVerify", name, err)
		}
		if p.SymbolSize(e.Length+1) == e.SymbolSize {
			if err := c.VerifySliver(e.ID, e.Length+1, &sl, &e.Pairs[pair]); !errors.Is(err, ErrVerify) {
				t.Fatalf("%s: wrong length: got %v, want ErrVerify", name, err)
			}
		}

		// A recovery symbol with a flipped bit in its data, path or pair.
		syms := symbolsFor(t, c, e, k, idx, []int{rng.IntN(n)}, true)
		sym := cloneSymbol(syms[0])
		if err := c.VerifySymbol(e.ID, e.Length, &sym); err != nil {
			t.Fatalf("%s: valid symbol: %v", name, err)
		}
		switch part := rng.IntN(4); part {
		case 0:
			flipBit(rng, sym.Data)
		case 1:
			if len(sym.Proof.Path) == 0 {
				flipBit(rng, sym.Data)
			} else {
				flipBit(rng, sym.Proof.Path[rng.IntN(len(sym.Proof.Path))][:])
			}
		case 2:
			flipBit(rng, sym.Proof.Pair.Primary[:])
			flipBit(rng, sym.Proof.Pair.Secondary[:])
		case 3:
			flipBit(rng, sym.Proof.Pair.Path[rng.IntN(len(sym.Proof.Pair.Path))][:])
		}
		if err := c.VerifySymbol(e.ID, e.Length, &sym); !errors.Is(err, ErrVerify) {
			t.Fatalf("%s: corrupted symbol: got %v, want ErrVerify", name, err)
		}

		// Rebuilding with one lying peer: unproven → ErrRootMismatch;
		// proven → the liar is named.
		kk := p.SliverLen(k)
		from := rng.Perm(n)[:kk]
		plain := symbolsFor(t, c, e, k, idx, from, false)
		liar := rng.IntN(kk)
		plain[liar].Data = append([]byte(nil), plain[liar].Data...)
		flipBit(rng, plain[liar].Data)
		if _, err := c.Rebuild(e.ID, e.Length, k, idx, &e.Pairs[pair], plain); !errors.Is(err, ErrRootMismatch) {
			t.Fatalf("%s: rebuild with a lying peer: got %v, want ErrRootMismatch", name, err)
		}
		proven := symbolsFor(t, c, e, k, idx, from, true)
		proven[liar].Data = append([]byte(nil), proven[liar].Data...)
		flipBit(rng, proven[liar].Data)
		var bad *BadSymbolError
		if _, err := c.Rebuild(e.ID, e.Length, k, idx, &e.Pairs[pair], proven); !errors.As(err, &bad) || bad.Index != liar {
			t.Fatalf("%s: rebuild with a lying proven peer: got %v, want BadSymbolError for %d", name, err, liar)
		}

		// Decoding never returns wrong bytes from a corrupted sliver (it
		// may still return the right ones when the flip only touched
		// padding).
		rows := rng.Perm(n)[:p.Kp]
		var sls []blob.Sliver
		for _, r := range rows {
			sls = append(sls, e.Sliver(blob.Primary, r))
		}
		j := rng.IntN(len(sls))
		sls[j].Data = append([]byte(nil), sls[j].Data...)
		flipBit(rng, sls[j].Data)
		got, err := c.Decode(e.ID, e.Length, sls)
		if !errors.Is(err, ErrInconsistent) && (err != nil || !bytes.Equal(got, data)) {
			t.Fatalf("%s: decode with corrupted row %d: got %d bytes, err %v; want ErrInconsistent or the blob", name, rows[j], len(got), err)
		}
	}
}

func clonePair(pc blob.PairCommitment) blob.PairCommitment {
	pc.Path = append([]blob.Hash(nil), pc.Path...)
	return pc
}

func cloneSymbol(s blob.RecoverySymbol) blob.RecoverySymbol {
	s.Data = append([]byte(nil), s.Data...)
	if s.Proof != nil {
		pr := *s.Proof
		pr.Path = append([]blob.Hash(nil), pr.Path...)
		pr.Pair = clonePair(pr.Pair)
		s.Proof = &pr
	}
	return s
}

// recommit recomputes every commitment and the blob ID from the slivers in
// e, as a (possibly malicious) encoder would after changing them.
func recommit(t testing.TB, c *Codec, e *Encoded) {
	t.Helper()
	p := c.Params()
	roots := func(k blob.SliverKind, i int) merkle.Hash {
		src := e.Primary
		if k == blob.Secondary {
			src = e.Secondary
		}
		exp, err := c.expand(k, src[i], e.SymbolSize)
		if err != nil {
			t.Fatal(err)
		}
		return merkle.Root(symbolLeaves(exp, p.N, e.SymbolSize))
	}
	leaves := make([]merkle.Hash, p.N)
	for pair := range leaves {
		e.Pairs[pair].Primary = roots(blob.Primary, pair)
		e.Pairs[pair].Secondary = roots(blob.Secondary, p.N-1-pair)
		leaves[pair] = pairLeaf(e.Pairs[pair].Primary, e.Pairs[pair].Secondary)
	}
	tree := merkle.NewTree(leaves)
	for pair := range leaves {
		e.Pairs[pair].Path, _ = tree.Path(pair)
	}
	e.Root = tree.Root()
	e.ID = blob.ComputeID(Encoding, e.Length, e.Root)
}

func TestInconsistentBlob(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	for round := 0; round < 10; round++ {
		n := 4 + rng.IntN(40)
		c := codecFor(t, n)
		p := c.Params()
		length := 1 + rng.IntN(20_000)
		e, err := c.Encode(randBytes(rng, length))
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("seed=%d/round=%d/n=%d/len=%d", seed, round, n, length)
		// A malicious encoder changes symbol (r, col) of secondary sliver
		// col only, and commits to what it changed.
		r, col := rng.IntN(p.Kp), rng.IntN(n)
		s := e.SymbolSize
		e.Secondary[col] = append([]byte(nil), e.Secondary[col]...)
		flipBit(rng, e.Secondary[col][r*s:(r+1)*s])
		recommit(t, c, e)

		// Every sliver still verifies on its own: nothing is visibly wrong.
		sl := e.Sliver(blob.Secondary, col)
		if err := c.VerifySliver(e.ID, e.Length, &sl, &e.Pairs[n-1-col]); err != nil {
			t.Fatalf("%s: tampered sliver should verify against its own commitment: %v", name, err)
		}
		// Rebuilding primary r with the tampered column among the sources
		// exposes it, with a proof anyone can check.
		from := append([]int{col}, without(rng.Perm(n), col)[:p.Ks-1]...)
		_, err = c.Rebuild(e.ID, e.Length, blob.Primary, r, &e.Pairs[r], symbolsFor(t, c, e, blob.Primary, r, from, true))
		var inc *InconsistencyError
		if !errors.As(err, &inc) || !errors.Is(err, ErrInconsistent) {
			t.Fatalf("%s: rebuild over tampered column: got %v, want InconsistencyError", name, err)
		}
		wire, err := inc.Proof.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var proof blob.InconsistencyProof
		if err := proof.UnmarshalBinary(wire); err != nil {
			t.Fatal(err)
		}
		if err := c.VerifyInconsistencyProof(e.ID, e.Length, &proof); err != nil {
			t.Fatalf("%s: valid inconsistency proof rejected: %v", name, err)
		}
		// The same proof does not hold against another blob, and a proof
		// made of a consistent sliver's symbols is refused.
		other := e.ID
		flipBit(rng, other[:])
		if err := c.VerifyInconsistencyProof(other, e.Length, &proof); err == nil {
			t.Fatalf("%s: inconsistency proof accepted for another blob", name)
		}
		good := rng.IntN(n)
		honest := blob.InconsistencyProof{Target: blob.Secondary, Index: uint32(good), TargetPair: e.Pairs[n-1-good],
			Symbols: symbolsFor(t, c, e, blob.Secondary, good, without(rng.Perm(n), r)[:p.Kp], true)}
		if good != col {
			if err := c.VerifyInconsistencyProof(e.ID, e.Length, &honest); !errors.Is(err, ErrVerify) {
				t.Fatalf("%s: proof over consistent secondary %d: got %v, want ErrVerify", name, good, err)
			}
		}
		// Reading the blob reports it inconsistent instead of returning data.
		var sls []blob.Sliver
		for _, row := range rng.Perm(n)[:p.Kp] {
			sls = append(sls, e.Sliver(blob.Primary, row))
		}
		if _, err := c.Decode(e.ID, e.Length, sls); !errors.Is(err, ErrInconsistent) {
			t.Fatalf("%s: decode of inconsistent blob: got %v, want ErrInconsistent", name, err)
		}
	}
}

func without(s []int, v int) []int {
	out := s[:0:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
