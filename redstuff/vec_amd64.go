//go:build !purego

package redstuff

import "github.com/klauspost/cpuid/v2"

// hasVecCode reports SIMD butterflies for vecCode: AVX2, multiplying with
// nibble lookups (VPSHUFB) or, with GFNI, with bit-matrix products.
var (
	hasVecCode = hasAVX2
	hasGFNI    = hasAVX2 && cpuid.CPU.Supports(cpuid.GFNI)
)

//go:noescape
func fft2AVX2(t *mulTable, x, y *byte, n int)

//go:noescape
func ifft2AVX2(t *mulTable, x, y *byte, n int)

//go:noescape
func fft2GFNI(t *mulTable, x, y *byte, n int)

//go:noescape
func ifft2GFNI(t *mulTable, x, y *byte, n int)

func fft2Vec(t *mulTable, x, y []byte) {
	switch {
	case len(x) == 0:
	case hasGFNI:
		fft2GFNI(t, &x[0], &y[0], len(x))
	case hasAVX2:
		fft2AVX2(t, &x[0], &y[0], len(x))
	default:
		fft2VecGeneric(t, x, y)
	}
}

func ifft2Vec(t *mulTable, x, y []byte) {
	switch {
	case len(x) == 0:
	case hasGFNI:
		ifft2GFNI(t, &x[0], &y[0], len(x))
	case hasAVX2:
		ifft2AVX2(t, &x[0], &y[0], len(x))
	default:
		ifft2VecGeneric(t, x, y)
	}
}
