package node

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/httpapi"
	"github.com/weftnet/weft/internal/recovery"
	"github.com/weftnet/weft/internal/store"
)

// Handler returns the node's HTTP API:
//
//	GET  /v1/health
//	PUT  /v1/blobs/{id}/slivers/{pair}/{primary|secondary}   body: blob.SliverMessage
//	GET  /v1/blobs/{id}/slivers/{pair}/{primary|secondary}   → blob.SliverMessage
//	GET  /v1/blobs/{id}/confirmation                         → Confirmation (JSON)
//	GET  /v1/blobs/{id}/status                               → HeldSlivers (JSON)
//	GET  /v1/blobs/{id}/inconsistency                        → inconsistency proof (blob.InconsistencyProof or PairsInconsistencyProof)
//	POST /v1/blobs/{id}/inconsistency                        body: a proof → Attestation (JSON), if it holds
//	POST /v1/symbols                                         body: recovery.Request → recovery answer (binary)
//	GET  /v1/recovery                                        → RecoveryQueue (JSON)
//	POST /v1/shards/{shard}/sync                             body: migration.Request → migration.Response (binary)
//	GET  /metrics                                            Prometheus
//
// With Config.TestHooks (tests only) it also has
//
//	POST /v1/test/forget/{id}                                ForgetBlob(id)
//
// Every refusal is a 4xx (or 5xx for the node's own trouble) with a JSON
// body {"error": "..."}.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern, name string, h func(http.ResponseWriter, *http.Request) error) {
		mux.HandleFunc(pattern, n.instrument(name, h))
	}
	route("GET /v1/health", "health", n.health)
	route("PUT /v1/blobs/{id}/slivers/{pair}/{kind}", "put_sliver", n.putSliver)
	route("GET /v1/blobs/{id}/slivers/{pair}/{kind}", "get_sliver", n.getSliver)
	route("GET /v1/blobs/{id}/confirmation", "confirmation", n.confirmation)
	route("GET /v1/blobs/{id}/status", "status", n.status)
	route("GET /v1/blobs/{id}/inconsistency", "inconsistency", n.inconsistency)
	route("POST /v1/blobs/{id}/inconsistency", "attest", n.attest)
	route("POST /v1/symbols", "symbols", n.symbols)
	route("GET /v1/recovery", "recovery", n.recoveryQueue)
	route("POST /v1/shards/{shard}/sync", "shard_sync", n.serveSync)
	if n.cfg.TestHooks {
		route("POST /v1/test/forget/{id}", "test_forget", n.testForget)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpapi.Fail(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// testForget is the test hook behind POST /v1/test/forget/{id}.
func (n *Node) testForget(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r)
	if err != nil {
		return err
	}
	if err := n.ForgetBlob(id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// countingWriter counts bytes and keeps the status for metrics.
type countingWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (c *countingWriter) WriteHeader(code int) {
	c.code = code
	c.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *countingWriter) Write(b []byte) (int, error) {
	k, err := c.ResponseWriter.Write(b)
	c.bytes += int64(k)
	return k, err
}

func (n *Node) instrument(name string, h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cw := &countingWriter{ResponseWriter: w, code: http.StatusOK}
		if err := h(cw, r); err != nil {
			cw.code = httpapi.WriteError(cw, err, http.StatusInternalServerError)
			if cw.code == http.StatusInsufficientStorage {
				n.m.refused.WithLabelValues("disk_full").Inc()
			}
		}
		n.m.requests.WithLabelValues(name, strconv.Itoa(cw.code)).Inc()
		n.m.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
		n.m.bytesOut.Add(float64(cw.bytes))
		if r.ContentLength > 0 {
			n.m.bytesIn.Add(float64(r.ContentLength))
		}
	}
}

// Health is the answer of GET /v1/health.
type Health struct {
	Node   control.PublicKey `json:"node"`
	Name   string            `json:"name"`
	Epoch  uint64            `json:"epoch"`
	Shards []int             `json:"shards"`
	Cursor uint64            `json:"eventCursor"`
	Status string            `json:"status"` // ok | degraded (behind the control plane, or disk full) | failed (store)
	Error  string            `json:"error,omitempty"`
	// Disk is the store's view of its disk.
	Disk DiskHealth `json:"disk"`
	// Recovery counts blobs whose missing slivers the node is rebuilding.
	Recovery RecoveryHealth `json:"recovery"`
	// ShardStates lists the shards the node holds (Shards) and those it
	// gave up and still serves read-only, with their migration state.
	ShardStates []ShardHealth `json:"shardStates"`
	// SyncDoneEpoch is the last epoch whose gained shards were all ready
	// and reported so (0: none since start).
	SyncDoneEpoch uint64 `json:"syncDoneEpoch"`
	// Challenge is the storage challenge window open now, if any, and
	// whether the node answered it.
	Challenge *ChallengeHealth `json:"challenge,omitempty"`
}

// DiskHealth is what the store takes and what is left. Full says why
// uploads are refused (507), when they are.
type DiskHealth struct {
	UsedBytes    uint64 `json:"usedBytes"`
	FreeBytes    uint64 `json:"freeBytes"`
	ReserveBytes uint64 `json:"reserveBytes"`
	Full         string `json:"full,omitempty"`
}

// RecoveryHealth counts blobs waiting for recovery and being recovered.
type RecoveryHealth struct {
	Pending    int `json:"pending"`
	InProgress int `json:"inProgress"`
}

func (n *Node) health(w http.ResponseWriter, r *http.Request) error {
	epoch, shards, cursor := n.state()
	h := Health{Node: n.id, Name: n.cfg.Name, Epoch: epoch, Shards: shards, Cursor: cursor, Status: "ok"}
	h.Recovery.Pending, h.Recovery.InProgress = n.RecoveryCounts()
	h.ShardStates, h.SyncDoneEpoch = n.shardHealth()
	h.Challenge = n.challengeHealth()
	if h.Shards == nil {
		h.Shards = []int{}
	}
	sp := n.store.Space()
	h.Disk = DiskHealth{UsedBytes: sp.Used, FreeBytes: sp.Free, ReserveBytes: sp.Reserve, Full: sp.Full}
	if sp.Full != "" {
		h.Status, h.Error = "degraded", "disk full, uploads refused: "+sp.Full
	}
	n.mu.RLock()
	if n.followErr != nil {
		h.Status, h.Error = "degraded", "not following the control plane: "+n.followErr.Error()
	}
	n.mu.RUnlock()
	if err := n.store.Failed(); err != nil {
		h.Status, h.Error = "failed", err.Error()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(h)
		return nil
	}
	httpapi.JSON(w, h)
	return nil
}

func parseID(r *http.Request) (blob.ID, error) {
	id, err := blob.ParseID(r.PathValue("id"))
	if err != nil {
		return id, httpapi.Errorf(http.StatusBadRequest, "%v", err)
	}
	return id, nil
}

// sliverPath parses {id}/slivers/{pair}/{kind} and the sliver index the
// pair holds of that kind.
func (n *Node) sliverPath(r *http.Request) (blob.ID, int, blob.SliverKind, int, error) {
	id, err := parseID(r)
	if err != nil {
		return id, 0, 0, 0, err
	}
	p := n.codec.Params()
	pair, err := strconv.Atoi(r.PathValue("pair"))
	if err != nil || pair < 0 || pair >= p.N {
		return id, 0, 0, 0, httpapi.Errorf(http.StatusBadRequest, "pair %q is not in 0..%d", r.PathValue("pair"), p.N-1)
	}
	kind, err := blob.ParseSliverKind(r.PathValue("kind"))
	if err != nil {
		return id, 0, 0, 0, httpapi.Errorf(http.StatusBadRequest, "%v", err)
	}
	index := p.PrimaryOf(pair)
	if kind == blob.Secondary {
		index = p.SecondaryOf(pair)
	}
	return id, pair, kind, index, nil
}

// liveBlob returns the record of a blob the node should store, or the
// error a client should see.
func (n *Node) liveBlob(r *http.Request, id blob.ID) (*store.Blob, error) {
	b, status, err := n.blobInfo(r.Context(), id)
	if err != nil {
		return nil, httpapi.Errorf(http.StatusServiceUnavailable, "cannot reach the control plane: %v", err)
	}
	switch status {
	case control.StatusRegistered, control.StatusCertified:
		return b, nil
	case control.StatusUnknown:
		return nil, httpapi.Errorf(http.StatusNotFound, "blob %v is not registered", id)
	case control.StatusInvalid:
		return nil, httpapi.Errorf(http.StatusUnprocessableEntity, "blob %v is invalid (inconsistently encoded)", id)
	}
	return nil, httpapi.Errorf(http.StatusGone, "blob %v is %s", id, status)
}

func (n *Node) putSliver(w http.ResponseWriter, r *http.Request) error {
	id, pair, kind, index, err := n.sliverPath(r)
	if err != nil {
		return err
	}
	if shard, ok := n.owns(id, pair); !ok {
		return httpapi.Errorf(http.StatusMisdirectedRequest, "pair %d of blob %v is on shard %d, which this node does not hold", pair, id, shard)
	}
	b, err := n.liveBlob(r, id)
	if err != nil {
		return err
	}
	// The blob's length bounds the message: refuse a bigger one before
	// reading it.
	limit := min(maxSliverMessage(n.codec.Params(), b.Length, kind), n.cfg.MaxBodyBytes)
	if r.ContentLength > limit {
		n.m.refused.WithLabelValues("too_large").Inc()
		return httpapi.Errorf(http.StatusRequestEntityTooLarge, "body of %d bytes: a %s sliver message of this blob has at most %d", r.ContentLength, kind, limit)
	}
	// A sliver the node holds was verified when it was stored: answer as
	// for a new one (201: the node holds it), without writing it again.
	if have, err := n.store.HasSliver(id, uint32(pair), kind); err != nil {
		return err
	} else if have {
		if _, err := io.Copy(io.Discard, n.paced(w, http.MaxBytesReader(w, r.Body, limit))); err != nil {
			return bodyError("sliver", err)
		}
		w.WriteHeader(http.StatusCreated)
		return nil
	}
	release, err := n.reserveBody(w, r, limit)
	if err != nil {
		return err
	}
	defer release()
	body, err := n.readBody(w, r, limit)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return httpapi.Errorf(http.StatusBadRequest, "sliver: body shorter than its Content-Length")
		}
		return bodyError("sliver", err)
	}
	defer putBuffer(body)
	var msg blob.SliverMessage
	if err := msg.UnmarshalBinary(body); err != nil {
		return httpapi.Errorf(http.StatusBadRequest, "%v", err)
	}
	if msg.Sliver.Kind != kind || int(msg.Sliver.Index) != index || int(msg.Commitment.Pair) != pair {
		return httpapi.Errorf(http.StatusBadRequest, "body holds %s sliver %d of pair %d, the path names %s sliver %d of pair %d",
			msg.Sliver.Kind, msg.Sliver.Index, msg.Commitment.Pair, kind, index, pair)
	}
	if err := n.verifySliver(id, b.Length, &msg.Sliver, &msg.Commitment); err != nil {
		n.m.rejected.Inc()
		return httpapi.Errorf(http.StatusUnprocessableEntity, "%v", err)
	}
	// Store only if the blob is still live, atomically with respect to its
	// deletion by the event follower.
	n.gc.RLock()
	defer n.gc.RUnlock()
	if _, err := n.liveBlob(r, id); err != nil {
		return err
	}
	if err := n.store.PutSliver(id, uint32(pair), &msg.Sliver, &msg.Commitment); err != nil {
		return err
	}
	n.m.stored.Inc()
	n.m.storedBytes.Add(float64(len(msg.Sliver.Data)))
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (n *Node) getSliver(w http.ResponseWriter, r *http.Request) error {
	id, pair, kind, _, err := n.sliverPath(r)
	if err != nil {
		return err
	}
	if err := n.refuseBlackout(w, id); err != nil {
		return err
	}
	sl, pc, err := n.store.Sliver(id, uint32(pair), kind)
	if errors.Is(err, store.ErrNotFound) {
		return httpapi.Errorf(http.StatusNotFound, "%s sliver of pair %d of blob %v is not stored here", kind, pair, id)
	}
	if err != nil {
		return err
	}
	raw, err := (&blob.SliverMessage{Commitment: *pc, Sliver: *sl}).MarshalBinary()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	n.writeDeadline(w, int64(len(raw)))
	_, err = w.Write(raw)
	return err
}

// Confirmation is a node's signed statement that it stores every pair of
// every shard it holds for a blob.
type Confirmation struct {
	BlobID    blob.ID           `json:"blobId"`
	Epoch     uint64            `json:"epoch"`
	Node      control.PublicKey `json:"node"`
	Shards    []int             `json:"shards"`
	Signature []byte            `json:"signature"`
}

// PairState says which slivers of a pair a node holds.
type PairState struct {
	Shard     int  `json:"shard"`
	Pair      int  `json:"pair"`
	Primary   bool `json:"primary"`
	Secondary bool `json:"secondary"`
}

// HeldSlivers is the answer of GET /v1/blobs/{id}/status: which slivers
// of the blob this node holds, on each of its shards.
type HeldSlivers struct {
	BlobID    blob.ID     `json:"blobId"`
	Certified bool        `json:"certified"`
	Pairs     []PairState `json:"pairs"`
}

func (n *Node) pairStates(id blob.ID) ([]PairState, bool, error) {
	_, shards, _ := n.state()
	p := n.codec.Params()
	all := true
	out := []PairState{}
	for _, shard := range shards {
		pair := p.PairAt(id, shard)
		ps := PairState{Shard: shard, Pair: pair}
		var err error
		if ps.Primary, err = n.store.HasSliver(id, uint32(pair), blob.Primary); err != nil {
			return nil, false, err
		}
		if ps.Secondary, err = n.store.HasSliver(id, uint32(pair), blob.Secondary); err != nil {
			return nil, false, err
		}
		all = all && ps.Primary && ps.Secondary
		out = append(out, ps)
	}
	return out, all && len(shards) > 0, nil
}

func (n *Node) confirmation(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r)
	if err != nil {
		return err
	}
	if _, err := n.liveBlob(r, id); err != nil {
		return err
	}
	epoch, shards, _ := n.state()
	pairs, complete, err := n.pairStates(id)
	if err != nil {
		return err
	}
	if !complete {
		missing := 0
		for _, ps := range pairs {
			if !ps.Primary {
				missing++
			}
			if !ps.Secondary {
				missing++
			}
		}
		return httpapi.Errorf(http.StatusConflict, "%d slivers of this node's %d shards are not stored yet", missing, len(shards))
	}
	sig := ed25519.Sign(n.key, control.ConfirmationMessage(n.params.NetworkID, epoch, id))
	httpapi.JSON(w, Confirmation{BlobID: id, Epoch: epoch, Node: n.id, Shards: shards, Signature: sig})
	return nil
}

