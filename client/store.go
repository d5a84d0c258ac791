package client

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/redstuff"
)

// StoreOptions tune Store.
type StoreOptions struct {
	Epochs    uint64 // epochs to store for, counting the current one; default 5
	Deletable bool
	// Attributes, optional, are registered with the blob (content type,
	// file name, kind); see chain.Attributes.
	Attributes *chain.Attributes
	// Progress, if set, is called as slivers reach nodes with the bytes
	// sent so far and the total to send. It must be safe for concurrent
	// use.
	Progress func(sent, total int64)
}

// StoreResult describes a stored blob.
type StoreResult struct {
	BlobID         blob.ID `json:"blobId"`
	Size           int64   `json:"size"`
	EncodedSize    int64   `json:"encodedSize"`
	CertifiedEpoch uint64  `json:"certifiedEpoch"`
	EndEpoch       uint64  `json:"endEpoch"`
	// AlreadyCertified is set when the blob was already available and
	// nothing was uploaded.
	AlreadyCertified bool `json:"alreadyCertified"`
}

// confirmation mirrors a storage node's confirmation answer.
type confirmation struct {
	BlobID    blob.ID           `json:"blobId"`
	Epoch     uint64            `json:"epoch"`
	Node      control.PublicKey `json:"node"`
	Signature []byte            `json:"signature"`
}

// grace is how long uploads may go on once a quorum has confirmed, so
// that most nodes get their slivers from the writer rather than by
// recovery.
const grace = 200 * time.Millisecond

// perNode bounds the uploads in flight to one node.
const perNode = 3

// Store encodes data, registers it, uploads every node its pairs in
// parallel, collects storage confirmations and certifies the blob once
// they are worth a quorum of shards. Up to f shards may fail.
func (c *Client) Store(ctx context.Context, data []byte, o StoreOptions) (*StoreResult, error) {
	if c.signer == nil {
		return nil, errors.New("client: storing needs a keyFile in the config")
	}
	if o.Epochs == 0 {
		o.Epochs = 5
	}
	e, err := c.codec.Encode(data)
	if err != nil {
		return nil, err
	}
	defer e.Release()
	return c.storeEncoded(ctx, e, o)
}

// storeEncoded is Store after the encoding: register, upload, certify.
func (c *Client) storeEncoded(ctx context.Context, e *redstuff.Encoded, o StoreOptions) (*StoreResult, error) {
	return c.storeEncodedProgress(ctx, e, o, nil)
}

// storeEncodedProgress is storeEncoded reporting to prog (when not nil)
// instead of o.Progress: a file's segments share one.
func (c *Client) storeEncodedProgress(ctx context.Context, e *redstuff.Encoded, o StoreOptions, prog *progress) (*StoreResult, error) {
	if o.Epochs == 0 {
		o.Epochs = 5
	}
	res := &StoreResult{BlobID: e.ID, Size: int64(e.Length), EncodedSize: e.EncodedSize()}

	certified, err := c.ensureRegistration(ctx, e, o, res)
	if err != nil || certified {
		return res, err
	}

	if prog == nil {
		prog = newProgress(o.Progress, e.EncodedSize())
	}
	for attempt := 0; ; attempt++ {
		err := c.uploadAndCertify(ctx, e, prog, attempt > 0)
		if err == nil {
			break
		}
		// A store caught across an epoch boundary (or by nodes that have
		// not followed it yet) uploads to the new committee what its
		// members lack and collects its certificate in the new epoch.
		if attempt >= 3 || !(errors.Is(err, chain.ErrEpoch) || errors.Is(err, errEpochLag)) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		case <-time.After(time.Duration(attempt+1) * 250 * time.Millisecond):
		}
	}
	info, err := c.ctl.Blob(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	if info.Status != chain.StatusCertified {
		return nil, fmt.Errorf("client: blob %v is %s after certification", e.ID, info.Status)
	}
	res.CertifiedEpoch = info.CertifiedEpoch
	return res, nil
}

// errEpochLag marks a failure that a committee in another epoch explains:
// a node confirmed for an epoch other than the committee's, or refused a
// shard the committee gives it (it has not seen the epoch change yet).
var errEpochLag = errors.New("client: nodes and control plane are in different epochs")

