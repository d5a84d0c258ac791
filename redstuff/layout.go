package redstuff

import "encoding/binary"

// The code works on GF(2^16) elements. A symbol of s bytes is s/2 elements,
// element t being the little-endian pair (byte 2t, byte 2t+1). The Leopard
// codec wants each 64-byte block of a shard split instead: the low bytes of
// its 32 elements first, then their high bytes. toLeo and fromLeo convert a
// run of whole symbols between the two layouts; each codeword position is
// an element, so the code is identical whatever the batching.

// leoLen rounds a byte length up to the codec's 64-byte shard multiple.
func leoLen(n int) int { return (n + 63) &^ 63 }

const (
	evenMask = 0x00FF00FF00FF00FF
	pairMask = 0x0000FFFF0000FFFF
)

// pack4 gathers the even bytes of x into the low 32 bits.
func pack4(x uint64) uint64 {
	x &= evenMask
	x = (x | x>>8) & pairMask
	return (x | x>>16) & 0xFFFFFFFF
}

// spread4 is the inverse of pack4: the low 4 bytes of x go to even bytes.
func spread4(x uint64) uint64 {
	x &= 0xFFFFFFFF
	x = (x | x<<16) & pairMask
	return (x | x<<8) & evenMask
}

func splitBlock(d, s *[64]byte) {
	for k := 0; k < 4; k++ {
		a := binary.LittleEndian.Uint64(s[16*k:])
		b := binary.LittleEndian.Uint64(s[16*k+8:])
		binary.LittleEndian.PutUint64(d[8*k:], pack4(a)|pack4(b)<<32)
		binary.LittleEndian.PutUint64(d[32+8*k:], pack4(a>>8)|pack4(b>>8)<<32)
	}
}

func joinBlock(d, s *[64]byte) {
	for k := 0; k < 4; k++ {
		lo := binary.LittleEndian.Uint64(s[8*k:])
		hi := binary.LittleEndian.Uint64(s[32+8*k:])
		binary.LittleEndian.PutUint64(d[16*k:], spread4(lo)|spread4(hi)<<8)
		binary.LittleEndian.PutUint64(d[16*k+8:], spread4(lo>>32)|spread4(hi>>32)<<8)
	}
}

// toLeo writes src (natural layout, even length) into dst in Leopard layout.
// len(dst) must be at least leoLen(len(src)); the tail of the last block and
// anything after it up to len(dst) is zeroed.
func toLeo(dst, src []byte) {
	full := len(src) &^ 63
	splitBlocks(dst[:full], src[:full])
	rest := dst[full:]
	if full < len(src) {
		var tmp [64]byte
		copy(tmp[:], src[full:])
		splitBlock((*[64]byte)(rest[:64]), &tmp)
		rest = rest[64:]
	}
	clear(rest)
}

// fromLeo writes len(dst) bytes of natural layout taken from src, which is
// in Leopard layout and at least leoLen(len(dst)) long.
func fromLeo(dst, src []byte) {
	full := len(dst) &^ 63
	joinBlocks(dst[:full], src[:full])
	if full < len(dst) {
		var tmp [64]byte
		joinBlock(&tmp, (*[64]byte)(src[full:full+64]))
		copy(dst[full:], tmp[:])
	}
}

// splitBlocksGeneric converts whole 64-byte blocks; len(src) is a multiple
// of 64 and dst is at least as long.
func splitBlocksGeneric(dst, src []byte) {
	for i := 0; i+64 <= len(src); i += 64 {
		splitBlock((*[64]byte)(dst[i:i+64]), (*[64]byte)(src[i:i+64]))
	}
}

// joinBlocksGeneric is the inverse of splitBlocksGeneric.
func joinBlocksGeneric(dst, src []byte) {
	for i := 0; i+64 <= len(dst); i += 64 {
		joinBlock((*[64]byte)(dst[i:i+64]), (*[64]byte)(src[i:i+64]))
	}
}
