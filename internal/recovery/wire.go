package recovery

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/merkle"
)

// The symbols exchange. A node asks one peer, in one request, for symbols
// of many blobs: per blob, the source slivers the peer holds and the
// positions wanted from each, and the commitments of some pairs. The
// answer carries no per-symbol framing: both sides know from the request
// how long every part is, so symbols follow each other as raw bytes and a
// 6-byte symbol costs 6 bytes. Proofs travel only when asked for.
//
// A request is small next to its answer even when symbols are a few
// bytes: the sources that want the same positions with the same flags
// (every source of one rebuilt group) are one run, which names its
// positions once and its source indices as differences.
//
// Request (version 2, tag 'Q'; integers are unsigned varints unless said;
// a "delta list" is a count, then each value's zigzag difference from the
// one before it, the first from 0):
//
//	u8 version, u8 'Q', blob count
//	per blob: blob ID (32 bytes), symbol size, commitment count, the
//	  pairs whose commitments are wanted, run count
//	per run: u8 flags (bit 0: sources are secondary, bit 1: with
//	  proofs), positions as a delta list, source sliver indices as a
//	  delta list (one item per index, in order)
//
// Version 1 requests, still decoded, have an item count where the run
// count is, and per item: u8 flags, source sliver index, position count,
// positions.
//
// Response (version 1, tag 'A'):
//
//	u8 version, u8 'A', missing count, then per missing entry the gap to
//	  the previous missing entry's ordinal and a u8 Reason
//	then every entry not missing, in request order (per blob its
//	  commitments, then its items):
//	  commitment: as in blob.PairCommitment's encoding, without header
//	  item without proofs: the symbols, raw, position after position
//	  item with proofs: the source pair's commitment, then per position
//	    the symbol and its path (u8 length, hashes)
const (
	requestVersion  = 2
	responseVersion = 1
	tagRequest      = 'Q'
	tagResponse     = 'A'
)

// Limits a decoder enforces before allocating.
const (
	// MaxSymbolSize is the largest symbol a request may name.
	MaxSymbolSize = 1 << 32
)

// ErrWire is wrapped by every decoding error.
var ErrWire = errors.New("recovery: malformed symbols message")

func wireErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrWire, fmt.Sprintf(format, args...))
}

// Request asks one peer for recovery symbols and commitments.
type Request struct {
	Blobs []BlobRequest
}

// BlobRequest is what a request asks of one blob.
type BlobRequest struct {
	ID blob.ID
	// SymbolSize is the blob's symbol size as the asker computes it from
	// the blob's length; a peer that disagrees answers the items missing.
	SymbolSize int
	// Commitments lists pairs whose commitments are wanted.
	Commitments []uint32
	Items       []Item
}

// Item asks for symbols cut from one source sliver the peer holds.
type Item struct {
	Source    blob.SliverKind
	Index     uint32 // the source sliver's index
	Proofs    bool
	Positions []uint32
}

// Symbols returns how many symbols the request asks for.
func (r *Request) Symbols() int {
	total := 0
	for i := range r.Blobs {
		for j := range r.Blobs[i].Items {
			total += len(r.Blobs[i].Items[j].Positions)
		}
	}
	return total
}

// entries returns the number of response entries: every commitment and
// every item.
func (r *Request) entries() int {
	total := 0
	for i := range r.Blobs {
		total += len(r.Blobs[i].Commitments) + len(r.Blobs[i].Items)
	}
	return total
}

// ResponseSize bounds the length of a full answer to r for a grid of n
// shards.
func (r *Request) ResponseSize(n int) int64 {
	size := int64(2 + 10)
	for i := range r.Blobs {
		b := &r.Blobs[i]
		size += int64(len(b.Commitments)) * commitmentSize(n)
		for j := range b.Items {
			size += itemSize(&b.Items[j], b.SymbolSize, n)
		}
	}
	return size
}

// commitmentSize bounds the bytes of one commitment in an answer (with
// its missing-entry header, should it be missing).
func commitmentSize(n int) int64 {
	return 4 + 2*blob.HashSize + 1 + int64(blob.HashSize*merkle.Depth(n)) + 6
}

// itemSize bounds the bytes of one item's answer.
func itemSize(it *Item, s, n int) int64 {
	per := int64(s)
	size := int64(6)
	if it.Proofs {
		per += 1 + int64(blob.HashSize*merkle.Depth(n))
		size += commitmentSize(n)
	}
	return size + per*int64(len(it.Positions))
}

