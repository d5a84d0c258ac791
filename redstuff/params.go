package redstuff

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/weftnet/weft/blob"
)

// Shard-count limits: the code needs kp ≥ 2 and GF(2^16) caps the grid at
// 65 536 rows and columns.
const (
	MinShards = 4
	MaxShards = 65536
)

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrShards reports a shard count outside MinShards..MaxShards.
	ErrShards = errors.New("redstuff: shard count out of range")
	// ErrSize reports a sliver, symbol or blob of the wrong size.
	ErrSize = errors.New("redstuff: wrong size")
	// ErrIndex reports a sliver, pair or symbol index out of range.
	ErrIndex = errors.New("redstuff: index out of range")
	// ErrTooFew reports fewer distinct slivers or symbols than decoding needs.
	ErrTooFew = errors.New("redstuff: not enough slivers or symbols")
	// ErrVerify reports data that does not match the blob ID.
	ErrVerify = errors.New("redstuff: verification against blob ID failed")
	// ErrInconsistent reports a blob whose slivers do not form one codeword:
	// the encoder was faulty or malicious. Such a blob has no content.
	ErrInconsistent = errors.New("redstuff: blob is inconsistently encoded")
	// ErrRootMismatch reports a rebuilt sliver whose root differs from its
	// commitment while some symbols carried no proof: either a peer lied or
	// the blob is inconsistent. Fetch symbols with proofs to tell which.
	ErrRootMismatch = errors.New("redstuff: rebuilt sliver does not match its commitment")
)

// Params are the grid dimensions for n shards (DESIGN.md §1).
type Params struct {
	N  int // shards, rows and columns of the expanded grid
	F  int // faulty shards tolerated, ⌊(n−1)/3⌋
	Kp int // primary source symbols (rows of the blob matrix), n − 2f
	Ks int // secondary source symbols (columns of the blob matrix), n − f
}

// NewParams returns the parameters for n shards.
func NewParams(n int) (Params, error) {
	if n < MinShards || n > MaxShards {
		return Params{}, fmt.Errorf("%w: %d not in %d..%d", ErrShards, n, MinShards, MaxShards)
	}
	f := blob.MaxFaulty(n)
	return Params{N: n, F: f, Kp: n - 2*f, Ks: n - f}, nil
}

// Quorum is the weight, in shards, of a write quorum: n − f.
func (p Params) Quorum() int { return blob.Quorum(p.N) }

// Validity is the weight that guarantees one honest shard: f + 1.
func (p Params) Validity() int { return blob.Validity(p.N) }

// SymbolSize returns the symbol size in bytes for a blob of length bytes:
// the smallest even size at which the kp × ks matrix holds the blob, and at
// least 2 (one GF(2^16) element).
func (p Params) SymbolSize(length uint64) int {
	cells := uint64(p.Kp) * uint64(p.Ks)
	s := (length + cells - 1) / cells
	s += s & 1
	if s < 2 {
		s = 2
	}
	return int(s)
}

// MaxLength is the largest blob this grid accepts: a stored primary sliver
// must fit the wire format's 32-bit length.
func (p Params) MaxLength() uint64 {
	maxS := uint64(1<<32-1) / uint64(p.Ks) &^ 1
	return maxS * uint64(p.Kp) * uint64(p.Ks)
}

// EncodedSize is the total size of all 2n stored slivers of a blob.
func (p Params) EncodedSize(length uint64) int64 {
	return int64(p.N) * int64(p.Ks+p.Kp) * int64(p.SymbolSize(length))
}

// SliverLen is the stored length in symbols of a sliver of kind k.
func (p Params) SliverLen(k blob.SliverKind) int {
	if k == blob.Primary {
		return p.Ks
	}
	return p.Kp
}

// PrimaryOf returns the pair's primary sliver index: pair p holds primary p.
func (p Params) PrimaryOf(pair int) int { return pair }

// SecondaryOf returns the pair's secondary sliver index: pair p holds
// secondary n−1−p.
func (p Params) SecondaryOf(pair int) int { return p.N - 1 - pair }

// PairOf returns the pair holding sliver index of kind k.
func (p Params) PairOf(k blob.SliverKind, index int) int {
	if k == blob.Primary {
		return index
	}
	return p.N - 1 - index
}

// rotation spreads systematic slivers over shards per blob.
func (p Params) rotation(id blob.ID) int {
	return int(binary.BigEndian.Uint64(id[:8]) % uint64(p.N))
}

// ShardOf returns the shard that stores the given pair of a blob.
func (p Params) ShardOf(id blob.ID, pair int) int { return (pair + p.rotation(id)) % p.N }

// PairAt returns the pair of a blob stored on the given shard.
func (p Params) PairAt(id blob.ID, shard int) int {
	return (shard - p.rotation(id) + p.N) % p.N
}
