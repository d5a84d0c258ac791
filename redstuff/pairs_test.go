package redstuff

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/weftnet/weft/blob"
)

// TestCheckPairs: a node rebuilding a random set of pairs without their
// commitments verifies exactly the pairs whose roots are right once it
// holds one commitment from each pair's candidate list, gets back the
// commitments the encoder made, and never verifies a pair checked
// together with a wrong one.
func TestCheckPairs(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 7))
	for round := 0; round < 40; round++ {
		n := randN(rng)
		c := codecFor(t, n)
		length := randLength(rng, c.Params(), 5000)
		e, err := c.Encode(randBytes(rng, length))
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("seed=%d/round=%d/n=%d", seed, round, n)
		// A run of neighbouring pairs (as a node's consecutive shards
		// give) plus a few scattered ones.
		rebuilding := map[int]bool{}
		start, run := rng.IntN(n), 1+rng.IntN(min(n-1, 6))
		for i := 0; i < run; i++ {
			rebuilding[(start+i)%n] = true
		}
		for i := rng.IntN(3); i > 0; i-- {
			rebuilding[rng.IntN(n)] = true
		}
		if len(rebuilding) == n {
			delete(rebuilding, start)
		}
		roots := map[int]PairRoots{}
		for p := range rebuilding {
			roots[p] = PairRoots{e.Pairs[p].Primary, e.Pairs[p].Secondary}
		}
		// Nothing known: only a tree made entirely of rebuilt pairs decides.
		res, _ := c.CheckPairs(e.ID, e.Length, roots, nil)
		for p, v := range res {
			if v == PairMismatch {
				t.Fatalf("%s: pair %d mismatches with right roots", name, p)
			}
		}
		var known []blob.PairCommitment
		for p := range rebuilding {
			if cand := c.CommitmentCandidates(p, rebuilding); len(cand) > 0 {
				q := cand[rng.IntN(len(cand))]
				if rebuilding[q] {
					t.Fatalf("%s: candidate %d is being rebuilt", name, q)
				}
				known = append(known, e.Pairs[q])
			}
		}
		// A forged commitment is ignored.
		forged := e.Pairs[(start+n/2)%n]
		forged.Primary[0] ^= 1
		known = append(known, forged)
		res, pcs := c.CheckPairs(e.ID, e.Length, roots, known)
		for p := range rebuilding {
			if res[p] != PairVerified {
				t.Fatalf("%s: pair %d is %v", name, p, res[p])
			}
			got, err := pcs[p].MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			want, _ := e.Pairs[p].MarshalBinary()
			if string(got) != string(want) {
				t.Fatalf("%s: pair %d: commitment differs from the encoder's", name, p)
			}
		}
		// One wrong root: that pair is never verified, nor any pair whose
		// check depends on it.
		bad := start
		r := roots[bad]
		r.Secondary[3] ^= 0x40
		roots[bad] = r
		res, pcs = c.CheckPairs(e.ID, e.Length, roots, known)
		if res[bad] != PairMismatch || pcs[bad] != nil {
			t.Fatalf("%s: wrong roots of pair %d: %v", name, bad, res[bad])
		}
		for p, v := range res {
			if v == PairVerified {
				if err := c.VerifyCommitment(e.ID, e.Length, pcs[p]); err != nil || pcs[p].Primary != e.Pairs[p].Primary {
					t.Fatalf("%s: pair %d verified wrongly", name, p)
				}
			}
		}
	}
}

