// Package node is a Weft storage node: it follows the control plane,
// stores the sliver pairs of the shards it owns in Pebble, verifies
// everything it accepts, signs storage confirmations, and serves slivers
// and recovery symbols over HTTP.
package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/store"
	"github.com/weftnet/weft/redstuff"
)

// Control is the control plane as a node uses it: an rpc.Client to a
// validator, or the simulator's machine (internal/sim).
type Control interface {
	Status(ctx context.Context) (*control.Status, error)
	Blob(ctx context.Context, id blob.ID) (*control.BlobInfo, error)
	Committee(ctx context.Context, epoch uint64) (*control.Committee, error)
	Node(ctx context.Context, key control.PublicKey) (*control.NodeRecord, error)
	EpochChange(ctx context.Context, epoch uint64) (*control.EpochChange, error)
	ChallengeWindow(ctx context.Context, w uint64) (*control.Window, error)
	LiveBlobs(ctx context.Context, after *blob.ID, limit int) ([]control.BlobInfo, error)
	// Follow calls fn for each event after the given sequence number, in
	// order, until ctx ends or fn fails.
	Follow(ctx context.Context, after uint64, fn func(control.Event) error) error
	Submit(ctx context.Context, s *rpc.Signer, p control.Payload) (*rpc.Result, error)
	Close() error
}

var _ Control = (*rpc.Client)(nil)

// Node is a running storage node.
type Node struct {
	cfg    *Config
	key    ed25519.PrivateKey
	id     control.PublicKey
	store  *store.Store
	ctl    Control
	codec  *redstuff.Codec
	params control.Params
	m      *metrics
	logger *log.Logger
	// clock is the node's time: time.Now, or the simulator's clock.
	clock func() time.Time
	// spawn runs work the node does in the background (a challenge
	// answer): a goroutine, or at once for a node its caller drives.
	spawn func(func())
	// extend prepares a stored sliver for cutting symbols with proofs (a
	// challenge answer): the codec's, or the simulator's, which extends
	// each distinct sliver once for all its nodes.
	extend func(id blob.ID, length uint64, sl *blob.Sliver, pc *blob.PairCommitment) (*redstuff.SymbolSource, error)
	// verifySliver checks an uploaded sliver: the codec's, or the
	// simulator's, which checks each distinct sliver once.
	verifySliver func(id blob.ID, length uint64, sl *blob.Sliver, pc *blob.PairCommitment) error
	bug          string // an injected bug (Embedding.Bug), for the simulator's tests
	// post sends a request body to a peer's URL and returns its answer of
	// at most limit bytes (any status but 200 is an error): over HTTP, or
	// over the simulator's network.
	post func(ctx context.Context, url string, body []byte, limit int64, timeout time.Duration) ([]byte, error)

	mu        sync.RWMutex
	epoch     uint64
	committee *control.Committee
	shards    []int // owned in the current epoch, sorted
	cursor    uint64
	followErr error // last failure to apply control plane events, nil when caught up

	// gc orders sliver writes against blob deletion: uploads store under
	// its read lock after re-checking the blob, deletions take the write
	// lock, so no sliver outlives its blob's deletion.
	gc sync.RWMutex

	chal challengeState // the open storage challenge window

	rec *recoveryState
	mig *syncState
	// syncDone reports an epoch's gained shards ready to the control
	// plane (EpochSyncDone); nil does nothing.
	syncDone func(ctx context.Context, epoch uint64) error
	symSlots chan struct{} // symbol requests served at once
	inflight *byteBudget   // request bodies held in memory
	sources  *sourceCache  // extended slivers, for symbol requests
	invalid  chan blob.ID  // blobs proven inconsistent, to have marked invalid
	signer   *rpc.Signer
	submitMu sync.Mutex
	bg       sync.WaitGroup

	srv      *http.Server
	listener net.Listener
	cancel   context.CancelFunc
	done     chan struct{}
	followed chan struct{}
	stopOnce sync.Once
	stopErr  error
}

