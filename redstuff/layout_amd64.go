//go:build !purego

package redstuff

import "github.com/klauspost/cpuid/v2"

var hasAVX2 = cpuid.CPU.Supports(cpuid.AVX2)

//go:noescape
func splitBlocksAVX2(dst, src *byte, blocks int)

//go:noescape
func joinBlocksAVX2(dst, src *byte, blocks int)

func splitBlocks(dst, src []byte) {
	if hasAVX2 && len(src) >= 64 {
		splitBlocksAVX2(&dst[0], &src[0], len(src)/64)
		return
	}
	splitBlocksGeneric(dst, src)
}

func joinBlocks(dst, src []byte) {
	if hasAVX2 && len(dst) >= 64 {
		joinBlocksAVX2(&dst[0], &src[0], len(dst)/64)
		return
	}
	joinBlocksGeneric(dst, src)
}
