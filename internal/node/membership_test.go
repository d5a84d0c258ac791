package node_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/loopback"
	"github.com/weftnet/weft/internal/node"
)

// TestNodeRegistersAsCandidate: a node whose key is not in the genesis
// registers itself when it first starts; it is a candidate with weight 0
// and gets no shard at the next epoch. A node whose configured address
// is not a bare http(s) URL does not start.
func TestNodeRegistersAsCandidate(t *testing.T) {
	tb := newTestbed(t, 3)
	ctx := context.Background()
	kf := filepath.Join(tb.dir, "keys", "newcomer.key")
	addr, err := loopback.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg := &node.Config{Name: "newcomer", Listen: addr, DataDir: filepath.Join(tb.dir, "data", "newcomer"), KeyFile: kf, ControlPlane: tb.cfgs[0].ControlPlane}
	n := tb.startNode(cfg)
	key, err := keyfile.Load(kf)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := tb.ctl.Node(ctx, control.KeyOf(key))
	if err != nil || rec == nil {
		t.Fatalf("newcomer not registered: %+v %v", rec, err)
	}
	if rec.Weight != 0 || rec.Address != "http://"+n.Addr() || rec.Name != "newcomer" {
		t.Fatalf("newcomer's record: %+v", rec)
	}
	st, err := tb.ctl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The epoch change that leaves candidates out is the state machine's
	// (control.TestCandidatesGetNoShards); here: registering changed no
	// committee.
	com, err := tb.ctl.Committee(ctx, st.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	if com.Weight(control.KeyOf(key)) != 0 || len(com.Members) != 3 {
		t.Fatalf("committee after a candidate registered: %+v", com.Members)
	}

	// A node that left comes back by starting again: it registers anew.
	if _, err := tb.ctl.LeaveCommittee(ctx, rpc.NewSigner(key)); err != nil {
		t.Fatal(err)
	}
	if rec, _ := tb.ctl.Node(ctx, control.KeyOf(key)); rec == nil || !rec.Leaving {
		t.Fatalf("after leaving: %+v", rec)
	}
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	tb.startNode(cfg)
	if rec, _ := tb.ctl.Node(ctx, control.KeyOf(key)); rec == nil || rec.Leaving {
		t.Fatalf("after starting again: %+v", rec)
	}

	bad := *cfg
	bad.Name, bad.Address, bad.KeyFile = "bad", "ftp://127.0.0.1:1", filepath.Join(tb.dir, "keys", "bad.key")
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := node.Start(sctx, &bad, nil); err == nil || !errors.Is(err, control.ErrBadRequest) {
		t.Fatalf("node with an ftp address: %v", err)
	}
}
