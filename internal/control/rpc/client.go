// Package rpc is how storage nodes, the SDK and the tools talk to the
// control plane: submit a signed transaction and wait until it is
// committed, query state, and follow events from a cursor across
// reconnects and validator restarts. It speaks a validator's JSON-RPC
// over HTTP and links nothing of the validator itself.
package rpc

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
)

// ErrTimeout is returned when the context ended before a transaction
// was seen committed: while it waited for one of its signer's in-flight
// slots, or after the mempool accepted it.
var ErrTimeout = errors.New("rpc: transaction not committed in time")

// Client is a connection to one validator's RPC. It is safe for
// concurrent use.
type Client struct {
	url       string
	base      *url.URL
	http      *http.Client
	maxAnswer int64 // bound on a call's answer (maxAnswer; tests lower it)
	nextID    atomic.Uint64
	networkID string

	mu      sync.Mutex
	waiters map[[32]byte]chan *Result
	started bool
	stop    context.CancelFunc
}

// Result is a committed transaction's outcome.
type Result struct {
	Height int64
	Events []control.Event // seq, type and blob ID only, as indexed
	Err    error           // the state machine's rejection, if any
}

// Dial connects to the control plane at url (a validator's CometBFT RPC,
// such as http://127.0.0.1:26657) and learns the network ID.
func Dial(ctx context.Context, url string) (*Client, error) {
	base, err := baseURL(url)
	if err != nil {
		return nil, err
	}
	c := &Client{url: url, base: base, http: newHTTPClient(), maxAnswer: maxAnswer, waiters: map[[32]byte]chan *Result{}}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	c.networkID = st.Params.NetworkID
	return c, nil
}

// URL returns the endpoint the client talks to.
func (c *Client) URL() string { return c.url }

// NetworkID returns the network's ID.
func (c *Client) NetworkID() string { return c.networkID }

// Close stops the client's event subscription.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
	c.started = false
	c.http.CloseIdleConnections()
	return nil
}

func (c *Client) query(ctx context.Context, path string, data []byte, v any) error {
	code, log, value, err := c.abciQuery(ctx, path, data)
	if err != nil {
		return fmt.Errorf("rpc: query %s: %w", path, err)
	}
	if code != 0 {
		return control.CodeError(code, log)
	}
	if err := json.Unmarshal(value, v); err != nil {
		return fmt.Errorf("rpc: query %s: %w", path, err)
	}
	return nil
}

// Status returns the control plane's height, epoch and parameters.
func (c *Client) Status(ctx context.Context) (*control.Status, error) {
	var st control.Status
	if err := c.query(ctx, control.QueryStatus, nil, &st); err != nil {
		return nil, err
	}
	if st.Params == nil {
		return nil, control.ErrNotInitialized
	}
	return &st, nil
}

// Blob returns what the control plane knows of a blob (status "unknown"
// if nothing).
func (c *Client) Blob(ctx context.Context, id blob.ID) (*control.BlobInfo, error) {
	var b control.BlobInfo
	return &b, c.query(ctx, control.QueryBlob, id[:], &b)
}

// Committee returns the committee of an epoch (0 = current).
func (c *Client) Committee(ctx context.Context, epoch uint64) (*control.Committee, error) {
	var data []byte
	if epoch != 0 {
		data = binary.BigEndian.AppendUint64(nil, epoch)
	}
	var com control.Committee
	return &com, c.query(ctx, control.QueryCommittee, data, &com)
}

// EpochChange returns the state of an epoch's change of committee (0 =
// current): syncing, done or superseded, the epoch it syncs from, and
// the weight attested so far.
func (c *Client) EpochChange(ctx context.Context, epoch uint64) (*control.EpochChange, error) {
	var data []byte
	if epoch != 0 {
		data = binary.BigEndian.AppendUint64(nil, epoch)
	}
	var ch control.EpochChange
	return &ch, c.query(ctx, control.QueryEpochChange, data, &ch)
}

// PreviousCommittee returns the committee the current epoch syncs from
// (Status.PreviousEpoch: the last epoch whose change was done), or nil in
// the first epoch.
func (c *Client) PreviousCommittee(ctx context.Context, st *control.Status) (*control.Committee, error) {
	if st.PreviousEpoch == 0 {
		return nil, nil
	}
	return c.Committee(ctx, st.PreviousEpoch)
}

