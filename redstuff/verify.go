package redstuff

import (
	"crypto/sha256"
	"fmt"
	"hash"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/merkle"
)

// checkSymbolSize checks that a sliver or symbol uses the symbol size of a
// blob of the given length.
func (c *Codec) checkSymbolSize(length uint64, s int) error {
	if length > c.p.MaxLength() {
		return fmt.Errorf("%w: blob length %d exceeds %d", ErrSize, length, c.p.MaxLength())
	}
	if want := c.p.SymbolSize(length); s != want {
		return fmt.Errorf("%w: symbol size %d, want %d for a %d-byte blob", ErrSize, s, want, length)
	}
	return nil
}

// VerifyCommitment checks a pair commitment against the blob ID: the pair
// leaf and its path must lead to the blob root the ID commits to.
func (c *Codec) VerifyCommitment(id blob.ID, length uint64, pc *blob.PairCommitment) error {
	if int(pc.Pair) >= c.p.N {
		return fmt.Errorf("%w: pair %d of %d", ErrIndex, pc.Pair, c.p.N)
	}
	if len(pc.Path) != merkle.Depth(c.p.N) {
		return fmt.Errorf("%w: pair %d: path of %d hashes, want %d", ErrVerify, pc.Pair, len(pc.Path), merkle.Depth(c.p.N))
	}
	root, _ := merkle.RootFromPath(pairLeaf(pc.Primary, pc.Secondary), int(pc.Pair), c.p.N, pc.Path)
	if blob.ComputeID(Encoding, length, root) != id {
		return fmt.Errorf("%w: commitment of pair %d", ErrVerify, pc.Pair)
	}
	return nil
}

// expand extends a stored sliver of kind k (ks or kp symbols of s bytes)
// to its full row or column of n symbols.
func (c *Codec) expand(k blob.SliverKind, data []byte, s int) ([]byte, error) {
	enc, kk, err := c.sliverCode(k, s)
	if err != nil {
		return nil, err
	}
	n := c.p.N
	if len(data) != kk*s {
		return nil, fmt.Errorf("%w: %s sliver of %d bytes, want %d", ErrSize, k, len(data), kk*s)
	}
	shards := leoShards(n, leoLen(s))
	for i := 0; i < kk; i++ {
		toLeo(shards[i], data[i*s:(i+1)*s])
	}
	if err := enc.Encode(shards); err != nil {
		return nil, fmt.Errorf("redstuff: extending %s sliver: %w", k, err)
	}
	out := make([]byte, n*s)
	copy(out, data)
	for i := kk; i < n; i++ {
		fromLeo(out[i*s:(i+1)*s], shards[i])
	}
	return out, nil
}

// symbolLeaves returns the leaf hashes of the n symbols of an expanded sliver.
func symbolLeaves(expanded []byte, n, s int) []merkle.Hash {
	leaves := make([]merkle.Hash, n)
	var h merkle.Hasher
	for i := range leaves {
		leaves[i] = h.Leaf(expanded[i*s : (i+1)*s])
	}
	return leaves
}

func (c *Codec) checkSliver(length uint64, sl *blob.Sliver) error {
	if sl.Kind != blob.Primary && sl.Kind != blob.Secondary {
		return fmt.Errorf("%w: sliver kind %d", ErrIndex, sl.Kind)
	}
	if int(sl.Index) >= c.p.N {
		return fmt.Errorf("%w: %s sliver %d of %d", ErrIndex, sl.Kind, sl.Index, c.p.N)
	}
	if err := c.checkSymbolSize(length, int(sl.SymbolSize)); err != nil {
		return err
	}
	if want := c.p.SliverLen(sl.Kind) * int(sl.SymbolSize); len(sl.Data) != want {
		return fmt.Errorf("%w: %s sliver of %d bytes, want %d", ErrSize, sl.Kind, len(sl.Data), want)
	}
	return nil
}

// VerifySliver checks a sliver against the blob ID alone, given the
// commitment of the pair that holds it: the sliver's expanded row or
// column must have the committed root, and the commitment must lead to the
// blob ID.
func (c *Codec) VerifySliver(id blob.ID, length uint64, sl *blob.Sliver, pc *blob.PairCommitment) error {
	if err := c.checkSliver(length, sl); err != nil {
		return err
	}
	if want := c.p.PairOf(sl.Kind, int(sl.Index)); int(pc.Pair) != want {
		return fmt.Errorf("%w: %s sliver %d belongs to pair %d, commitment is for pair %d", ErrIndex, sl.Kind, sl.Index, want, pc.Pair)
	}
	if err := c.VerifyCommitment(id, length, pc); err != nil {
		return err
	}
	root, err := c.sliverRoot(sl.Kind, sl.Data, int(sl.SymbolSize))
	if err != nil {
		return err
	}
	if root != pc.Root(sl.Kind) {
		return fmt.Errorf("%w: %s sliver %d does not match its root", ErrVerify, sl.Kind, sl.Index)
	}
	return nil
}

