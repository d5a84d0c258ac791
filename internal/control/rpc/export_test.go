package rpc

import (
	"context"
	"crypto/sha256"
)

// SetMaxAnswer lowers the bound on a call's answer.
func SetMaxAnswer(c *Client, n int64) { c.maxAnswer = n }

// SubscribeTxs subscribes to committed transactions: fn gets each one's
// hash, height and outcome.
func SubscribeTxs(ctx context.Context, c *Client, fn func(hash [32]byte, r *Result)) (<-chan struct{}, error) {
	return c.subscribeTxs(ctx, func(tx committedTx) {
		fn(sha256.Sum256(tx.Tx), result(int64(tx.Height), tx.Result))
	})
}
