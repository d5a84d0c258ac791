package blob_test

import (
	"bytes"
	"encoding"
	"errors"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strconv"
	"testing"

	"github.com/weftnet/weft/blob"
)

// spec builds encodings byte by byte from the layouts documented on the
// MarshalBinary methods, independently of wire.go.
type spec []byte

func (s spec) u8(v byte) spec { return append(s, v) }

func (s spec) u32(v uint32) spec {
	return append(s, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func (s spec) raw(b []byte) spec { return append(s, b...) }

func (s spec) hash(h blob.Hash) spec { return append(s, h[:]...) }

func (s spec) path(p []blob.Hash) spec {
	s = s.u8(byte(len(p)))
	for _, h := range p {
		s = s.hash(h)
	}
	return s
}

func (s spec) pair(c *blob.PairCommitment) spec {
	return s.u32(c.Pair).hash(c.Primary).hash(c.Secondary).path(c.Path)
}

func (s spec) symbol(r *blob.RecoverySymbol) spec {
	s = s.u8(byte(r.Source)).u32(r.Row).u32(r.Col).u32(uint32(len(r.Data))).raw(r.Data)
	if r.Proof == nil {
		return s.u8(0)
	}
	return s.u8(1).path(r.Proof.Path).pair(&r.Proof.Pair)
}

func specPair(c *blob.PairCommitment) []byte {
	return spec{blob.WireVersion, 'C'}.pair(c)
}

func specSliver(v *blob.Sliver) []byte {
	return spec{blob.WireVersion, 'S'}.u8(byte(v.Kind)).u32(v.Index).u32(v.SymbolSize).
		u32(uint32(len(v.Data))).raw(v.Data)
}

func specSymbol(r *blob.RecoverySymbol) []byte {
	return spec{blob.WireVersion, 'R'}.symbol(r)
}

func specProof(p *blob.InconsistencyProof) []byte {
	s := spec{blob.WireVersion, 'I'}.u8(byte(p.Target)).u32(p.Index).pair(&p.TargetPair).
		u32(uint32(len(p.Symbols)))
	for i := range p.Symbols {
		s = s.symbol(&p.Symbols[i])
	}
	return s
}

// Random valid values.

func randPath(rng *rand.Rand, n int) []blob.Hash {
	p := make([]blob.Hash, n)
	for i := range p {
		p[i] = randHash(rng)
	}
	return p
}

func randPair(rng *rand.Rand, pathLen int) blob.PairCommitment {
	return blob.PairCommitment{
		Pair:      rng.Uint32() >> rng.UintN(32),
		Primary:   randHash(rng),
		Secondary: randHash(rng),
		Path:      randPath(rng, pathLen),
	}
}

func randKind(rng *rand.Rand) blob.SliverKind { return blob.SliverKind(rng.UintN(2)) }

func randSliver(rng *rand.Rand) blob.Sliver {
	size := 2 * (1 + rng.UintN(32))
	return blob.Sliver{
		Kind:       randKind(rng),
		Index:      rng.Uint32() >> rng.UintN(32),
		SymbolSize: uint32(size),
		Data:       randBytes(rng, int(size*rng.UintN(20))),
	}
}

func randSymbol(rng *rand.Rand, withProof bool) blob.RecoverySymbol {
	s := blob.RecoverySymbol{
		Source: randKind(rng),
		Row:    rng.Uint32() >> rng.UintN(32),
		Col:    rng.Uint32() >> rng.UintN(32),
		Data:   randBytes(rng, 2*(1+rng.IntN(40))),
	}
	if withProof {
		s.Proof = &blob.SymbolProof{
			Path: randPath(rng, rng.IntN(blob.MaxPathLen+1)),
			Pair: randPair(rng, rng.IntN(blob.MaxPathLen+1)),
		}
	}
	return s
}

func randInconsistency(rng *rand.Rand, nsym int) blob.InconsistencyProof {
	p := blob.InconsistencyProof{
		Target:     randKind(rng),
		Index:      rng.Uint32() >> rng.UintN(32),
		TargetPair: randPair(rng, rng.IntN(blob.MaxPathLen+1)),
	}
	for range nsym {
		p.Symbols = append(p.Symbols, randSymbol(rng, rng.IntN(3) != 0))
	}
	return p
}

// Normalisation for comparisons: decoders may return empty slices where the
// original had nil ones; both encode the same.

func normPath(p []blob.Hash) []blob.Hash {
	if len(p) == 0 {
		return nil
	}
	return p
}

func normBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func normPair(c blob.PairCommitment) blob.PairCommitment {
	c.Path = normPath(c.Path)
	return c
}

func normSliver(s blob.Sliver) blob.Sliver {
	s.Data = normBytes(s.Data)
	return s
}

func normSymbol(s blob.RecoverySymbol) blob.RecoverySymbol {
	s.Data = normBytes(s.Data)
	if s.Proof != nil {
		p := *s.Proof
		p.Path = normPath(p.Path)
		p.Pair = normPair(p.Pair)
		s.Proof = &p
	}
	return s
}

func normInconsistency(p blob.InconsistencyProof) blob.InconsistencyProof {
	p.TargetPair = normPair(p.TargetPair)
	if len(p.Symbols) == 0 {
		p.Symbols = nil
	} else {
		syms := make([]blob.RecoverySymbol, len(p.Symbols))
		for i := range syms {
			syms[i] = normSymbol(p.Symbols[i])
		}
		p.Symbols = syms
	}
	return p
}

type wireValue interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// checkRoundTrip encodes v, compares the encoding with want, decodes it
// into a fresh value over a non-zero junk value and compares the result
// with v after normalising both with norm.
func checkRoundTrip[T any, P interface {
	*T
	wireValue
}](t *testing.T, name string, v T, junk T, want []byte, norm func(T) T) {
	t.Helper()
	b, err := P(&v).MarshalBinary()
	if err != nil {
		t.Fatalf("%s: MarshalBinary: %v", name, err)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("%s: MarshalBinary =\n%x\nwant (documented layout)\n%x", name, b, want)
	}
	got := junk
	if err := P(&got).UnmarshalBinary(b); err != nil {
		t.Fatalf("%s: UnmarshalBinary: %v", name, err)
	}
	if !reflect.DeepEqual(norm(got), norm(v)) {
		t.Fatalf("%s: round trip =\n%+v\nwant\n%+v", name, got, v)
	}
	again, err := P(&got).MarshalBinary()
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("%s: re-encoding the decoded value = %x, %v, want %x", name, again, err, b)
	}
}

func TestPairCommitmentRoundTrip(t *testing.T) {
	rng := newRand(t)
	junk := randPair(rng, 3)
	for _, n := range []int{0, 1, 2, 15, blob.MaxPathLen} {
		c := randPair(rng, n)
		checkRoundTrip(t, "pair", c, junk, specPair(&c), normPair)
	}
	zero := blob.PairCommitment{}
	checkRoundTrip(t, "zero pair", zero, junk, specPair(&zero), normPair)
	max := blob.PairCommitment{Pair: 1<<32 - 1}
	checkRoundTrip(t, "max pair", max, junk, specPair(&max), normPair)
	for range 200 {
		c := randPair(rng, rng.IntN(blob.MaxPathLen+1))
		checkRoundTrip(t, "random pair", c, junk, specPair(&c), normPair)
	}
}

func TestSliverRoundTrip(t *testing.T) {
	rng := newRand(t)
	junk := randSliver(rng)
	for _, s := range []blob.Sliver{
		{Kind: blob.Primary, Index: 0, SymbolSize: 2},
		{Kind: blob.Secondary, Index: 1<<32 - 1, SymbolSize: 2, Data: []byte{1, 2}},
		{Kind: blob.Primary, Index: 7, SymbolSize: 1<<32 - 2},
		{Kind: blob.Secondary, Index: 3, SymbolSize: 6, Data: randBytes(rng, 18)},
		{Kind: blob.Primary, Index: 3, SymbolSize: 1024, Data: randBytes(rng, 64*1024)},
	} {
		checkRoundTrip(t, "sliver", s, junk, specSliver(&s), normSliver)
	}
	for range 200 {
		s := randSliver(rng)
		checkRoundTrip(t, "random sliver", s, junk, specSliver(&s), normSliver)
	}
}

func TestRecoverySymbolRoundTrip(t *testing.T) {
	rng := newRand(t)
	junk := randSymbol(rng, true)
	noProof := randSymbol(rng, false)
	withProof := randSymbol(rng, true)
	emptyProof := randSymbol(rng, false)
	emptyProof.Proof = &blob.SymbolProof{}
	fullProof := randSymbol(rng, false)
	fullProof.Proof = &blob.SymbolProof{
		Path: randPath(rng, blob.MaxPathLen),
		Pair: randPair(rng, blob.MaxPathLen),
	}
	for name, s := range map[string]blob.RecoverySymbol{
		"without proof":          noProof,
		"with proof":             withProof,
		"with empty paths":       emptyProof,
		"with full paths":        fullProof,
		"two bytes, max indices": {Source: blob.Secondary, Row: 1<<32 - 1, Col: 1<<32 - 1, Data: []byte{0, 0}},
	} {
		checkRoundTrip(t, name, s, junk, specSymbol(&s), normSymbol)
		// And into a value that had no proof.
		checkRoundTrip(t, name, s, noProof, specSymbol(&s), normSymbol)
	}
	for range 200 {
		s := randSymbol(rng, rng.IntN(2) == 0)
		checkRoundTrip(t, "random symbol", s, junk, specSymbol(&s), normSymbol)
	}
}

func TestInconsistencyProofRoundTrip(t *testing.T) {
	rng := newRand(t)
	junk := randInconsistency(rng, 2)
	for _, n := range []int{0, 1, 2, 5, 17} {
		p := randInconsistency(rng, n)
		checkRoundTrip(t, "inconsistency proof", p, junk, specProof(&p), normInconsistency)
	}
	for range 100 {
		p := randInconsistency(rng, rng.IntN(8))
		checkRoundTrip(t, "random inconsistency proof", p, junk, specProof(&p), normInconsistency)
	}
}

func TestInconsistencyProofMaxSymbols(t *testing.T) {
	p := blob.InconsistencyProof{Symbols: make([]blob.RecoverySymbol, blob.MaxSymbols)}
	for i := range p.Symbols {
		p.Symbols[i] = blob.RecoverySymbol{Row: uint32(i), Data: []byte{byte(i), byte(i >> 8)}}
	}
	checkRoundTrip(t, "MaxSymbols symbols", p, blob.InconsistencyProof{}, specProof(&p), normInconsistency)

	// One more, all present and well formed, is still too many.
	p.Symbols = append(p.Symbols, p.Symbols[0])
	checkRejects(t, blob.InconsistencyProof{}, []badCase{{"MaxSymbols+1 symbols", specProof(&p)}})
}

// The decoded data aliases the input, as documented, but must not let an
// append through it overwrite the bytes that follow it.
func TestDecodedDataAliasing(t *testing.T) {
	rng := newRand(t)
	sym := randSymbol(rng, true)
	b, _ := sym.MarshalBinary()
	orig := bytes.Clone(b)
	var got blob.RecoverySymbol
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	_ = append(got.Data, 0xee, 0xee, 0xee)
	if !bytes.Equal(b, orig) {
		t.Errorf("appending to RecoverySymbol.Data overwrote the input")
	}

	sl := randSliver(rng)
	sl.Data = randBytes(rng, 8)
	sl.SymbolSize = 4
	b, _ = sl.MarshalBinary()
	b = append(b, 0x55)[:len(b)] // spare capacity after the encoding
	var gs blob.Sliver
	if err := gs.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	_ = append(gs.Data, 0xee)
	if b[:len(b)+1][len(b)] != 0x55 {
		t.Errorf("appending to Sliver.Data wrote past the input")
	}
	b[len(b)-1] ^= 0xff
	if gs.Data[len(gs.Data)-1] != b[len(b)-1] {
		t.Errorf("Sliver.Data does not alias the input as documented")
	}
}

func TestMarshalRejectsOverlongValues(t *testing.T) {
	rng := newRand(t)
	long := randPath(rng, blob.MaxPathLen+1)
	okSym := randSymbol(rng, false)
	for name, v := range map[string]encoding.BinaryMarshaler{
		"pair path":                     &blob.PairCommitment{Path: long},
		"symbol path":                   &blob.RecoverySymbol{Data: []byte{1, 2}, Proof: &blob.SymbolProof{Path: long}},
		"symbol pair path":              &blob.RecoverySymbol{Data: []byte{1, 2}, Proof: &blob.SymbolProof{Pair: blob.PairCommitment{Path: long}}},
		"inconsistency target path":     &blob.InconsistencyProof{TargetPair: blob.PairCommitment{Path: long}},
		"inconsistency symbol path":     &blob.InconsistencyProof{Symbols: []blob.RecoverySymbol{okSym, {Data: []byte{1, 2}, Proof: &blob.SymbolProof{Path: long}}}},
		"inconsistency symbol pair":     &blob.InconsistencyProof{Symbols: []blob.RecoverySymbol{{Data: []byte{1, 2}, Proof: &blob.SymbolProof{Pair: blob.PairCommitment{Path: long}}}}},
		"inconsistency too many":        &blob.InconsistencyProof{Symbols: make([]blob.RecoverySymbol, blob.MaxSymbols+1)},
		"pair path of 256 (wraps u8)":   &blob.PairCommitment{Path: make([]blob.Hash, 256)},
		"symbol path of 256 (wraps u8)": &blob.RecoverySymbol{Data: []byte{1, 2}, Proof: &blob.SymbolProof{Path: make([]blob.Hash, 256)}},
	} {
		if b, err := v.MarshalBinary(); err == nil {
			t.Errorf("%s: MarshalBinary succeeded with %d bytes", name, len(b))
		}
	}
}

// Malformed inputs.

type badCase struct {
	name string
	data []byte
}

// checkRejects decodes each case into a copy of the valid value v, which
// must fail with ErrWire and leave the value as it was.
func checkRejects[T any, P interface {
	*T
	wireValue
}](t *testing.T, v T, cases []badCase) {
	t.Helper()
	before, err := P(&v).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		got := v
		err := P(&got).UnmarshalBinary(tc.data)
		if !errors.Is(err, blob.ErrWire) {
			t.Errorf("%s: UnmarshalBinary(%x) = %v, want ErrWire", tc.name, clip(tc.data), err)
			continue
		}
		if after, _ := P(&got).MarshalBinary(); !bytes.Equal(after, before) {
			t.Errorf("%s: failed UnmarshalBinary changed the value", tc.name)
		}
	}
}

