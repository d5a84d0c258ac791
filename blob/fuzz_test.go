package blob_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/weftnet/weft/blob"
)

var update = flag.Bool("update", false, "rewrite the seed corpus files in testdata/fuzz")

// Seed inputs: valid encodings from a fixed generator, so that -update
// writes the same files every time.

func seedRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

func mustMarshal(v interface{ MarshalBinary() ([]byte, error) }) []byte {
	b, err := v.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

func seedPairs() [][]byte {
	rng := seedRand()
	var out [][]byte
	for _, n := range []int{0, 1, 4, blob.MaxPathLen} {
		c := randPair(rng, n)
		out = append(out, mustMarshal(&c))
	}
	return out
}

func seedSlivers() [][]byte {
	rng := seedRand()
	out := [][]byte{
		mustMarshal(&blob.Sliver{SymbolSize: 2}),
		mustMarshal(&blob.Sliver{Kind: blob.Secondary, Index: 3, SymbolSize: 4, Data: randBytes(rng, 12)}),
		mustMarshal(&blob.Sliver{Kind: blob.Primary, Index: 1 << 20, SymbolSize: 6, Data: randBytes(rng, 6)}),
	}
	return out
}

func seedSymbols() [][]byte {
	rng := seedRand()
	withProof := blob.RecoverySymbol{
		Source: blob.Secondary, Row: 5, Col: 2, Data: randBytes(rng, 4),
		Proof: &blob.SymbolProof{Path: randPath(rng, 3), Pair: randPair(rng, 2)},
	}
	emptyPaths := blob.RecoverySymbol{Source: blob.Primary, Row: 1, Col: 7, Data: randBytes(rng, 2),
		Proof: &blob.SymbolProof{}}
	return [][]byte{
		mustMarshal(&blob.RecoverySymbol{Source: blob.Primary, Row: 0, Col: 1, Data: []byte{0xab, 0xcd}}),
		mustMarshal(&withProof),
		mustMarshal(&emptyPaths),
	}
}

func seedInconsistencyProofs() [][]byte {
	rng := seedRand()
	small := func(proof bool) blob.RecoverySymbol {
		s := blob.RecoverySymbol{Source: randKind(rng), Row: rng.Uint32N(64), Col: rng.Uint32N(64), Data: randBytes(rng, 2)}
		if proof {
			s.Proof = &blob.SymbolProof{Path: randPath(rng, 1), Pair: randPair(rng, 1)}
		}
		return s
	}
	var out [][]byte
	for _, syms := range [][]blob.RecoverySymbol{
		nil,
		{small(false)},
		{small(true), small(false), small(true)},
	} {
		p := blob.InconsistencyProof{Target: blob.Secondary, Index: 4, TargetPair: randPair(rng, 2), Symbols: syms}
		out = append(out, mustMarshal(&p))
	}
	return out
}

func seedPairsProofs() [][]byte {
	rng := seedRand()
	sym := blob.RecoverySymbol{Source: blob.Primary, Row: 3, Col: 9, Data: randBytes(rng, 4),
		Proof: &blob.SymbolProof{Path: randPath(rng, 2), Pair: randPair(rng, 2)}}
	return [][]byte{
		mustMarshal(&blob.PairsInconsistencyProof{}),
		mustMarshal(&blob.PairsInconsistencyProof{Pairs: []uint32{3}, Known: []blob.PairCommitment{randPair(rng, 2)}, Symbols: []blob.RecoverySymbol{sym, sym}}),
	}
}

func seedIDs() []string {
	rng := seedRand()
	return []string{
		blob.ID{}.String(),
		fillID(0xfb).String(),
		randID(rng).String(),
		blob.ComputeID(blob.RS2D16, 1<<20, randHash(rng)).String(),
	}
}

// corpusFile is the go test fuzz v1 encoding of one []byte or string input.
func corpusFile(v any) []byte {
	switch v := v.(type) {
	case []byte:
		return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", v)
	case string:
		return fmt.Appendf(nil, "go test fuzz v1\nstring(%q)\n", v)
	}
	panic("unsupported corpus type")
}

func seedFiles() map[string][]any {
	asAny := func(bs [][]byte) []any {
		var out []any
		for _, b := range bs {
			out = append(out, b)
		}
		return out
	}
	var ids []any
	for _, s := range seedIDs() {
		ids = append(ids, s)
	}
	return map[string][]any{
		"FuzzPairCommitment":     asAny(seedPairs()),
		"FuzzSliver":             asAny(seedSlivers()),
		"FuzzRecoverySymbol":     asAny(seedSymbols()),
		"FuzzInconsistencyProof": asAny(seedInconsistencyProofs()),
		"FuzzPairsProof":         asAny(seedPairsProofs()),
		"FuzzParseID":            ids,
	}
}

// TestFuzzCorpus checks the seed files in testdata/fuzz against the
// generators above; go test ./blob -run TestFuzzCorpus -update rewrites
// them.
// Files the fuzzer adds there (named by hash) are left alone.
func TestFuzzCorpus(t *testing.T) {
	for fuzzer, inputs := range seedFiles() {
		dir := filepath.Join("testdata", "fuzz", fuzzer)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for i, in := range inputs {
			name := filepath.Join(dir, fmt.Sprintf("seed-%d", i))
			want := corpusFile(in)
			if *update {
				if err := os.WriteFile(name, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(name)
			if err != nil {
				t.Errorf("%v (regenerate with go test ./blob -run TestFuzzCorpus -update)", err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is stale (regenerate with go test ./blob -run TestFuzzCorpus -update)", name)
			}
		}
	}
}

// fuzzCanonical is the property every wire fuzzer checks: decoding never
// panics, and whatever decodes re-encodes to exactly the input and decodes
// again to an equal value.
func fuzzCanonical[T any, P interface {
	*T
	wireValue
}](t *testing.T, data []byte, check func(*testing.T, *T)) {
	var v T
	if err := P(&v).UnmarshalBinary(data); err != nil {
		if !errors.Is(err, blob.ErrWire) {
			t.Fatalf("error %v does not wrap ErrWire", err)
		}
		return
	}
	check(t, &v)
	b, err := P(&v).MarshalBinary()
	if err != nil {
		t.Fatalf("re-encoding a decoded value: %v", err)
	}
	if !bytes.Equal(b, data) {
		t.Fatalf("non-canonical: input\n%x\nre-encodes as\n%x", data, b)
	}
	var w T
	if err := P(&w).UnmarshalBinary(b); err != nil {
		t.Fatalf("decoding the re-encoding: %v", err)
	}
	if !reflect.DeepEqual(v, w) {
		t.Fatalf("decoding twice gives\n%+v\nthen\n%+v", v, w)
	}
}

func checkKind(t *testing.T, what string, k blob.SliverKind) {
	if k != blob.Primary && k != blob.Secondary {
		t.Fatalf("decoded %s %d", what, k)
	}
}

func checkPath(t *testing.T, what string, p []blob.Hash) {
	if len(p) > blob.MaxPathLen {
		t.Fatalf("decoded %s of %d hashes", what, len(p))
	}
}

func checkSymbol(t *testing.T, s *blob.RecoverySymbol) {
	checkKind(t, "symbol source", s.Source)
	if len(s.Data) == 0 || len(s.Data)%2 != 0 {
		t.Fatalf("decoded symbol of %d bytes", len(s.Data))
	}
	if s.Proof != nil {
		checkPath(t, "symbol path", s.Proof.Path)
		checkPath(t, "symbol pair path", s.Proof.Pair.Path)
	}
}

func FuzzPairCommitment(f *testing.F) {
	for _, b := range seedPairs() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzCanonical(t, data, func(t *testing.T, c *blob.PairCommitment) {
			checkPath(t, "path", c.Path)
		})
	})
}

func FuzzSliver(f *testing.F) {
	for _, b := range seedSlivers() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzCanonical(t, data, func(t *testing.T, s *blob.Sliver) {
			checkKind(t, "sliver kind", s.Kind)
			if s.SymbolSize == 0 || s.SymbolSize%2 != 0 || uint64(len(s.Data))%uint64(s.SymbolSize) != 0 {
				t.Fatalf("decoded sliver of %d bytes with symbol size %d", len(s.Data), s.SymbolSize)
			}
		})
	})
}

