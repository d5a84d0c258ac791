// Package client is Weft's Go SDK: store a blob on the network, read it
// back, check its status and delete it. It talks to the control plane
// (registration, certification, status) and directly to storage nodes
// (slivers), verifying everything it receives against the blob ID.
//
// Everything the SDK returns is public: blob IDs and wire types come from
// package blob, the control plane's records of blobs (BlobInfo,
// Attributes) from package chain, file formats from package files.
// Errors wrap sentinels that errors.Is tests: this package's (ErrNotAvailable,
// ErrTooFewNodes, ...), the control plane's rejections (chain.ErrEpoch,
// chain.ErrNotAllowed, ...) and those of packages files and redstuff.
//
// The SDK links no server: it speaks HTTP to storage nodes and JSON-RPC
// to a control plane validator. Package clienttest starts a whole network
// in one process for tests and examples.
package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/download"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/redstuff"
	"github.com/weftnet/weft/units"
)

// Config says how to reach a network. It is also the JSON client config
// file that weft devnet writes and the CLI reads (--config).
type Config struct {
	// ControlPlane is a control plane validator's RPC URL.
	ControlPlane string `json:"controlPlane"`
	// KeyFile holds the account key that pays for and owns stored blobs
	// (created if missing).
	KeyFile string `json:"keyFile"`
	// NodeTimeout bounds each request to a storage node. Default 60s.
	NodeTimeout units.Duration `json:"nodeTimeout,omitempty"`
	// Parallelism bounds concurrent requests to storage nodes. Default 16.
	Parallelism int `json:"parallelism,omitempty"`
	// LazyTables defers the Reed–Solomon library's tables (72 MB, about
	// 0.2 s of one core) until a decode needs them
	// (redstuff.WithLazyTables): for one-shot processes such as the CLI.
	LazyTables bool `json:"-"`
}

// Errors.
var (
	// ErrNotAvailable means the blob cannot be read: unknown, not yet
	// certified and not recoverable, deleted, expired or invalid.
	ErrNotAvailable = errors.New("client: blob not available")
	// ErrTooFewNodes means too few storage nodes answered correctly.
	ErrTooFewNodes = errors.New("client: not enough storage nodes answered")
	// ErrAnswerTooLarge means a node's answer was larger than any
	// well-formed answer to the request could be.
	ErrAnswerTooLarge = errors.New("client: node answer too large")
	// ErrRedirect means a node answered with a redirect to another host,
	// which the client does not follow.
	ErrRedirect = errors.New("client: node redirected to another host")
)

// Bounds on what the client reads from a node, so that a lying or broken
// node cannot exhaust a reader's memory. Slivers are bounded by their
// exact wire size (see download.Read.MaxAnswer).
const (
	// maxSmallAnswer bounds answers that carry no blob data:
	// acknowledgements and confirmations.
	maxSmallAnswer = 64 << 10
	// maxErrorText is how much of an error answer is kept; the rest is
	// discarded unread.
	maxErrorText = 4 << 10
)

// Client is a connection to a Weft network. It is safe for concurrent use.
type Client struct {
	cfg    Config
	ctl    *rpc.Client
	signer *rpc.Signer
	codec  *redstuff.Codec
	params control.Params
	http   *http.Client

	beforeCertify func() // tests: runs between the uploads and the certificate
}

// New connects to the network described by cfg.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.ControlPlane == "" {
		return nil, errors.New("client: config has no controlPlane URL")
	}
	if cfg.NodeTimeout == 0 {
		cfg.NodeTimeout = units.Duration(60 * time.Second)
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = 16
	}
	var key ed25519.PrivateKey
	var err error
	if cfg.KeyFile != "" {
		if key, err = keyfile.LoadOrCreate(cfg.KeyFile); err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
	}
	ctl, err := rpc.Dial(ctx, cfg.ControlPlane)
	if err != nil {
		return nil, err
	}
	st, err := ctl.Status(ctx)
	if err != nil {
		ctl.Close()
		return nil, err
	}
	var opts []redstuff.Option
	if cfg.LazyTables {
		opts = append(opts, redstuff.WithLazyTables())
	}
	codec, err := redstuff.New(st.Params.Shards, opts...)
	if err != nil {
		ctl.Close()
		return nil, err
	}
	c := &Client{cfg: cfg, ctl: ctl, codec: codec, params: *st.Params, http: newHTTPClient(cfg.Parallelism)}
	if key != nil {
		c.signer = rpc.NewSigner(key)
	}
	return c, nil
}