// clip shortens b for error messages.
func clip(b []byte) []byte { return b[:min(len(b), 128)] }

// framingCases are the failures common to every type: each truncation,
// trailing bytes, and bad version or type tag.
func framingCases(valid []byte) []badCase {
	cases := []badCase{{"nil", nil}}
	for n := range len(valid) {
		cases = append(cases, badCase{"truncated to " + strconv.Itoa(n), valid[:n]})
	}
	cases = append(cases,
		badCase{"trailing zero", append(bytes.Clone(valid), 0)},
		badCase{"trailing copy", append(bytes.Clone(valid), valid...)},
	)
	for _, v := range []byte{0, 2, 255} {
		b := bytes.Clone(valid)
		b[0] = v
		cases = append(cases, badCase{"version " + strconv.Itoa(int(v)), b})
	}
	for _, tag := range []byte{0, 'C', 'S', 'R', 'I', 'c', 's', 'r', 'i', 0xff} {
		if tag == valid[1] {
			continue
		}
		b := bytes.Clone(valid)
		b[1] = tag
		cases = append(cases, badCase{"tag " + string(rune(tag)), b})
	}
	return cases
}

func TestPairCommitmentRejects(t *testing.T) {
	rng := newRand(t)
	for _, n := range []int{0, 1, blob.MaxPathLen} {
		c := randPair(rng, n)
		checkRejects(t, c, framingCases(specPair(&c)))
	}
	c := randPair(rng, 2)
	hdr := spec{blob.WireVersion, 'C'}.u32(1).hash(c.Primary).hash(c.Secondary)
	checkRejects(t, c, []badCase{
		{"path length 17", hdr.path(randPath(rng, 17))},
		{"path length 255", hdr.path(randPath(rng, 255))},
		{"path length 17, short", hdr.u8(17).raw(make([]byte, 32))},
		{"path length 2, one hash", hdr.u8(2).raw(make([]byte, 32))},
		{"path length 1, one hash and a byte", hdr.u8(1).raw(make([]byte, 33))},
		{"sliver encoding", specSliver(&blob.Sliver{SymbolSize: 2})},
	})
}