// MarshalBinary encodes the request (version 2): consecutive items of a
// blob with the same flags and positions share a run.
func (r *Request) MarshalBinary() ([]byte, error) {
	b := []byte{requestVersion, tagRequest}
	b = binary.AppendUvarint(b, uint64(len(r.Blobs)))
	for i := range r.Blobs {
		br := &r.Blobs[i]
		if br.SymbolSize <= 0 || br.SymbolSize%2 != 0 || br.SymbolSize > MaxSymbolSize {
			return nil, fmt.Errorf("recovery: blob %v: bad symbol size %d", br.ID, br.SymbolSize)
		}
		b = append(b, br.ID[:]...)
		b = binary.AppendUvarint(b, uint64(br.SymbolSize))
		b = binary.AppendUvarint(b, uint64(len(br.Commitments)))
		for _, p := range br.Commitments {
			b = binary.AppendUvarint(b, uint64(p))
		}
		runs := itemRuns(br.Items)
		b = binary.AppendUvarint(b, uint64(len(runs)))
		for _, run := range runs {
			first := &run[0]
			if first.Source != blob.Primary && first.Source != blob.Secondary {
				return nil, fmt.Errorf("recovery: bad source kind %d", first.Source)
			}
			b = append(b, itemFlags(first))
			b = appendDeltas(b, len(first.Positions), func(k int) uint32 { return first.Positions[k] })
			b = appendDeltas(b, len(run), func(k int) uint32 { return run[k].Index })
		}
	}
	return b, nil
}

func itemFlags(it *Item) byte {
	flags := byte(it.Source)
	if it.Proofs {
		flags |= 2
	}
	return flags
}

// itemRuns cuts items into runs of consecutive items with the same flags
// and positions.
func itemRuns(items []Item) [][]Item {
	var runs [][]Item
	start := 0
	for k := 1; k <= len(items); k++ {
		if k == len(items) || itemFlags(&items[k]) != itemFlags(&items[start]) || !slices.Equal(items[k].Positions, items[start].Positions) {
			runs = append(runs, items[start:k])
			start = k
		}
	}
	return runs
}

// appendDeltas appends a delta list of n values.
func appendDeltas(b []byte, n int, at func(int) uint32) []byte {
	b = binary.AppendUvarint(b, uint64(n))
	prev := int64(0)
	for k := 0; k < n; k++ {
		v := int64(at(k))
		b = binary.AppendVarint(b, v-prev)
		prev = v
	}
	return b
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = wireErr(format, args...)
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.fail("bad %s", what)
		return 0
	}
	r.b = r.b[k:]
	return v
}

// count reads a count of things that take at least min bytes each, and
// refuses one the rest of the input cannot hold.
func (r *reader) count(what string, min int) int {
	v := r.uvarint(what)
	if r.err == nil && v > uint64(len(r.b)/min) {
		r.fail("%d %s in %d bytes", v, what, len(r.b))
		return 0
	}
	return int(v)
}

// deltas reads a delta list of values below 2^32, refusing one longer
// than the input could hold or, when room ≥ 0, than room allows.
func (r *reader) deltas(what string, room int) []uint32 {
	n := r.count(what, 1)
	if r.err == nil && room >= 0 && n > room {
		r.fail("%d %s, more than the %d allowed", n, what, room)
	}
	if r.err != nil {
		return nil
	}
	out := make([]uint32, 0, n)
	prev := int64(0)
	for k := 0; k < n && r.err == nil; k++ {
		d, m := binary.Varint(r.b)
		if m <= 0 {
			r.fail("bad %s", what)
			break
		}
		r.b = r.b[m:]
		v := prev + d
		if v < 0 || v > 1<<32-1 {
			r.fail("%s %d out of range", what, v)
			break
		}
		out = append(out, uint32(v))
		prev = v
	}
	return out
}

func (r *reader) u32(what string) uint32 {
	v := r.uvarint(what)
	if r.err == nil && v > 1<<32-1 {
		r.fail("%s %d out of range", what, v)
	}
	return uint32(v)
}