// TestRebuildUnchecked: the unchecked rebuild gives the encoder's sliver
// and root, still refuses a proven symbol that lies, and Rebuild without a
// commitment is refused.
func TestRebuildUnchecked(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 8))
	for round := 0; round < 12; round++ {
		c, e := encodeRand(t, rng, 20000)
		p := c.Params()
		n := p.N
		target := blob.SliverKind(rng.IntN(2))
		index := rng.IntN(n)
		from := rng.Perm(n)[:p.SliverLen(target)]
		syms := symbolsFor(t, c, e, target, index, from, rng.IntN(2) == 0)
		data, root, used, err := c.RebuildUnchecked(e.ID, e.Length, target, index, syms)
		if err != nil {
			t.Fatalf("seed %d round %d: %v", seed, round, err)
		}
		want := e.Sliver(target, index)
		if string(data) != string(want.Data) || root != e.Pairs[p.PairOf(target, index)].Root(target) || len(used) != len(syms) {
			t.Fatalf("seed %d round %d: rebuilt %s sliver %d differs", seed, round, target, index)
		}
		proven := symbolsFor(t, c, e, target, index, from, true)
		proven[0].Data = append([]byte(nil), proven[0].Data...)
		proven[0].Data[0] ^= 1
		var bse *BadSymbolError
		if _, _, _, err := c.RebuildUnchecked(e.ID, e.Length, target, index, proven); !errors.As(err, &bse) || bse.Index != 0 {
			t.Fatalf("seed %d round %d: lying proven symbol: %v", seed, round, err)
		}
		if _, err := c.Rebuild(e.ID, e.Length, target, index, nil, syms); !errors.Is(err, ErrVerify) {
			t.Fatalf("Rebuild without a commitment: %v", err)
		}
	}
}

// TestRebuildManyUnchecked: rebuilding several slivers in one decoding
// gives each the encoder's sliver and root, the same as one at a time,
// and lists from different positions are refused.
func TestRebuildManyUnchecked(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 9))
	for round := 0; round < 12; round++ {
		c, e := encodeRand(t, rng, 20000)
		p := c.Params()
		n := p.N
		target := blob.SliverKind(rng.IntN(2))
		k := p.SliverLen(target)
		from := rng.Perm(n)[:k]
		indices := rng.Perm(n)[:1+rng.IntN(min(n, 6))]
		lists := make([][]blob.RecoverySymbol, len(indices))
		for j, index := range indices {
			order := slices.Clone(from)
			rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
			lists[j] = symbolsFor(t, c, e, target, index, order, rng.IntN(2) == 0)
		}
		data, roots, used, err := c.RebuildManyUnchecked(e.ID, e.Length, target, indices, lists)
		if err != nil {
			t.Fatalf("seed %d round %d: %v", seed, round, err)
		}
		for j, index := range indices {
			one, root, oneUsed, err := c.RebuildUnchecked(e.ID, e.Length, target, index, lists[j])
			if err != nil {
				t.Fatalf("seed %d round %d: %v", seed, round, err)
			}
			want := e.Sliver(target, index)
			if string(data[j]) != string(want.Data) || string(one) != string(want.Data) || roots[j] != root || root != e.Pairs[p.PairOf(target, index)].Root(target) || !slices.Equal(used[j], oneUsed) {
				t.Fatalf("seed %d round %d: %s sliver %d rebuilt in a batch differs", seed, round, target, index)
			}
		}
		if len(indices) > 1 && k < n {
			other := slices.Clone(from)
			for _, src := range rng.Perm(n) {
				if !slices.Contains(from, src) {
					other[rng.IntN(k)] = src
					break
				}
			}
			lists[len(lists)-1] = symbolsFor(t, c, e, target, indices[len(indices)-1], other, false)
			if _, _, _, err := c.RebuildManyUnchecked(e.ID, e.Length, target, indices, lists); !errors.Is(err, ErrPositions) {
				t.Fatalf("seed %d round %d: lists from different positions: %v", seed, round, err)
			}
		}
	}
}

// encodeRand encodes up to max random bytes with a codec of a random
// shard count.
func encodeRand(t *testing.T, rng *rand.Rand, max int) (*Codec, *Encoded) {
	t.Helper()
	c := codecFor(t, randN(rng))
	e, err := c.Encode(randBytes(rng, randLength(rng, c.Params(), max)))
	if err != nil {
		t.Fatal(err)
	}
	return c, e
}