func (n *Node) status(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r)
	if err != nil {
		return err
	}
	b, err := n.store.Blob(id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	pairs, _, err := n.pairStates(id)
	if err != nil {
		return err
	}
	httpapi.JSON(w, HeldSlivers{BlobID: id, Certified: b != nil && b.Certified, Pairs: pairs})
	return nil
}

// symbols serves recovery symbols to a peer: a binary recovery.Request
// for many blobs, answered in one compact binary response; blobs under a
// storage challenge are answered missing, with reason Blackout. At most
// SymbolConcurrency requests are served at once; the others wait, with
// their bodies unread. A request that repeats itself, or whose answer or
// extensions would exceed the limits, is refused before any work.
func (n *Node) symbols(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength > maxSymbolRequest {
		n.m.refused.WithLabelValues("too_large").Inc()
		return httpapi.Errorf(http.StatusRequestEntityTooLarge, "symbols request of %d bytes exceeds %d", r.ContentLength, maxSymbolRequest)
	}
	select {
	case n.symSlots <- struct{}{}:
		defer func() { <-n.symSlots }()
	case <-r.Context().Done():
		return httpapi.Errorf(http.StatusServiceUnavailable, "busy")
	}
	release, err := n.reserveBody(w, r, maxSymbolRequest)
	if err != nil {
		return err
	}
	defer release()
	raw, err := n.readBody(w, r, maxSymbolRequest)
	if err != nil {
		return bodyError("symbols request", err)
	}
	defer putBuffer(raw)
	head, body, err := n.ServeSymbols(raw)
	switch {
	case errors.Is(err, recovery.ErrWire), errors.Is(err, recovery.ErrDuplicate):
		return httpapi.Errorf(http.StatusBadRequest, "%v", err)
	case errors.Is(err, recovery.ErrTooLarge):
		return httpapi.Errorf(http.StatusRequestEntityTooLarge, "%v", err)
	case err != nil:
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(body)))
	n.writeDeadline(w, int64(len(head)+len(body)))
	if _, err := w.Write(head); err != nil {
		return err
	}
	_, err = w.Write(body)
	return err
}

