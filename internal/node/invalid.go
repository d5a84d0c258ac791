package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/httpapi"
	"github.com/weftnet/weft/internal/store"
)

// Inconsistent blobs. A node whose recovery proves a blob inconsistently
// encoded keeps the proof (x/<id>) and has it marked invalid on the
// control plane: it posts the proof to the other committee members, each
// checks it against the blob ID alone and signs an attestation, and once
// the attestations (its own included) are worth f + 1 shards it submits
// them. Nodes then drop the blob on the BlobInvalid event, and reads
// answer "invalid". The effort resumes after a restart, from the stored
// proofs.

// Attestation is a node's signed statement, after checking an
// inconsistency proof, that a blob is inconsistently encoded: a
// Confirmation's fields, with the signature over the control plane's
// invalid-blob message.
type Attestation Confirmation

// verifyProof checks an inconsistency proof in either wire form against
// the blob ID.
func (n *Node) verifyProof(id blob.ID, length uint64, raw []byte) error {
	p, err := blob.DecodeProof(raw)
	if err != nil {
		return err
	}
	return n.codec.VerifyProof(id, length, p)
}

// attest answers POST /v1/blobs/{id}/inconsistency: it checks the proof
// in the body and, if it holds, signs an attestation and keeps the proof.
func (n *Node) attest(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r)
	if err != nil {
		return err
	}
	info, err := n.ctl.Blob(r.Context(), id)
	if err != nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "cannot reach the control plane: %v", err)
	}
	if info.Status == control.StatusUnknown {
		return httpapi.Errorf(http.StatusNotFound, "blob %v is not registered", id)
	}
	// No proof worth checking for this blob is longer than limit.
	limit := min(maxProof(n.codec.Params(), info.Length), n.cfg.MaxBodyBytes)
	if r.ContentLength > limit {
		n.m.refused.WithLabelValues("too_large").Inc()
		return httpapi.Errorf(http.StatusRequestEntityTooLarge, "proof of %d bytes: a proof for this blob has at most %d", r.ContentLength, limit)
	}
	// Checking a proof rebuilds slivers: it shares the symbol slots, and
	// the body is read only once it has one.
	select {
	case n.symSlots <- struct{}{}:
		defer func() { <-n.symSlots }()
	case <-r.Context().Done():
		return httpapi.Errorf(http.StatusServiceUnavailable, "busy")
	}
	release, err := n.reserveBody(w, r, limit)
	if err != nil {
		return err
	}
	defer release()
	buf, err := n.readBody(w, r, limit)
	if err != nil {
		return bodyError("proof", err)
	}
	raw := bytes.Clone(buf) // kept by the store: the buffer is recycled
	putBuffer(buf)
	err = n.verifyProof(id, info.Length, raw)
	if err != nil {
		if errors.Is(err, blob.ErrWire) {
			return httpapi.Errorf(http.StatusBadRequest, "%v", err)
		}
		return httpapi.Errorf(http.StatusUnprocessableEntity, "the proof does not show blob %v inconsistent: %v", id, err)
	}
	if _, err := n.store.Inconsistency(id); errors.Is(err, store.ErrNotFound) && info.Status != control.StatusInvalid {
		if err := n.store.PutInconsistency(id, raw); err != nil {
			return err
		}
	}
	epoch, shards, _ := n.state()
	n.m.attestations.Inc()
	httpapi.JSON(w, Attestation{BlobID: id, Epoch: epoch, Node: n.id, Shards: shards,
		Signature: ed25519.Sign(n.key, control.InvalidMessage(n.params.NetworkID, epoch, id))})
	return nil
}

// invalidateLoop has every blob with a stored proof marked invalid, as
// proofs come (n.invalid) and from those on disk at start.
func (n *Node) invalidateLoop(ctx context.Context) {
	var pending []blob.ID
	err := n.store.Inconsistencies(func(id blob.ID) error { pending = append(pending, id); return nil })
	if err != nil {
		n.logger.Printf("node: reading stored inconsistency proofs: %v", err)
	}
	for _, id := range pending {
		n.bg.Add(1)
		go func() {
			defer n.bg.Done()
			n.invalidate(ctx, id)
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-n.invalid:
			n.bg.Add(1)
			go func() {
				defer n.bg.Done()
				n.invalidate(ctx, id)
			}()
		}
	}
}

// invalidate gathers attestations for a blob this node holds a proof of,
// and submits them, retrying with back-off until the blob is invalid or
// gone.
func (n *Node) invalidate(ctx context.Context, id blob.ID) {
	backoff := time.Second
	for ctx.Err() == nil {
		done, err := n.tryInvalidate(ctx, id)
		if done {
			return
		}
		n.logger.Printf("node: having blob %v marked invalid: %v (retrying in %v)", id, err, backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// tryInvalidate makes one attempt; done says there is nothing more to do.
func (n *Node) tryInvalidate(ctx context.Context, id blob.ID) (done bool, err error) {
	info, err := n.ctl.Blob(ctx, id)
	if err != nil {
		return false, err
	}
	if info.Status != control.StatusRegistered && info.Status != control.StatusCertified {
		return true, nil // invalid already, or gone
	}
	raw, err := n.store.Inconsistency(id)
	if err != nil {
		return errors.Is(err, store.ErrNotFound), err
	}
	n.mu.RLock()
	epoch, com := n.epoch, n.committee
	n.mu.RUnlock()
	if com == nil {
		return false, errors.New("no committee known")
	}
	msg := control.InvalidMessage(n.params.NetworkID, epoch, id)
	var sigs []control.Signature
	weight := 0
	members := append([]control.Member(nil), com.Members...)
	rand.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	for _, m := range members {
		if weight >= n.params.Validity() {
			break
		}
		if m.Key == n.id {
			sigs = append(sigs, control.Signature{Node: n.id, Sig: ed25519.Sign(n.key, msg)})
			weight += len(m.Shards)
			continue
		}
		a, err := n.askAttestation(ctx, m, id, raw)
		if err != nil {
			n.logger.Printf("node: attestation of blob %v from %s: %v", id, m.Name, err)
			continue
		}
		if a.BlobID != id || a.Epoch != epoch || a.Node != m.Key || !ed25519.Verify(m.Key[:], msg, a.Signature) {
			n.logger.Printf("node: attestation of blob %v from %s does not verify", id, m.Name)
			continue
		}
		sigs = append(sigs, control.Signature{Node: m.Key, Sig: a.Signature})
		weight += len(m.Shards)
	}
	if weight < n.params.Validity() {
		return false, fmt.Errorf("attestations worth %d shards, need %d", weight, n.params.Validity())
	}
	n.submitMu.Lock()
	_, err = n.ctl.Submit(ctx, n.signer, control.Payload{InvalidateBlob: &control.Certificate{ID: id, Epoch: epoch, Signatures: sigs}})
	n.submitMu.Unlock()
	if err != nil {
		if errors.Is(err, control.ErrBlobState) {
			return true, nil // someone else was first
		}
		return false, err
	}
	n.m.invalidations.Inc()
	n.logger.Printf("node: blob %v marked invalid with attestations worth %d shards", id, weight)
	return true, nil
}

// askAttestation posts a proof to a committee member.
func (n *Node) askAttestation(ctx context.Context, m control.Member, id blob.ID, proof []byte) (*Attestation, error) {
	body, err := n.post(ctx, m.Address+"/v1/blobs/"+id.String()+"/inconsistency", proof, 1<<20, time.Duration(n.cfg.RecoveryTimeout))
	if err != nil {
		return nil, err
	}
	var a Attestation
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	return &a, nil
}
