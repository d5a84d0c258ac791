// Package merkle implements the binary SHA-256 Merkle trees that commit
// Weft's slivers and blobs.
//
// Hashing is domain separated: a leaf is H(0x00 ‖ data) and an inner node is
// H(0x01 ‖ left ‖ right). A level with an odd number of nodes is padded with
// that level's padding hash: Pad(0) is 32 zero bytes and
// Pad(k+1) = H(0x01 ‖ Pad(k) ‖ Pad(k)). This is the same as padding the
// leaves to the next power of two with empty subtrees, so every proof of a
// tree with n leaves has exactly Depth(n) siblings.
package merkle

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"math/bits"
)

// HashSize is the size of a hash in bytes.
const HashSize = sha256.Size

// Hash is a SHA-256 digest.
type Hash [HashSize]byte

// String returns the hash as URL-safe base64 without padding.
func (h Hash) String() string { return base64.RawURLEncoding.EncodeToString(h[:]) }

const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// ErrIndex is returned for a leaf index outside the tree.
var ErrIndex = errors.New("merkle: leaf index out of range")

// maxDepth bounds the depth of the trees we build and verify. 2^32 leaves is
// far beyond any Weft tree (at most 65 536 leaves).
const maxDepth = 32

var pads = func() [maxDepth + 1]Hash {
	var p [maxDepth + 1]Hash
	for k := 1; k <= maxDepth; k++ {
		p[k] = Node(p[k-1], p[k-1])
	}
	return p
}()

// Pad returns the padding hash used at level k (0 = leaves).
func Pad(k int) Hash { return pads[k] }

// Leaf returns H(0x00 ‖ data).
func Leaf(data []byte) Hash {
	var h Hasher
	return h.Leaf(data)
}

// Node returns H(0x01 ‖ left ‖ right).
func Node(left, right Hash) Hash {
	var buf [1 + 2*HashSize]byte
	buf[0] = nodePrefix
	copy(buf[1:], left[:])
	copy(buf[1+HashSize:], right[:])
	return sha256.Sum256(buf[:])
}

// Hasher computes leaf hashes without allocating once warmed up. The zero
// value is ready to use; a Hasher must not be used concurrently.
type Hasher struct {
	buf []byte
	d   hash.Hash
}

var leafPrefixBytes = []byte{leafPrefix}

// streamAbove is the data size from which a leaf is hashed as a stream
// rather than copied behind its prefix.
const streamAbove = 4096

// Leaf returns H(0x00 ‖ data).
func (h *Hasher) Leaf(data []byte) (out Hash) {
	if len(data) > streamAbove {
		if h.d == nil {
			h.d = sha256.New()
		}
		h.d.Reset()
		h.d.Write(leafPrefixBytes)
		h.d.Write(data)
		h.buf = h.d.Sum(h.buf[:0])
		copy(out[:], h.buf)
		return out
	}
	h.buf = append(h.buf[:0], leafPrefix)
	h.buf = append(h.buf, data...)
	return sha256.Sum256(h.buf)
}