// LeaveCommittee asks, with the node's own key, that the node be in no
// committee from the next epoch on (until it registers again).
func (c *Client) LeaveCommittee(ctx context.Context, s *Signer) (*Result, error) {
	return c.Submit(ctx, s, control.Payload{LeaveCommittee: &control.LeaveCommittee{}})
}

// EpochSyncDone attests, with a member's key, that it holds every shard
// it gained in epoch (the current one).
func (c *Client) EpochSyncDone(ctx context.Context, s *Signer, epoch uint64) (*Result, error) {
	return c.Submit(ctx, s, control.Payload{EpochSyncDone: &control.EpochSyncDone{Epoch: epoch}})
}

// Challenges returns the report of window w, or with w = 0 of the
// latest limit windows, newest first.
func (c *Client) Challenges(ctx context.Context, w uint64, limit int) ([]control.WindowReport, error) {
	data := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, w), uint32(limit))
	var out []control.WindowReport
	return out, c.query(ctx, control.QueryChallenges, data, &out)
}

// ChallengeWindow returns challenge window w, or with w = 0 the window
// open now; nil if there is none.
func (c *Client) ChallengeWindow(ctx context.Context, w uint64) (*control.Window, error) {
	var data []byte
	if w != 0 {
		data = binary.BigEndian.AppendUint64(nil, w)
	}
	var out *control.Window
	return out, c.query(ctx, control.QueryChallengeWindow, data, &out)
}

// ChallengeAnswer submits a member's answer to a window.
func (c *Client) ChallengeAnswer(ctx context.Context, s *Signer, w uint64, answer []byte) (*Result, error) {
	return c.Submit(ctx, s, control.Payload{ChallengeAnswer: &control.ChallengeAnswer{Window: w, Answer: answer}})
}

// Events returns up to limit events after the cursor.
func (c *Client) Events(ctx context.Context, after uint64, limit int) ([]control.Event, error) {
	data := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, after), uint32(limit))
	var evs []control.Event
	return evs, c.query(ctx, control.QueryEvents, data, &evs)
}

// LiveBlobs returns a page of the blobs nodes must store now, after the
// given ID (nil for the first page).
func (c *Client) LiveBlobs(ctx context.Context, after *blob.ID, limit int) ([]control.BlobInfo, error) {
	var data []byte
	if after != nil {
		data = append(data, after[:]...)
	}
	data = binary.BigEndian.AppendUint32(data, uint32(limit))
	var out []control.BlobInfo
	return out, c.query(ctx, control.QueryLive, data, &out)
}

// Node returns a registered node's record, or nil if the key is not
// registered.
func (c *Client) Node(ctx context.Context, key control.PublicKey) (*control.NodeRecord, error) {
	var n *control.NodeRecord
	return n, c.query(ctx, control.QueryNode, key[:], &n)
}

// Registration returns an owner's registration of a blob, or nil if it
// holds none.
func (c *Client) Registration(ctx context.Context, id blob.ID, owner control.PublicKey) (*control.Registration, error) {
	var r *control.Registration
	return r, c.query(ctx, control.QueryRegistration, append(id[:len(id):len(id)], owner[:]...), &r)
}

// Signer signs transactions for one account. Transactions carry a random
// nonce and an expiry instead of a sequence number, so a signer may
// submit from many goroutines (and many processes) at once; it keeps at
// most MaxInFlight of its own waiting, below the validators' bound on
// pending transactions per sender.
type Signer struct {
	key      ed25519.PrivateKey
	inFlight chan struct{}
}

// MaxInFlight is how many transactions one Signer has waiting at once.
const MaxInFlight = control.DefaultMaxPending / 2

// TxLifetime is how long a submitted transaction stays valid.
const TxLifetime = 2 * time.Minute

// NewSigner returns a signer for the key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, inFlight: make(chan struct{}, MaxInFlight)}
}

// Key returns the signer's public key.
func (s *Signer) Key() control.PublicKey { return control.KeyOf(s.key) }

// Sign signs the payload with a fresh random nonce and an expiry
// TxLifetime from now.
func (s *Signer) Sign(networkID string, p control.Payload) ([]byte, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	p.Nonce = binary.BigEndian.Uint64(b[:])
	p.Expires = time.Now().Add(TxLifetime).UnixMilli()
	return control.SignTx(networkID, s.key, p)
}

