package redstuff

import (
	"sync"

	"github.com/weftnet/weft/merkle"
)

// A small blob on many shards leaves most of the grid zero: systematic
// rows past the blob, and columns past its first row, extend to zero, so
// their leaves are all the leaf of a zero symbol and their subtrees the
// same few hashes. These helpers hash each distinct zero subtree once,
// and, for 2-byte symbols on large grids, every possible leaf once.

// zeroTrees holds, for one symbol size, the hash of an all-zero subtree
// of 2^k leaves at index k.
type zeroTrees [17]merkle.Hash // trees of up to 2^16 = MaxShards leaves

func newZeroTrees(s int) *zeroTrees {
	var z zeroTrees
	z[0] = merkle.Leaf(make([]byte, s))
	for k := 1; k < len(z); k++ {
		z[k] = merkle.Node(z[k-1], z[k-1])
	}
	return &z
}

// root is merkle.RootScratch that takes an all-zero pair of subtrees'
// parent from z instead of hashing it; the result is the same.
func (z *zeroTrees) root(leaves, scratch []merkle.Hash) merkle.Hash {
	switch len(leaves) {
	case 0:
		return merkle.Pad(0)
	case 1:
		return leaves[0]
	}
	level := leaves
	for k := 0; len(level) > 1; k++ {
		m := (len(level) + 1) / 2
		next := scratch[:m]
		zk, up := z[k], z[k+1]
		for i := 0; i < len(level)/2; i++ {
			a, b := &level[2*i], &level[2*i+1]
			if *a == zk && *b == zk {
				next[i] = up
				continue
			}
			next[i] = merkle.Node(*a, *b)
		}
		if len(level)%2 == 1 {
			next[m-1] = merkle.Node(level[len(level)-1], merkle.Pad(k))
		}
		level = next
	}
	return level[0]
}

// leafTableMin is the grid size (n²) from which the leaves of 2-byte
// symbols are looked up in a table of all 65 536 rather than hashed.
const leafTableMin = 1 << 18

// leafTable2 holds the leaf hash of every 2-byte symbol, indexed by the
// symbol read as a little-endian uint16; built once per process.
var leafTable2 = sync.OnceValue(func() *[1 << 16]merkle.Hash {
	var t [1 << 16]merkle.Hash
	const parts = 8
	parallel(parts, parts, func(_, i int) {
		var h merkle.Hasher
		var b [2]byte
		for v := i * len(t) / parts; v < (i+1)*len(t)/parts; v++ {
			b[0], b[1] = byte(v), byte(v>>8)
			t[v] = h.Leaf(b[:])
		}
	})
	return &t
})

// leafHasher computes the leaves of one grid's symbols.
type leafHasher struct {
	s     int
	zero  merkle.Hash
	table *[1 << 16]merkle.Hash // 2-byte symbols on large grids
}

func newLeafHasher(p Params, s int, z *zeroTrees) leafHasher {
	lh := leafHasher{s: s, zero: z[0]}
	if s == 2 && p.N*p.N >= leafTableMin {
		lh.table = leafTable2()
	}
	return lh
}

// leaf returns H(0x00 ‖ sym) for a symbol of lh.s bytes.
func (lh *leafHasher) leaf(h *merkle.Hasher, sym []byte) merkle.Hash {
	if lh.table != nil {
		return lh.table[uint16(sym[0])|uint16(sym[1])<<8]
	}
	if isZero(sym) {
		return lh.zero
	}
	return h.Leaf(sym)
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
