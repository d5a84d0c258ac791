//go:build !purego

package redstuff

import "github.com/klauspost/cpuid/v2"

// vecLevel is the SIMD multiplication vecCode uses: nibble lookups
// (VPSHUFB) on AVX2, or GF2P8AFFINEQB bit matrices on 256-bit or, with
// AVX-512, 512-bit registers.
var vecLevel = func() int {
	switch {
	case !hasAVX2:
		return vecNone
	case cpuid.CPU.Supports(cpuid.GFNI, cpuid.AVX512F):
		return vecGFNI512
	case cpuid.CPU.Supports(cpuid.GFNI):
		return vecGFNI
	}
	return vecAVX2
}()

const (
	vecNone = iota
	vecAVX2
	vecGFNI
	vecGFNI512
)

// hasVecCode reports SIMD butterflies for vecCode.
var hasVecCode = vecLevel != vecNone

//go:noescape
func fft2AVX2(t *mulTable, x, y *byte, n int)

//go:noescape
func ifft2AVX2(t *mulTable, x, y *byte, n int)

//go:noescape
func fft2GFNI(t *mulTable, x, y *byte, n int)

//go:noescape
func ifft2GFNI(t *mulTable, x, y *byte, n int)

//go:noescape
func fft2GFNI512(t *mulTable, x, y *byte, n int)

//go:noescape
func ifft2GFNI512(t *mulTable, x, y *byte, n int)

//go:noescape
func ifft4GFNI512(t01, t23, t02 *mulTable, w0, w1, w2, w3 *byte, n int)

//go:noescape
func fft4GFNI512(t01, t23, t02 *mulTable, w0, w1, w2, w3 *byte, n int)

// ifft4Vec runs two layers of inverse butterflies fused, where there is
// code for it, and reports whether it did.
func ifft4Vec(t01, t23, t02 *mulTable, w0, w1, w2, w3 []byte) bool {
	if vecLevel != vecGFNI512 || len(w0) == 0 {
		return false
	}
	n := len(w0)
	_, _, _ = w1[n-1], w2[n-1], w3[n-1]
	ifft4GFNI512(t01, t23, t02, &w0[0], &w1[0], &w2[0], &w3[0], n)
	return true
}

// fft4Vec is ifft4Vec for the forward butterflies.
func fft4Vec(t01, t23, t02 *mulTable, w0, w1, w2, w3 []byte) bool {
	if vecLevel != vecGFNI512 || len(w0) == 0 {
		return false
	}
	n := len(w0)
	_, _, _ = w1[n-1], w2[n-1], w3[n-1]
	fft4GFNI512(t01, t23, t02, &w0[0], &w1[0], &w2[0], &w3[0], n)
	return true
}

func fft2Vec(t *mulTable, x, y []byte) {
	if len(x) == 0 {
		return
	}
	switch vecLevel {
	case vecGFNI512:
		fft2GFNI512(t, &x[0], &y[0], len(x))
	case vecGFNI:
		fft2GFNI(t, &x[0], &y[0], len(x))
	case vecAVX2:
		fft2AVX2(t, &x[0], &y[0], len(x))
	default:
		fft2VecGeneric(t, x, y)
	}
}

func ifft2Vec(t *mulTable, x, y []byte) {
	if len(x) == 0 {
		return
	}
	switch vecLevel {
	case vecGFNI512:
		ifft2GFNI512(t, &x[0], &y[0], len(x))
	case vecGFNI:
		ifft2GFNI(t, &x[0], &y[0], len(x))
	case vecAVX2:
		ifft2AVX2(t, &x[0], &y[0], len(x))
	default:
		ifft2VecGeneric(t, x, y)
	}
}
