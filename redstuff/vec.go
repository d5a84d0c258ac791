package redstuff

import (
	"crypto/subtle"
	"math/bits"
	"sync"
	"sync/atomic"
)

// vecCode is the Leopard GF(2^16) encoder on whole shards in Leopard's
// layout, with SIMD butterflies (vec_amd64.s) that multiply through small
// tables built per multiplier on first use — a few hundred multipliers
// per code, 160 bytes each — where the library builds 72 MB of tables for
// all 65 536 up front (≈ 0.2 s on one core, once per process). It gives
// exactly the library's parity (tests check it). Where the SIMD
// butterflies are missing (other architectures, -tags purego) hasVecCode
// is false and the library is used.
type vecCode struct {
	k, parity int
	m         int // ceilPow2(parity)
	pool      sync.Pool
}

func newVecCode(k, parity int) *vecCode {
	return &vecCode{k: k, parity: parity, m: 1 << bits.Len(uint(parity-1))}
}

// Encode fills shards[k:] with the parity of shards[:k], all of one size
// (a multiple of 64 bytes) in Leopard's layout, like the library's Encode.
func (c *vecCode) Encode(shards [][]byte) error {
	size, err := shardSize(shards, c.k+c.parity)
	if err != nil {
		return err
	}
	if size == 0 {
		return nil
	}
	if allZero(shards[:c.k]) {
		for _, sh := range shards[c.k:] {
			clear(sh)
		}
		return nil
	}
	// Work vectors: the first parity of them are the parity shards
	// themselves, the other 2m − parity are scratch.
	scratch := 2*c.m - c.parity
	bp, _ := c.pool.Get().(*[]byte)
	if bp == nil || cap(*bp) < scratch*size {
		b := make([]byte, scratch*size)
		bp = &b
	}
	buf := (*bp)[:scratch*size]
	work := make([][]byte, 2*c.m)
	copy(work, shards[c.k:])
	for i := c.parity; i < len(work); i++ {
		j := i - c.parity
		work[i] = buf[j*size : (j+1)*size : (j+1)*size]
	}
	leoEncode(vecKernel{}, shards[:c.k], work, c.k, c.parity, c.m)
	c.pool.Put(bp)
	return nil
}

func allZero(shards [][]byte) bool {
	for _, sh := range shards {
		if !isZero(sh) {
			return false
		}
	}
	return true
}

// vecKernel is the transforms' arithmetic on shards in Leopard's layout.
type vecKernel struct{}

func (vecKernel) xor(dst, src []byte)   { subtle.XORBytes(dst, dst, src) }
func (vecKernel) copyv(dst, src []byte) { copy(dst, src) }
func (vecKernel) clearv(v []byte)       { clear(v) }

func (k vecKernel) ifft4(w0, w1, w2, w3 []byte, m01, m23, m02 uint16) {
	if m01 == gfModulus || m23 == gfModulus || m02 == gfModulus || !ifft4Vec(mulTableFor(m01), mulTableFor(m23), mulTableFor(m02), w0, w1, w2, w3) {
		ifft4Steps(k, w0, w1, w2, w3, m01, m23, m02)
	}
}

func (k vecKernel) fft4(w0, w1, w2, w3 []byte, m01, m23, m02 uint16) {
	if m01 == gfModulus || m23 == gfModulus || m02 == gfModulus || !fft4Vec(mulTableFor(m01), mulTableFor(m23), mulTableFor(m02), w0, w1, w2, w3) {
		fft4Steps(k, w0, w1, w2, w3, m01, m23, m02)
	}
}

func (vecKernel) fft2(x, y []byte, logM uint16) {
	fft2Vec(mulTableFor(logM), x, y[:len(x)])
}

func (vecKernel) ifft2(x, y []byte, logM uint16) {
	ifft2Vec(mulTableFor(logM), x, y[:len(x)])
}

// mulTable holds what the SIMD code needs to multiply by one element.
type mulTable struct {
	// shuf[i][j] (i < 4) is the low byte of the product of j·16^i, and
	// shuf[4+i][j] its high byte: four 16-entry lookups, one per nibble
	// of a 16-bit element, XORed, give the product.
	shuf [8][16]byte
	// gfni holds 8×8 bit matrices for GF2P8AFFINEQB: low byte to low
	// byte, high to low, low to high, high to high.
	gfni [4]uint64
	// gfni512 lays them out for a whole 64-byte block in one 512-bit
	// register (low bytes, then high bytes): low→low and high→high for
	// the block, then high→low and low→high for its halves swapped.
	gfni512 [16]uint64
}

// mulTables caches the table of each multiplier (by logarithm), built on
// first use; concurrent builders build the same table.
var mulTables [gfOrder]atomic.Pointer[mulTable]

func mulTableFor(logM uint16) *mulTable {
	if t := mulTables[logM].Load(); t != nil {
		return t
	}
	t := newMulTable(logM)
	mulTables[logM].Store(t)
	return t
}

func newMulTable(logM uint16) *mulTable {
	g := gf16()
	var t mulTable
	for i := 0; i < 4; i++ {
		for j := 0; j < 16; j++ {
			p := g.mulLog(uint16(j)<<(4*i), logM)
			t.shuf[i][j], t.shuf[4+i][j] = byte(p), byte(p>>8)
		}
	}
	// Row r of a GF2P8AFFINEQB matrix (its byte 7−r) holds the input bits
	// that make output bit r.
	for in := 0; in < 16; in++ {
		p := g.mulLog(1<<in, logM)
		for out := 0; out < 16; out++ {
			if p>>out&1 == 0 {
				continue
			}
			mat := (in / 8) + 2*(out/8) // lo→lo, hi→lo, lo→hi, hi→hi
			t.gfni[mat] |= 1 << ((7-out%8)*8 + in%8)
		}
	}
	for i := 0; i < 4; i++ {
		t.gfni512[i], t.gfni512[4+i] = t.gfni[0], t.gfni[3]
		t.gfni512[8+i], t.gfni512[12+i] = t.gfni[1], t.gfni[2]
	}
	return &t
}
