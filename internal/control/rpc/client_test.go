package rpc_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/engine"
	"github.com/weftnet/weft/internal/control/rpc"
)

func key(name string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte(name))
	return ed25519.NewKeyFromSeed(s[:])
}

// testNetwork starts one embedded validator with a committee of nodes
// storage nodes holding shards shards.
func testNetwork(t *testing.T, nodes, shards int) (*engine.Validator, []ed25519.PrivateKey, ed25519.PrivateKey) {
	t.Helper()
	admin := key("admin")
	g := control.Genesis{Params: control.Params{NetworkID: "weft-test", Shards: shards, Admin: control.KeyOf(admin), MaxEpochsAhead: 100}}
	var keys []ed25519.PrivateKey
	for i := 0; i < nodes; i++ {
		k := key(fmt.Sprint("node", i))
		keys = append(keys, k)
		g.Nodes = append(g.Nodes, control.NodeRecord{Key: control.KeyOf(k), Name: fmt.Sprint("node", i), Address: fmt.Sprintf("http://127.0.0.1:%d", 9000+i)})
	}
	dir := t.TempDir()
	if _, err := engine.Init(engine.InitConfig{Dir: dir, Validators: 1, Genesis: g, BlockInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	n, err := engine.Start(context.Background(), dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return n, keys, admin
}

func TestEmbeddedValidatorCertifies(t *testing.T) {
	n, nodes, admin := testNetwork(t, 4, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, n.RPC())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil || st.Epoch != 1 || st.Params.Shards != 8 {
		t.Fatalf("status %+v, %v", st, err)
	}
	user := rpc.NewSigner(key("user"))
	root := blob.Hash(sha256.Sum256([]byte("blob")))
	id := blob.ComputeID(blob.RS2D16, 10, root)
	res, err := c.Submit(ctx, user, control.Payload{RegisterBlob: &control.RegisterBlob{ID: id, Length: 10, Encoding: blob.RS2D16, Root: root, EndEpoch: 5}})
	if err != nil || len(res.Events) != 1 || res.Events[0].Type != control.EventBlobRegistered {
		t.Fatalf("register: %+v %v", res, err)
	}
	// A certificate short of quorum is rejected with a typed error.
	cert := &control.Certificate{ID: id, Epoch: st.Epoch}
	for _, k := range nodes[:2] {
		cert.Signatures = append(cert.Signatures, control.Signature{Node: control.KeyOf(k), Sig: ed25519.Sign(k, control.ConfirmationMessage("weft-test", st.Epoch, id))})
	}
	if _, err := c.Submit(ctx, user, control.Payload{CertifyBlob: cert}); !errors.Is(err, control.ErrCertificate) {
		t.Fatalf("short certificate: got %v, want ErrCertificate", err)
	}
	for _, k := range nodes[2:] {
		cert.Signatures = append(cert.Signatures, control.Signature{Node: control.KeyOf(k), Sig: ed25519.Sign(k, control.ConfirmationMessage("weft-test", st.Epoch, id))})
	}
	if _, err := c.Submit(ctx, user, control.Payload{CertifyBlob: cert}); err != nil {
		t.Fatalf("certify: %v", err)
	}
	info, err := c.Blob(ctx, id)
	if err != nil || info.Status != control.StatusCertified {
		t.Fatalf("blob after certify: %+v %v", info, err)
	}
	if _, err := c.Submit(ctx, rpc.NewSigner(admin), control.Payload{AdvanceEpoch: &control.AdvanceEpoch{Epoch: 2}}); err != nil {
		t.Fatal(err)
	}
	// Following from the start sees every event in order.
	var seen []control.Event
	fctx, fcancel := context.WithCancel(ctx)
	err = c.Follow(fctx, 0, func(ev control.Event) error {
		seen = append(seen, ev)
		if ev.Type == control.EventEpochChanged && ev.Epoch == 2 {
			fcancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	for i, ev := range seen {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	t.Logf("%d events, last %+v", len(seen), seen[len(seen)-1])
	live, err := c.LiveBlobs(ctx, nil, 10)
	if err != nil || len(live) != 1 {
		t.Fatalf("live blobs %v %v", live, err)
	}
	if _, err := c.Blob(ctx, blob.ID{}); err != nil {
		t.Fatalf("unknown blob query: %v", err)
	}
}

// TestEpochSyncThroughClient: a leave moves shards, so the next epoch is
// syncing; EpochSyncDone from members worth n − f shards makes it done,
// and a duplicate or a non-member's attestation is refused at admission.
func TestEpochSyncThroughClient(t *testing.T) {
	n, nodes, admin := testNetwork(t, 4, 8) // n = 8, f = 2, quorum 6; two shards each
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, n.RPC())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil || st.EpochState != control.EpochDone || st.PreviousEpoch != 0 {
		t.Fatalf("genesis status %+v, %v", st, err)
	}
	if prev, err := c.PreviousCommittee(ctx, st); err != nil || prev != nil {
		t.Fatalf("previous committee at epoch 1: %+v, %v", prev, err)
	}
	leaver := rpc.NewSigner(nodes[3])
	if _, err := c.LeaveCommittee(ctx, leaver); err != nil {
		t.Fatalf("leave: %v", err)
	}
	if _, err := c.LeaveCommittee(ctx, leaver); !errors.Is(err, control.ErrBadRequest) {
		t.Fatalf("second leave: got %v, want ErrBadRequest", err)
	}
	if _, err := c.Submit(ctx, rpc.NewSigner(admin), control.Payload{AdvanceEpoch: &control.AdvanceEpoch{Epoch: 2}}); err != nil {
		t.Fatal(err)
	}
	st, err = c.Status(ctx)
	if err != nil || st.Epoch != 2 || st.EpochState != control.EpochSyncing || st.PreviousEpoch != 1 {
		t.Fatalf("status after the leave: %+v, %v", st, err)
	}
	com, err := c.Committee(ctx, 0)
	if err != nil || com.Weight(control.KeyOf(nodes[3])) != 0 || len(com.Members) != 3 {
		t.Fatalf("committee of epoch 2: %+v, %v", com, err)
	}
	prev, err := c.PreviousCommittee(ctx, st)
	if err != nil || prev.Epoch != 1 || prev.Weight(control.KeyOf(nodes[3])) != 2 {
		t.Fatalf("previous committee: %+v, %v", prev, err)
	}
	// The leaver is no member of epoch 2: refused before it is admitted.
	if err := c.Broadcast(ctx, mustSign(t, leaver, c.NetworkID(), control.Payload{EpochSyncDone: &control.EpochSyncDone{Epoch: 2}})); !errors.Is(err, control.ErrNotAllowed) {
		t.Fatalf("sync done from the leaver: got %v, want ErrNotAllowed", err)
	}
	// Attestations count shards of epoch 2's committee (3, 3 and 2 of 8):
	// the epoch is done exactly when they reach the quorum of 6.
	weight := 0
	for i, k := range nodes[:3] {
		s := rpc.NewSigner(k)
		res, err := c.EpochSyncDone(ctx, s, 2)
		if err != nil {
			t.Fatalf("sync done from member %d: %v", i, err)
		}
		weight += com.Weight(s.Key())
		st, err := c.Status(ctx)
		if err != nil || st.SyncedWeight != weight {
			t.Fatalf("after %d attestations: %+v, %v", i+1, st, err)
		}
		done := weight >= st.Params.Quorum()
		if (st.EpochState == control.EpochDone) != done || (res.Events[len(res.Events)-1].Type == control.EventEpochDone) != done {
			t.Fatalf("after %d attestations worth %d shards: state %s, events %+v", i+1, weight, st.EpochState, res.Events)
		}
		if done {
			break
		}
		if _, err := c.EpochSyncDone(ctx, s, 2); !errors.Is(err, control.ErrAttested) {
			t.Fatalf("duplicate sync done: got %v, want ErrAttested", err)
		}
	}
	ch, err := c.EpochChange(ctx, 2)
	if err != nil || ch.State != control.EpochDone || ch.SyncedWeight != weight || weight < 6 {
		t.Fatalf("epoch change 2: %+v, %v", ch, err)
	}
	if _, err := c.EpochSyncDone(ctx, rpc.NewSigner(nodes[0]), 2); !errors.Is(err, control.ErrAttested) {
		t.Fatalf("sync done again after done: got %v, want ErrAttested", err)
	}
	if _, err := c.EpochSyncDone(ctx, rpc.NewSigner(nodes[0]), 3); !errors.Is(err, control.ErrEpoch) {
		t.Fatalf("sync done for a future epoch: got %v, want ErrEpoch", err)
	}
}

func mustSign(t *testing.T, s *rpc.Signer, networkID string, p control.Payload) []byte {
	t.Helper()
	raw, err := s.Sign(networkID, p)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
