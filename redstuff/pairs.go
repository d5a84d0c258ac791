package redstuff

import (
	"fmt"
	"slices"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/merkle"
)

// A node that missed an upload, or lost its disk, knows neither the roots
// of its pairs nor their paths to the blob root. It rebuilds the pair's
// two slivers from its peers' symbols, which gives the pair leaf, and
// checks that leaf against the blob ID with the help of verified
// commitments of other pairs: a commitment of pair q carries every sibling
// on q's path, so it fixes the hash of each subtree that q's path passes
// by. When the node rebuilds several neighbouring pairs, their leaves are
// combined first and checked together.

// PairRoots are the rebuilt roots of a pair's two slivers.
type PairRoots struct {
	Primary, Secondary merkle.Hash
}

// PairLeaf returns the Merkle leaf of a pair: H(0x00 ‖ primaryRoot ‖
// secondaryRoot).
func PairLeaf(primary, secondary merkle.Hash) merkle.Hash { return pairLeaf(primary, secondary) }

// PairCheck is the outcome of CheckPairs for one rebuilt pair.
type PairCheck int

const (
	// PairUnknown: the commitments given do not reach this pair; fetch the
	// commitment of a pair from CommitmentCandidates.
	PairUnknown PairCheck = iota
	// PairVerified: the pair's roots are the committed ones.
	PairVerified
	// PairMismatch: the pair's roots, or those of a rebuilt pair checked
	// together with it, are not the committed ones.
	PairMismatch
)

func (c PairCheck) String() string {
	switch c {
	case PairVerified:
		return "verified"
	case PairMismatch:
		return "mismatch"
	}
	return "unknown"
}

type treeNode struct {
	level, index int
}

// CheckPairs checks rebuilt pair roots against the blob ID. known are
// commitments of other pairs; those that do not verify against the blob
// ID are ignored. It returns the outcome for each rebuilt pair and, for
// each verified one, its full commitment (roots and path), ready to be
// stored and served.
func (c *Codec) CheckPairs(id blob.ID, length uint64, rebuilt map[int]PairRoots, known []blob.PairCommitment) (map[int]PairCheck, map[int]*blob.PairCommitment) {
	n := c.p.N
	depth := merkle.Depth(n)
	// Hashes fixed by verified commitments.
	fixed := map[treeNode]merkle.Hash{}
	for i := range known {
		pc := &known[i]
		if c.VerifyCommitment(id, length, pc) != nil {
			continue
		}
		h, idx := pairLeaf(pc.Primary, pc.Secondary), int(pc.Pair)
		for l := 0; l < depth; l++ {
			fixed[treeNode{l, idx}] = h
			fixed[treeNode{l, idx ^ 1}] = pc.Path[l]
			if idx%2 == 0 {
				h = merkle.Node(h, pc.Path[l])
			} else {
				h = merkle.Node(pc.Path[l], h)
			}
			idx /= 2
		}
		fixed[treeNode{depth, 0}] = h
	}
	// Tentative hashes computed from the rebuilt leaves, level by level.
	tent := map[treeNode]merkle.Hash{}
	result := map[int]PairCheck{}
	var frontier []int
	for p, r := range rebuilt {
		if p < 0 || p >= n {
			continue
		}
		tent[treeNode{0, p}] = pairLeaf(r.Primary, r.Secondary)
		result[p] = PairUnknown
		frontier = append(frontier, p)
	}
	slices.Sort(frontier)
	decide := func(l, i int, v PairCheck) {
		for p := range result {
			if p>>l == i && result[p] == PairUnknown {
				result[p] = v
			}
		}
	}
	sibling := func(l, i int) (merkle.Hash, bool) {
		j := i ^ 1
		if j<<l >= n {
			return merkle.Pad(l), true // an empty subtree
		}
		if h, ok := fixed[treeNode{l, j}]; ok {
			return h, true
		}
		h, ok := tent[treeNode{l, j}]
		return h, ok
	}
	for l := 0; l <= depth && len(frontier) > 0; l++ {
		var next []int
		for _, i := range frontier {
			h := tent[treeNode{l, i}]
			if f, ok := fixed[treeNode{l, i}]; ok {
				if f == h {
					decide(l, i, PairVerified)
				} else {
					decide(l, i, PairMismatch)
				}
				continue
			}
			if l == depth {
				if blob.ComputeID(Encoding, length, h) == id {
					decide(l, i, PairVerified)
				} else {
					decide(l, i, PairMismatch)
				}
				continue
			}
			sib, ok := sibling(l, i)
			if !ok {
				continue // undetermined: nothing known of the sibling subtree
			}
			parent := treeNode{l + 1, i / 2}
			if _, done := tent[parent]; done {
				continue // reached from the sibling already
			}
			if i%2 == 0 {
				tent[parent] = merkle.Node(h, sib)
			} else {
				tent[parent] = merkle.Node(sib, h)
			}
			next = append(next, i/2)
		}
		frontier = next
	}
	commitments := map[int]*blob.PairCommitment{}
	for p, v := range result {
		if v != PairVerified {
			continue
		}
		r := rebuilt[p]
		pc := &blob.PairCommitment{Pair: uint32(p), Primary: r.Primary, Secondary: r.Secondary, Path: make([]merkle.Hash, depth)}
		for l := 0; l < depth; l++ {
			sib, ok := sibling(l, p>>l)
			if !ok {
				pc = nil
				break
			}
			pc.Path[l] = sib
		}
		if pc != nil && c.VerifyCommitment(id, length, pc) == nil {
			commitments[p] = pc
		} else {
			result[p] = PairUnknown
		}
	}
	return result, commitments
}

