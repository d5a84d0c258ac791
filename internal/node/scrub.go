// The scrub: stored slivers re-verified against their commitments,
// paced, and what fails queued for recovery.

package node

import (
	"context"
	"errors"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/store"
)

// scrubLoop re-verifies every stored sliver against its commitment, one
// pass every ScrubInterval, paced to ScrubBytesPerSecond. A sliver that
// is missing, unreadable or wrong is dropped and its blob queued for
// recovery. When the last pass began is kept in the store (its first
// start counts as one), so a node that restarts more often than the
// interval still scrubs on time.
func (n *Node) scrubLoop(ctx context.Context) {
	if n.cfg.ScrubInterval < 0 {
		return
	}
	interval := time.Duration(n.cfg.ScrubInterval)
	last, err := n.store.ScrubbedAt()
	if err == nil && last.IsZero() {
		last = n.clock()
		err = n.store.SetScrubbedAt(last)
	}
	if err != nil {
		n.logger.Printf("node: scrub: %v", err)
		last = n.clock()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(last.Add(interval).Sub(n.clock())):
		}
		last = n.clock()
		if _, err := n.scrub(ctx, true); err != nil {
			if ctx.Err() != nil {
				return
			}
			n.logger.Printf("node: scrub: %v", err)
		}
		if err := n.store.SetScrubbedAt(last); err != nil {
			n.logger.Printf("node: scrub: %v", err)
		}
	}
}

// Scrub runs one pass of the scrub at once, unpaced, and returns how many
// slivers it found missing, unreadable or wrong (each dropped and its
// blob queued for recovery): the scrub loop's pass, for a caller that
// drives the node itself.
func (n *Node) Scrub(ctx context.Context) (int, error) { return n.scrub(ctx, false) }

// scrub is one pass over the stored blobs, paced to ScrubBytesPerSecond
// if paced; it returns the slivers found bad.
func (n *Node) scrub(ctx context.Context, paced bool) (int, error) {
	start := time.Now()
	var done int64
	bad := 0
	err := n.store.Blobs(func(b *store.Blob) (bool, error) {
		k, err := n.checkBlob(ctx, b, func(bytes int64) error {
			if !paced {
				return nil
			}
			done += bytes
			return n.pace(ctx, start, done)
		})
		bad += k
		return err == nil, err
	})
	if err == nil {
		n.m.scrubPasses.Inc()
	}
	return bad, err
}

// checkBlob verifies the node's slivers of a certified, live blob against
// their commitments. Missing, unreadable or wrong ones are dropped and the
// blob queued for recovery; it returns how many were. paced is called
// with the bytes of each good sliver checked.
func (n *Node) checkBlob(ctx context.Context, b *store.Blob, paced func(int64) error) (int, error) {
	epoch, shards, _ := n.state()
	if !b.Certified || epoch >= b.EndEpoch {
		return 0, nil
	}
	p := n.codec.Params()
	bad := 0
	// Shards still being synced or recovered are not checked: their sync
	// queues what they lack.
	for _, shard := range n.settled(shards) {
		pair := p.PairAt(b.ID, shard)
		for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
			if ctx.Err() != nil {
				return bad, ctx.Err()
			}
			sl, pc, err := n.store.Sliver(b.ID, uint32(pair), k)
			if errors.Is(err, store.ErrNotFound) {
				bad++
				n.m.corrupt.Inc()
				continue
			}
			n.m.scrubbed.Inc()
			switch {
			case err != nil:
				n.logger.Printf("node: scrub: blob %v pair %d %s: unreadable: %v", b.ID, pair, k, err)
				err = n.store.DeleteSliver(b.ID, uint32(pair), k, false)
			case n.bug != BugBlindScrub && n.verifySliver(b.ID, b.Length, sl, pc) != nil:
				// VerifySliver checks the commitment too; tell which is bad.
				if n.codec.VerifyCommitment(b.ID, b.Length, pc) != nil {
					n.logger.Printf("node: scrub: blob %v pair %d: commitment does not match the blob ID", b.ID, pair)
					err = n.store.DeleteSliver(b.ID, uint32(pair), k, true)
				} else {
					n.logger.Printf("node: scrub: blob %v pair %d: %s sliver does not match its commitment", b.ID, pair, k)
					err = n.store.DeleteSliver(b.ID, uint32(pair), k, false)
				}
			default:
				if err := paced(int64(len(sl.Data))); err != nil {
					return bad, err
				}
				continue
			}
			bad++
			n.m.corrupt.Inc()
			if err != nil {
				return bad, err
			}
		}
	}
	if bad > 0 {
		n.sources.dropBlob(b.ID)
		return bad, n.enqueue(b.ID, b.Length, "scrub: missing or corrupt sliver", n.clock(), true)
	}
	return 0, nil
}

// pace waits until done bytes fit the scrub's rate since start.
func (n *Node) pace(ctx context.Context, start time.Time, done int64) error {
	due := start.Add(time.Duration(float64(done) / float64(n.cfg.ScrubBytesPerSecond) * float64(time.Second)))
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
