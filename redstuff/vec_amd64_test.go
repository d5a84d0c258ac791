//go:build !purego

package redstuff

import "testing"

// vecVariants runs f once per SIMD multiplication this machine has:
// nibble lookups, and bit matrices where GFNI is present.
func vecVariants(t *testing.T, f func(t *testing.T)) {
	gfni := hasGFNI
	defer func() { hasGFNI = gfni }()
	hasGFNI = false
	t.Run("avx2", f)
	if gfni {
		hasGFNI = true
		t.Run("gfni", f)
	}
}
