//go:build !amd64 || purego

package redstuff

// hasVecCode reports SIMD butterflies for vecCode; without them the
// library encodes.
const hasVecCode = false

func fft2Vec(t *mulTable, x, y []byte)  { fft2VecGeneric(t, x, y) }
func ifft2Vec(t *mulTable, x, y []byte) { ifft2VecGeneric(t, x, y) }

func ifft4Vec(t01, t23, t02 *mulTable, w0, w1, w2, w3 []byte) bool { return false }
func fft4Vec(t01, t23, t02 *mulTable, w0, w1, w2, w3 []byte) bool  { return false }
