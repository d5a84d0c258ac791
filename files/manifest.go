package files

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/weftnet/weft/blob"
)

// ManifestMagic starts every manifest. A blob is read as a manifest when
// its bytes parse as one, magic first.
const ManifestMagic = "weft/manifest\n"

// ManifestVersion is the manifest format's version byte.
const ManifestVersion = 1

// MaxSegments bounds a manifest's segment count (at 64 MiB segments, 64 TiB
// of file), so a manifest is at most a few MiB and its decoder allocates
// little.
const MaxSegments = 1 << 20

// manifestHeader is magic, version, file length, SHA-256, segment count.
const manifestHeader = len(ManifestMagic) + 1 + 8 + sha256.Size + 4

// segmentEntry is a segment's blob ID and length.
const segmentEntry = blob.HashSize + 8

// MaxManifestLen is the longest manifest encoding.
const MaxManifestLen = manifestHeader + MaxSegments*segmentEntry

// ErrManifest is wrapped by every manifest decoding error.
var ErrManifest = errors.New("files: malformed manifest")

// Segment is one blob of a file stored in segments.
type Segment struct {
	ID     blob.ID `json:"blobId"`
	Length uint64  `json:"length"`
}

// Manifest describes a file stored as segments: their blob IDs and
// lengths in order, the file's length and the SHA-256 of its content.
type Manifest struct {
	Length   uint64    `json:"length"`
	SHA256   [32]byte  `json:"sha256"`
	Segments []Segment `json:"segments"`
}

// Validate checks what a decoder checks: a count within MaxSegments, no
// empty segment, and lengths that add up to the file's.
func (m *Manifest) Validate() error {
	if len(m.Segments) > MaxSegments {
		return fmt.Errorf("%w: %d segments, at most %d", ErrManifest, len(m.Segments), MaxSegments)
	}
	var sum uint64
	for i, s := range m.Segments {
		if s.Length == 0 {
			return fmt.Errorf("%w: segment %d is empty", ErrManifest, i)
		}
		if sum+s.Length < sum {
			return fmt.Errorf("%w: segment lengths overflow", ErrManifest)
		}
		sum += s.Length
	}
	if sum != m.Length {
		return fmt.Errorf("%w: segments hold %d bytes, the file %d", ErrManifest, sum, m.Length)
	}
	return nil
}

// MarshalBinary encodes the manifest:
//
//	magic "weft/manifest\n" ‖ version 1 ‖ u64 file length ‖ SHA-256 (32)
//	‖ u32 count ‖ count × (blob ID (32) ‖ u64 length)
func (m *Manifest) MarshalBinary() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, manifestHeader+len(m.Segments)*segmentEntry)
	b = append(b, ManifestMagic...)
	b = append(b, ManifestVersion)
	b = binary.BigEndian.AppendUint64(b, m.Length)
	b = append(b, m.SHA256[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Segments)))
	for _, s := range m.Segments {
		b = append(b, s.ID[:]...)
		b = binary.BigEndian.AppendUint64(b, s.Length)
	}
	return b, nil
}

// CouldBeManifest reports whether a blob of length bytes has a
// manifest's length (header plus whole entries), so that readers fetch
// nothing of the other 39 blobs in 40 to find they are not manifests.
func CouldBeManifest(length uint64) bool {
	const h, e, m = uint64(manifestHeader), uint64(segmentEntry), uint64(MaxManifestLen)
	return length >= h && length <= m && (length-h)%e == 0
}

// IsManifest reports whether b starts like a manifest (its magic). Only
// UnmarshalBinary says whether it is one.
func IsManifest(b []byte) bool { return bytes.HasPrefix(b, []byte(ManifestMagic)) }

// UnmarshalBinary decodes a manifest, refusing anything MarshalBinary
// would not produce.
func (m *Manifest) UnmarshalBinary(b []byte) error {
	if !IsManifest(b) {
		return fmt.Errorf("%w: no magic", ErrManifest)
	}
	if len(b) < manifestHeader {
		return fmt.Errorf("%w: truncated header (%d bytes)", ErrManifest, len(b))
	}
	b = b[len(ManifestMagic):]
	if b[0] != ManifestVersion {
		return fmt.Errorf("%w: unknown version %d", ErrManifest, b[0])
	}
	var out Manifest
	out.Length = binary.BigEndian.Uint64(b[1:])
	copy(out.SHA256[:], b[9:])
	count := binary.BigEndian.Uint32(b[9+sha256.Size:])
	b = b[9+sha256.Size+4:]
	if count > MaxSegments {
		return fmt.Errorf("%w: %d segments, at most %d", ErrManifest, count, MaxSegments)
	}
	if uint64(len(b)) != uint64(count)*segmentEntry {
		return fmt.Errorf("%w: %d segments need %d bytes, have %d", ErrManifest, count, uint64(count)*segmentEntry, len(b))
	}
	out.Segments = make([]Segment, count)
	for i := range out.Segments {
		copy(out.Segments[i].ID[:], b)
		out.Segments[i].Length = binary.BigEndian.Uint64(b[blob.HashSize:])
		b = b[segmentEntry:]
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*m = out
	return nil
}

// Span is the part of one segment a byte range of the file covers.
type Span struct {
	Segment int    // index in Segments
	Offset  uint64 // within the segment
	Length  uint64
}

// Spans returns the segment ranges that hold bytes [off, off+n) of the
// file, in order; the range is cut at the file's end.
func (m *Manifest) Spans(off, n uint64) []Span {
	if off >= m.Length || n == 0 {
		return nil
	}
	end := m.Length
	if n < m.Length-off {
		end = off + n
	}
	var out []Span
	var start uint64
	for i, s := range m.Segments {
		segEnd := start + s.Length
		if segEnd > off && start < end {
			lo, hi := max(off, start), min(end, segEnd)
			out = append(out, Span{Segment: i, Offset: lo - start, Length: hi - lo})
		}
		if segEnd >= end {
			break
		}
		start = segEnd
	}
	return out
}
