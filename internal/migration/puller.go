package migration

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/redstuff"
)

// State is a shard's state on a node during a migration.
type State string

// Shard states.
const (
	Ready      State = "ready"
	Syncing    State = "syncing"    // pulling from the previous owner
	Recovering State = "recovering" // rebuilding from the committee
	ReadOnly   State = "readOnly"   // given up: served, not written, dropped when the change is done
)

// ProgressVersion is the format of a persisted Progress.
const ProgressVersion = 1

// Progress is one shard's migration state, as persisted by the node.
type Progress struct {
	Version int    `json:"v"`
	Epoch   uint64 `json:"epoch"` // the epoch whose change gained or gave up the shard
	Shard   int    `json:"shard"`
	State   State  `json:"state"`
	// From is the previous owner, pulled from while syncing.
	From        control.PublicKey `json:"from,omitzero"`
	FromName    string            `json:"fromName,omitempty"`
	FromAddress string            `json:"fromAddress,omitempty"`
	// Cursor is the last blob ID done by the current pass (nil: none).
	Cursor *blob.ID `json:"cursor,omitempty"`
	// Checking: the pull (or enqueue) pass is over; the shard is ready
	// once a pass over the live blobs finds every pair held.
	Checking bool `json:"checking,omitempty"`
	// Counters, for health.
	BlobsDone  int64 `json:"blobsDone"`  // blobs the pull or enqueue pass is past
	BlobsKnown int64 `json:"blobsKnown"` // live blobs seen so far
	Pulled     int64 `json:"pulled"`     // pairs stored from the previous owner
	ToRecovery int64 `json:"toRecovery"` // blobs handed to recovery
	Bytes      int64 `json:"bytes"`      // answer bytes received
	Missing    int64 `json:"missing"`    // pairs the last check found missing
}

// Marshal encodes a Progress for the store.
func (p *Progress) Marshal() ([]byte, error) {
	q := *p
	q.Version = ProgressVersion
	return json.Marshal(q)
}

// UnmarshalProgress decodes a stored Progress.
func UnmarshalProgress(raw []byte) (*Progress, error) {
	var p Progress
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("migration: shard state: %w", err)
	}
	if p.Version != ProgressVersion {
		return nil, fmt.Errorf("migration: shard state of version %d, this node reads %d", p.Version, ProgressVersion)
	}
	switch p.State {
	case Ready, Syncing, Recovering, ReadOnly:
	default:
		return nil, fmt.Errorf("migration: unknown shard state %q", p.State)
	}
	return &p, nil
}

// Blob is a live blob as the caller pages them (blob-ID order).
type Blob struct {
	ID        blob.ID
	Length    uint64
	Certified bool
}

// Config bounds a Puller.
type Config struct {
	// BatchBlobs and BatchBytes bound one request and its answer.
	BatchBlobs int
	BatchBytes int64
	// MaxFailures is the number of failed calls in a row after which the
	// previous owner is given up and the rest of the shard recovered.
	MaxFailures int
	// Backoff is the wait after the first failed call, doubled after each.
	Backoff time.Duration
	// VerifySliver checks a pulled sliver against its pair's commitment;
	// nil is the codec's VerifySliver. The simulator remembers what it
	// verified (a pure function) across its nodes.
	VerifySliver func(id blob.ID, length uint64, sl *blob.Sliver, pc *blob.PairCommitment) error
}

// Puller drives the sync of one gained shard. It is not safe for
// concurrent use.
type Puller struct {
	codec    *redstuff.Codec
	cfg      Config
	p        Progress
	failures int
}

// NewPuller resumes a shard's sync from its persisted progress.
func NewPuller(codec *redstuff.Codec, cfg Config, p Progress) *Puller {
	cfg.BatchBlobs = min(max(cfg.BatchBlobs, 1), MaxBatchBlobs)
	cfg.BatchBytes = max(cfg.BatchBytes, 1)
	cfg.MaxFailures = max(cfg.MaxFailures, 1)
	if cfg.VerifySliver == nil {
		cfg.VerifySliver = codec.VerifySliver
	}
	return &Puller{codec: codec, cfg: cfg, p: p}
}

// Progress returns the shard's state, to persist once what the last
// Deliver returned is stored.
func (u *Puller) Progress() Progress { return u.p }

// Pair returns the shard's pair of a blob.
func (u *Puller) Pair(id blob.ID) int { return u.codec.Params().PairAt(id, u.p.Shard) }

// Batch is one request's worth of blobs.
type Batch struct {
	Ask []Blob // blobs asked of the previous owner
	// Last is the last blob of the page the batch covers, including the
	// blobs skipped (not certified, or already held): the cursor after it.
	Last    blob.ID
	Covered int // blobs of the page the batch covers
	Size    int64
}

// Next cuts the next batch from a page of live blobs after the cursor.
// Blobs not certified yet are skipped (their certification makes writers
// upload them to the new owner) and so are those held already. It
// returns nil for an empty page. A batch always covers at least one blob,
// even one whose pair alone exceeds BatchBytes (the caller's cap on
// answers bounds it).
func (u *Puller) Next(page []Blob, held func(Blob) bool) *Batch {
	if len(page) == 0 {
		return nil
	}
	b := &Batch{}
	p := u.codec.Params()
	for _, bl := range page {
		if b.Covered > 0 && len(b.Ask) >= u.cfg.BatchBlobs {
			break
		}
		if bl.Certified && !held(bl) {
			size := ItemSize(p, bl.Length)
			if len(b.Ask) > 0 && b.Size+size > u.cfg.BatchBytes {
				break
			}
			b.Ask = append(b.Ask, bl)
			b.Size += size
		}
		b.Last = bl.ID
		b.Covered++
	}
	return b
}

