package blob

// The fault model, in shards: of n shards at most f may be Byzantine, and
// every quorum rule derives from f. The codec's geometry (redstuff) and
// the control plane's certificates both use these, so they cannot
// disagree.

// MaxFaulty is f for n shards: ⌊(n−1)/3⌋.
func MaxFaulty(n int) int { return (n - 1) / 3 }

// Quorum is the weight, in shards, of a write quorum or certificate:
// n − f.
func Quorum(n int) int { return n - MaxFaulty(n) }

// Validity is the weight that includes at least one honest shard: f + 1.
func Validity(n int) int { return MaxFaulty(n) + 1 }