func FuzzRecoverySymbol(f *testing.F) {
	for _, b := range seedSymbols() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzCanonical(t, data, checkSymbol)
	})
}

func FuzzInconsistencyProof(f *testing.F) {
	for _, b := range seedInconsistencyProofs() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzCanonical(t, data, func(t *testing.T, p *blob.InconsistencyProof) {
			checkKind(t, "target kind", p.Target)
			checkPath(t, "target pair path", p.TargetPair.Path)
			if len(p.Symbols) > blob.MaxSymbols {
				t.Fatalf("decoded %d symbols", len(p.Symbols))
			}
			for i := range p.Symbols {
				checkSymbol(t, &p.Symbols[i])
			}
		})
	})
}

func FuzzPairsProof(f *testing.F) {
	for _, b := range seedPairsProofs() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzCanonical(t, data, func(t *testing.T, p *blob.PairsInconsistencyProof) {
			if len(p.Symbols) > blob.MaxPairsSymbols || len(p.Pairs) > blob.MaxSymbols || len(p.Known) > blob.MaxSymbols {
				t.Fatalf("decoded %d pairs, %d commitments, %d symbols", len(p.Pairs), len(p.Known), len(p.Symbols))
			}
			for i := range p.Known {
				checkPath(t, "commitment path", p.Known[i].Path)
			}
			for i := range p.Symbols {
				checkSymbol(t, &p.Symbols[i])
			}
		})
	})
}