func TestSliverRejects(t *testing.T) {
	rng := newRand(t)
	valid := blob.Sliver{Kind: blob.Secondary, Index: 5, SymbolSize: 4, Data: randBytes(rng, 12)}
	checkRejects(t, valid, framingCases(specSliver(&valid)))
	empty := blob.Sliver{SymbolSize: 2}
	checkRejects(t, empty, framingCases(specSliver(&empty)))

	sliver := func(kind byte, size uint32, dataLen uint32, data []byte) []byte {
		return spec{blob.WireVersion, 'S'}.u8(kind).u32(5).u32(size).u32(dataLen).raw(data)
	}
	d12 := randBytes(rng, 12)
	checkRejects(t, valid, []badCase{
		{"kind 2", sliver(2, 4, 12, d12)},
		{"kind 255", sliver(255, 4, 12, d12)},
		{"symbol size 0", sliver(0, 0, 12, d12)},
		{"symbol size 0, no data", sliver(0, 0, 0, nil)},
		{"symbol size 1", sliver(0, 1, 12, d12)},
		{"symbol size 3", sliver(0, 3, 12, d12)},
		{"symbol size odd max", sliver(0, 1<<32-1, 0, nil)},
		{"data not whole symbols", sliver(0, 8, 12, d12)},
		{"data longer than size", sliver(0, 14, 12, d12)},
		{"length one more than data", sliver(0, 4, 13, d12)},
		{"length one less than data", sliver(0, 4, 11, d12)},
		{"length 2^32-1, tiny data", sliver(0, 4, 1<<32-1, d12)},
		{"length 2^31, tiny data", sliver(0, 4, 1<<31, d12)},
		{"pair encoding", specPair(&blob.PairCommitment{})},
	})
}