func (r *reader) u8(what string) byte {
	b := r.take(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("truncated %s: need %d bytes, have %d", what, n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// header reads a message's version and tag, and returns the version.
func (r *reader) header(tag byte, what string, versions ...byte) byte {
	h := r.take(2, what+" header")
	if r.err != nil {
		return 0
	}
	if !slices.Contains(versions, h[0]) {
		r.fail("%s: unsupported version %d", what, h[0])
	}
	if h[1] != tag {
		r.fail("%s: wrong type tag %q", what, h[1])
	}
	return h[0]
}

// DecodeRequest parses a request (version 2, or 1), refusing one that
// asks for more than maxSymbols symbols in all.
func DecodeRequest(data []byte, maxSymbols int) (*Request, error) {
	r := reader{b: data}
	version := r.header(tagRequest, "symbols request", 1, requestVersion)
	req := &Request{}
	nb := r.count("blobs", blob.HashSize+3) // ID, symbol size, two counts
	total := 0
	for i := 0; i < nb && r.err == nil; i++ {
		var br BlobRequest
		copy(br.ID[:], r.take(blob.HashSize, "blob ID"))
		s := r.uvarint("symbol size")
		if r.err == nil && (s == 0 || s%2 != 0 || s > MaxSymbolSize) {
			r.fail("blob %d: bad symbol size %d", i, s)
		}
		br.SymbolSize = int(s)
		nc := r.count("commitments", 1)
		for j := 0; j < nc && r.err == nil; j++ {
			br.Commitments = append(br.Commitments, r.u32("pair"))
		}
		if version == 1 {
			ni := r.count("items", 3)
			for j := 0; j < ni && r.err == nil; j++ {
				flags := r.flags()
				index := r.u32("source index")
				np := r.count("positions", 1)
				total += np
				if r.err == nil && total > maxSymbols {
					r.fail("more than %d symbols asked", maxSymbols)
				}
				if r.err != nil {
					break
				}
				positions := make([]uint32, 0, np)
				for k := 0; k < np && r.err == nil; k++ {
					positions = append(positions, r.u32("position"))
				}
				br.Items = append(br.Items, Item{Source: blob.SliverKind(flags & 1), Proofs: flags&2 != 0, Index: index, Positions: positions})
			}
		} else {
			nr := r.count("runs", 3) // flags, two counts
			for j := 0; j < nr && r.err == nil; j++ {
				flags := r.flags()
				positions := r.deltas("positions", maxSymbols-total)
				indices := r.deltas("source indices", -1)
				if r.err == nil && len(positions) > 0 && len(indices) > (maxSymbols-total)/len(positions) {
					r.fail("more than %d symbols asked", maxSymbols)
				}
				if r.err != nil {
					break
				}
				total += len(positions) * len(indices)
				for _, index := range indices {
					br.Items = append(br.Items, Item{Source: blob.SliverKind(flags & 1), Proofs: flags&2 != 0, Index: index, Positions: positions})
				}
			}
		}
		req.Blobs = append(req.Blobs, br)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("symbols request: %d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return req, nil
}

// flags reads an item's or a run's flags.
func (r *reader) flags() byte {
	flags := r.u8("item flags")
	if r.err == nil && flags&^3 != 0 {
		r.fail("bad item flags %#x", flags)
	}
	return flags
}

// Reason says why a response entry is missing.
type Reason uint8

// Reasons.
const (
	Present    Reason = iota
	Unknown           // the peer knows no live blob by that ID
	NotHeld           // the pair is on a shard the peer does not hold
	NotStored         // the peer holds the shard but not the sliver (yet)
	BadRequest        // wrong symbol size, index or position
	Failed            // the peer's own trouble reading it
	Blackout          // the blob is under a storage challenge: asked again once the window closes
)

func (r Reason) String() string {
	switch r {
	case Present:
		return "present"
	case Unknown:
		return "unknown blob"
	case NotHeld:
		return "shard not held"
	case NotStored:
		return "not stored"
	case BadRequest:
		return "bad request"
	case Failed:
		return "failed"
	case Blackout:
		return "under a storage challenge"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Response is a decoded answer, shaped like its request.
type Response struct {
	Blobs []BlobResponse
}

// BlobResponse answers one BlobRequest.
type BlobResponse struct {
	Commitments []CommitmentAnswer // one per requested pair
	Items       []ItemAnswer       // one per item
}

// CommitmentAnswer is one requested commitment, or why it is missing.
type CommitmentAnswer struct {
	Missing    Reason
	Commitment blob.PairCommitment
}

// ItemAnswer holds the symbols of one item, position by position, or why
// they are missing. With proofs, Pair is the source pair's commitment and
// Paths the symbols' Merkle paths.
type ItemAnswer struct {
	Missing Reason
	Symbols [][]byte
	Pair    blob.PairCommitment
	Paths   [][]blob.Hash
}

// responseWriter builds a response: missing entries are collected, then
// the body is appended behind the header.
type responseWriter struct {
	ordinal int
	missing []missingEntry
	body    []byte
}

type missingEntry struct {
	ordinal int
	reason  Reason
}

func (w *responseWriter) miss(r Reason) {
	w.missing = append(w.missing, missingEntry{w.ordinal, r})
	w.ordinal++
}

func (w *responseWriter) present() { w.ordinal++ }

// header returns the response's head; the body follows it.
func (w *responseWriter) header() []byte {
	out := make([]byte, 0, 2+10+3*len(w.missing))
	out = append(out, responseVersion, tagResponse)
	out = binary.AppendUvarint(out, uint64(len(w.missing)))
	prev := -1
	for _, m := range w.missing {
		out = binary.AppendUvarint(out, uint64(m.ordinal-prev-1))
		out = append(out, byte(m.reason))
		prev = m.ordinal
	}
	return out
}

// path reads a Merkle path in blob's encoding.
func (r *reader) path(what string) []blob.Hash {
	if r.err != nil {
		return nil
	}
	p, rest, err := blob.ReadPath(r.b)
	if err != nil {
		r.fail("%s: %v", what, err)
		return nil
	}
	r.b = rest
	return p
}

// pair reads a pair commitment in blob's encoding.
func (r *reader) pair() blob.PairCommitment {
	if r.err != nil {
		return blob.PairCommitment{}
	}
	c, rest, err := blob.ReadPairCommitment(r.b)
	if err != nil {
		r.fail("pair commitment: %v", err)
		return c
	}
	r.b = rest
	return c
}

// DecodeResponse parses the answer to req. Symbol data aliases data.
func DecodeResponse(req *Request, data []byte) (*Response, error) {
	r := reader{b: data}
	r.header(tagResponse, "symbols response", responseVersion)
	entries := req.entries()
	nm := r.count("missing entries", 2)
	missing := make(map[int]Reason, nm)
	prev := -1
	for i := 0; i < nm && r.err == nil; i++ {
		gap := r.uvarint("missing gap")
		reason := Reason(r.u8("missing reason"))
		if r.err != nil {
			break
		}
		if gap >= uint64(entries) || prev+1+int(gap) >= entries {
			r.fail("missing entry beyond the request's %d", entries)
			break
		}
		if reason == Present || reason > Blackout {
			r.fail("bad missing reason %d", reason)
			break
		}
		prev += 1 + int(gap)
		missing[prev] = reason
	}
	resp := &Response{Blobs: make([]BlobResponse, len(req.Blobs))}
	ordinal := 0
	for i := range req.Blobs {
		br := &req.Blobs[i]
		out := &resp.Blobs[i]
		out.Commitments = make([]CommitmentAnswer, len(br.Commitments))
		for j := range br.Commitments {
			if m, ok := missing[ordinal]; ok {
				out.Commitments[j].Missing = m
			} else if r.err == nil {
				out.Commitments[j].Commitment = r.pair()
			}
			ordinal++
		}
		out.Items = make([]ItemAnswer, len(br.Items))
		for j := range br.Items {
			it := &br.Items[j]
			a := &out.Items[j]
			if m, ok := missing[ordinal]; ok {
				a.Missing = m
				ordinal++
				continue
			}
			ordinal++
			if r.err != nil {
				continue
			}
			if it.Proofs {
				a.Pair = r.pair()
				a.Paths = make([][]blob.Hash, 0, len(it.Positions))
			}
			if !it.Proofs && r.err == nil && int64(len(it.Positions))*int64(br.SymbolSize) > int64(len(r.b)) {
				r.fail("truncated symbols")
			}
			for k := 0; k < len(it.Positions) && r.err == nil; k++ {
				a.Symbols = append(a.Symbols, r.take(br.SymbolSize, "symbol"))
				if it.Proofs {
					a.Paths = append(a.Paths, r.path("symbol path"))
				}
			}
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("symbols response: %d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return resp, nil
}