// Request returns the (unsigned) request for a batch.
func (u *Puller) Request(b *Batch) *Request {
	r := &Request{Epoch: u.p.Epoch, Shard: uint32(u.p.Shard), IDs: make([]blob.ID, len(b.Ask))}
	for i, bl := range b.Ask {
		r.IDs[i] = bl.ID
	}
	return r
}

// Pair is a verified pair to store.
type Pair struct {
	ID         blob.ID
	Commitment blob.PairCommitment
	Primary    blob.Sliver
	Secondary  blob.Sliver
}

// Outcome is what the caller does after a Deliver.
type Outcome struct {
	Store   []Pair // verified: store, then persist Progress
	Recover []Blob // not delivered: hand to recovery, then persist Progress
	// Retry: the call failed; ask the same batch again at RetryAt.
	Retry   bool
	RetryAt time.Time
	// GaveUp: the previous owner failed MaxFailures calls in a row; the
	// shard switched to Recovering.
	GaveUp bool
	// Per-sliver results, for metrics.
	Verified, Rejected, Missing int
}

// Errors a delivered answer can turn into.
var (
	ErrMismatch = errors.New("migration: answer does not match the request")
)

// Deliver hands the Puller the previous owner's answer to a batch's
// request (bytes is its size), or the error of the call, at time now.
func (u *Puller) Deliver(b *Batch, resp *Response, bytes int64, callErr error, now time.Time) Outcome {
	var out Outcome
	u.p.Bytes += bytes
	if callErr == nil && resp != nil && len(resp.Items) != len(b.Ask) {
		callErr = ErrMismatch
	}
	if callErr != nil {
		u.failures++
		if u.failures < u.cfg.MaxFailures {
			out.Retry = true
			out.RetryAt = now.Add(u.cfg.Backoff << (u.failures - 1))
			return out
		}
		// The previous owner is gone: this batch and every later blob go
		// to recovery.
		out.GaveUp = true
		out.Recover = b.Ask
		out.Missing = 2 * len(b.Ask)
		u.p.State = Recovering
		u.p.ToRecovery += int64(len(b.Ask))
		u.advance(b)
		return out
	}
	u.failures = 0
	for i, bl := range b.Ask {
		it := &resp.Items[i]
		switch it.Status {
		case NotLive:
			// Expired or deleted meanwhile: the event handlers drop it.
			continue
		case NotHeld:
			out.Missing += 2
			out.Recover = append(out.Recover, bl)
			continue
		}
		if err := u.verify(bl, it); err != nil {
			out.Rejected += 2
			out.Recover = append(out.Recover, bl)
			continue
		}
		out.Verified += 2
		out.Store = append(out.Store, Pair{ID: bl.ID, Commitment: it.Commitment, Primary: it.Primary, Secondary: it.Secondary})
	}
	u.p.Pulled += int64(len(out.Store))
	u.p.ToRecovery += int64(len(out.Recover))
	u.advance(b)
	return out
}

// verify checks a delivered pair against the blob ID: the commitment is
// for the shard's pair, and each sliver is that pair's and matches it.
func (u *Puller) verify(bl Blob, it *Item) error {
	pair := u.Pair(bl.ID)
	if int(it.Commitment.Pair) != pair {
		return fmt.Errorf("migration: blob %v: commitment of pair %d, shard %d holds pair %d", bl.ID, it.Commitment.Pair, u.p.Shard, pair)
	}
	for _, sl := range []*blob.Sliver{&it.Primary, &it.Secondary} {
		if err := u.cfg.VerifySliver(bl.ID, bl.Length, sl, &it.Commitment); err != nil {
			return err
		}
	}
	return nil
}

func (u *Puller) advance(b *Batch) {
	last := b.Last
	u.p.Cursor = &last
	u.p.BlobsDone += int64(b.Covered)
	u.p.BlobsKnown = max(u.p.BlobsKnown, u.p.BlobsDone)
}

// Seen records that the caller paged n live blobs it has not covered yet,
// for the progress shown.
func (u *Puller) Seen(n int) {
	u.p.BlobsKnown = max(u.p.BlobsKnown, u.p.BlobsDone+int64(n))
}

// Enqueued records, while Recovering, that the certified blobs of a page
// were handed to recovery.
func (u *Puller) Enqueued(page []Blob) {
	if len(page) == 0 {
		return
	}
	for _, bl := range page {
		if bl.Certified {
			u.p.ToRecovery++
		}
	}
	u.advance(&Batch{Last: page[len(page)-1].ID, Covered: len(page)})
}

// EndOfBlobs records that the pass reached the end of the live blobs:
// the shard is now checked until every pair is held.
func (u *Puller) EndOfBlobs() {
	u.p.Checking = true
	u.p.Cursor = nil
}

// Checked ends a check pass over every live blob, which found missing
// of them without the shard's pair: the shard is ready when none is;
// otherwise another pass follows (after the caller's wait).
func (u *Puller) Checked(missing int) bool {
	u.p.Missing = int64(missing)
	if missing == 0 {
		u.p.State, u.p.Checking = Ready, false
		return true
	}
	return false
}