// LoadConfig reads a client config file.
func LoadConfig(path string) (Config, error) {
	var c Config
	raw, err := readFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("client: %s: %w", path, err)
	}
	return c, nil
}

// Close releases the client's connections.
func (c *Client) Close() error { return c.ctl.Close() }

// NetworkID returns the ID of the network the client is connected to.
func (c *Client) NetworkID() string { return c.params.NetworkID }

// Codec returns the network's codec (for computing blob IDs offline).
func (c *Client) Codec() *redstuff.Codec { return c.codec }

// Status returns what the control plane knows of a blob: its record and
// its status now (chain.StatusUnknown for an ID never registered).
func (c *Client) Status(ctx context.Context, id blob.ID) (*chain.BlobInfo, error) {
	return c.ctl.Blob(ctx, id)
}

// Delete deletes a blob this client's account owns and registered as
// deletable.
func (c *Client) Delete(ctx context.Context, id blob.ID) error {
	if c.signer == nil {
		return errors.New("client: deleting needs a keyFile in the config")
	}
	_, err := c.ctl.Submit(ctx, c.signer, control.Payload{DeleteBlob: &control.BlobRef{ID: id}})
	return err
}

// newHTTPClient returns the client's HTTP client for storage nodes. It
// follows redirects only within the same host: a node has no reason to
// send a reader elsewhere, and following one would let a node point the
// client at any address (SSRF) or at a larger answer.
func newHTTPClient(parallelism int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: parallelism},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
				return fmt.Errorf("%w: %s", ErrRedirect, req.URL.Redacted())
			}
			if len(via) >= 3 {
				return errors.New("client: too many redirects")
			}
			return nil
		},
	}
}

// do sends a request to a node and returns an answer that carries no blob
// data (at most maxSmallAnswer bytes).
func (c *Client) do(ctx context.Context, method, url string, body []byte) ([]byte, int, error) {
	return c.doLimit(ctx, method, url, body, maxSmallAnswer)
}

// doLimit sends a request to a node and reads a successful answer of at
// most limit bytes; a larger one (declared or sent) fails with
// ErrAnswerTooLarge. Of an error answer, the first maxErrorText bytes
// are returned.
func (c *Client) doLimit(ctx context.Context, method, url string, body []byte, limit int64) ([]byte, int, error) {
	out, code, _, err := c.doLimitRetry(ctx, method, url, body, limit)
	return out, code, err
}

// doLimitRetry is doLimit that also returns the Retry-After of a 503
// answer (0 when there is none).
func (c *Client) doLimitRetry(ctx context.Context, method, url string, body []byte, limit int64) ([]byte, int, time.Duration, error) {
	out, code, h, err := c.doLimitHeader(ctx, method, url, body, limit)
	return out, code, download.RetryAfter(code, h), err
}

func (c *Client) doLimitHeader(ctx context.Context, method, url string, body []byte, limit int64) ([]byte, int, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.cfg.NodeTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, 0, nil, err
	}
	if body == nil {
		req.Body = nil
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		out, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorText))
		return out, resp.StatusCode, resp.Header, err
	}
	if resp.ContentLength > limit {
		return nil, resp.StatusCode, nil, fmt.Errorf("%w: %s declares %d bytes, at most %d expected", ErrAnswerTooLarge, url, resp.ContentLength, limit)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, resp.StatusCode, nil, err
	}
	if n > limit {
		return nil, resp.StatusCode, nil, fmt.Errorf("%w: %s sent more than %d bytes", ErrAnswerTooLarge, url, limit)
	}
	return buf.Bytes(), resp.StatusCode, resp.Header, nil
}

// parallel runs fn over items with the client's parallelism.
func (c *Client) parallel(n int, fn func(i int)) {
	sem := make(chan struct{}, c.cfg.Parallelism)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}