func TestRecoverySymbolRejects(t *testing.T) {
	rng := newRand(t)
	for _, withProof := range []bool{false, true} {
		s := randSymbol(rng, withProof)
		checkRejects(t, s, framingCases(specSymbol(&s)))
	}
	valid := randSymbol(rng, true)
	head := func(kind byte, dataLen uint32, data []byte) spec {
		return spec{blob.WireVersion, 'R'}.u8(kind).u32(1).u32(2).u32(dataLen).raw(data)
	}
	d4 := randBytes(rng, 4)
	pair := randPair(rng, 3)
	checkRejects(t, valid, []badCase{
		{"source 2", head(2, 4, d4).u8(0)},
		{"source 255", head(255, 4, d4).u8(0)},
		{"no data", head(0, 0, nil).u8(0)},
		{"no data, with proof", head(0, 0, nil).u8(1).path(nil).pair(&pair)},
		{"odd data", head(0, 3, d4[:3]).u8(0)},
		{"one byte", head(0, 1, d4[:1]).u8(0)},
		{"proof flag 2", head(0, 4, d4).u8(2)},
		{"proof flag 255", head(0, 4, d4).u8(255)},
		{"proof flag 2 followed by a proof", head(0, 4, d4).u8(2).path(nil).pair(&pair)},
		{"proof flag 1 without proof", head(0, 4, d4).u8(1)},
		{"proof flag 0 followed by a proof", head(0, 4, d4).u8(0).path(nil).pair(&pair)},
		{"proof path 17", head(0, 4, d4).u8(1).path(randPath(rng, 17)).pair(&pair)},
		{"proof path 255", head(0, 4, d4).u8(1).path(randPath(rng, 255)).pair(&pair)},
		{"proof pair path 17", head(0, 4, d4).u8(1).path(nil).u32(0).hash(pair.Primary).hash(pair.Secondary).path(randPath(rng, 17))},
		{"data length 2^32-1, tiny data", head(0, 1<<32-1, d4).u8(0)},
		{"data length 2^32-2, tiny data", head(0, 1<<32-2, d4).u8(0)},
		{"data length swallows the flag", head(0, 6, d4).u8(0).u8(0)},
		{"sliver encoding", specSliver(&blob.Sliver{SymbolSize: 2})},
	})
}