// uploadAndCertify uploads the blob to the current committee and
// certifies it. With skipHeld, each member is first asked which slivers
// it holds already, and only the rest are sent.
func (c *Client) uploadAndCertify(ctx context.Context, e *redstuff.Encoded, prog *progress, skipHeld bool) error {
	com, owners, err := c.shardOwners(ctx)
	if err != nil {
		return err
	}
	sigs, err := c.upload(ctx, e, com, owners, prog, skipHeld)
	if err != nil {
		if st, serr := c.ctl.Status(ctx); serr == nil && st.Epoch != com.Epoch {
			return errors.Join(err, errEpochLag)
		}
		return err
	}
	if c.beforeCertify != nil {
		c.beforeCertify()
	}
	cert := &control.Certificate{ID: e.ID, Epoch: com.Epoch, Signatures: sigs}
	if _, err := c.ctl.Submit(ctx, c.signer, control.Payload{CertifyBlob: cert}); err != nil && !errors.Is(err, chain.ErrBlobState) {
		return err
	}
	return nil
}

// ensureRegistration makes sure this client's account holds a
// registration of the blob lasting at least o.Epochs: its own, whoever
// else registered the same content (a registration by someone else can
// be deleted by them; ours cannot). It reports whether the blob is
// already certified, in which case there is nothing to upload.
func (c *Client) ensureRegistration(ctx context.Context, e *redstuff.Encoded, o StoreOptions, res *StoreResult) (bool, error) {
	st, err := c.ctl.Status(ctx)
	if err != nil {
		return false, err
	}
	end := st.Epoch + o.Epochs
	me := c.signer.Key()
	for attempt := 0; ; attempt++ {
		mine, err := c.ctl.Registration(ctx, e.ID, me)
		if err != nil {
			return false, err
		}
		switch {
		case mine == nil:
			_, err = c.ctl.Submit(ctx, c.signer, control.Payload{RegisterBlob: &control.RegisterBlob{
				ID: e.ID, Length: e.Length, Encoding: blob.RS2D16, Root: e.Root, EndEpoch: end, Deletable: o.Deletable, Attributes: o.Attributes}})
		case mine.EndEpoch < end:
			_, err = c.ctl.Submit(ctx, c.signer, control.Payload{ExtendBlob: &control.ExtendBlob{ID: e.ID, EndEpoch: end}})
		default:
			res.EndEpoch = mine.EndEpoch
			info, err := c.ctl.Blob(ctx, e.ID)
			if err != nil {
				return false, err
			}
			switch info.Status {
			case chain.StatusCertified:
				res.CertifiedEpoch, res.AlreadyCertified = info.CertifiedEpoch, true
				return true, nil
			case chain.StatusRegistered:
				return false, nil
			}
			return false, fmt.Errorf("%w: blob %v is %s", ErrNotAvailable, e.ID, info.Status)
		}
		// Another store of ours may have raced this one: look again.
		if err != nil && (attempt > 2 || !(errors.Is(err, chain.ErrBlobExists) || errors.Is(err, chain.ErrEpoch))) {
			if errors.Is(err, chain.ErrBlobState) {
				return false, fmt.Errorf("%w: %v", ErrNotAvailable, err)
			}
			return false, err
		}
	}
}

// upload sends each committee member the pairs of its shards, then asks
// for its confirmation; it returns confirmations worth a quorum.
func (c *Client) upload(ctx context.Context, e *redstuff.Encoded, com *control.Committee, owners []int, prog *progress, skipHeld bool) ([]control.Signature, error) {
	p := e.Params
	byMember := map[int][]int{} // member → pairs
	for pair := 0; pair < p.N; pair++ {
		m := owners[p.ShardOf(e.ID, pair)]
		if m >= 0 {
			byMember[m] = append(byMember[m], pair)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		sigs     []control.Signature
		weight   int
		quorumAt time.Time
		errs     []error
	)
	members := sortedKeys(byMember)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.parallel(len(members), func(i int) {
			m := com.Members[members[i]]
			sig, err := c.uploadMember(ctx, e, m, byMember[members[i]], com.Epoch, prog, skipHeld)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("node %s (%s): %w", m.Name, m.Address, err))
				return
			}
			sigs = append(sigs, control.Signature{Node: m.Key, Sig: sig})
			weight += len(m.Shards)
			if weight >= c.params.Quorum() && quorumAt.IsZero() {
				quorumAt = time.Now()
				time.AfterFunc(grace, cancel) // stop at quorum plus a short grace
			}
		})
	}()
	select {
	case <-done:
	case <-ctx.Done():
		<-done
	}
	mu.Lock()
	defer mu.Unlock()
	if weight < c.params.Quorum() {
		err := fmt.Errorf("%w: confirmations worth %d shards, need %d: %w", ErrTooFewNodes, weight, c.params.Quorum(), errors.Join(errs...))
		return nil, err
	}
	return sigs, nil
}

