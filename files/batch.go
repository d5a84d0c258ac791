package files

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// BatchMagic starts every batch.
const BatchMagic = "weft/batch\n"

// BatchVersion is the batch format's version byte.
const BatchVersion = 1

// Limits of a batch.
const (
	// MaxBatchBytes bounds a whole batch (index and files): it is one blob,
	// encoded in memory.
	MaxBatchBytes = 64 << 20
	// MaxBatchFiles bounds the files of a batch.
	MaxBatchFiles = 100_000
	// MaxNameLen bounds a file's name in bytes.
	MaxNameLen = 1024
	// MaxContentTypeLen bounds a file's content type in bytes.
	MaxContentTypeLen = 255
)

// batchPrefix is magic, version and the u32 length of the whole index
// (prefix included): what a reader fetches first.
const BatchPrefixLen = len(BatchMagic) + 1 + 4

// Errors.
var (
	// ErrBatch is wrapped by every batch decoding error.
	ErrBatch = errors.New("files: malformed batch")
	// ErrBatchTooLarge means the files do not fit in one batch.
	ErrBatchTooLarge = errors.New("files: batch too large")
	// ErrDuplicateName means two files of a batch have the same name.
	ErrDuplicateName = errors.New("files: duplicate name in batch")
	// ErrNoSuchFile means a batch holds no file of that name.
	ErrNoSuchFile = errors.New("files: no such file in batch")
)

// BatchEntry is one file of a batch: its name, content type and where its
// bytes are in the batch blob.
type BatchEntry struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType,omitempty"`
	Offset      uint64 `json:"offset"`
	Length      uint64 `json:"length"`
}

// BatchIndex lists a batch's files in the order their bytes follow it.
type BatchIndex struct {
	Entries []BatchEntry `json:"files"`
}

// BatchFile is a file to pack.
type BatchFile struct {
	Name        string
	ContentType string
	Data        []byte
}

func checkName(name, ctype string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrBatch)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: name of %d bytes, at most %d", ErrBatch, len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name %q is not UTF-8", ErrBatch, name)
	case len(ctype) > MaxContentTypeLen:
		return fmt.Errorf("%w: content type of %d bytes, at most %d", ErrBatch, len(ctype), MaxContentTypeLen)
	}
	return nil
}

// indexLen is the encoded index's length (prefix, count, entries).
func indexLen(names, ctypes []string) int {
	n := BatchPrefixLen + 4
	for i := range names {
		n += 2 + len(names[i]) + 1 + len(ctypes[i]) + 16
	}
	return n
}

// PackBatch packs files into one batch blob:
//
//	magic "weft/batch\n" ‖ version 1 ‖ u32 index length ‖ u32 count
//	‖ count × (u16 name length ‖ name ‖ u8 type length ‖ content type
//	‖ u64 offset ‖ u64 length) ‖ the files' bytes, in order
//
// Offsets count from the start of the blob. Names must be unique
// (ErrDuplicateName), non-empty UTF-8 of at most MaxNameLen bytes; the
// whole must fit MaxBatchBytes (ErrBatchTooLarge).
func PackBatch(fs []BatchFile) ([]byte, *BatchIndex, error) {
	if len(fs) > MaxBatchFiles {
		return nil, nil, fmt.Errorf("%w: %d files, at most %d", ErrBatchTooLarge, len(fs), MaxBatchFiles)
	}
	seen := map[string]bool{}
	names, ctypes := make([]string, len(fs)), make([]string, len(fs))
	for i, f := range fs {
		if err := checkName(f.Name, f.ContentType); err != nil {
			return nil, nil, err
		}
		if seen[f.Name] {
			return nil, nil, fmt.Errorf("%w: %q", ErrDuplicateName, f.Name)
		}
		seen[f.Name] = true
		names[i], ctypes[i] = f.Name, f.ContentType
	}
	total := uint64(indexLen(names, ctypes))
	for _, f := range fs {
		total += uint64(len(f.Data))
		if total > MaxBatchBytes {
			return nil, nil, fmt.Errorf("%w: %q takes the batch past %d bytes", ErrBatchTooLarge, f.Name, MaxBatchBytes)
		}
	}
	idx := &BatchIndex{Entries: make([]BatchEntry, len(fs))}
	off := uint64(indexLen(names, ctypes))
	for i, f := range fs {
		idx.Entries[i] = BatchEntry{Name: f.Name, ContentType: f.ContentType, Offset: off, Length: uint64(len(f.Data))}
		off += uint64(len(f.Data))
	}
	b := make([]byte, 0, total)
	b = append(b, BatchMagic...)
	b = append(b, BatchVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(indexLen(names, ctypes)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(fs)))
	for _, e := range idx.Entries {
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.Name)))
		b = append(b, e.Name...)
		b = append(b, byte(len(e.ContentType)))
		b = append(b, e.ContentType...)
		b = binary.BigEndian.AppendUint64(b, e.Offset)
		b = binary.BigEndian.AppendUint64(b, e.Length)
	}
	for _, f := range fs {
		b = append(b, f.Data...)
	}
	return b, idx, nil
}

