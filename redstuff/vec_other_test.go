//go:build !amd64 || purego

package redstuff

import "testing"

func vecVariants(t *testing.T, f func(t *testing.T)) { t.Run("generic", f) }
