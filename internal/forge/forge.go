// Package forge makes inconsistently encoded blobs, as a malicious writer
// would, for tests of the paths that must catch them: every sliver
// verifies against its own commitment and the blob ID, but the grid is
// not one codeword. Only tests import it.
package forge

import (
	"bytes"
	"fmt"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/merkle"
	"github.com/weftnet/weft/redstuff"
)

// Recommit recomputes every commitment, the blob root and the blob ID
// from e's slivers, after they were changed.
func Recommit(c *redstuff.Codec, e *redstuff.Encoded) error {
	p := c.Params()
	root := func(k blob.SliverKind, i int) (merkle.Hash, error) {
		sl := e.Sliver(k, i)
		ss, err := c.NewSymbolSource(e.Length, &sl, &e.Pairs[p.PairOf(k, i)])
		if err != nil {
			return merkle.Hash{}, err
		}
		return ss.Root()
	}
	leaves := make([]merkle.Hash, p.N)
	for pair := range leaves {
		var err error
		if e.Pairs[pair].Primary, err = root(blob.Primary, pair); err != nil {
			return err
		}
		if e.Pairs[pair].Secondary, err = root(blob.Secondary, p.N-1-pair); err != nil {
			return err
		}
		leaves[pair] = redstuff.PairLeaf(e.Pairs[pair].Primary, e.Pairs[pair].Secondary)
	}
	tree := merkle.NewTree(leaves)
	for pair := range leaves {
		e.Pairs[pair].Path, _ = tree.Path(pair)
	}
	e.Root = tree.Root()
	e.ID = blob.ComputeID(redstuff.Encoding, e.Length, e.Root)
	return nil
}

// TamperRow returns a copy of e in which stored symbol (row, col) of
// primary sliver row is changed and everything recommitted: the columns
// disagree with that row. e itself is left as it was.
func TamperRow(c *redstuff.Codec, e *redstuff.Encoded, row, col int) (*redstuff.Encoded, error) {
	return tamperRow(c, e, row, col, 1)
}

// tamperRow XORs the first byte of stored symbol (row, col) with delta.
func tamperRow(c *redstuff.Codec, e *redstuff.Encoded, row, col int, delta byte) (*redstuff.Encoded, error) {
	p := c.Params()
	if row < 0 || row >= p.N || col < 0 || col >= p.Ks {
		return nil, fmt.Errorf("forge: symbol (%d, %d) is not stored in a primary sliver", row, col)
	}
	t := *e
	t.Primary = append([][]byte(nil), e.Primary...)
	t.Primary[row] = bytes.Clone(e.Primary[row])
	t.Primary[row][col*e.SymbolSize] ^= delta
	t.Pairs = make([]blob.PairCommitment, p.N)
	for i := range t.Pairs {
		t.Pairs[i] = e.Pairs[i]
		t.Pairs[i].Path = append([]merkle.Hash(nil), e.Pairs[i].Path...)
	}
	if err := Recommit(c, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// TamperForShard tampers with e until the changed row is the pair that
// the given shard holds (the pair on a shard depends on the blob ID, which
// the change moves), trying rows in turn from start.
func TamperForShard(c *redstuff.Codec, e *redstuff.Encoded, shard, start int) (*redstuff.Encoded, int, error) {
	p := c.Params()
	// Every try is a different change (row, column and the bits flipped),
	// so each gives a new blob ID: small grids have few (row, column)s.
	for i := 0; i < 64*p.N; i++ {
		row, col := (start+i)%p.N, (i/p.N)%p.Ks
		delta := byte(1 + (i/(p.N*p.Ks))%255)
		t, err := tamperRow(c, e, row, col, delta)
		if err != nil {
			return nil, 0, err
		}
		if p.PairAt(t.ID, shard) == row {
			return t, row, nil
		}
	}
	return nil, 0, fmt.Errorf("forge: no change puts its row on shard %d", shard)
}
