// Calls to peers (symbols requests over HTTP, bounded answers, no
// redirects) and what this node serves symbols from.

package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/recovery"
	"github.com/weftnet/weft/internal/store"
	"github.com/weftnet/weft/redstuff"
)

// newPeerClient returns the client for calls to peers.
func newPeerClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute},
		// A peer's answer is its own: a redirect must not send the
		// node's calls (and their bodies) to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return errRedirect },
	}
}

var errRedirect = errors.New("node: peers may not redirect")

// call sends one symbols request to a peer, or serves it from this node's
// own store.
func (n *Node) call(ctx context.Context, self bool, m control.Member, req *recovery.Request) (*recovery.Response, error) {
	if self {
		head, body, err := n.ServeOwnSymbols(req)
		if err != nil {
			return nil, err
		}
		return recovery.DecodeResponse(req, append(head, body...))
	}
	raw, err := req.MarshalBinary()
	if err != nil {
		return nil, err
	}
	size := req.ResponseSize(n.codec.Params().N)
	timeout := time.Duration(n.cfg.RecoveryTimeout) + time.Duration(size/(8<<20))*time.Second
	body, err := n.post(ctx, m.Address+"/v1/symbols", raw, size, timeout)
	n.m.recoveryBytes.Add(float64(len(body)))
	if err != nil {
		return nil, fmt.Errorf("node: symbols from %s: %w", m.Name, err)
	}
	return recovery.DecodeResponse(req, body)
}

// httpPost sends body to a peer over HTTP and returns its answer, of at
// most limit bytes; any status but 200 is an error carrying the peer's
// message. It is the node's post unless its embedding gives another.
func (n *Node) httpPost(ctx context.Context, url string, body []byte, limit int64, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := n.rec.httpc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	switch {
	case err != nil:
		return out, err
	case resp.StatusCode != http.StatusOK:
		return out, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(out))
	case int64(len(out)) > limit:
		return out, fmt.Errorf("answer longer than %d bytes", limit)
	}
	return out, nil
}

// holder is what the node serves symbols from.
type holder struct{ n *Node }

func (h holder) Length(id blob.ID) (uint64, bool, error) {
	b, err := h.n.store.Blob(id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if epoch, _, _ := h.n.state(); epoch >= b.EndEpoch {
		return 0, false, nil
	}
	return b.Length, true, nil
}

// BlackedOut withholds the blobs of an open challenge window
// (recovery.Blackouts).
func (h holder) BlackedOut(id blob.ID) bool { return h.n.BlackedOut(id) }

// selfHolder is what the node serves its own recovery from: the blackout
// keeps peers from fetching, not the node from reading its own slivers.
type selfHolder struct{ holder }

func (selfHolder) BlackedOut(blob.ID) bool { return false }

func (h holder) Holds(id blob.ID, pair int) bool {
	shard, ok := h.n.owns(id, pair)
	return ok || h.n.readOnly(shard)
}

func (h holder) Sliver(id blob.ID, pair int, k blob.SliverKind) (*blob.Sliver, *blob.PairCommitment, error) {
	sl, pc, err := h.n.store.Sliver(id, uint32(pair), k)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, recovery.ErrNotStored
	}
	return sl, pc, err
}

func (h holder) CachedSource(id blob.ID, pair int, k blob.SliverKind) *redstuff.SymbolSource {
	return h.n.sources.get(sourceKey{id, pair, k})
}

func (h holder) KeepSource(id blob.ID, pair int, k blob.SliverKind, src *redstuff.SymbolSource) {
	h.n.m.extensions.Inc()
	h.n.sources.put(sourceKey{id, pair, k}, src)
}

func (h holder) Commitment(id blob.ID, pair int) (*blob.PairCommitment, error) {
	pc, err := h.n.store.Commitment(id, uint32(pair))
	if errors.Is(err, store.ErrNotFound) {
		return nil, recovery.ErrNotStored
	}
	return pc, err
}
