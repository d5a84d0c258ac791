package node

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log"
	"slices"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/migration"
	"github.com/weftnet/weft/internal/store"
	"github.com/weftnet/weft/redstuff"
)

// Embedding is what a caller that drives a node gives it besides its
// store and control plane.
type Embedding struct {
	// Clock is the node's time.
	Clock func() time.Time
	// Extend, if set, prepares a stored sliver for cutting proven symbols
	// (challenge answers) instead of the codec.
	Extend func(id blob.ID, length uint64, sl *blob.Sliver, pc *blob.PairCommitment) (*redstuff.SymbolSource, error)
	// VerifySliver, if set, checks an uploaded sliver against its pair's
	// commitment instead of the codec.
	VerifySliver func(id blob.ID, length uint64, sl *blob.Sliver, pc *blob.PairCommitment) error
	// Post, if set, carries the node's calls to peers (shard sync
	// requests) instead of HTTP: the answer of at most limit bytes, or an
	// error for any status but 200.
	Post func(ctx context.Context, url string, body []byte, limit int64, timeout time.Duration) ([]byte, error)
	// Bug injects a bug into the node (one of the Bug constants), for
	// the simulator's tests that show it catches a broken node.
	Bug string
}

// The bugs Embedding.Bug injects.
const (
	// BugCorruptAnswer makes the node flip a bit of each storage
	// challenge answer it submits: its answers fail though it holds
	// every challenged sliver.
	BugCorruptAnswer = "corrupt-answer"
	// BugAttestUnsynced makes the node call every shard it gained ready
	// at once, without pulling or checking it, and attest EpochSyncDone.
	BugAttestUnsynced = "attest-unsynced"
	// BugNeverAttest makes the node sync the shards it gained but never
	// attest it: no epoch change it takes part in is done by its weight.
	BugNeverAttest = "never-attest"
	// BugBlindScrub makes the node's scrub take every stored sliver for
	// good without checking it: bit rot stays on its disk.
	BugBlindScrub = "blind-scrub"
	// BugClassicRepair makes the node's recovery fetch its sources'
	// whole slivers, as a classic erasure code's repair fetches whole
	// shards, not the symbols of what it lost: it still rebuilds, with
	// many times the bytes.
	BugClassicRepair = "classic-repair"
)

// Embed opens a storage node over an open store and a control plane
// without listening, registering or starting its loops, for a caller that
// drives the node itself on its own clock: the simulator (internal/sim)
// sends requests to Handler, hands it events with Apply (a challenge
// window's answer is built and submitted within it, an epoch change
// planned, given-up shards dropped), runs its recovery batches with
// RecoverDue and its shard sync with StepSync, all within its own event
// loop; the node's calls to peers go through Embedding.Post. Proofs
// of inconsistency are stored, not handed to an invalidation loop: the
// caller has the blobs invalidated (Batch.Results). The node does not own
// st or ctl; closing the store ends it. codec must be for the control
// plane's shard count.
func Embed(ctx context.Context, cfg *Config, key ed25519.PrivateKey, st *store.Store, ctl Control, codec *redstuff.Codec, e Embedding, logger *log.Logger) (*Node, error) {
	cfg = cfg.WithDefaults()
	if logger == nil {
		logger = log.Default()
	}
	status, err := ctl.Status(ctx)
	if err != nil {
		return nil, err
	}
	if codec.Params().N != status.Params.Shards {
		return nil, fmt.Errorf("node: a codec for %d shards, the control plane has %d", codec.Params().N, status.Params.Shards)
	}
	n := newNode(cfg, key, st, logger, e.Clock)
	n.ctl, n.codec, n.params = ctl, codec, *status.Params
	n.invalid = nil // no invalidation loop: the caller invalidates
	n.spawn = func(f func()) { f() }
	n.bug = e.Bug
	if e.Extend != nil {
		n.extend = e.Extend
	}
	if e.VerifySliver != nil {
		n.verifySliver = e.VerifySliver
	}
	if e.Post != nil {
		n.post = e.Post
	}
	if n.cursor, err = st.Cursor(); err != nil {
		return nil, err
	}
	if err := n.RefreshCommittee(ctx); err != nil {
		return nil, err
	}
	if err := n.initRecovery(); err != nil {
		return nil, err
	}
	// Shard sync as Start has it, stepped by the caller (StepSync).
	n.syncDone = n.attestSyncDone
	if err := n.initSync(ctx); err != nil {
		return nil, err
	}
	if err := n.resumeChallenge(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// RefreshCommittee reads the current committee from the control plane:
// the node's epoch and shards follow it.
func (n *Node) RefreshCommittee(ctx context.Context) error { return n.refreshCommittee(ctx) }

// ReadOnlyShards lists, sorted, the shards the node gave up and still
// serves until their epoch change is done and their new owners attested.
func (n *Node) ReadOnlyShards() []int {
	n.mig.mu.Lock()
	defer n.mig.mu.Unlock()
	var out []int
	for s, p := range n.mig.shards {
		if p.State == migration.ReadOnly {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