// symbolPos returns the index of the source sliver and the symbol's
// position inside that sliver's expanded row or column.
func symbolPos(sym *blob.RecoverySymbol) (src, pos int) {
	if sym.Source == blob.Secondary {
		return int(sym.Col), int(sym.Row)
	}
	return int(sym.Row), int(sym.Col)
}

func (c *Codec) checkSymbol(length uint64, sym *blob.RecoverySymbol) error {
	if sym.Source != blob.Primary && sym.Source != blob.Secondary {
		return fmt.Errorf("%w: symbol source kind %d", ErrIndex, sym.Source)
	}
	if int(sym.Row) >= c.p.N || int(sym.Col) >= c.p.N {
		return fmt.Errorf("%w: symbol (%d, %d) of a %d × %d grid", ErrIndex, sym.Row, sym.Col, c.p.N, c.p.N)
	}
	return c.checkSymbolSize(length, len(sym.Data))
}

// VerifySymbol checks a recovery symbol and its proof against the blob ID
// alone.
func (c *Codec) VerifySymbol(id blob.ID, length uint64, sym *blob.RecoverySymbol) error {
	if err := c.checkSymbol(length, sym); err != nil {
		return err
	}
	if sym.Proof == nil {
		return fmt.Errorf("%w: symbol (%d, %d) carries no proof", ErrVerify, sym.Row, sym.Col)
	}
	src, pos := symbolPos(sym)
	pc := &sym.Proof.Pair
	if want := c.p.PairOf(sym.Source, src); int(pc.Pair) != want {
		return fmt.Errorf("%w: symbol (%d, %d) proven by pair %d, want %d", ErrVerify, sym.Row, sym.Col, pc.Pair, want)
	}
	if !merkle.Verify(pc.Root(sym.Source), merkle.Leaf(sym.Data), pos, c.p.N, sym.Proof.Path) {
		return fmt.Errorf("%w: symbol (%d, %d) does not match its %s sliver root", ErrVerify, sym.Row, sym.Col, sym.Source)
	}
	return c.VerifyCommitment(id, length, pc)
}

// sliverRoot returns the root of a stored sliver's expanded row or column.
// Big symbols are extended a chunk at a time and hashed as streams, so
// verifying a sliver needs a few chunks of memory, not its expansion.
func (c *Codec) sliverRoot(k blob.SliverKind, data []byte, s int) (merkle.Hash, error) {
	n := c.p.N
	if s <= maxChunk {
		exp, err := c.expand(k, data, s)
		if err != nil {
			return merkle.Hash{}, err
		}
		return merkle.Root(symbolLeaves(exp, n, s)), nil
	}
	enc, kk, err := c.code(k)
	if err != nil {
		return merkle.Hash{}, err
	}
	if len(data) != kk*s {
		return merkle.Hash{}, fmt.Errorf("%w: %s sliver of %d bytes, want %d", ErrSize, k, len(data), kk*s)
	}
	shards := leoShards(n, maxChunk)
	tmp := make([]byte, maxChunk)
	digs := make([]hash.Hash, n)
	for i := range digs {
		digs[i] = sha256.New()
	}
	startLeaves(digs)
	for b0 := 0; b0 < s; b0 += maxChunk {
		m := min(maxChunk, s-b0)
		sh := trim(shards, leoLen(m))
		for i := 0; i < kk; i++ {
			chunk := data[i*s+b0 : i*s+b0+m]
			toLeo(sh[i], chunk)
			digs[i].Write(chunk)
		}
		if err := enc.Encode(sh); err != nil {
			return merkle.Hash{}, fmt.Errorf("redstuff: extending %s sliver: %w", k, err)
		}
		for i := kk; i < n; i++ {
			fromLeo(tmp[:m], sh[i])
			digs[i].Write(tmp[:m])
		}
	}
	leaves := make([]merkle.Hash, n)
	for i, d := range digs {
		d.Sum(leaves[i][:0])
	}
	return merkle.Root(leaves), nil
}