// ServeSymbols answers a peer's symbols request (raw, a binary
// recovery.Request) from the node's store: the answer's head and body.
// Blobs under a storage challenge are answered missing (Blackout); the
// rest of the request is served. A request that does not parse wraps
// recovery.ErrWire; one that repeats itself, or whose answer or
// extensions would exceed the limits, is refused before any work
// (recovery.ErrDuplicate, recovery.ErrTooLarge). It is what POST
// /v1/symbols serves, for a caller that carries requests itself.
func (n *Node) ServeSymbols(raw []byte) (head, body []byte, err error) {
	req, err := recovery.DecodeRequest(raw, n.cfg.MaxSymbolsPerRequest)
	if err != nil {
		return nil, nil, err
	}
	for i := range req.Blobs {
		if n.BlackedOut(req.Blobs[i].ID) {
			n.m.refused.WithLabelValues("challenge_blackout").Inc()
		}
	}
	head, body, served, err := recovery.Serve(n.codec, holder{n}, req, recovery.Limits{MaxBytes: maxSymbolAnswer})
	switch {
	case errors.Is(err, recovery.ErrDuplicate):
		n.m.refused.WithLabelValues("duplicate").Inc()
	case errors.Is(err, recovery.ErrTooLarge):
		n.m.refused.WithLabelValues("too_large").Inc()
	}
	if err != nil {
		return nil, nil, err
	}
	n.m.symbols.Add(float64(served))
	return head, body, nil
}

