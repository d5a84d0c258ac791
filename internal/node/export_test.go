package node

import "context"

// HoldSyncDone makes the node wait, before it attests EpochSyncDone,
// until release is called.
func (n *Node) HoldSyncDone() (release func()) {
	ch := make(chan struct{})
	n.mig.mu.Lock()
	n.syncDone = func(ctx context.Context, epoch uint64) error {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		return n.attestSyncDone(ctx, epoch)
	}
	n.mig.mu.Unlock()
	return func() { close(ch) }
}