func TestInconsistencyProofRejects(t *testing.T) {
	rng := newRand(t)
	for _, n := range []int{0, 1, 3} {
		p := randInconsistency(rng, n)
		checkRejects(t, p, framingCases(specProof(&p)))
	}
	valid := randInconsistency(rng, 2)
	pair := randPair(rng, 2)
	head := func(kind byte, targetPath []blob.Hash, count uint32) spec {
		c := pair
		c.Path = targetPath
		return spec{blob.WireVersion, 'I'}.u8(kind).u32(9).pair(&c).u32(count)
	}
	good := randSymbol(rng, true)
	goodNoProof := randSymbol(rng, false)
	sym := func(edit func(*blob.RecoverySymbol)) *blob.RecoverySymbol {
		s := goodNoProof
		s.Data = bytes.Clone(s.Data)
		edit(&s)
		return &s
	}
	path2 := randPath(rng, 2)
	checkRejects(t, valid, []badCase{
		{"target kind 2", head(2, path2, 0)},
		{"target kind 255", head(255, path2, 1).symbol(&good)},
		{"target path 17", head(0, randPath(rng, 17), 0)},
		{"count 2, one symbol", head(0, path2, 2).symbol(&good)},
		{"count 0, one symbol", head(0, path2, 0).symbol(&good)},
		{"count 1, two symbols", head(0, path2, 1).symbol(&good).symbol(&goodNoProof)},
		{"symbol source 2", head(0, path2, 2).symbol(&good).symbol(sym(func(s *blob.RecoverySymbol) { s.Source = 2 }))},
		{"symbol odd data", head(0, path2, 2).symbol(&good).symbol(sym(func(s *blob.RecoverySymbol) { s.Data = s.Data[:len(s.Data)-1] }))},
		{"symbol no data", head(0, path2, 2).symbol(&good).symbol(sym(func(s *blob.RecoverySymbol) { s.Data = nil }))},
		{"symbol proof path 17", head(0, path2, 1).symbol(sym(func(s *blob.RecoverySymbol) {
			s.Proof = &blob.SymbolProof{Path: randPath(rng, 17)}
		}))},
		{"symbol proof pair path 17", head(0, path2, 1).symbol(sym(func(s *blob.RecoverySymbol) {
			s.Proof = &blob.SymbolProof{Pair: blob.PairCommitment{Path: randPath(rng, 17)}}
		}))},
		{"symbol with header", head(0, path2, 1).raw(specSymbol(&good))},
		{"count MaxSymbols+1", head(0, path2, blob.MaxSymbols+1).symbol(&good)},
		{"count 2^32-1", head(0, path2, 1<<32-1).symbol(&good)},
		{"count MaxSymbols, tiny input", head(0, path2, blob.MaxSymbols).symbol(&good)},
		{"count 4, 63 bytes", head(0, path2, 4).raw(make([]byte, 63))},
		{"symbol data length 2^32-1", head(0, path2, 1).u8(0).u32(0).u32(0).u32(1<<32 - 1).raw([]byte{1, 2, 0})},
	})
	// Proof flag 2 in the second symbol, spelled out.
	b := head(0, path2, 2).symbol(&good).u8(0).u32(1).u32(2).u32(2).raw([]byte{1, 2}).u8(2)
	checkRejects(t, valid, []badCase{{"symbol proof flag 2", b}})
}

