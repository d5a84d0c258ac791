package redstuff

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/merkle"
)

// SymbolSource cuts recovery symbols from one stored sliver. The holder of
// secondary sliver c serves symbols (r, c), with which a peer rebuilds
// primary sliver r; the holder of primary sliver r serves symbols (r, c)
// for secondary sliver c.
//
// Symbols at positions below the sliver's stored length are stored bytes;
// the sliver is extended (and its tree built) only when a parity symbol or
// a proof is asked for. A SymbolSource is safe for concurrent use, so that
// a node may keep extended ones for many requests.
type SymbolSource struct {
	mu       sync.Mutex // guards expanded and tree
	c        *Codec
	n        int
	k        int
	s        int
	sliver   blob.Sliver
	pair     blob.PairCommitment
	expanded []byte
	tree     *merkle.Tree
}

// NewSymbolSource prepares a stored sliver for cutting any number of
// symbols. pair is the commitment of the sliver's pair, attached to proven
// symbols; it is not checked here.
func (c *Codec) NewSymbolSource(length uint64, sl *blob.Sliver, pair *blob.PairCommitment) (*SymbolSource, error) {
	if err := c.checkSliver(length, sl); err != nil {
		return nil, err
	}
	return &SymbolSource{c: c, n: c.p.N, k: c.p.SliverLen(sl.Kind), s: int(sl.SymbolSize), sliver: *sl, pair: *pair}, nil
}

// Extended reports whether the sliver has been extended (for parity
// symbols or proofs).
func (ss *SymbolSource) Extended() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.expanded != nil
}

// Size is about the bytes the source holds: the sliver, and its extension
// and tree once built.
func (ss *SymbolSource) Size() int64 {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	size := int64(len(ss.sliver.Data) + len(ss.expanded))
	if ss.tree != nil {
		size += int64(ss.tree.Hashes() * merkle.HashSize)
	}
	return size
}

func (ss *SymbolSource) expand() ([]byte, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.expandLocked()
}

func (ss *SymbolSource) expandLocked() ([]byte, error) {
	if ss.expanded == nil {
		exp, err := ss.c.expand(ss.sliver.Kind, ss.sliver.Data, ss.s)
		if err != nil {
			return nil, err
		}
		ss.expanded = exp
	}
	return ss.expanded, nil
}

// Root returns the root of the source sliver's expanded row or column.
func (ss *SymbolSource) Root() (merkle.Hash, error) {
	t, err := ss.merkleTree()
	if err != nil {
		return merkle.Hash{}, err
	}
	return t.Root(), nil
}

// sourceTreeAbove is the lowest level of an extended sliver's Merkle tree
// a SymbolSource keeps: a proof hashes again the 2^3 leaves of its block
// (15 hashes), and the tree takes about n/4 hashes instead of 2n, so a
// node's cache of sources holds several times more of them.
const sourceTreeAbove = 3

func (ss *SymbolSource) merkleTree() (*merkle.Tree, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.tree == nil {
		exp, err := ss.expandLocked()
		if err != nil {
			return nil, err
		}
		ss.tree = merkle.NewTreeAbove(symbolLeaves(exp, ss.n, ss.s), sourceTreeAbove)
	}
	return ss.tree, nil
}

// Pair returns the commitment of the source sliver's pair.
func (ss *SymbolSource) Pair() *blob.PairCommitment { return &ss.pair }

// Data returns symbol pos of the source's expanded sliver (a row index when
// the source is secondary, a column index when it is primary), without a
// proof. The bytes alias the source.
func (ss *SymbolSource) Data(pos int) ([]byte, error) {
	if pos < 0 || pos >= ss.n {
		return nil, fmt.Errorf("%w: symbol %d of %d", ErrIndex, pos, ss.n)
	}
	data := ss.sliver.Data
	if pos >= ss.k {
		exp, err := ss.expand()
		if err != nil {
			return nil, err
		}
		data = exp
	}
	return data[pos*ss.s : (pos+1)*ss.s : (pos+1)*ss.s], nil
}

