//go:build !purego

#include "textflag.h"

// Per 16-byte lane: even bytes to the low half, odd bytes to the high half.
DATA evenOdd<>+0x00(SB)/8, $0x0e0c0a0806040200
DATA evenOdd<>+0x08(SB)/8, $0x0f0d0b0907050301
DATA evenOdd<>+0x10(SB)/8, $0x0e0c0a0806040200
DATA evenOdd<>+0x18(SB)/8, $0x0f0d0b0907050301
GLOBL evenOdd<>(SB), RODATA|NOPTR, $32

// func splitBlocksAVX2(dst, src *byte, blocks int)
TEXT ·splitBlocksAVX2(SB), NOSPLIT, $0-24
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    blocks+16(FP), CX
	TESTQ   CX, CX
	JZ      splitDone
	VMOVDQU evenOdd<>(SB), Y8

splitLoop:
	VMOVDQU    (SI), Y0
	VMOVDQU    32(SI), Y1
	VPSHUFB    Y8, Y0, Y0          // E0 O0 | E1 O1
	VPSHUFB    Y8, Y1, Y1          // E2 O2 | E3 O3
	VPERMQ     $0xd8, Y0, Y0       // E0 E1 | O0 O1
	VPERMQ     $0xd8, Y1, Y1       // E2 E3 | O2 O3
	VPERM2I128 $0x20, Y1, Y0, Y2   // E0 E1 E2 E3
	VPERM2I128 $0x31, Y1, Y0, Y3   // O0 O1 O2 O3
	VMOVDQU    Y2, (DI)
	VMOVDQU    Y3, 32(DI)
	ADDQ       $64, SI
	ADDQ       $64, DI
	DECQ       CX
	JNZ        splitLoop
	VZEROUPPER

splitDone:
	RET

// func joinBlocksAVX2(dst, src *byte, blocks int)
TEXT ·joinBlocksAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ blocks+16(FP), CX
	TESTQ CX, CX
	JZ   joinDone

joinLoop:
	VMOVDQU    (SI), Y0            // low bytes of 32 elements
	VMOVDQU    32(SI), Y1          // high bytes
	VPUNPCKLBW Y1, Y0, Y2          // bytes 0..15 | 32..47
	VPUNPCKHBW Y1, Y0, Y3          // bytes 16..31 | 48..63
	VPERM2I128 $0x20, Y3, Y2, Y4   // bytes 0..31
	VPERM2I128 $0x31, Y3, Y2, Y5   // bytes 32..63
	VMOVDQU    Y4, (DI)
	VMOVDQU    Y5, 32(DI)
	ADDQ       $64, SI
	ADDQ       $64, DI
	DECQ       CX
	JNZ        joinLoop
	VZEROUPPER

joinDone:
	RET