// IsBatch reports whether b starts like a batch (its magic).
func IsBatch(b []byte) bool { return bytes.HasPrefix(b, []byte(BatchMagic)) }

// BatchIndexLen reads, from the first BatchPrefixLen bytes of a batch
// blob of blobLen bytes, how many bytes its index takes from the start.
func BatchIndexLen(prefix []byte, blobLen uint64) (int, error) {
	if !IsBatch(prefix) {
		return 0, fmt.Errorf("%w: no magic", ErrBatch)
	}
	if len(prefix) < BatchPrefixLen {
		return 0, fmt.Errorf("%w: truncated prefix", ErrBatch)
	}
	if v := prefix[len(BatchMagic)]; v != BatchVersion {
		return 0, fmt.Errorf("%w: unknown version %d", ErrBatch, v)
	}
	n := binary.BigEndian.Uint32(prefix[len(BatchMagic)+1:])
	if n < uint32(BatchPrefixLen+4) || uint64(n) > blobLen || n > MaxBatchBytes {
		return 0, fmt.Errorf("%w: index of %d bytes in a %d-byte blob", ErrBatch, n, blobLen)
	}
	return int(n), nil
}

// UnmarshalBinary decodes a batch's index: exactly the first
// BatchIndexLen bytes of the blob. Entries must be in order, back to back
// after the index, with unique valid names.
func (x *BatchIndex) UnmarshalBinary(b []byte) error {
	n, err := BatchIndexLen(b, uint64(len(b)))
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("%w: index says %d bytes, have %d", ErrBatch, n, len(b))
	}
	r := &reader{b: b[BatchPrefixLen:]}
	count := r.u32()
	if count > MaxBatchFiles {
		return fmt.Errorf("%w: %d files, at most %d", ErrBatch, count, MaxBatchFiles)
	}
	var out BatchIndex
	seen := map[string]bool{}
	off := uint64(n)
	for i := uint32(0); i < count && r.err == nil; i++ {
		name := string(r.take(int(r.u16())))
		ctype := string(r.take(int(r.u8())))
		e := BatchEntry{Name: name, ContentType: ctype, Offset: r.u64(), Length: r.u64()}
		if r.err != nil {
			break
		}
		if err := checkName(name, ctype); err != nil {
			return err
		}
		if seen[name] {
			return fmt.Errorf("%w: %q", ErrDuplicateName, name)
		}
		seen[name] = true
		if e.Offset != off || e.Length > MaxBatchBytes {
			return fmt.Errorf("%w: %q at %d+%d, expected at %d", ErrBatch, name, e.Offset, e.Length, off)
		}
		off += e.Length
		out.Entries = append(out.Entries, e)
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes in index", ErrBatch, len(r.b))
	}
	*x = out
	return nil
}

// End is the offset just past the last file: the batch blob's length.
func (x *BatchIndex) End() uint64 {
	if len(x.Entries) == 0 {
		return 0
	}
	e := x.Entries[len(x.Entries)-1]
	return e.Offset + e.Length
}

// Lookup returns the entry of a name.
func (x *BatchIndex) Lookup(name string) (BatchEntry, error) {
	for _, e := range x.Entries {
		if e.Name == name {
			return e, nil
		}
	}
	return BatchEntry{}, fmt.Errorf("%w: %q", ErrNoSuchFile, name)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = fmt.Errorf("%w: truncated index", ErrBatch)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}
