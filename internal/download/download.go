// Package download is the SDK's read path without its input and output:
// which nodes hold each row while an epoch change syncs, which rows to
// ask for and in what waves, how a node's answer is checked, how long a
// reader waits out a storage challenge, and when enough slivers arrived.
//
// The SDK (package client) drives a Read with goroutines and HTTP; the
// simulator (internal/sim) drives the same Read from its event loop over
// simulated links, so both read the same way.
package download

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/upload"
	"github.com/weftnet/weft/redstuff"
)

// Holders returns, for each of n shards, the nodes to read it from in
// order: while an epoch change is syncing (prev not nil: the committee
// of the last epoch whose change was done), the shard's owner in prev,
// which holds everything certified until then, and then its current
// owner in com, which blobs certified since went to.
func Holders(com, prev *control.Committee, n int) [][]control.Member {
	holders := make([][]control.Member, n)
	if prev != nil {
		for s, m := range prev.ShardMap(n) {
			if m >= 0 {
				holders[s] = append(holders[s], prev.Members[m])
			}
		}
	}
	for s, m := range com.ShardMap(n) {
		if m >= 0 && (len(holders[s]) == 0 || holders[s][0].Key != com.Members[m].Key) {
			holders[s] = append(holders[s], com.Members[m])
		}
	}
	return holders
}

// Control is what a reader asks the control plane.
type Control interface {
	Status(ctx context.Context) (*control.Status, error)
	Committee(ctx context.Context, epoch uint64) (*control.Committee, error)
}

// LookupHolders asks ctl for the committees a read needs now, the
// current one and, while its change syncs, the last one whose change was
// done, and returns their Holders of n shards.
func LookupHolders(ctx context.Context, ctl Control, n int) ([][]control.Member, error) {
	st, err := ctl.Status(ctx)
	if err != nil {
		return nil, err
	}
	com, err := ctl.Committee(ctx, st.Epoch)
	if err != nil {
		return nil, err
	}
	var prev *control.Committee
	if st.EpochState == control.EpochSyncing && st.PreviousEpoch > 0 {
		if prev, err = ctl.Committee(ctx, st.PreviousEpoch); err != nil {
			return nil, err
		}
	}
	return Holders(com, prev, n), nil
}

// Read is one read of want verified primary slivers of a blob. It is not
// safe for concurrent use.
type Read struct {
	// Verify checks a sliver against the blob ID: the codec's
	// VerifySliver unless set (the simulator remembers what passed).
	Verify func(id blob.ID, length uint64, sl *blob.Sliver, pc *blob.PairCommitment) error

	codec   *redstuff.Codec
	id      blob.ID
	length  uint64
	holders [][]control.Member
	want    int
	order   []int
	next    int
	got     []blob.Sliver
	errs    []error
}

// NewRead plans a read of want primary slivers of the blob, trying the
// listed rows (nil: the systematic rows first, then the others).
func NewRead(codec *redstuff.Codec, id blob.ID, length uint64, want int, rows []int, holders [][]control.Member) *Read {
	order := rows
	if order == nil {
		for r := range codec.Params().N {
			order = append(order, r) // rows 0..kp−1 are systematic
		}
	}
	return &Read{Verify: codec.VerifySliver, codec: codec, id: id, length: length, holders: holders, want: want, order: order}
}

// Wave returns the rows to fetch next: as many as are still needed, in
// order. It is empty once enough slivers arrived or no row is left.
func (r *Read) Wave() []int {
	need := r.want - len(r.got)
	if need <= 0 || r.next >= len(r.order) {
		return nil
	}
	wave := r.order[r.next:min(len(r.order), r.next+need)]
	r.next += len(wave)
	return wave
}

// Sources returns a row's pair and the nodes to ask for it, in order.
func (r *Read) Sources(row int) (pair int, nodes []control.Member) {
	p := r.codec.Params()
	pair = p.PairOf(blob.Primary, row)
	return pair, r.holders[p.ShardOf(r.id, pair)]
}

// SliverPath is the path of a node's primary sliver of a pair.
func (r *Read) SliverPath(pair int) string {
	return fmt.Sprintf("/v1/blobs/%s/slivers/%d/primary", r.id, pair)
}

// MaxAnswer is the largest well-formed answer at SliverPath: the message
// header, a pair commitment with the longest path the wire format
// allows, and a sliver of ks symbols.
func (r *Read) MaxAnswer() int64 {
	p := r.codec.Params()
	const commitment = 2 + 4 + 2*blob.HashSize + 1 + blob.MaxPathLen*blob.HashSize
	const sliverHeader = 2 + 1 + 4 + 4 + 4
	return 2 + 4 + commitment + sliverHeader + int64(p.Ks)*int64(p.SymbolSize(r.length))
}

// RetryAfter is the wait a node's 503 answer asks for in its
// Retry-After header (whole seconds), or 0.
func RetryAfter(code int, h http.Header) time.Duration {
	if code != http.StatusServiceUnavailable || h == nil {
		return 0
	}
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// WaitAgain reports whether a reader that has waited for a sliver already
// waits wait more (a node's Retry-After under a storage challenge), at
// most limit in all.
func WaitAgain(waited, wait, limit time.Duration) bool {
	return wait > 0 && waited+wait <= limit
}

// Check judges a node's answer at SliverPath(pair): the sliver, verified
// against the blob ID, or why not.
func (r *Read) Check(pair int, code int, body []byte) (*blob.Sliver, error) {
	if code != http.StatusOK {
		return nil, &upload.StatusError{Code: code, Msg: string(body)}
	}
	var msg blob.SliverMessage
	if err := msg.UnmarshalBinary(body); err != nil {
		return nil, err
	}
	if msg.Sliver.Kind != blob.Primary || int(msg.Commitment.Pair) != pair {
		return nil, fmt.Errorf("node sent %s sliver %d for pair %d", msg.Sliver.Kind, msg.Sliver.Index, pair)
	}
	if err := r.Verify(r.id, r.length, &msg.Sliver, &msg.Commitment); err != nil {
		return nil, err
	}
	return &msg.Sliver, nil
}

// Got adds a verified sliver.
func (r *Read) Got(sl *blob.Sliver) { r.got = append(r.got, *sl) }

// Failed records why a row could not be had from any of its nodes.
func (r *Read) Failed(row int, errs ...error) {
	r.errs = append(r.errs, fmt.Errorf("row %d: %w", row, errors.Join(errs...)))
}

// Result returns the slivers once the waves are over. If fewer than
// wanted arrived, the error wraps tooFew (the caller's sentinel) and why
// each row failed.
func (r *Read) Result(tooFew error) ([]blob.Sliver, error) {
	if len(r.got) < r.want {
		return r.got, fmt.Errorf("%w: %d of %d slivers: %w", tooFew, len(r.got), r.want, errors.Join(r.errs...))
	}
	return r.got, nil
}
