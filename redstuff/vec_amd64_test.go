//go:build !purego

package redstuff

import "testing"

// vecVariants runs f once per SIMD multiplication this machine has.
func vecVariants(t *testing.T, f func(t *testing.T)) {
	level := vecLevel
	defer func() { vecLevel = level }()
	for l, name := range []string{vecNone: "generic", vecAVX2: "avx2", vecGFNI: "gfni", vecGFNI512: "gfni512"} {
		if l <= level {
			vecLevel = l
			t.Run(name, f)
		}
	}
}
