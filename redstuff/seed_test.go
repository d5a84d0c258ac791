package redstuff

import (
	"testing"

	"github.com/weftnet/weft/internal/testseed"
)

// testSeed returns the seed for a property test (-seed replays one).
func testSeed(t testing.TB) uint64 { return testseed.Seed(t) }
