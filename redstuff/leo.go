package redstuff

import "errors"

// The additive-FFT transforms of the Leopard GF(2^16) encoder, written
// once over any vector representation: a kernel supplies the arithmetic
// on whole vectors (scalarCode: elements one at a time; vecCode: shards in
// Leopard's layout with SIMD). A multiplier is given by its logarithm; the
// logarithm gfModulus stands for 0, and a butterfly by 0 is a plain XOR.

// kernel is the vector arithmetic the transforms need.
type kernel[V any] interface {
	xor(dst, src V)           // dst ^= src
	fft2(x, y V, logM uint16) // x ^= y·m; y ^= x
	ifft2(x, y V, logM uint16)
	copyv(dst, src V)
	clearv(v V)
	// ifft4 and fft4 are two layers of butterflies over four vectors:
	// ifft4Steps and fft4Steps, or the same fused.
	ifft4(w0, w1, w2, w3 V, m01, m23, m02 uint16)
	fft4(w0, w1, w2, w3 V, m01, m23, m02 uint16)
}

func ifft4[V any, K kernel[V]](k K, w []V, dist int, m01, m23, m02 uint16) {
	k.ifft4(w[0], w[dist], w[dist*2], w[dist*3], m01, m23, m02)
}

func fft4[V any, K kernel[V]](k K, w []V, dist int, m01, m23, m02 uint16) {
	k.fft4(w[0], w[dist], w[dist*2], w[dist*3], m01, m23, m02)
}

func ifft4Steps[V any, K kernel[V]](k K, w0, w1, w2, w3 V, m01, m23, m02 uint16) {
	if m01 == gfModulus {
		k.xor(w1, w0)
	} else {
		k.ifft2(w0, w1, m01)
	}
	if m23 == gfModulus {
		k.xor(w3, w2)
	} else {
		k.ifft2(w2, w3, m23)
	}
	if m02 == gfModulus {
		k.xor(w2, w0)
		k.xor(w3, w1)
	} else {
		k.ifft2(w0, w2, m02)
		k.ifft2(w1, w3, m02)
	}
}

func fft4Steps[V any, K kernel[V]](k K, w0, w1, w2, w3 V, m01, m23, m02 uint16) {
	if m02 == gfModulus {
		k.xor(w2, w0)
		k.xor(w3, w1)
	} else {
		k.fft2(w0, w2, m02)
		k.fft2(w1, w3, m02)
	}
	if m01 == gfModulus {
		k.xor(w1, w0)
	} else {
		k.fft2(w0, w1, m01)
	}
	if m23 == gfModulus {
		k.xor(w3, w2)
	} else {
		k.fft2(w2, w3, m23)
	}
}

// ifftEncoder sets work[:m] to the IFFT of data[:live] (zeros after),
// then XORs it into acc[:m] when acc is given.
func ifftEncoder[V any, K kernel[V]](k K, data []V, live int, work, acc []V, m int, skew []uint16) {
	for i := 0; i < live; i++ {
		k.copyv(work[i], data[i])
	}
	for i := live; i < m; i++ {
		k.clearv(work[i])
	}
	dist, span := 1, 4
	for span <= m {
		for r := 0; r < live; r += span {
			mid := r + dist
			m01, m02, m23 := skew[mid], skew[mid+dist], skew[mid+dist*2]
			for i := r; i < mid; i++ {
				ifft4(k, work[i:], dist, m01, m23, m02)
			}
		}
		dist = span
		span <<= 2
	}
	if dist < m {
		logM := skew[dist]
		for i := 0; i < dist; i++ {
			if logM == gfModulus {
				k.xor(work[dist+i], work[i])
			} else {
				k.ifft2(work[i], work[i+dist], logM)
			}
		}
	}
	if acc != nil {
		for i := 0; i < m; i++ {
			k.xor(acc[i], work[i])
		}
	}
}

// fft is the forward transform of work[:live] in place.
func fft[V any, K kernel[V]](k K, work []V, live, m int, skew []uint16) {
	span, dist := m, m>>2
	for dist != 0 {
		for r := 0; r < live; r += span {
			mid := r + dist
			m01, m02, m23 := skew[mid-1], skew[mid+dist-1], skew[mid+dist*2-1]
			for i := r; i < mid; i++ {
				fft4(k, work[i:], dist, m01, m23, m02)
			}
		}
		span = dist
		dist >>= 2
	}
	if span == 2 {
		for r := 0; r < live; r += 2 {
			if logM := skew[r]; logM == gfModulus {
				k.xor(work[r+1], work[r])
			} else {
				k.fft2(work[r], work[r+1], logM)
			}
		}
	}
}

// leoEncode computes the parity of kk data vectors into work[:parity];
// work holds 2m vectors, m = ceilPow2(parity).
func leoEncode[V any, K kernel[V]](k K, data, work []V, kk, parity, m int) {
	skew := gf16().skew[m-1:]
	ifftEncoder(k, data, min(kk, m), work, nil, m, skew)
	if m < kk {
		sh, sk := data, skew
		i := m
		for ; i+m <= kk; i += m {
			sh, sk = sh[m:], sk[m:]
			ifftEncoder(k, sh, m, work[m:], work, m, sk)
		}
		if last := kk % m; last != 0 {
			sh, sk = sh[m:], sk[m:]
			ifftEncoder(k, sh, last, work[m:], work, m, sk)
		}
	}
	fft(k, work, parity, m, gf16().skew[:])
}

// shardSize checks the shards an encoder's Encode is given: count of
// them, one size, a whole number of 64-byte blocks (Leopard's layout).
func shardSize(shards [][]byte, count int) (int, error) {
	if len(shards) != count {
		return 0, errors.New("redstuff: wrong number of shards")
	}
	size := len(shards[0])
	for _, sh := range shards {
		if len(sh) != size || size%64 != 0 {
			return 0, errors.New("redstuff: bad shard size")
		}
	}
	return size, nil
}