// Path returns the Merkle path of symbol pos in the source sliver's tree.
func (ss *SymbolSource) Path(pos int) ([]merkle.Hash, error) {
	if pos < 0 || pos >= ss.n {
		return nil, fmt.Errorf("%w: symbol %d of %d", ErrIndex, pos, ss.n)
	}
	t, err := ss.merkleTree()
	if err != nil {
		return nil, err
	}
	exp, err := ss.expand()
	if err != nil {
		return nil, err
	}
	lo, hi := t.Block(pos)
	block := make([]merkle.Hash, hi-lo)
	var h merkle.Hasher
	for i := range block {
		block[i] = h.Leaf(exp[(lo+i)*ss.s : (lo+i+1)*ss.s])
	}
	return t.PathFrom(pos, block)
}

// Symbol returns symbol pos as a recovery symbol. The data aliases the
// source. With withProof the symbol carries its Merkle path and the source
// pair's commitment.
func (ss *SymbolSource) Symbol(pos int, withProof bool) (blob.RecoverySymbol, error) {
	data, err := ss.Data(pos)
	if err != nil {
		return blob.RecoverySymbol{}, err
	}
	sym := blob.RecoverySymbol{Source: ss.sliver.Kind, Data: data}
	if ss.sliver.Kind == blob.Secondary {
		sym.Row, sym.Col = uint32(pos), ss.sliver.Index
	} else {
		sym.Row, sym.Col = ss.sliver.Index, uint32(pos)
	}
	if withProof {
		path, err := ss.Path(pos)
		if err != nil {
			return blob.RecoverySymbol{}, err
		}
		sym.Proof = &blob.SymbolProof{Path: path, Pair: ss.pair}
	}
	return sym, nil
}

// BadSymbolError reports a recovery symbol whose proof failed: its sender
// lied or its data was damaged. Index is its position in the input slice.
type BadSymbolError struct {
	Index int
	Err   error
}

func (e *BadSymbolError) Error() string {
	return fmt.Sprintf("redstuff: recovery symbol %d: %v", e.Index, e.Err)
}

func (e *BadSymbolError) Unwrap() error { return e.Err }

// InconsistencyError is returned when proven symbols rebuild a sliver
// whose root differs from its commitment. Proof lets anyone check this
// against the blob ID alone (VerifyInconsistencyProof).
type InconsistencyError struct {
	Proof blob.InconsistencyProof
}

func (e *InconsistencyError) Error() string {
	return fmt.Sprintf("%v: %s sliver %d rebuilt from proven symbols does not match its commitment",
		ErrInconsistent, e.Proof.Target, e.Proof.Index)
}

func (e *InconsistencyError) Unwrap() error { return ErrInconsistent }

// Rebuild reconstructs sliver index of kind target from recovery symbols
// cut from the other axis: any ks distinct symbols (r, ·) rebuild primary
// sliver r, any kp distinct symbols (·, c) rebuild secondary sliver c. pair
// is the commitment of the target's pair.
//
// Symbols that carry proofs are verified first (a failure is a
// *BadSymbolError). The rebuilt sliver is checked against its committed
// root; on a mismatch the result is an *InconsistencyError with a
// transferable proof if every symbol used was proven, and ErrRootMismatch
// otherwise.
func (c *Codec) Rebuild(id blob.ID, length uint64, target blob.SliverKind, index int, pair *blob.PairCommitment, symbols []blob.RecoverySymbol) ([]byte, error) {
	if pair == nil {
		return nil, fmt.Errorf("%w: no commitment for %s sliver %d", ErrVerify, target, index)
	}
	exp, used, s, err := c.rebuild(id, length, target, index, pair, symbols)
	if err != nil {
		return nil, err
	}
	if merkle.Root(symbolLeaves(exp, c.p.N, s)) == pair.Root(target) {
		k := c.p.SliverLen(target)
		return exp[: k*s : k*s], nil
	}
	for _, i := range used {
		if symbols[i].Proof == nil {
			return nil, fmt.Errorf("%w: %s sliver %d", ErrRootMismatch, target, index)
		}
	}
	proof := blob.InconsistencyProof{Target: target, Index: uint32(index), TargetPair: *pair}
	for _, i := range used {
		proof.Symbols = append(proof.Symbols, symbols[i])
	}
	return nil, &InconsistencyError{Proof: proof}
}