// TestHugeDeclaredSizes checks that a tiny input declaring a huge length or
// count fails without allocating for it.
func TestHugeDeclaredSizes(t *testing.T) {
	pair := blob.PairCommitment{}
	sym := blob.RecoverySymbol{Data: []byte{1, 2}}
	inputs := []struct {
		name string
		v    encoding.BinaryUnmarshaler
		data []byte
	}{
		{"sliver data", &blob.Sliver{}, spec{1, 'S'}.u8(0).u32(0).u32(2).u32(1<<32 - 2).raw([]byte{1, 2})},
		{"symbol data", &blob.RecoverySymbol{}, spec{1, 'R'}.u8(0).u32(0).u32(0).u32(1<<32 - 2).raw([]byte{1, 2, 0})},
		{"proof count 2^32-1", &blob.InconsistencyProof{}, spec{1, 'I'}.u8(0).u32(0).pair(&pair).u32(1<<32 - 1).symbol(&sym)},
		{"proof count MaxSymbols", &blob.InconsistencyProof{}, spec{1, 'I'}.u8(0).u32(0).pair(&pair).u32(blob.MaxSymbols).symbol(&sym)},
		{"proof count MaxSymbols, 64 KiB", &blob.InconsistencyProof{}, spec{1, 'I'}.u8(0).u32(0).pair(&pair).u32(blob.MaxSymbols).raw(make([]byte, 64<<10))},
	}
	for _, in := range inputs {
		const runs = 20
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range runs {
			if err := in.v.UnmarshalBinary(in.data); !errors.Is(err, blob.ErrWire) {
				t.Fatalf("%s: UnmarshalBinary = %v, want ErrWire", in.name, err)
			}
		}
		runtime.ReadMemStats(&after)
		// Error strings allocate a little; the declared sizes would need
		// gigabytes (or megabytes for MaxSymbols symbols).
		if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 16<<10 {
			t.Errorf("%s: %d bytes allocated per failed decode of %d input bytes", in.name, per, len(in.data))
		}
	}
}

// TestMarshalRefusesWhatDecodersReject: an encoder never writes bytes its
// own decoder would refuse.
func TestMarshalRefusesWhatDecodersReject(t *testing.T) {
	for name, v := range map[string]interface{ MarshalBinary() ([]byte, error) }{
		"sliver symbol size 0":         &blob.Sliver{Kind: blob.Primary},
		"sliver odd symbol size":       &blob.Sliver{Kind: blob.Primary, SymbolSize: 3, Data: []byte{1, 2, 3}},
		"sliver partial symbol":        &blob.Sliver{Kind: blob.Primary, SymbolSize: 4, Data: []byte{1, 2}},
		"sliver kind 2":                &blob.Sliver{Kind: 2, SymbolSize: 2, Data: []byte{1, 2}},
		"empty symbol":                 &blob.RecoverySymbol{},
		"odd symbol":                   &blob.RecoverySymbol{Data: []byte{1}},
		"symbol source 7":              &blob.RecoverySymbol{Source: 7, Data: []byte{1, 2}},
		"inconsistency proof target 9": &blob.InconsistencyProof{Target: 9},
	} {
		if b, err := v.MarshalBinary(); err == nil {
			t.Errorf("%s: encoded to %x, want an error", name, b)
		}
	}
}
