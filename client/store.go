package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/upload"
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
	for round := 0; ; round++ {
		err := c.uploadAndCertify(ctx, e, prog, round > 0)
		if err == nil {
			break
		}
		// A store caught across an epoch boundary (or by nodes that have
		// not followed it yet) uploads to the new committee what its
		// members lack and collects its certificate in the new epoch.
		wait, again := upload.Again(round, err)
		if !again {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		case <-time.After(wait):
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

// uploadAndCertify uploads the blob to the current committee and
// certifies it. With skipHeld, each member is first asked which slivers
// it holds already, and only the rest are sent.
func (c *Client) uploadAndCertify(ctx context.Context, e *redstuff.Encoded, prog *progress, skipHeld bool) error {
	com, err := c.ctl.Committee(ctx, 0)
	if err != nil {
		return err
	}
	r := upload.NewRound(e, com, c.params.NetworkID, c.params.Quorum())
	if err := c.upload(ctx, r, prog, skipHeld); err != nil {
		if st, serr := c.ctl.Status(ctx); serr == nil && st.Epoch != com.Epoch {
			return errors.Join(err, upload.ErrEpochLag)
		}
		return err
	}
	if c.beforeCertify != nil {
		c.beforeCertify()
	}
	if _, err := c.ctl.Submit(ctx, c.signer, control.Payload{CertifyBlob: r.Certificate()}); err != nil && !errors.Is(err, chain.ErrBlobState) {
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

// upload sends each member of the round's committee its slivers, then
// asks for its confirmation, until the confirmations are worth a quorum
// (and upload.Grace after that).
func (c *Client) upload(ctx context.Context, r *upload.Round, prog *progress, skipHeld bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu   sync.Mutex
		errs []error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.parallel(len(r.Members), func(i int) {
			m := &r.Members[i]
			conf, err := c.uploadMember(ctx, r, i, prog, skipHeld)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				var quorum bool
				if quorum, err = r.Confirm(i, conf); quorum {
					time.AfterFunc(upload.Grace, cancel) // stop at quorum plus a short grace
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("node %s (%s): %w", m.Name, m.Address, err))
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
	if !r.Quorate() {
		return fmt.Errorf("%w: confirmations worth %d shards, need %d: %w", ErrTooFewNodes, r.Weight(), r.Quorum(), errors.Join(errs...))
	}
	return nil
}

// uploadMember sends member i its slivers (a few in flight, so that the
// node verifies one while it writes another) and returns its
// confirmation.
func (c *Client) uploadMember(ctx context.Context, r *upload.Round, i int, prog *progress, skipHeld bool) (*upload.Confirmation, error) {
	m := &r.Members[i]
	var status []byte
	if skipHeld {
		if msg, code, err := c.do(ctx, http.MethodGet, m.Address+r.StatusPath(), nil); err == nil && code == http.StatusOK {
			status = msg
		}
	}
	slivers := r.Slivers(i, status)
	errs := make([]error, len(slivers))
	sem := make(chan struct{}, upload.PerNode)
	var wg sync.WaitGroup
	for k, sl := range slivers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			path, body, data, err := r.Put(sl)
			if err != nil {
				errs[k] = err
				return
			}
			errs[k] = c.retry(ctx, func() error {
				msg, code, err := c.do(ctx, http.MethodPut, m.Address+path, body)
				if err != nil {
					return err
				}
				return upload.PutAnswer(code, msg)
			})
			if errs[k] == nil {
				prog.add(int64(len(data.Data)))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var conf *upload.Confirmation
	err := c.retry(ctx, func() error {
		msg, code, err := c.do(ctx, http.MethodGet, m.Address+r.ConfirmationPath(), nil)
		if err != nil {
			return err
		}
		conf, err = upload.ReadConfirmation(code, msg)
		return err
	})
	return conf, err
}

type statusError = upload.StatusError

// retry sends a request up to upload.Tries times, waiting
// upload.Backoff between; final answers (upload.Final) are not sent
// again.
func (c *Client) retry(ctx context.Context, fn func() error) error {
	var err error
	for try := 0; try < upload.Tries; try++ {
		if err = fn(); err == nil || upload.Final(err) || try+1 == upload.Tries {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(upload.Backoff(try)):
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
