package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/forge"
	"github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/internal/testseed"
)

// TestInconsistentBlobIsInvalidated: a malicious writer stores a blob
// whose grid is not one codeword and gets it certified without one node.
// That node, rebuilding its pair, proves the blob inconsistent; the other
// nodes check the proof and attest; the blob is marked invalid on the
// control plane, every node drops it, and reads refuse it.
func TestInconsistentBlobIsInvalidated(t *testing.T) {
	tb := newTestbed(t, 4)
	rng := testseed.Rand(t)
	data := make([]byte, 30_000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	honest, err := tb.codec.Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	const victim = 1
	shards := health(t, tb.nodes[victim]).Shards
	e, row, err := forge.TamperForShard(tb.codec, honest, shards[0], rng.IntN(shards[0]+1))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("row %d of blob %v is at odds with its columns; node %d holds it", row, e.ID, victim)
	ctx := context.Background()
	if _, err := tb.ctl.Submit(ctx, tb.user, control.Payload{RegisterBlob: &control.RegisterBlob{
		ID: e.ID, Length: e.Length, Encoding: blob.RS2D16, Root: e.Root, EndEpoch: 10}}); err != nil {
		t.Fatal(err)
	}
	// Every node but the victim gets its slivers (each verifies) and
	// confirms; that is a quorum.
	var sigs []control.Signature
	for i, n := range tb.nodes {
		if i == victim {
			continue
		}
		mine, _ := tb.pairsOf(e, i)
		for _, pair := range mine {
			for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
				if code, body := do(t, "PUT", sliverURL(n, e.ID, pair, k), message(e, pair, k)); code != http.StatusCreated {
					t.Fatalf("node %d pair %d %s: %d %s", i, pair, k, code, body)
				}
			}
		}
		code, body := do(t, "GET", url(n, "/v1/blobs/%s/confirmation", e.ID), nil)
		var c node.Confirmation
		if code != http.StatusOK || json.Unmarshal(body, &c) != nil {
			t.Fatalf("confirmation of node %d: %d %s", i, code, body)
		}
		sigs = append(sigs, control.Signature{Node: c.Node, Sig: c.Signature})
	}
	epoch := health(t, tb.nodes[0]).Epoch
	if _, err := tb.ctl.Submit(ctx, tb.user, control.Payload{CertifyBlob: &control.Certificate{ID: e.ID, Epoch: epoch, Signatures: sigs}}); err != nil {
		t.Fatal(err)
	}
	// The victim recovers, finds out, and has the blob marked invalid.
	deadline := time.Now().Add(60 * time.Second)
	for {
		info, err := tb.ctl.Blob(ctx, e.ID)
		if err == nil && info.Status == control.StatusInvalid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("blob still %v", info.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The victim counts its submission once the commit answered it.
	for metric(t, tb.nodes[victim], "weft_invalidations_submitted_total") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("victim submitted %v invalidations", metric(t, tb.nodes[victim], "weft_invalidations_submitted_total"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	attested := 0.0
	for i, n := range tb.nodes {
		if i != victim {
			attested += metric(t, n, "weft_inconsistency_attestations_total")
		}
	}
	if attested == 0 {
		t.Fatal("no node attested")
	}
	// Every node, once it has followed the control plane past the
	// invalidation, has dropped it and refuses it.
	st, err := tb.ctl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range tb.nodes {
		for health(t, n).Cursor < st.NextSeq-1 {
			if time.Now().After(deadline) {
				t.Fatalf("node %d does not follow the control plane", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
		mine, _ := tb.pairsOf(e, i)
		if code, _ := do(t, "GET", sliverURL(n, e.ID, mine[0], blob.Primary), nil); code != http.StatusNotFound {
			t.Fatalf("node %d still serves the invalid blob: %d", i, code)
		}
		if code, _ := do(t, "PUT", sliverURL(n, e.ID, mine[0], blob.Primary), message(e, mine[0], blob.Primary)); code != http.StatusUnprocessableEntity {
			t.Fatalf("node %d: upload of an invalid blob: %d, want 422", i, code)
		}
	}
	if _, err := tb.sdk().Read(ctx, e.ID); !errors.Is(err, client.ErrNotAvailable) {
		t.Fatalf("read of an invalid blob: %v", err)
	}
}

// TestAttestRefusesBadProofs: a node signs nothing for a proof that does
// not hold, is malformed, or names an unknown blob.
func TestAttestRefusesBadProofs(t *testing.T) {
	tb := newTestbed(t, 1)
	n := tb.nodes[0]
	e := tb.register(make([]byte, 5000), false)
	// A well-formed proof over a consistent blob shows nothing.
	p := tb.codec.Params()
	var syms []blob.RecoverySymbol
	for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
		idx := p.PrimaryOf(2)
		if k == blob.Secondary {
			idx = p.SecondaryOf(2)
		}
		for src := 0; src < p.SliverLen(k); src++ {
			sl := e.Sliver(k.Other(), src)
			ss, err := tb.codec.NewSymbolSource(e.Length, &sl, &e.Pairs[p.PairOf(k.Other(), src)])
			if err != nil {
				t.Fatal(err)
			}
			sym, err := ss.Symbol(idx, true)
			if err != nil {
				t.Fatal(err)
			}
			syms = append(syms, sym)
		}
	}
	proof := blob.PairsInconsistencyProof{Pairs: []uint32{2}, Known: []blob.PairCommitment{e.Pairs[3]}, Symbols: syms}
	raw, err := proof.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		id   blob.ID
		body []byte
		code int
	}{
		{"consistent blob", e.ID, raw, http.StatusUnprocessableEntity},
		{"malformed", e.ID, []byte{1, 'P', 0}, http.StatusBadRequest},
		{"not a proof", e.ID, []byte("hello"), http.StatusBadRequest},
		{"unknown blob", blob.ID{4}, raw, http.StatusNotFound},
	} {
		code, body := do(t, "POST", url(n, "/v1/blobs/%s/inconsistency", tc.id), tc.body)
		if code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.code)
		}
	}
	if a := metric(t, n, "weft_inconsistency_attestations_total"); a != 0 {
		t.Fatalf("%v attestations given", a)
	}
}