// RebuildUnchecked reconstructs a sliver like Rebuild for a node that does
// not know the commitment of the target's pair (it missed the upload or
// lost its disk). Proven symbols are verified (*BadSymbolError), but the
// result is not: it returns the rebuilt sliver and the root of its
// expanded row or column, which the caller checks with CheckPairs. Used
// reports which symbols went into it.
func (c *Codec) RebuildUnchecked(id blob.ID, length uint64, target blob.SliverKind, index int, symbols []blob.RecoverySymbol) (data []byte, root merkle.Hash, used []int, err error) {
	exp, used, s, err := c.rebuild(id, length, target, index, nil, symbols)
	if err != nil {
		return nil, merkle.Hash{}, nil, err
	}
	k := c.p.SliverLen(target)
	return exp[: k*s : k*s], merkle.Root(symbolLeaves(exp, c.p.N, s)), used, nil
}

// RebuildManyUnchecked is RebuildUnchecked for several slivers of one
// kind, decoded together: symbols[j] rebuilds sliver indices[j], and the
// first k distinct symbols of every list must come from the same
// positions (ErrPositions otherwise). Decoding costs much the same for
// one sliver as for a few when symbols are small, so a node rebuilding
// many slivers of a blob from the same peers' answers pays it once per
// batch, each batch's decoder shards bounded by manyBytes. On any error
// nothing is returned; RebuildUnchecked, one sliver at a time, then
// tells which symbols are to blame.
func (c *Codec) RebuildManyUnchecked(id blob.ID, length uint64, target blob.SliverKind, indices []int, symbols [][]blob.RecoverySymbol) (data [][]byte, roots []merkle.Hash, used [][]int, err error) {
	if len(indices) == 0 || len(indices) != len(symbols) {
		return nil, nil, nil, fmt.Errorf("%w: %d slivers, %d lists of symbols", ErrIndex, len(indices), len(symbols))
	}
	s, k, n := c.p.SymbolSize(length), c.p.SliverLen(target), c.p.N
	per := max(1, manyBytes/(leoLen(s)*n))
	for lo := 0; lo < len(indices); lo += per {
		hi := min(lo+per, len(indices))
		exps, u, _, err := c.rebuildMany(id, length, target, indices[lo:hi], nil, symbols[lo:hi])
		if err != nil {
			return nil, nil, nil, err
		}
		for _, exp := range exps {
			data = append(data, exp[:k*s:k*s])
			roots = append(roots, merkle.Root(symbolLeaves(exp, n, s)))
		}
		used = append(used, u...)
	}
	return data, roots, used, nil
}

// manyBytes bounds the decoder's shards in one batch of
// RebuildManyUnchecked.
const manyBytes = 8 << 20

// ErrPositions: the lists of symbols given to RebuildManyUnchecked do not
// all use the same positions.
var ErrPositions = errors.New("redstuff: the slivers' symbols come from different positions")

// rebuild decodes the target's expanded sliver from the first k distinct
// symbols and reports which ones it used. A nil pair skips the checks of
// the target's commitment.
func (c *Codec) rebuild(id blob.ID, length uint64, target blob.SliverKind, index int, pair *blob.PairCommitment, symbols []blob.RecoverySymbol) (exp []byte, used []int, s int, err error) {
	exps, useds, s, err := c.rebuildMany(id, length, target, []int{index}, pair, [][]blob.RecoverySymbol{symbols})
	if err != nil {
		return nil, nil, 0, err
	}
	return exps[0], useds[0], s, nil
}

