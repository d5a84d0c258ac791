package client

import (
	"context"
	"fmt"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/files"
)

// BatchResult describes a stored batch.
type BatchResult struct {
	StoreResult
	Index *files.BatchIndex `json:"index"`
}

// StoreBatch packs small files into one blob with an index
// (files.PackBatch: names unique, at most files.MaxBatchBytes in all) and
// stores it, registered as kind batch. Each file is then read alone by the
// batch's blob ID and its name (ReadBatchFile).
func (c *Client) StoreBatch(ctx context.Context, fs []files.BatchFile, o StoreOptions) (*BatchResult, error) {
	raw, idx, err := files.PackBatch(fs)
	if err != nil {
		return nil, err
	}
	o.Attributes = &chain.Attributes{Kind: chain.KindBatch}
	r, err := c.Store(ctx, raw, o)
	if err != nil {
		return nil, err
	}
	return &BatchResult{StoreResult: *r, Index: idx}, nil
}

// ReadBatchIndex reads a batch's index: only the rows holding it, each
// verified against the blob ID.
func (c *Client) ReadBatchIndex(ctx context.Context, id blob.ID) (*files.BatchIndex, uint64, error) {
	info, err := c.available(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if info.Length < uint64(files.BatchPrefixLen) {
		return nil, 0, fmt.Errorf("%w: blob %v is not a batch", files.ErrBatch, id)
	}
	prefix, err := c.ReadRange(ctx, id, 0, int64(files.BatchPrefixLen))
	if err != nil {
		return nil, 0, err
	}
	n, err := files.BatchIndexLen(prefix, info.Length)
	if err != nil {
		return nil, 0, err
	}
	raw, err := c.ReadRange(ctx, id, 0, int64(n))
	if err != nil {
		return nil, 0, err
	}
	var idx files.BatchIndex
	if err := idx.UnmarshalBinary(raw); err != nil {
		return nil, 0, err
	}
	if idx.End() > info.Length && len(idx.Entries) > 0 {
		return nil, 0, fmt.Errorf("%w: index runs to %d, the blob has %d bytes", files.ErrBatch, idx.End(), info.Length)
	}
	return &idx, info.Length, nil
}

// ReadBatchFile reads one file of a batch by name, fetching only the rows
// that hold the index and the file (each verified against the blob ID).
func (c *Client) ReadBatchFile(ctx context.Context, id blob.ID, name string) ([]byte, *files.BatchEntry, error) {
	idx, _, err := c.ReadBatchIndex(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	e, err := idx.Lookup(name)
	if err != nil {
		return nil, nil, err
	}
	if e.Length == 0 {
		return []byte{}, &e, nil
	}
	data, err := c.ReadRange(ctx, id, int64(e.Offset), int64(e.Length))
	if err != nil {
		return nil, nil, err
	}
	return data, &e, nil
}