// CommitmentCandidates returns, for a pair p rebuilt together with the
// pairs in rebuilding, the pairs whose commitment lets CheckPairs decide
// p, nearest first: the pairs of the smallest subtree next to p's path
// that holds a pair not being rebuilt. Any one of them is enough, if the
// rebuilt pairs in between are checked along. It returns nil when p needs
// none (every other pair is being rebuilt).
func (c *Codec) CommitmentCandidates(p int, rebuilding map[int]bool) []int {
	n := c.p.N
	depth := merkle.Depth(n)
	for l := 0; l < depth; l++ {
		lo := ((p >> l) ^ 1) << l
		if lo >= n {
			continue
		}
		hi := min(lo+1<<l, n)
		var out []int
		for q := lo; q < hi; q++ {
			if !rebuilding[q] {
				out = append(out, q)
			}
		}
		if len(out) > 0 {
			// Nearest to p first.
			slices.SortStableFunc(out, func(a, b int) int { return abs(a-p) - abs(b-p) })
			return out
		}
	}
	return nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// VerifyPairsInconsistencyProof checks, against the blob ID alone, that
// proof shows the blob to be inconsistently encoded: its proven symbols
// rebuild both slivers of each of its pairs, and CheckPairs finds a
// mismatch with the commitments it carries. It returns nil only for a
// valid proof.
func (c *Codec) VerifyPairsInconsistencyProof(id blob.ID, length uint64, proof *blob.PairsInconsistencyProof) error {
	n := c.p.N
	if len(proof.Pairs) == 0 {
		return fmt.Errorf("%w: the proof names no pair", ErrVerify)
	}
	pairs := map[int]bool{}
	for _, p := range proof.Pairs {
		if int(p) >= n || pairs[int(p)] {
			return fmt.Errorf("%w: pair %d out of range or repeated", ErrVerify, p)
		}
		pairs[int(p)] = true
	}
	type target struct {
		kind  blob.SliverKind
		index uint32
	}
	byTarget := map[target][]blob.RecoverySymbol{}
	for i := range proof.Symbols {
		sym := &proof.Symbols[i]
		if sym.Proof == nil {
			return &BadSymbolError{Index: i, Err: fmt.Errorf("%w: symbol carries no proof", ErrVerify)}
		}
		if err := c.VerifySymbol(id, length, sym); err != nil {
			return &BadSymbolError{Index: i, Err: err}
		}
		k, idx := sym.Target()
		if !pairs[c.p.PairOf(k, int(idx))] {
			return &BadSymbolError{Index: i, Err: fmt.Errorf("%w: symbol (%d, %d) rebuilds no pair of the proof", ErrVerify, sym.Row, sym.Col)}
		}
		byTarget[target{k, idx}] = append(byTarget[target{k, idx}], *sym)
	}
	roots := map[int]PairRoots{}
	for p := range pairs {
		var r PairRoots
		for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
			idx := c.p.PrimaryOf(p)
			if k == blob.Secondary {
				idx = c.p.SecondaryOf(p)
			}
			_, root, _, err := c.RebuildUnchecked(id, length, k, idx, byTarget[target{k, uint32(idx)}])
			if err != nil {
				return err
			}
			if k == blob.Primary {
				r.Primary = root
			} else {
				r.Secondary = root
			}
		}
		roots[p] = r
	}
	res, _ := c.CheckPairs(id, length, roots, proof.Known)
	for _, v := range res {
		if v == PairMismatch {
			return nil
		}
	}
	return fmt.Errorf("%w: the rebuilt pairs do not contradict the blob ID", ErrVerify)
}
