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

// The same with AVX-512: a whole block in one register, its halves
// swapped in another; Z0 and Z1 hold the matrices for both (gfni512).
#define MUL512 \
	VSHUFI64X2     $0x4e, Z2, Z2, Z3; \
	VGF2P8AFFINEQB $0, Z0, Z2, Z4; \
	VGF2P8AFFINEQB $0, Z1, Z3, Z5; \
	VPXORQ         Z5, Z4, Z4

// MULZ sets OUT to IN times the multiplier whose matrices are in MA/MB,
// using SW as scratch.
#define MULZ(IN, MA, MB, SW, OUT) \
	VSHUFI64X2     $0x4e, IN, IN, SW; \
	VGF2P8AFFINEQB $0, MA, IN, OUT; \
	VGF2P8AFFINEQB $0, MB, SW, SW; \
	VPXORQ         SW, OUT, OUT

#define ARGS4 \
	MOVQ t01+0(FP), AX;  \
	MOVQ t23+8(FP), BX;  \
	MOVQ t02+16(FP), DX; \
	MOVQ w0+24(FP), R8;  \
	MOVQ w1+32(FP), R9;  \
	MOVQ w2+40(FP), R10; \
	MOVQ w3+48(FP), R11; \
	MOVQ n+56(FP), CX;   \
	SHRQ $6, CX;         \
	VMOVDQU64 160(AX), Z0; \
	VMOVDQU64 224(AX), Z1; \
	VMOVDQU64 160(BX), Z2; \
	VMOVDQU64 224(BX), Z3; \
	VMOVDQU64 160(DX), Z4; \
	VMOVDQU64 224(DX), Z5

#define NEXT4 \
	ADDQ $64, R8;  \
	ADDQ $64, R9;  \
	ADDQ $64, R10; \
	ADDQ $64, R11

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

// func fft2GFNI512(t *mulTable, x, y *byte, n int)
TEXT ·fft2GFNI512(SB), NOSPLIT, $0-32
	ARGS
	JZ        fft512Done
	VMOVDQU64 160(AX), Z0
	VMOVDQU64 224(AX), Z1

fft512Loop:
	VMOVDQU64 (SI), Z2
	MUL512
	VPXORQ    (DI), Z4, Z4
	VMOVDQU64 Z4, (DI)
	VPXORQ    Z2, Z4, Z2
	VMOVDQU64 Z2, (SI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       fft512Loop
	VZEROUPPER

fft512Done:
	RET

// func ifft2GFNI512(t *mulTable, x, y *byte, n int)
TEXT ·ifft2GFNI512(SB), NOSPLIT, $0-32
	ARGS
	JZ        ifft512Done
	VMOVDQU64 160(AX), Z0
	VMOVDQU64 224(AX), Z1

ifft512Loop:
	VMOVDQU64 (SI), Z2
	VPXORQ    (DI), Z2, Z2
	VMOVDQU64 Z2, (SI)
	MUL512
	VPXORQ    (DI), Z4, Z4
	VMOVDQU64 Z4, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       ifft512Loop
	VZEROUPPER

ifft512Done:
	RET

// func ifft4GFNI512(t01, t23, t02 *mulTable, w0, w1, w2, w3 *byte, n int)
// Two layers of inverse butterflies: (w0, w1) by m01 and (w2, w3) by
// m23, then (w0, w2) and (w1, w3) by m02.
TEXT ·ifft4GFNI512(SB), NOSPLIT, $0-64
	ARGS4
	TESTQ CX, CX
	JZ    ifft4Done

ifft4Loop:
	VMOVDQU64 (R8), Z10
	VMOVDQU64 (R9), Z11
	VMOVDQU64 (R10), Z12
	VMOVDQU64 (R11), Z13
	VPXORQ    Z10, Z11, Z11
	MULZ(Z11, Z0, Z1, Z20, Z21)
	VPXORQ    Z21, Z10, Z10
	VPXORQ    Z12, Z13, Z13
	MULZ(Z13, Z2, Z3, Z20, Z21)
	VPXORQ    Z21, Z12, Z12
	VPXORQ    Z10, Z12, Z12
	MULZ(Z12, Z4, Z5, Z20, Z21)
	VPXORQ    Z21, Z10, Z10
	VPXORQ    Z11, Z13, Z13
	MULZ(Z13, Z4, Z5, Z20, Z21)
	VPXORQ    Z21, Z11, Z11
	VMOVDQU64 Z10, (R8)
	VMOVDQU64 Z11, (R9)
	VMOVDQU64 Z12, (R10)
	VMOVDQU64 Z13, (R11)
	NEXT4
	DECQ      CX
	JNZ       ifft4Loop

ifft4Done:
	VZEROUPPER
	RET

// func fft4GFNI512(t01, t23, t02 *mulTable, w0, w1, w2, w3 *byte, n int)
// Two layers of forward butterflies: (w0, w2) and (w1, w3) by m02, then
// (w0, w1) by m01 and (w2, w3) by m23.
TEXT ·fft4GFNI512(SB), NOSPLIT, $0-64
	ARGS4
	TESTQ CX, CX
	JZ    fft4Done

fft4Loop:
	VMOVDQU64 (R8), Z10
	VMOVDQU64 (R9), Z11
	VMOVDQU64 (R10), Z12
	VMOVDQU64 (R11), Z13
	MULZ(Z12, Z4, Z5, Z20, Z21)
	VPXORQ    Z21, Z10, Z10
	VPXORQ    Z10, Z12, Z12
	MULZ(Z13, Z4, Z5, Z20, Z21)
	VPXORQ    Z21, Z11, Z11
	VPXORQ    Z11, Z13, Z13
	MULZ(Z11, Z0, Z1, Z20, Z21)
	VPXORQ    Z21, Z10, Z10
	VPXORQ    Z10, Z11, Z11
	MULZ(Z13, Z2, Z3, Z20, Z21)
	VPXORQ    Z21, Z12, Z12
	VPXORQ    Z12, Z13, Z13
	VMOVDQU64 Z10, (R8)
	VMOVDQU64 Z11, (R9)
	VMOVDQU64 Z12, (R10)
	VMOVDQU64 Z13, (R11)
	NEXT4
	DECQ      CX
	JNZ       fft4Loop

fft4Done:
	VZEROUPPER
	RET