// Depth returns the number of levels above the leaves of a tree with n
// leaves, which is also the length of each of its proofs.
func Depth(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

// Root returns the root of the tree over leaves. The root of an empty tree
// is Pad(0).
func Root(leaves []Hash) Hash {
	return RootScratch(leaves, make([]Hash, (len(leaves)+1)/2))
}

// RootScratch is Root with caller-provided scratch space of at least
// (len(leaves)+1)/2 hashes, for hot loops. leaves is not modified.
func RootScratch(leaves, scratch []Hash) Hash {
	switch len(leaves) {
	case 0:
		return pads[0]
	case 1:
		return leaves[0]
	}
	level := leaves
	for k := 0; len(level) > 1; k++ {
		m := (len(level) + 1) / 2
		next := scratch[:m]
		for i := 0; i < len(level)/2; i++ {
			next[i] = Node(level[2*i], level[2*i+1])
		}
		if len(level)%2 == 1 {
			next[m-1] = Node(level[len(level)-1], pads[k])
		}
		level = next
	}
	return level[0]
}

// Path returns the proof for leaf i: the sibling at each level, from the
// leaves up. To prove many leaves of one tree, build a Tree once.
func Path(leaves []Hash, i int) ([]Hash, error) {
	if i < 0 || i >= len(leaves) {
		return nil, ErrIndex
	}
	return NewTree(leaves).Path(i)
}

// RootFromPath returns the root implied by leaf at index i of a tree with n
// leaves and its proof path. It reports false if the index or the path
// length does not fit a tree of n leaves.
func RootFromPath(leaf Hash, i, n int, path []Hash) (Hash, bool) {
	if i < 0 || i >= n || len(path) != Depth(n) {
		return Hash{}, false
	}
	h := leaf
	for _, sib := range path {
		if i%2 == 0 {
			h = Node(h, sib)
		} else {
			h = Node(sib, h)
		}
		i /= 2
	}
	return h, true
}

// Verify reports whether path proves that leaf is at index i of the tree of
// n leaves with the given root.
func Verify(root, leaf Hash, i, n int, path []Hash) bool {
	got, ok := RootFromPath(leaf, i, n, path)
	return ok && got == root
}

// Tree is a materialised tree, for producing many proofs: all of it
// (NewTree), or its levels from some level up (NewTreeAbove).
type Tree struct {
	n      int      // leaves
	above  int      // the level levels[0] is: 0 for a whole tree
	levels [][]Hash // levels[0] = leaves (Pad(0) alone when empty) or level above, last = root level
}

// NewTree builds the tree over leaves (copied).
func NewTree(leaves []Hash) *Tree {
	t := &Tree{n: len(leaves)}
	level := append([]Hash(nil), leaves...)
	if len(level) == 0 {
		level = []Hash{pads[0]}
	}
	t.levels = append(t.levels, level)
	for k := 0; len(level) > 1; k++ {
		m := (len(level) + 1) / 2
		next := make([]Hash, m)
		for j := range next {
			r := pads[k]
			if 2*j+1 < len(level) {
				r = level[2*j+1]
			}
			next[j] = Node(level[2*j], r)
		}
		t.levels = append(t.levels, next)
		level = next
	}
	return t
}

// Root returns the tree's root.
func (t *Tree) Root() Hash { return t.levels[len(t.levels)-1][0] }

// Hashes returns the number of hashes the tree holds.
func (t *Tree) Hashes() int {
	h := 0
	for _, l := range t.levels {
		h += len(l)
	}
	return h
}

// Len returns the number of leaves.
func (t *Tree) Len() int { return t.n }

// NewTreeAbove builds the tree over leaves but keeps only its levels from
// level k up (all of them if the tree is shallower): about n/2^(k−1)
// hashes instead of 2n. Proofs then take the leaves of a block of 2^k
// (PathFrom), from which the levels below k are computed again.
func NewTreeAbove(leaves []Hash, k int) *Tree {
	t := NewTree(leaves)
	k = min(max(k, 0), len(t.levels)-1)
	t.above = k
	t.levels = append([][]Hash(nil), t.levels[k:]...)
	return t
}

// Block returns the leaves whose hashes PathFrom needs to prove leaf i:
// the block of 2^k leaves that holds it, [lo, hi), shorter at the end.
func (t *Tree) Block(i int) (lo, hi int) {
	size := 1 << t.above
	lo = i &^ (size - 1)
	return lo, min(lo+size, t.n)
}

// PathFrom returns the proof of leaf i given block, the hashes of the
// leaves of its block (Block). On a whole tree block is not needed.
func (t *Tree) PathFrom(i int, block []Hash) ([]Hash, error) {
	if t.above == 0 {
		return t.Path(i)
	}
	if i < 0 || i >= t.n {
		return nil, ErrIndex
	}
	lo, hi := t.Block(i)
	if len(block) != hi-lo {
		return nil, fmt.Errorf("merkle: a block of %d leaves for leaf %d, want %d", len(block), i, hi-lo)
	}
	path := make([]Hash, 0, t.above+len(t.levels)-1)
	level, j := block, i-lo
	for k := 0; k < t.above; k++ {
		if sib := j ^ 1; sib < len(level) {
			path = append(path, level[sib])
		} else {
			path = append(path, pads[k])
		}
		next := make([]Hash, (len(level)+1)/2)
		for m := range next {
			r := pads[k]
			if 2*m+1 < len(level) {
				r = level[2*m+1]
			}
			next[m] = Node(level[2*m], r)
		}
		level, j = next, j/2
	}
	return append(path, t.upper(i>>t.above)...), nil
}

// Path returns the proof of leaf i. The tree must be whole (NewTree).
func (t *Tree) Path(i int) ([]Hash, error) {
	if t.above > 0 {
		return nil, fmt.Errorf("merkle: the tree keeps its levels from %d up: prove with PathFrom", t.above)
	}
	if i < 0 || i >= t.n {
		return nil, ErrIndex
	}
	return t.upper(i), nil
}

// upper returns the siblings of node i of levels[0] up to the root.
func (t *Tree) upper(i int) []Hash {
	path := make([]Hash, 0, len(t.levels)-1)
	for k := 0; k < len(t.levels)-1; k++ {
		level := t.levels[k]
		if sib := i ^ 1; sib < len(level) {
			path = append(path, level[sib])
		} else {
			path = append(path, pads[t.above+k])
		}
		i /= 2
	}
	return path
}
