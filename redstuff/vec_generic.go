package redstuff

// The butterflies of vecKernel in portable Go, with the same tables as
// the SIMD code: for tests, and where there is no SIMD code.

// mulBlockGeneric returns the products of the 32 elements of a 64-byte
// block in Leopard's layout, low bytes in lo and high bytes in hi.
func mulBlockGeneric(t *mulTable, blk []byte) (lo, hi [32]byte) {
	for i := 0; i < 32; i++ {
		a, b := blk[i], blk[32+i]
		lo[i] = t.shuf[0][a&15] ^ t.shuf[1][a>>4] ^ t.shuf[2][b&15] ^ t.shuf[3][b>>4]
		hi[i] = t.shuf[4][a&15] ^ t.shuf[5][a>>4] ^ t.shuf[6][b&15] ^ t.shuf[7][b>>4]
	}
	return lo, hi
}

// fft2VecGeneric: x ^= y·m; y ^= x.
func fft2VecGeneric(t *mulTable, x, y []byte) {
	for o := 0; o+64 <= len(x); o += 64 {
		bx, by := x[o:o+64:o+64], y[o:o+64:o+64]
		lo, hi := mulBlockGeneric(t, by)
		for i := 0; i < 32; i++ {
			bx[i] ^= lo[i]
			bx[32+i] ^= hi[i]
		}
		for i := range by {
			by[i] ^= bx[i]
		}
	}
}

// ifft2VecGeneric: y ^= x; x ^= y·m.
func ifft2VecGeneric(t *mulTable, x, y []byte) {
	for o := 0; o+64 <= len(x); o += 64 {
		bx, by := x[o:o+64:o+64], y[o:o+64:o+64]
		for i := range by {
			by[i] ^= bx[i]
		}
		lo, hi := mulBlockGeneric(t, by)
		for i := 0; i < 32; i++ {
			bx[i] ^= lo[i]
			bx[32+i] ^= hi[i]
		}
	}
}
