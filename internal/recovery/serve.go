package recovery

import (
	"errors"
	"fmt"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/redstuff"
)

// ErrNotStored is what a Holder returns for a sliver or commitment it
// does not have.
var ErrNotStored = errors.New("recovery: not stored")

// ErrTooLarge is returned by Serve for a request whose answer would exceed
// the byte limit, or whose extensions would exceed theirs.
var ErrTooLarge = errors.New("recovery: answer too large")

// ErrDuplicate is returned by Serve for a request that names a blob, an
// item, a position or a commitment twice: an honest asker never does, and
// each repeat would cost the server again.
var ErrDuplicate = errors.New("recovery: request repeats itself")

// DefaultMaxExtendBytes is the default bound on the extended slivers one
// request may cost a server (Limits.MaxExtendBytes) and the size at which
// an asker splits its requests (Options.MaxRequestExtendBytes).
const DefaultMaxExtendBytes = 256 << 20

// Limits bound what Serve does for one request.
type Limits struct {
	// MaxBytes bounds the answer.
	MaxBytes int64
	// MaxExtendBytes bounds the bytes of the extended slivers (n symbols
	// each) the answer needs: items that ask for parity symbols or proofs.
	// A request that needs more is refused, unless it extends one sliver
	// only (a big blob's single sliver is always worth serving). Zero
	// means DefaultMaxExtendBytes.
	MaxExtendBytes int64
}

// SourceCache is what a Holder may also implement to keep extended
// slivers between requests: Serve asks it before extending a sliver, and
// hands it every sliver it extended.
type SourceCache interface {
	CachedSource(id blob.ID, pair int, k blob.SliverKind) *redstuff.SymbolSource
	KeepSource(id blob.ID, pair int, k blob.SliverKind, src *redstuff.SymbolSource)
}

// Check refuses a request that repeats itself (ErrDuplicate) or whose
// answer or extensions would exceed the limits (ErrTooLarge), for a grid
// of p. It looks at the request alone, before any work.
func (r *Request) Check(p redstuff.Params, l Limits) error {
	if l.MaxExtendBytes == 0 {
		l.MaxExtendBytes = DefaultMaxExtendBytes
	}
	blobs := make(map[blob.ID]bool, len(r.Blobs))
	for i := range r.Blobs {
		br := &r.Blobs[i]
		if blobs[br.ID] {
			return fmt.Errorf("%w: blob %v twice", ErrDuplicate, br.ID)
		}
		blobs[br.ID] = true
		pairs := make(map[uint32]bool, len(br.Commitments))
		for _, pair := range br.Commitments {
			if pairs[pair] {
				return fmt.Errorf("%w: blob %v: commitment of pair %d twice", ErrDuplicate, br.ID, pair)
			}
			pairs[pair] = true
		}
		type source struct {
			kind  blob.SliverKind
			index uint32
		}
		items := make(map[source]bool, len(br.Items))
		for j := range br.Items {
			it := &br.Items[j]
			if items[source{it.Source, it.Index}] {
				return fmt.Errorf("%w: blob %v: %s sliver %d twice", ErrDuplicate, br.ID, it.Source, it.Index)
			}
			items[source{it.Source, it.Index}] = true
			seen := make(map[uint32]bool, len(it.Positions))
			for _, pos := range it.Positions {
				if seen[pos] {
					return fmt.Errorf("%w: blob %v: %s sliver %d: position %d twice", ErrDuplicate, br.ID, it.Source, it.Index, pos)
				}
				seen[pos] = true
			}
		}
	}
	if size := r.ResponseSize(p.N); size > l.MaxBytes {
		return fmt.Errorf("%w: up to %d bytes, the limit is %d", ErrTooLarge, size, l.MaxBytes)
	}
	if ext, items := r.ExtendSize(p); ext > l.MaxExtendBytes && items > 1 {
		return fmt.Errorf("%w: %d slivers to extend, %d bytes, the limit is %d", ErrTooLarge, items, ext, l.MaxExtendBytes)
	}
	return nil
}

// ExtendSize bounds the bytes of extended slivers an answer to r needs
// (n symbols for every item asking for a parity symbol or proofs), and
// counts those items.
func (r *Request) ExtendSize(p redstuff.Params) (bytes int64, items int) {
	for i := range r.Blobs {
		for j := range r.Blobs[i].Items {
			if e := itemExtend(&r.Blobs[i].Items[j], r.Blobs[i].SymbolSize, p); e > 0 {
				bytes += e
				items++
			}
		}
	}
	return bytes, items
}

// itemExtend is what serving an item costs in extended sliver bytes.
func itemExtend(it *Item, s int, p redstuff.Params) int64 {
	k := p.SliverLen(it.Source)
	need := it.Proofs
	for _, pos := range it.Positions {
		need = need || int(pos) >= k
	}
	if !need {
		return 0
	}
	return int64(p.N) * int64(s)
}

