// Package blob holds the types every part of Weft shares: blob IDs, sliver
// and symbol references, commitments and their versioned wire formats.
//
// It sits just above package merkle: it knows how to name, serialise and
// parse these values, not how to compute or verify them (that is package
// redstuff).
package blob

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/weftnet/weft/merkle"
)

// HashSize is the size of every hash and root in bytes.
const HashSize = merkle.HashSize

// Hash is a SHA-256 digest (a Merkle root, leaf or node).
type Hash = merkle.Hash

// EncodingType names the erasure code of a blob. It is part of the blob ID.
type EncodingType uint8

// RS2D16 is the two-dimensional Reed–Solomon code over GF(2^16) described in
// DESIGN.md §2 (Leopard-style, 2-byte symbol granularity).
const RS2D16 EncodingType = 1

func (e EncodingType) String() string {
	if e == RS2D16 {
		return "rs2d16"
	}
	return fmt.Sprintf("encoding(%d)", uint8(e))
}

// ID identifies a blob: H(encodingType ‖ uint64 length ‖ blobRoot).
type ID [HashSize]byte

// ErrBadID is returned when a string is not a blob ID.
var ErrBadID = errors.New("blob: malformed blob ID")

// ComputeID derives the blob ID from the encoding type, the unencoded
// length in bytes and the blob root.
func ComputeID(enc EncodingType, length uint64, root Hash) ID {
	var buf [1 + 8 + HashSize]byte
	buf[0] = byte(enc)
	binary.BigEndian.PutUint64(buf[1:9], length)
	copy(buf[9:], root[:])
	return ID(sha256.Sum256(buf[:]))
}

// String returns the ID as URL-safe base64 without padding (43 characters).
func (id ID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// ParseID parses the form produced by String.
func ParseID(s string) (ID, error) {
	var id ID
	if base64.RawURLEncoding.EncodedLen(HashSize) != len(s) {
		return id, fmt.Errorf("%w: %d characters, want 43", ErrBadID, len(s))
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != HashSize {
		return id, fmt.Errorf("%w: %q", ErrBadID, s)
	}
	copy(id[:], b)
	return id, nil
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// SliverKind says whether a sliver is a row (primary) or a column
// (secondary) of the expanded grid.
type SliverKind uint8

const (
	// Primary slivers are rows of the expanded grid, stored as their
	// first ks symbols.
	Primary SliverKind = 0
	// Secondary slivers are columns of the expanded grid, stored as their
	// first kp symbols.
	Secondary SliverKind = 1
)

func (k SliverKind) String() string {
	switch k {
	case Primary:
		return "primary"
	case Secondary:
		return "secondary"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Other returns the other axis.
func (k SliverKind) Other() SliverKind { return 1 - k }

// ParseSliverKind parses "primary" or "secondary".
func ParseSliverKind(s string) (SliverKind, error) {
	switch s {
	case "primary":
		return Primary, nil
	case "secondary":
		return Secondary, nil
	}
	return 0, fmt.Errorf("blob: unknown sliver kind %q", s)
}

// PairCommitment is the compact per-pair metadata a node keeps: the roots
// of the pair's two slivers and the Merkle path from the pair leaf
// H(0x00 ‖ primaryRoot ‖ secondaryRoot) to the blob root. Together with
// the blob's length it proves both roots against the blob ID alone, in
// O(log n) space.
type PairCommitment struct {
	Pair      uint32
	Primary   Hash
	Secondary Hash
	Path      []Hash
}

// Root returns the root of the sliver of the given kind.
func (c *PairCommitment) Root(k SliverKind) Hash {
	if k == Primary {
		return c.Primary
	}
	return c.Secondary
}

// Sliver is one row or column of a blob's expanded grid, as stored: a
// primary sliver has ks symbols, a secondary one kp.
type Sliver struct {
	Kind       SliverKind
	Index      uint32 // row (primary) or column (secondary) of the grid
	SymbolSize uint32
	Data       []byte
}

// SymbolProof is what makes a recovery symbol checkable against the blob
// ID: the Merkle path of the symbol in its source sliver's tree and the
// commitment of the pair that holds the source sliver.
type SymbolProof struct {
	Path []Hash
	Pair PairCommitment
}

// RecoverySymbol is symbol (Row, Col) of the expanded grid, produced by the
// holder of the source sliver: Source = Secondary means it was cut from
// column Col (to rebuild primary sliver Row); Source = Primary means it
// was cut from row Row (to rebuild secondary sliver Col). Proof is
// optional.
type RecoverySymbol struct {
	Source SliverKind
	Row    uint32
	Col    uint32
	Data   []byte
	Proof  *SymbolProof
}

// Target returns the kind and index of the sliver this symbol helps to
// rebuild.
func (s *RecoverySymbol) Target() (SliverKind, uint32) {
	if s.Source == Secondary {
		return Primary, s.Row
	}
	return Secondary, s.Col
}

// InconsistencyProof shows that a blob was encoded inconsistently: the
// symbols, each proven against the blob ID, decode to a target sliver whose
// root differs from the committed one (TargetPair proves that root).
type InconsistencyProof struct {
	Target     SliverKind
	Index      uint32
	TargetPair PairCommitment
	Symbols    []RecoverySymbol
}

// PairsInconsistencyProof shows that a blob was encoded inconsistently,
// for a prover that does not know the commitments of the pairs it
// rebuilt (it missed the upload or lost its disk): the symbols, each
// proven against the blob ID, rebuild both slivers of every pair in
// Pairs, and the leaves of those pairs, with the commitments of other
// pairs in Known, do not lead to the blob root.
type PairsInconsistencyProof struct {
	Pairs   []uint32
	Known   []PairCommitment
	Symbols []RecoverySymbol
}