func FuzzParseID(f *testing.F) {
	for _, s := range seedIDs() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := blob.ParseID(s)
		if err != nil {
			if !errors.Is(err, blob.ErrBadID) {
				t.Fatalf("ParseID(%q): error %v does not wrap ErrBadID", s, err)
			}
			if id != (blob.ID{}) {
				t.Fatalf("ParseID(%q) returned %v with an error", s, id)
			}
			return
		}
		if got := id.String(); got != s {
			t.Fatalf("ParseID(%q) = %x, which prints as %q: non-canonical input accepted", s, id[:], got)
		}
		again, err := blob.ParseID(id.String())
		if err != nil || again != id {
			t.Fatalf("ParseID(String()) = %v, %v, want %v", again, err, id)
		}
	})
}

func FuzzSliverMessage(f *testing.F) {
	m := &blob.SliverMessage{
		Commitment: blob.PairCommitment{Pair: 2, Primary: blob.Hash{1}, Secondary: blob.Hash{2}, Path: []blob.Hash{{3}}},
		Sliver:     blob.Sliver{Kind: blob.Secondary, Index: 7, SymbolSize: 2, Data: []byte{1, 2, 3, 4}},
	}
	b, err := m.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var got blob.SliverMessage
		if err := got.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, blob.ErrWire) {
				t.Fatalf("error does not wrap ErrWire: %v", err)
			}
			return
		}
		again, err := got.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("decoded message does not re-encode to its input (%v)", err)
		}
	})
}

// TestDecodeProof decodes both forms of inconsistency proof by their tag,
// to the type that wrote them, and refuses other messages.
func TestDecodeProof(t *testing.T) {
	for _, raw := range append(seedInconsistencyProofs(), seedPairsProofs()...) {
		p, err := blob.DecodeProof(raw)
		if err != nil {
			t.Fatalf("DecodeProof: %v", err)
		}
		again, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("%T does not encode back to its input: %v", p, err)
		}
		want := "*blob.InconsistencyProof"
		if raw[1] == 'P' {
			want = "*blob.PairsInconsistencyProof"
		}
		if got := fmt.Sprintf("%T", p); got != want {
			t.Fatalf("tag %q decoded as %s, want %s", raw[1], got, want)
		}
	}
	for _, raw := range append([][]byte{nil, {blob.WireVersion}}, seedSymbols()...) {
		if _, err := blob.DecodeProof(raw); !errors.Is(err, blob.ErrWire) {
			t.Fatalf("DecodeProof(% x): %v, want ErrWire", raw[:min(len(raw), 4)], err)
		}
	}
}
