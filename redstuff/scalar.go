package redstuff

import (
	"math/bits"
	"sync"
)

// scalarCode is the Leopard GF(2^16) Reed–Solomon encoder of
// github.com/klauspost/reedsolomon rewritten with one element at a time
// and only the field's log and exp tables. It produces exactly the same
// parity (a test checks it against the library), and exists because the
// library's first use builds 72 MB of multiplication tables on one core —
// about 0.2 s, more than the whole encode of a small blob at n = 1000.
// Small grids are extended with it (see useScalar); everything else, and
// every decode, uses the library.
type scalarCode struct {
	k, parity int
	m         int // ceilPow2(parity)
	pool      sync.Pool
}

const (
	gfOrder   = 1 << 16
	gfModulus = gfOrder - 1
)

// gf16 holds the field tables of Leopard's GF(2^16) in its Cantor basis.
var gf16 = sync.OnceValue(func() *gfTables {
	t := &gfTables{}
	t.init()
	return t
})

type gfTables struct {
	log, exp [gfOrder]uint16
	skew     [gfModulus]uint16
}

func (t *gfTables) init() {
	basis := [16]uint16{
		0x0001, 0xACCA, 0x3C0E, 0x163E, 0xC582, 0xED2E, 0x914C, 0x4012,
		0x6C98, 0x10D8, 0x6A72, 0xB900, 0xFDB8, 0xFB34, 0xFF38, 0x991E,
	}
	const poly = 0x1002D
	state := 1
	for i := 0; i < gfModulus; i++ {
		t.exp[state] = uint16(i)
		state <<= 1
		if state >= gfOrder {
			state ^= poly
		}
	}
	t.exp[0] = gfModulus
	t.log[0] = 0
	for i := 0; i < 16; i++ {
		w := 1 << i
		for j := 0; j < w; j++ {
			t.log[j+w] = t.log[j] ^ basis[i]
		}
	}
	for i := range t.log {
		t.log[i] = t.exp[t.log[i]]
	}
	for i := range t.log {
		t.exp[t.log[i]] = uint16(i)
	}
	t.exp[gfModulus] = t.exp[0]

	var temp [15]uint16
	for i := 1; i < 16; i++ {
		temp[i-1] = uint16(1 << i)
	}
	for m := 0; m < 15; m++ {
		step := 1 << (m + 1)
		t.skew[1<<m-1] = 0
		for i := m; i < 15; i++ {
			s := 1 << (i + 1)
			for j := 1<<m - 1; j < s; j += step {
				t.skew[j+s] = t.skew[j] ^ temp[i]
			}
		}
		temp[m] = gfModulus - t.log[t.mulLog(temp[m], t.log[temp[m]^1])]
		for i := m + 1; i < 15; i++ {
			sum := addMod(t.log[temp[i]^1], temp[m])
			temp[i] = t.mulLog(temp[i], sum)
		}
	}
	for i := range t.skew {
		t.skew[i] = t.log[t.skew[i]]
	}
}

func addMod(a, b uint16) uint16 {
	sum := uint(a) + uint(b)
	return uint16(sum + sum>>16)
}

func (t *gfTables) mulLog(a, logB uint16) uint16 {
	if a == 0 {
		return 0
	}
	return t.exp[addMod(t.log[a], logB)]
}

func newScalarCode(k, parity int) *scalarCode {
	return &scalarCode{k: k, parity: parity, m: 1 << bits.Len(uint(parity-1))}
}

// Encode fills shards[k:] with the parity of shards[:k], all of one size
// (a multiple of 64 bytes) in Leopard's layout, like the library's Encode.
func (c *scalarCode) Encode(shards [][]byte) error {
	size, err := shardSize(shards, c.k+c.parity)
	if err != nil {
		return err
	}
	e := size / 2 // elements per shard
	if e == 0 {
		return nil
	}
	t := gf16()
	// Scratch: the k data vectors and 2m work vectors of e elements.
	need := (c.k + 2*c.m) * e
	bp, _ := c.pool.Get().(*[]uint16)
	if bp == nil || cap(*bp) < need {
		b := make([]uint16, need)
		bp = &b
	}
	buf := (*bp)[:need]
	vec := func(i int) []uint16 { return buf[i*e : (i+1)*e : (i+1)*e] }
	data := make([][]uint16, c.k)
	work := make([][]uint16, 2*c.m)
	allZero := true
	for i := range data {
		data[i] = vec(i)
		if fromLeoElems(data[i], shards[i]) {
			allZero = false
		}
	}
	if allZero {
		for _, sh := range shards[c.k:] {
			clear(sh)
		}
		c.pool.Put(bp)
		return nil
	}
	for i := range work {
		work[i] = vec(c.k + i)
	}
	leoEncode(uint16Kernel{t}, data, work, c.k, c.parity, c.m)
	for i := 0; i < c.parity; i++ {
		toLeoElems(shards[c.k+i], work[i])
	}
	c.pool.Put(bp)
	return nil
}

// fromLeoElems reads a Leopard-layout shard into elements and reports
// whether any is non-zero.
func fromLeoElems(dst []uint16, src []byte) bool {
	var or uint16
	for b := 0; b < len(src); b += 64 {
		blk := src[b : b+64 : b+64]
		d := dst[b/2 : b/2+32 : b/2+32]
		for i := range 32 {
			v := uint16(blk[i]) | uint16(blk[32+i])<<8
			d[i] = v
			or |= v
		}
	}
	return or != 0
}

func toLeoElems(dst []byte, src []uint16) {
	for b := 0; b < len(dst); b += 64 {
		blk := dst[b : b+64 : b+64]
		s := src[b/2 : b/2+32 : b/2+32]
		for i := range 32 {
			blk[i] = byte(s[i])
			blk[32+i] = byte(s[i] >> 8)
		}
	}
}

// uint16Kernel is the transforms' arithmetic on vectors of elements, one
// element at a time.
type uint16Kernel struct{ t *gfTables }

func (uint16Kernel) xor(dst, src []uint16) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] ^= src[i]
	}
}

func (uint16Kernel) copyv(dst, src []uint16) { copy(dst, src) }
func (uint16Kernel) clearv(v []uint16)       { clear(v) }

func (k uint16Kernel) ifft4(w0, w1, w2, w3 []uint16, m01, m23, m02 uint16) {
	ifft4Steps(k, w0, w1, w2, w3, m01, m23, m02)
}

func (k uint16Kernel) fft4(w0, w1, w2, w3 []uint16, m01, m23, m02 uint16) {
	fft4Steps(k, w0, w1, w2, w3, m01, m23, m02)
}

// fft2: x ^= y·m; y ^= x.
func (k uint16Kernel) fft2(x, y []uint16, logM uint16) {
	t := k.t
	y = y[:len(x)]
	for i := range x {
		if v := y[i]; v != 0 {
			x[i] ^= t.exp[addMod(t.log[v], logM)]
		}
		y[i] ^= x[i]
	}
}

// ifft2: y ^= x; x ^= y·m.
func (k uint16Kernel) ifft2(x, y []uint16, logM uint16) {
	t := k.t
	y = y[:len(x)]
	for i := range x {
		v := y[i] ^ x[i]
		y[i] = v
		if v != 0 {
			x[i] ^= t.exp[addMod(t.log[v], logM)]
		}
	}
}
