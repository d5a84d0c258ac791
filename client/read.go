package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/internal/download"
)

// Read returns a blob's bytes. It fetches primary slivers, systematic ones
// first, verifies each against the blob ID, and decodes from any kp valid
// ones, asking more nodes as others fail or lie; the result is checked
// against the blob ID before it is returned.
func (c *Client) Read(ctx context.Context, id blob.ID) ([]byte, error) {
	return c.ReadProgress(ctx, id, nil)
}

// ReadProgress is Read reporting sliver bytes fetched so far and the
// bytes a read needs (kp slivers) to progress, if it is not nil.
func (c *Client) ReadProgress(ctx context.Context, id blob.ID, progress func(done, total int64)) ([]byte, error) {
	info, err := c.available(ctx, id)
	if err != nil {
		return nil, err
	}
	p := c.codec.Params()
	prog := newProgress(progress, int64(p.Kp*p.Ks*p.SymbolSize(info.Length)))
	slivers, err := c.fetchPrimaries(ctx, id, info.Length, c.codec.Params().Kp, nil, prog)
	if err != nil {
		return nil, err
	}
	return c.codec.Decode(id, info.Length, slivers)
}

// ReadRange returns length bytes of a blob from offset. It fetches only
// the systematic slivers (rows) that hold the range, each verified against
// the blob ID, and falls back to a full read when some cannot be had.
func (c *Client) ReadRange(ctx context.Context, id blob.ID, offset, length int64) ([]byte, error) {
	out, err := c.ReadRangeRows(ctx, id, offset, length)
	if err == nil || !errors.Is(err, ErrTooFewNodes) {
		return out, err
	}
	all, err := c.Read(ctx, id)
	if err != nil {
		return nil, err
	}
	length = min(length, int64(len(all))-offset)
	return all[offset : offset+length], nil
}

// ReadRangeRows is ReadRange without the fallback: when a row holding the
// range cannot be had it fails with ErrTooFewNodes instead of reading the
// whole blob, so a caller that bounds its memory can decide what to do.
func (c *Client) ReadRangeRows(ctx context.Context, id blob.ID, offset, length int64) ([]byte, error) {
	info, err := c.available(ctx, id)
	if err != nil {
		return nil, err
	}
	size := int64(info.Length)
	if offset < 0 || length < 0 || offset > size {
		return nil, fmt.Errorf("client: range %d+%d outside a %d-byte blob", offset, length, size)
	}
	length = min(length, size-offset)
	if length == 0 {
		return []byte{}, nil
	}
	p := c.codec.Params()
	rowLen := int64(p.Ks * p.SymbolSize(info.Length))
	first, last := int(offset/rowLen), int((offset+length-1)/rowLen)
	var rows []int
	for r := first; r <= last; r++ {
		rows = append(rows, r)
	}
	slivers, err := c.fetchPrimaries(ctx, id, info.Length, len(rows), rows, nil)
	if err != nil {
		return nil, err
	}
	byRow := map[uint32][]byte{}
	for _, sl := range slivers {
		byRow[sl.Index] = sl.Data
	}
	out := make([]byte, 0, length)
	for r := first; r <= last && int64(len(out)) < length; r++ {
		row := byRow[uint32(r)]
		if row == nil {
			return nil, fmt.Errorf("%w: row %d missing", ErrTooFewNodes, r)
		}
		lo := int64(0)
		if r == first {
			lo = offset - int64(r)*rowLen
		}
		out = append(out, row[lo:min(int64(len(row)), lo+length-int64(len(out)))]...)
	}
	if int64(len(out)) != length {
		return nil, fmt.Errorf("%w: rows %d..%d hold %d of %d bytes", ErrTooFewNodes, first, last, len(out), length)
	}
	return out, nil
}

func (c *Client) available(ctx context.Context, id blob.ID) (*chain.BlobInfo, error) {
	info, err := c.ctl.Blob(ctx, id)
	if err != nil {
		return nil, err
	}
	if info.Status != chain.StatusCertified {
		return info, fmt.Errorf("%w: blob %v is %s", ErrNotAvailable, id, info.Status)
	}
	return info, nil
}

// fetchPrimaries gets want verified primary slivers, trying the listed
// rows (nil: systematic rows first, then the others) and, for a full
// read, any other row when some fail (download.Read).
func (c *Client) fetchPrimaries(ctx context.Context, id blob.ID, length uint64, want int, rows []int, prog *progress) ([]blob.Sliver, error) {
	holders, err := download.LookupHolders(ctx, c.ctl, c.params.Shards)
	if err != nil {
		return nil, err
	}
	r := download.NewRead(c.codec, id, length, want, rows, holders)
	var mu sync.Mutex
	// Fetch in waves: as many as still needed, in order, until enough
	// verified slivers arrived or no row is left.
	for {
		mu.Lock()
		wave := r.Wave()
		mu.Unlock()
		if len(wave) == 0 {
			break
		}
		c.parallel(len(wave), func(i int) {
			row := wave[i]
			pair, nodes := r.Sources(row)
			var rowErrs []error
			for _, member := range nodes {
				sl, err := c.fetchSliver(ctx, r, member.Address, pair)
				if err != nil {
					rowErrs = append(rowErrs, fmt.Errorf("from %s: %w", member.Name, err))
					continue
				}
				mu.Lock()
				r.Got(sl)
				mu.Unlock()
				prog.add(int64(len(sl.Data)))
				return
			}
			mu.Lock()
			r.Failed(row, rowErrs...)
			mu.Unlock()
		})
	}
	return r.Result(ErrTooFewNodes)
}

// MaxChallengeWait bounds how long a read waits, per sliver, for a node
// that refuses a blob under a storage challenge (503 + Retry-After).
const MaxChallengeWait = 60 * time.Second

// fetchSliver gets a primary sliver from a node and verifies it.
func (c *Client) fetchSliver(ctx context.Context, r *download.Read, addr string, pair int) (*blob.Sliver, error) {
	url := addr + r.SliverPath(pair)
	// A node refuses the slivers of blobs under a storage challenge with
	// 503 and Retry-After until the window closes: wait and ask again,
	// for at most MaxChallengeWait in all.
	var waited time.Duration
	body, code, wait, err := c.doLimitRetry(ctx, http.MethodGet, url, nil, r.MaxAnswer())
	for err == nil && download.WaitAgain(waited, wait, MaxChallengeWait) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		waited += wait
		body, code, wait, err = c.doLimitRetry(ctx, http.MethodGet, url, nil, r.MaxAnswer())
	}
	if err != nil {
		return nil, err
	}
	return r.Check(pair, code, body)
}

// Open returns a reader over a blob's bytes (read and checked whole
// first, so a reader never sees bytes that do not match the blob ID).
func (c *Client) Open(ctx context.Context, id blob.ID) (*bytes.Reader, error) {
	data, err := c.Read(ctx, id)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(data), nil
}