// TestSymbolSourceLazy: systematic symbols come from the stored bytes,
// parity symbols and proofs from the extension, and both agree with the
// encoder's grid.
func TestSymbolSourceLazy(t *testing.T) {
	c := codecFor(t, 10)
	p := c.Params()
	rng := rand.New(rand.NewPCG(1, 2))
	e, err := c.Encode(randBytes(rng, 3000))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []blob.SliverKind{blob.Primary, blob.Secondary} {
		sl := e.Sliver(kind, 3)
		ss, err := c.NewSymbolSource(e.Length, &sl, &e.Pairs[p.PairOf(kind, 3)])
		if err != nil {
			t.Fatal(err)
		}
		for pos := 0; pos < p.N; pos++ {
			d, err := ss.Data(pos)
			if err != nil {
				t.Fatal(err)
			}
			sym, err := ss.Symbol(pos, true)
			if err != nil {
				t.Fatal(err)
			}
			if string(d) != string(sym.Data) {
				t.Fatalf("%s position %d: data differs", kind, pos)
			}
			if err := c.VerifySymbol(e.ID, e.Length, &sym); err != nil {
				t.Fatalf("%s position %d: %v", kind, pos, err)
			}
		}
		if _, err := ss.Data(p.N); !errors.Is(err, ErrIndex) {
			t.Fatalf("position n: %v", err)
		}
	}
}

// TestPairsInconsistencyProof: a node without its pair's commitment that
// rebuilds a pair of an inconsistently encoded blob from proven symbols
// gets a proof anyone can check; the same proof over a consistent blob,
// or with a symbol tampered with, does not verify.
func TestPairsInconsistencyProof(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 9))
	for round := 0; round < 10; round++ {
		n := 4 + rng.IntN(40)
		c := codecFor(t, n)
		p := c.Params()
		good, err := c.Encode(randBytes(rng, 1+rng.IntN(20_000)))
		if err != nil {
			t.Fatal(err)
		}
		// The encoder changes one stored symbol of primary sliver row and
		// commits to it: the columns disagree with the row.
		bad := *good
		bad.Primary = append([][]byte(nil), good.Primary...)
		bad.Pairs = make([]blob.PairCommitment, n)
		for i := range bad.Pairs {
			bad.Pairs[i] = clonePair(good.Pairs[i])
		}
		row := rng.IntN(n)
		bad.Primary[row] = append([]byte(nil), good.Primary[row]...)
		bad.Primary[row][rng.IntN(p.Ks)*good.SymbolSize] ^= 1
		recommit(t, c, &bad)
		name := fmt.Sprintf("seed=%d/round=%d/n=%d/row=%d", seed, round, n, row)
		for _, e := range []*Encoded{&bad, good} {
			pair := row
			var syms []blob.RecoverySymbol
			for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
				idx := p.PrimaryOf(pair)
				if k == blob.Secondary {
					idx = p.SecondaryOf(pair)
				}
				syms = append(syms, symbolsFor(t, c, e, k, idx, rng.Perm(n)[:p.SliverLen(k)], true)...)
			}
			rebuilding := map[int]bool{pair: true}
			var known []blob.PairCommitment
			if cand := c.CommitmentCandidates(pair, rebuilding); len(cand) > 0 {
				known = append(known, e.Pairs[cand[0]])
			}
			proof := blob.PairsInconsistencyProof{Pairs: []uint32{uint32(pair)}, Known: known, Symbols: syms}
			raw, err := proof.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var back blob.PairsInconsistencyProof
			if err := back.UnmarshalBinary(raw); err != nil {
				t.Fatal(err)
			}
			err = c.VerifyPairsInconsistencyProof(e.ID, e.Length, &back)
			if e == good {
				if !errors.Is(err, ErrVerify) {
					t.Fatalf("%s: a consistent blob was proven inconsistent: %v", name, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: proof does not verify: %v", name, err)
			}
			back.Symbols[0] = cloneSymbol(back.Symbols[0])
			back.Symbols[0].Data[0] ^= 1
			var bse *BadSymbolError
			if err := c.VerifyPairsInconsistencyProof(e.ID, e.Length, &back); !errors.As(err, &bse) {
				t.Fatalf("%s: tampered proof: %v", name, err)
			}
		}
	}
}