// Holder is what a node serves symbols from: its live blobs and the
// slivers of the shards it holds.
type Holder interface {
	// Length returns the length of a live blob the node stores pairs of;
	// ok is false for a blob it knows nothing of, or that is gone.
	Length(id blob.ID) (length uint64, ok bool, err error)
	// Holds reports whether the node holds the shard of a blob's pair.
	Holds(id blob.ID, pair int) bool
	// Sliver returns a stored sliver and its pair's commitment, or
	// ErrNotStored.
	Sliver(id blob.ID, pair int, k blob.SliverKind) (*blob.Sliver, *blob.PairCommitment, error)
	// Commitment returns a stored pair commitment, or ErrNotStored.
	Commitment(id blob.ID, pair int) (*blob.PairCommitment, error)
}

// Blackouts is implemented by a Holder that withholds some blobs for now:
// a storage challenge's sampled blobs while its window is open (DESIGN
// §11), answered missing with reason Blackout.
type Blackouts interface {
	BlackedOut(id blob.ID) bool
}

// Serve answers a symbols request from what h holds. The answer is head
// followed by body. A request Check refuses is refused with its error
// before any work; what the node cannot give is answered missing, with
// its reason.
func Serve(c *redstuff.Codec, h Holder, req *Request, l Limits) (head, body []byte, served int, err error) {
	p := c.Params()
	if err := req.Check(p, l); err != nil {
		return nil, nil, 0, err
	}
	size := req.ResponseSize(p.N)
	w := &responseWriter{body: make([]byte, 0, min(size, 1<<20))}
	dark, _ := h.(Blackouts)
	for i := range req.Blobs {
		br := &req.Blobs[i]
		if dark != nil && dark.BlackedOut(br.ID) {
			for range len(br.Commitments) + len(br.Items) {
				w.miss(Blackout)
			}
			continue
		}
		length, ok, err := h.Length(br.ID)
		if err != nil {
			return nil, nil, 0, err
		}
		for _, pair := range br.Commitments {
			switch {
			case !ok:
				w.miss(Unknown)
			case int(pair) >= p.N:
				w.miss(BadRequest)
			case !h.Holds(br.ID, int(pair)):
				w.miss(NotHeld)
			default:
				pc, err := h.Commitment(br.ID, int(pair))
				switch {
				case errors.Is(err, ErrNotStored):
					w.miss(NotStored)
				case err != nil:
					w.miss(Failed)
				default:
					if b, err := blob.AppendPairCommitment(w.body, pc); err != nil {
						w.miss(Failed)
					} else {
						w.present()
						w.body = b
					}
				}
			}
		}
		for j := range br.Items {
			it := &br.Items[j]
			r := Unknown
			if ok {
				r = serveItem(c, h, br.ID, length, br.SymbolSize, it, w)
			}
			if r != Present {
				w.miss(r)
				continue
			}
			served += len(it.Positions)
		}
	}
	return w.header(), w.body, served, nil
}

// serveItem appends one item's answer to w and reports Present, or says
// why it is missing (and appends nothing).
func serveItem(c *redstuff.Codec, h Holder, id blob.ID, length uint64, s int, it *Item, w *responseWriter) Reason {
	p := c.Params()
	if s != p.SymbolSize(length) || int(it.Index) >= p.N {
		return BadRequest
	}
	for _, pos := range it.Positions {
		if int(pos) >= p.N {
			return BadRequest
		}
	}
	pair := p.PairOf(it.Source, int(it.Index))
	if !h.Holds(id, pair) {
		return NotHeld
	}
	cache, _ := h.(SourceCache)
	var src *redstuff.SymbolSource
	if cache != nil {
		src = cache.CachedSource(id, pair, it.Source)
	}
	if src == nil {
		sl, pc, err := h.Sliver(id, pair, it.Source)
		if errors.Is(err, ErrNotStored) {
			return NotStored
		}
		if err != nil || sl.Kind != it.Source || int(sl.Index) != int(it.Index) {
			return Failed
		}
		if src, err = c.NewSymbolSource(length, sl, pc); err != nil {
			return Failed
		}
		if cache != nil {
			defer func() {
				if src.Extended() {
					cache.KeepSource(id, pair, it.Source, src)
				}
			}()
		}
	}
	pc := src.Pair()
	start := len(w.body)
	if it.Proofs {
		b, err := blob.AppendPairCommitment(w.body, pc)
		if err != nil {
			return Failed
		}
		w.body = b
	}
	for _, pos := range it.Positions {
		d, err := src.Data(int(pos))
		if err != nil {
			w.body = w.body[:start]
			return Failed
		}
		w.body = append(w.body, d...)
		if it.Proofs {
			path, err := src.Path(int(pos))
			if err != nil {
				w.body = w.body[:start]
				return Failed
			}
			if w.body, err = blob.AppendPath(w.body, path); err != nil {
				w.body = w.body[:start]
				return Failed
			}
		}
	}
	w.present()
	return Present
}
