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
// the byte limit.
var ErrTooLarge = errors.New("recovery: answer too large")

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

// Serve answers a symbols request from what h holds. The answer is head
// followed by body. A request whose answer could exceed maxBytes is
// refused with ErrTooLarge; what the node cannot give is answered missing,
// with its reason.
func Serve(c *redstuff.Codec, h Holder, req *Request, maxBytes int64) (head, body []byte, served int, err error) {
	p := c.Params()
	size := req.ResponseSize(p.N)
	if size > maxBytes {
		return nil, nil, 0, fmt.Errorf("%w: up to %d bytes, the limit is %d", ErrTooLarge, size, maxBytes)
	}
	w := &responseWriter{body: make([]byte, 0, min(size, 1<<20))}
	for i := range req.Blobs {
		br := &req.Blobs[i]
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
					w.present()
					w.body = appendPair(w.body, pc)
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
	sl, pc, err := h.Sliver(id, pair, it.Source)
	if errors.Is(err, ErrNotStored) {
		return NotStored
	}
	if err != nil || sl.Kind != it.Source || int(sl.Index) != int(it.Index) {
		return Failed
	}
	src, err := c.NewSymbolSource(length, sl, pc)
	if err != nil {
		return Failed
	}
	start := len(w.body)
	if it.Proofs {
		w.body = appendPair(w.body, pc)
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
			w.body = appendPath(w.body, path)
		}
	}
	w.present()
	return Present
}