// ServeOwnSymbols answers the node's own recovery from its store, as a
// call to itself does: what a challenge blacks out is withheld from
// peers, not from the node.
func (n *Node) ServeOwnSymbols(req *recovery.Request) (head, body []byte, err error) {
	head, body, _, err = recovery.Serve(n.codec, selfHolder{holder{n}}, req, recovery.Limits{MaxBytes: 1 << 62, MaxExtendBytes: 1 << 62})
	return head, body, err
}

// maxSymbolAnswer bounds one symbols answer; askers keep theirs below
// (recovery.Options.MaxRequestBytes). maxSymbolRequest bounds a request.
const (
	maxSymbolAnswer  = 64 << 20
	maxSymbolRequest = 16 << 20
)

func (n *Node) inconsistency(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r)
	if err != nil {
		return err
	}
	raw, err := n.store.Inconsistency(id)
	if errors.Is(err, store.ErrNotFound) {
		return httpapi.Errorf(http.StatusNotFound, "no inconsistency proof for blob %v", id)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, err = w.Write(raw)
	return err
}

// Body buffers are recycled by power-of-two size class: uploads are big
// and come in a few sizes, and fresh memory for each costs more than the
// copy.
var bufferPools [40]sync.Pool

func getBuffer(n int) []byte {
	c := bits.Len(uint(n))
	if n == 0 || c >= len(bufferPools) {
		return make([]byte, n)
	}
	if v, ok := bufferPools[c].Get().(*[]byte); ok {
		return (*v)[:n]
	}
	return make([]byte, n, 1<<c)
}

// putBuffer recycles a buffer from getBuffer; the caller must not use it
// afterwards.
func putBuffer(b []byte) {
	c := bits.Len(uint(cap(b))) - 1
	if cap(b) == 0 || c >= len(bufferPools) || cap(b) != 1<<c {
		return
	}
	bufferPools[c].Put(&b)
}