// uploadMember uploads one node's pairs and returns its signature.
func (c *Client) uploadMember(ctx context.Context, e *redstuff.Encoded, m control.Member, pairs []int, epoch uint64, prog *progress, skipHeld bool) ([]byte, error) {
	p := e.Params
	// A few slivers in flight per node, so that the node verifies one
	// while it syncs another (and syncs several at once).
	type job struct {
		pair int
		kind blob.SliverKind
	}
	held := map[job]bool{}
	if skipHeld {
		var st struct {
			Pairs []struct {
				Pair      int  `json:"pair"`
				Primary   bool `json:"primary"`
				Secondary bool `json:"secondary"`
			} `json:"pairs"`
		}
		if msg, code, err := c.do(ctx, http.MethodGet, fmt.Sprintf("%s/v1/blobs/%s/status", m.Address, e.ID), nil); err == nil && code == http.StatusOK && json.Unmarshal(msg, &st) == nil {
			for _, ps := range st.Pairs {
				held[job{ps.Pair, blob.Primary}] = ps.Primary
				held[job{ps.Pair, blob.Secondary}] = ps.Secondary
			}
		}
	}
	var jobs []job
	for _, pair := range pairs {
		for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
			if !held[job{pair, k}] {
				jobs = append(jobs, job{pair, k})
			}
		}
	}
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, perNode)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			idx := p.PrimaryOf(j.pair)
			if j.kind == blob.Secondary {
				idx = p.SecondaryOf(j.pair)
			}
			sl := e.Sliver(j.kind, idx)
			body, err := (&blob.SliverMessage{Commitment: e.Pairs[j.pair], Sliver: sl}).MarshalBinary()
			if err != nil {
				errs[i] = err
				return
			}
			url := fmt.Sprintf("%s/v1/blobs/%s/slivers/%d/%s", m.Address, e.ID, j.pair, j.kind)
			errs[i] = c.retry(ctx, func() error {
				msg, code, err := c.do(ctx, http.MethodPut, url, body)
				if err != nil {
					return err
				}
				if code == http.StatusMisdirectedRequest {
					return errors.Join(&statusError{code, string(msg)}, errEpochLag)
				}
				if code/100 != 2 {
					return &statusError{code, string(msg)}
				}
				return nil
			})
			if errs[i] == nil {
				prog.add(int64(len(sl.Data)))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var conf confirmation
	url := fmt.Sprintf("%s/v1/blobs/%s/confirmation", m.Address, e.ID)
	err := c.retry(ctx, func() error {
		msg, code, err := c.do(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return &statusError{code, string(msg)}
		}
		return json.Unmarshal(msg, &conf)
	})
	if err != nil {
		return nil, err
	}
	if conf.Epoch != epoch {
		return nil, fmt.Errorf("%w: confirmation for epoch %d, the committee's is %d", errEpochLag, conf.Epoch, epoch)
	}
	if conf.Node != m.Key || conf.BlobID != e.ID ||
		!ed25519.Verify(m.Key[:], control.ConfirmationMessage(c.params.NetworkID, epoch, e.ID), conf.Signature) {
		return nil, errors.New("confirmation does not verify")
	}
	return conf.Signature, nil
}

type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.code, e.msg) }

// retry runs fn up to 3 times with back-off; 4xx answers other than 409
// (not ready) and 429 are final.
func (c *Client) retry(ctx context.Context, fn func() error) error {
	var err error
	for attempt, wait := 0, 100*time.Millisecond; attempt < 3; attempt, wait = attempt+1, wait*4 {
		if err = fn(); err == nil {
			return nil
		}
		var se *statusError
		if errors.As(err, &se) && se.code/100 == 4 && se.code != http.StatusConflict && se.code != http.StatusTooManyRequests {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
	}
	return err
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

// progress reports bytes done to a callback, if there is one.
type progress struct {
	mu    sync.Mutex
	fn    func(done, total int64)
	done  int64
	total int64
}

func newProgress(fn func(done, total int64), total int64) *progress {
	return &progress{fn: fn, total: total}
}

func (p *progress) add(n int64) {
	if p == nil || p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.fn(p.done, p.total)
}