// Start opens the node's store, connects to the control plane (waiting
// for it up to ctx), catches up on events and starts serving.
func Start(ctx context.Context, cfg *Config, logger *log.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if logger == nil {
		logger = log.Default()
	}
	key, err := keyfile.LoadOrCreate(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("node: identity key: %w", err)
	}
	st, err := store.Open(cfg.DataDir, &store.Options{Reserve: cfg.DiskReserveBytes})
	if err != nil {
		return nil, err
	}
	n := newNode(cfg, key, st, logger, time.Now)
	n.done, n.followed = make(chan struct{}), make(chan struct{})
	n.syncDone = n.attestSyncDone
	n.m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "weft_node_disk_bytes", Help: "Bytes the node's database takes on disk.",
	}, func() float64 { return float64(st.Usage()) }))
	if err := n.connect(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if n.cursor, err = st.Cursor(); err != nil {
		st.Close()
		return nil, err
	}
	if err := n.refreshCommittee(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if err := n.initRecovery(); err != nil {
		st.Close()
		return nil, err
	}
	if err := n.initSync(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if n.cursor == 0 {
		if err := n.bootstrap(ctx); err != nil {
			st.Close()
			return nil, fmt.Errorf("node: paging through live blobs: %w", err)
		}
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("node: %w", err)
	}
	l = n.limitConns(l)
	n.listener = l
	if err := n.register(ctx); err != nil {
		l.Close()
		st.Close()
		return nil, err
	}
	n.srv = n.server(l)
	rctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	if err := n.resumeChallenge(rctx); err != nil {
		n.logger.Printf("%v (the node takes up the next window)", err)
	}
	go func() {
		defer close(n.followed)
		n.follow(rctx)
	}()
	n.bg.Add(4)
	go func() {
		defer n.bg.Done()
		n.recoverLoop(rctx)
	}()
	go func() {
		defer n.bg.Done()
		n.syncLoop(rctx)
	}()
	go func() {
		defer n.bg.Done()
		n.invalidateLoop(rctx)
	}()
	go func() {
		defer n.bg.Done()
		n.scrubLoop(rctx)
	}()
	go func() {
		defer close(n.done)
		if err := n.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.logger.Printf("node: serve: %v", err)
		}
	}()
	return n, nil
}

// newNode is a node over an open store, on the given clock, as Start
// runs it: background work on goroutines, slivers checked and extended
// by the codec (set once the node knows its control plane).
func newNode(cfg *Config, key ed25519.PrivateKey, st *store.Store, logger *log.Logger, clock func() time.Time) *Node {
	n := &Node{cfg: cfg, key: key, id: control.KeyOf(key), store: st, m: newMetrics(), logger: logger, clock: clock,
		symSlots: make(chan struct{}, cfg.SymbolConcurrency), inflight: newByteBudget(cfg.MaxInflightBytes), sources: newSourceCache(cfg.SymbolCacheBytes), invalid: make(chan blob.ID, 64), signer: rpc.NewSigner(key)}
	n.spawn = func(f func()) {
		n.bg.Add(1)
		go func() {
			defer n.bg.Done()
			f()
		}()
	}
	n.extend, n.verifySliver, n.post = n.codecExtend, n.codecVerify, n.httpPost
	return n
}

// connect dials the control plane, retrying until ctx ends.
func (n *Node) connect(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		c, err := rpc.Dial(ctx, n.cfg.ControlPlane)
		if err == nil {
			st, err := c.Status(ctx)
			if err == nil {
				n.ctl, n.params = c, *st.Params
				n.codec, err = redstuff.New(st.Params.Shards)
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node: control plane at %s: %w", n.cfg.ControlPlane, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// Addr returns the address the API listens on.
func (n *Node) Addr() string { return n.listener.Addr().String() }

// ID returns the node's public key.
func (n *Node) ID() control.PublicKey { return n.id }

// Shutdown stops serving, waits for requests in flight and closes the
// store.
func (n *Node) Shutdown(ctx context.Context) error {
	n.stopOnce.Do(func() {
		n.cancel()
		err := n.srv.Shutdown(ctx)
		<-n.done
		<-n.followed
		n.bg.Wait()
		n.ctl.Close()
		n.stopErr = errors.Join(err, n.store.Close())
	})
	return n.stopErr
}

func (n *Node) refreshCommittee(ctx context.Context) error {
	com, err := n.ctl.Committee(ctx, 0)
	if err != nil {
		return err
	}
	var mine []int
	for _, m := range com.Members {
		if m.Key == n.id {
			mine = slices.Sorted(slices.Values(m.Shards))
		}
	}
	n.mu.Lock()
	n.epoch, n.shards, n.committee = com.Epoch, mine, com
	n.mu.Unlock()
	n.m.shards.Set(float64(len(mine)))
	return nil
}

func (n *Node) state() (epoch uint64, shards []int, cursor uint64) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.epoch, n.shards, n.cursor
}

// follow applies control plane events from the persisted cursor until
// ctx ends. An event that cannot be applied (control plane or disk
// trouble) is retried with back-off from the cursor; meanwhile health
// reports the node degraded.
func (n *Node) follow(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		_, _, cursor := n.state()
		err := n.ctl.Follow(ctx, cursor, func(ev control.Event) error {
			if err := n.Apply(ctx, ev); err != nil {
				return err
			}
			n.mu.Lock()
			n.followErr = nil
			n.mu.Unlock()
			backoff = 100 * time.Millisecond
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		n.logger.Printf("node: following the control plane: %v (retrying in %v)", err, backoff)
		n.mu.Lock()
		n.followErr = err
		n.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// Apply applies one control plane event and moves the node's persisted
// cursor past it. The node's follower calls it for each event in order;
// the simulator calls it as it delivers events.
func (n *Node) Apply(ctx context.Context, ev control.Event) error {
	if err := n.apply(ctx, ev); err != nil {
		return fmt.Errorf("applying event %d (%s): %w", ev.Seq, ev.Type, err)
	}
	if err := n.store.SetCursor(ev.Seq); err != nil {
		return err
	}
	n.mu.Lock()
	n.cursor = ev.Seq
	n.mu.Unlock()
	return nil
}

func (n *Node) apply(ctx context.Context, ev control.Event) error {
	switch ev.Type {
	case control.EventEpochChanged:
		if err := n.refreshCommittee(ctx); err != nil {
			return err
		}
		n.mu.RLock()
		com := n.committee
		n.mu.RUnlock()
		return n.planEpoch(ctx, com)
	case control.EventEpochSyncDone:
		if ev.Node == nil {
			return nil
		}
		return n.noteSynced(ev.Epoch, *ev.Node)
	case control.EventChallengeOpened:
		return n.challengeOpened(ctx, ev.Window)
	case control.EventChallengeClosed:
		n.challengeClosed(ev.Window)
		n.countWindow(ctx, ev.Window)
		return nil
	case control.EventEpochDone:
		// The epoch's change is done (n − f of its shards synced): the
		// shards given up until then are no longer served.
		return n.dropGivenUp(ev.Epoch)
	case control.EventBlobRegistered, control.EventBlobCertified, control.EventBlobExtended, control.EventRegistrationDeleted:
		b, err := n.learnBlob(ctx, *ev.BlobID)
		if errors.Is(err, errGone) {
			return nil
		}
		if err != nil || ev.Type != control.EventBlobCertified || !b.Certified {
			return err
		}
		// Slivers the node missed are rebuilt from its peers, once uploads
		// still in flight have had time to land.
		return n.enqueue(b.ID, b.Length, "certified: missing slivers", n.clock().Add(time.Duration(n.cfg.RecoveryDelay)), false)
	case control.EventBlobExpired, control.EventBlobDeleted, control.EventBlobInvalid:
		n.dequeue(*ev.BlobID)
		n.m.gc.Inc()
		n.gc.Lock()
		defer n.gc.Unlock()
		n.sources.dropBlob(*ev.BlobID)
		return n.store.DeleteBlob(*ev.BlobID)
	}
	return nil
}

var errGone = errors.New("node: blob is gone")

func (n *Node) codecVerify(id blob.ID, length uint64, sl *blob.Sliver, pc *blob.PairCommitment) error {
	return n.codec.VerifySliver(id, length, sl, pc)
}

func (n *Node) codecExtend(_ blob.ID, length uint64, sl *blob.Sliver, pc *blob.PairCommitment) (*redstuff.SymbolSource, error) {
	return n.codec.NewSymbolSource(length, sl, pc)
}

// blobInfo returns what the node knows of a live blob, asking the control
// plane when it has not seen the blob yet (an upload may beat the event).
func (n *Node) blobInfo(ctx context.Context, id blob.ID) (*store.Blob, control.BlobStatus, error) {
	b, err := n.store.Blob(id)
	if err == nil {
		epoch, _, _ := n.state()
		if epoch >= b.EndEpoch {
			return b, control.StatusExpired, nil
		}
		if b.Certified {
			return b, control.StatusCertified, nil
		}
		return b, control.StatusRegistered, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, "", err
	}
	info, err := n.ctl.Blob(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if info.Status != control.StatusRegistered && info.Status != control.StatusCertified {
		return nil, info.Status, nil
	}
	b, err = n.learnBlob(ctx, id)
	return b, info.Status, err
}

// learnBlob records a live blob from the control plane's view of it.
func (n *Node) learnBlob(ctx context.Context, id blob.ID) (*store.Blob, error) {
	info, err := n.ctl.Blob(ctx, id)
	if err != nil {
		return nil, err
	}
	switch info.Status {
	case control.StatusRegistered, control.StatusCertified:
	default:
		return nil, errGone
	}
	b := &store.Blob{ID: id, Length: info.Length, EndEpoch: info.EndEpoch, Certified: info.Certified}
	return b, n.store.PutBlob(b)
}

// owns reports whether the node holds the shard of a blob's pair.
func (n *Node) owns(id blob.ID, pair int) (int, bool) {
	_, shards, _ := n.state()
	shard := n.codec.Params().ShardOf(id, pair)
	_, ok := slices.BinarySearch(shards, shard)
	return shard, ok
}
