//go:build !purego

#include "textflag.h"

// Butterflies of the Leopard transforms over n bytes (a multiple of 64) of
// two shards x and y in Leopard's layout: each 64-byte block holds the low
// bytes of 32 GF(2^16) elements, then their high bytes. t points to a
// mulTable: 8 nibble lookups of 16 bytes, then 4 GF2P8AFFINEQB matrices.
//
// Registers: Y0–Y7 the multiplier (lookups or matrices), Y8 the nibble
// mask, Y9/Y10 the low/high bytes of the element multiplied, Y12/Y13 the
// low/high bytes of the product, Y11/Y14 scratch.

// MULSHUF sets Y12/Y13 to Y9/Y10 times the multiplier, with nibble
// lookups; it clobbers Y9, Y10, Y11 and Y14.
#define MULSHUF \
	VPSRLQ  $4, Y9, Y11; \
	VPAND   Y8, Y9, Y9; \
	VPAND   Y8, Y11, Y11; \
	VPSHUFB Y9, Y0, Y12; \
	VPSHUFB Y9, Y4, Y13; \
	VPSHUFB Y11, Y1, Y14; \
	VPXOR   Y14, Y12, Y12; \
	VPSHUFB Y11, Y5, Y14; \
	VPXOR   Y14, Y13, Y13; \
	VPSRLQ  $4, Y10, Y11; \
	VPAND   Y8, Y10, Y10; \
	VPAND   Y8, Y11, Y11; \
	VPSHUFB Y10, Y2, Y14; \
	VPXOR   Y14, Y12, Y12; \
	VPSHUFB Y10, Y6, Y14; \
	VPXOR   Y14, Y13, Y13; \
	VPSHUFB Y11, Y3, Y14; \
	VPXOR   Y14, Y12, Y12; \
	VPSHUFB Y11, Y7, Y14; \
	VPXOR   Y14, Y13, Y13

// MULGFNI is MULSHUF with bit-matrix products; it clobbers Y14.
#define MULGFNI \
	VGF2P8AFFINEQB $0, Y0, Y9, Y12; \
	VGF2P8AFFINEQB $0, Y1, Y10, Y14; \
	VPXOR          Y14, Y12, Y12; \
	VGF2P8AFFINEQB $0, Y2, Y9, Y13; \
	VGF2P8AFFINEQB $0, Y3, Y10, Y14; \
	VPXOR          Y14, Y13, Y13

#define LOADSHUF \
	VBROADCASTI128 0(AX), Y0; \
	VBROADCASTI128 16(AX), Y1; \
	VBROADCASTI128 32(AX), Y2; \
	VBROADCASTI128 48(AX), Y3; \
	VBROADCASTI128 64(AX), Y4; \
	VBROADCASTI128 80(AX), Y5; \
	VBROADCASTI128 96(AX), Y6; \
	VBROADCASTI128 112(AX), Y7; \
	MOVQ           $0x0f0f0f0f0f0f0f0f, BX; \
	MOVQ           BX, X8; \
	VPBROADCASTQ   X8, Y8

#define LOADGFNI \
	VPBROADCASTQ 128(AX), Y0; \
	VPBROADCASTQ 136(AX), Y1; \
	VPBROADCASTQ 144(AX), Y2; \
	VPBROADCASTQ 152(AX), Y3

// FFT2: x ^= y·m; y ^= x.
#define FFT2(MUL) \
	VMOVDQU (SI), Y9; \
	VMOVDQU 32(SI), Y10; \
	MUL; \
	VPXOR   (DI), Y12, Y12; \
	VPXOR   32(DI), Y13, Y13; \
	VMOVDQU Y12, (DI); \
	VMOVDQU Y13, 32(DI); \
	VPXOR   (SI), Y12, Y12; \
	VPXOR   32(SI), Y13, Y13; \
	VMOVDQU Y12, (SI); \
	VMOVDQU Y13, 32(SI); \
	ADDQ    $64, SI; \
	ADDQ    $64, DI

// IFFT2: y ^= x; x ^= y·m.
#define IFFT2(MUL) \
	VMOVDQU (DI), Y9; \
	VMOVDQU 32(DI), Y10; \
	VPXOR   (SI), Y9, Y9; \
	VPXOR   32(SI), Y10, Y10; \
	VMOVDQU Y9, (SI); \
	VMOVDQU Y10, 32(SI); \
	MUL; \
	VPXOR   (DI), Y12, Y12; \
	VPXOR   32(DI), Y13, Y13; \
	VMOVDQU Y12, (DI); \
	VMOVDQU Y13, 32(DI); \
	ADDQ    $64, SI; \
	ADDQ    $64, DI

#define ARGS \
	MOVQ t+0(FP), AX; \
	MOVQ x+8(FP), DI; \
	MOVQ y+16(FP), SI; \
	MOVQ n+24(FP), CX; \
	SHRQ $6, CX

// func fft2AVX2(t *mulTable, x, y *byte, n int)
TEXT ·fft2AVX2(SB), NOSPLIT, $0-32
	ARGS
	JZ fftShufDone
	LOADSHUF

fftShufLoop:
	FFT2(MULSHUF)
	DECQ CX
	JNZ  fftShufLoop
	VZEROUPPER

fftShufDone:
	RET

// func ifft2AVX2(t *mulTable, x, y *byte, n int)
TEXT ·ifft2AVX2(SB), NOSPLIT, $0-32
	ARGS
	JZ ifftShufDone
	LOADSHUF

ifftShufLoop:
	IFFT2(MULSHUF)
	DECQ CX
	JNZ  ifftShufLoop
	VZEROUPPER

ifftShufDone:
	RET

// func fft2GFNI(t *mulTable, x, y *byte, n int)
TEXT ·fft2GFNI(SB), NOSPLIT, $0-32
	ARGS
	JZ fftGFNIDone
	LOADGFNI

fftGFNILoop:
	FFT2(MULGFNI)
	DECQ CX
	JNZ  fftGFNILoop
	VZEROUPPER

fftGFNIDone:
	RET

// func ifft2GFNI(t *mulTable, x, y *byte, n int)
TEXT ·ifft2GFNI(SB), NOSPLIT, $0-32
	ARGS
	JZ ifftGFNIDone
	LOADGFNI

ifftGFNILoop:
	IFFT2(MULGFNI)
	DECQ CX
	JNZ  ifftGFNILoop
	VZEROUPPER

ifftGFNIDone:
	RET