// rebuildMany is rebuild for the slivers indices of one kind, each from
// its own list of symbols, at the same positions: the slivers sit side by
// side in the decoder's shards (each in its own 64-byte blocks, which it
// decodes independently), so that one decoding rebuilds them all. A pair
// is only for one sliver.
func (c *Codec) rebuildMany(id blob.ID, length uint64, target blob.SliverKind, indices []int, pair *blob.PairCommitment, lists [][]blob.RecoverySymbol) (exps [][]byte, used [][]int, s int, err error) {
	n := c.p.N
	if target != blob.Primary && target != blob.Secondary {
		return nil, nil, 0, fmt.Errorf("%w: sliver kind %d", ErrIndex, target)
	}
	if len(indices) == 0 || pair != nil && len(indices) != 1 {
		return nil, nil, 0, fmt.Errorf("%w: %d slivers to rebuild", ErrIndex, len(indices))
	}
	for _, index := range indices {
		if index < 0 || index >= n {
			return nil, nil, 0, fmt.Errorf("%w: %s sliver %d of %d", ErrIndex, target, index, n)
		}
	}
	if pair != nil {
		if want := c.p.PairOf(target, indices[0]); int(pair.Pair) != want {
			return nil, nil, 0, fmt.Errorf("%w: %s sliver %d belongs to pair %d, commitment is for pair %d", ErrIndex, target, indices[0], want, pair.Pair)
		}
		if err := c.VerifyCommitment(id, length, pair); err != nil {
			return nil, nil, 0, err
		}
	}
	s = c.p.SymbolSize(length)
	enc, k, err := c.code(target)
	if err != nil {
		return nil, nil, 0, err
	}
	w := leoLen(s)
	var first []bool
	shards := leoShards(n, len(indices)*w)
	used = make([][]int, len(indices))
	for j, index := range indices {
		seen := make([]bool, n)
		symbols := lists[j]
		for i := range symbols {
			sym := &symbols[i]
			if err := c.checkSymbol(length, sym); err != nil {
				return nil, nil, 0, &BadSymbolError{Index: i, Err: err}
			}
			tk, ti := sym.Target()
			if tk != target || int(ti) != index {
				return nil, nil, 0, &BadSymbolError{Index: i, Err: fmt.Errorf("%w: symbol (%d, %d) does not belong to %s sliver %d", ErrIndex, sym.Row, sym.Col, target, index)}
			}
			if sym.Proof != nil {
				if err := c.VerifySymbol(id, length, sym); err != nil {
					return nil, nil, 0, &BadSymbolError{Index: i, Err: err}
				}
			}
			// The symbol's place in the target is its source sliver's index.
			pos, _ := symbolPos(sym)
			if seen[pos] || len(used[j]) == k {
				continue
			}
			seen[pos] = true
			used[j] = append(used[j], i)
			toLeo(shards[pos][j*w:(j+1)*w], sym.Data)
		}
		if len(used[j]) < k {
			return nil, nil, 0, fmt.Errorf("%w: %d distinct symbols for %s sliver %d, need %d", ErrTooFew, len(used[j]), target, index, k)
		}
		if j == 0 {
			first = seen
		} else if !slices.Equal(seen, first) {
			return nil, nil, 0, fmt.Errorf("%w: %s slivers %d and %d", ErrPositions, target, indices[0], index)
		}
	}
	for pos := range shards {
		if !first[pos] {
			shards[pos] = shards[pos][:0]
		}
	}
	if err := enc.Reconstruct(shards); err != nil {
		return nil, nil, 0, fmt.Errorf("redstuff: decoding %s slivers %v: %w", target, indices, err)
	}
	exps = make([][]byte, len(indices))
	for j := range indices {
		exp := make([]byte, n*s)
		for pos := range shards {
			fromLeo(exp[pos*s:(pos+1)*s], shards[pos][j*w:(j+1)*w])
		}
		exps[j] = exp
	}
	return exps, used, s, nil
}

// VerifyInconsistencyProof checks, against the blob ID alone, that proof
// shows the blob to be inconsistently encoded. It returns nil only for a
// valid proof.
func (c *Codec) VerifyInconsistencyProof(id blob.ID, length uint64, proof *blob.InconsistencyProof) error {
	for i := range proof.Symbols {
		if proof.Symbols[i].Proof == nil {
			return &BadSymbolError{Index: i, Err: fmt.Errorf("%w: symbol carries no proof", ErrVerify)}
		}
	}
	exp, _, s, err := c.rebuild(id, length, proof.Target, int(proof.Index), &proof.TargetPair, proof.Symbols)
	if err != nil {
		return err
	}
	if merkle.Root(symbolLeaves(exp, c.p.N, s)) == proof.TargetPair.Root(proof.Target) {
		return fmt.Errorf("%w: the symbols rebuild the committed %s sliver %d; no inconsistency shown", ErrVerify, proof.Target, proof.Index)
	}
	return nil
}