// Submit signs the payload, broadcasts it and waits until it is
// committed. A transaction the mempool refuses returns its error
// directly (after a few retries if the sender has too many pending); one
// committed but rejected by the state machine returns a Result whose Err
// is set, and that error.
func (c *Client) Submit(ctx context.Context, s *Signer, p control.Payload) (*Result, error) {
	select {
	case s.inFlight <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting to submit: %v", ErrTimeout, ctx.Err())
	}
	defer func() { <-s.inFlight }()
	wait := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		raw, err := s.Sign(c.networkID, p)
		if err != nil {
			return nil, err
		}
		res, err := c.SubmitRaw(ctx, raw)
		if errors.Is(err, control.ErrBusy) && res == nil && attempt < 20 {
			// Other processes of the same key fill the sender's slots.
			select {
			case <-ctx.Done():
				return nil, err
			case <-time.After(wait):
			}
			wait = min(2*wait, 2*time.Second)
			continue
		}
		return res, err
	}
}

// Broadcast hands a signed transaction to the mempool without waiting
// for its commit: nil if it was admitted, else why not.
func (c *Client) Broadcast(ctx context.Context, raw []byte) error {
	code, log, err := c.broadcastTxSync(ctx, raw)
	if err != nil {
		return fmt.Errorf("rpc: broadcast: %w", err)
	}
	return control.CodeError(code, log)
}

// SubmitRaw broadcasts an already signed transaction and waits until it
// is committed.
func (c *Client) SubmitRaw(ctx context.Context, raw []byte) (*Result, error) {
	if err := c.ensureSubscribed(); err != nil {
		return nil, err
	}
	hash := sha256.Sum256(raw)
	ch := make(chan *Result, 1)
	c.mu.Lock()
	c.waiters[hash] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiters, hash)
		c.mu.Unlock()
	}()
	code, log, err := c.broadcastTxSync(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("rpc: broadcast: %w", err)
	}
	if code != 0 {
		return nil, control.CodeError(code, log)
	}
	// Wait for the committed event; poll the index now and then in case
	// the event stream dropped it.
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		select {
		case r := <-ch:
			return r, r.Err
		case <-poll.C:
			if height, tr, err := c.tx(ctx, hash[:]); err == nil {
				r := result(height, tr)
				return r, r.Err
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %s: %v", ErrTimeout, hex.EncodeToString(hash[:8]), ctx.Err())
		}
	}
}

func result(height int64, tr txResult) *Result {
	r := &Result{Height: height, Err: control.CodeError(tr.Code, tr.Log)}
	for _, e := range tr.Events {
		var ev control.Event
		for _, a := range e.Attributes {
			switch a.Key {
			case "type":
				ev.Type = control.EventType(a.Value)
			case "seq":
				fmt.Sscan(a.Value, &ev.Seq)
			case "blob":
				if id, err := blob.ParseID(a.Value); err == nil {
					ev.BlobID = &id
				}
			}
		}
		ev.Height = height
		r.Events = append(r.Events, ev)
	}
	return r
}

// ensureSubscribed starts the event subscription that wakes waiters.
func (c *Client) ensureSubscribed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, err := c.subscribeTxs(ctx, func(tx committedTx) {
		hash := sha256.Sum256(tx.Tx)
		c.mu.Lock()
		ch := c.waiters[hash]
		c.mu.Unlock()
		if ch != nil {
			select {
			case ch <- result(int64(tx.Height), tx.Result):
			default:
			}
		}
	})
	if err != nil {
		cancel()
		return err
	}
	c.started, c.stop = true, cancel
	go func() {
		<-done
		// The stream ended; waiters fall back to polling until the
		// next submit subscribes again.
		c.mu.Lock()
		if c.started && ctx.Err() == nil {
			c.started, c.stop = false, nil
		}
		c.mu.Unlock()
		cancel()
	}()
	return nil
}

// Follow calls fn for every event after the cursor, in order, forever:
// it waits for new events, and retries through connection failures and
// validator restarts. fn returns an error to stop; the caller persists
// the cursor (the last seq it handled) to resume after a restart.
func (c *Client) Follow(ctx context.Context, after uint64, fn func(control.Event) error) error {
	const page = 1000
	wait := 50 * time.Millisecond
	backoff := 100 * time.Millisecond
	for {
		evs, err := c.Events(ctx, after, page)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		for _, ev := range evs {
			if err := fn(ev); err != nil {
				return err
			}
			after = ev.Seq
		}
		if len(evs) == page {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
