package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/engine"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/loopback"
	"github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/units"
)

// network starts an embedded control plane and storage nodes in-process
// (4 nodes × 3 of 12 shards: f = 3, so one node may fail) and returns a
// client and the nodes.
func network(t *testing.T) (*client.Client, []*node.Node) {
	t.Helper()
	tn := startNetwork(t)
	return tn.c, tn.nodes
}

// testNetwork is network's network, with what tests of membership need.
type testNetwork struct {
	c     *client.Client
	nodes []*node.Node
	dir   string
	admin ed25519.PrivateKey // the governance key
	rpc   string
}

func startNetwork(t *testing.T) *testNetwork {
	t.Helper()
	return startNetworkWith(t, nil)
}

// startNetworkWith is startNetwork where node i is registered at the
// address wrap(i, addr) returns (a proxy in front of addr) when wrap is
// not nil.
func startNetworkWith(t *testing.T, wrap func(i int, addr string) string) *testNetwork {
	t.Helper()
	dir := t.TempDir()
	admin, err := keyfile.LoadOrCreate(filepath.Join(dir, "keys", "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	g := control.Genesis{Params: control.Params{NetworkID: "weft-client-test", Shards: 12, MaxEpochsAhead: 100, Admin: control.KeyOf(admin)}}
	var cfgs []*node.Config
	for i := 0; i < 4; i++ {
		kf := filepath.Join(dir, "keys", fmt.Sprintf("node-%d.key", i))
		k, err := keyfile.LoadOrCreate(kf)
		if err != nil {
			t.Fatal(err)
		}
		addr := freeAddr(t)
		public := "http://" + addr
		if wrap != nil {
			public = wrap(i, addr)
		}
		g.Nodes = append(g.Nodes, control.NodeRecord{Key: control.KeyOf(k), Name: fmt.Sprint("node-", i), Address: public})
		cfgs = append(cfgs, &node.Config{Name: fmt.Sprint("node-", i), Listen: addr, DataDir: filepath.Join(dir, fmt.Sprint("data-", i)), KeyFile: kf})
	}
	cp := filepath.Join(dir, "control")
	if _, err := engine.Init(engine.InitConfig{Dir: cp, Validators: 1, Genesis: g, BlockInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	v, err := engine.Start(context.Background(), cp, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Shutdown(context.Background()) })
	ctx := context.Background()
	var nodes []*node.Node
	for _, c := range cfgs {
		c.ControlPlane = v.RPC()
		n, err := node.Start(ctx, c, log.New(io.Discard, "", 0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Shutdown(context.Background()) })
		nodes = append(nodes, n)
	}
	c, err := client.New(ctx, client.Config{ControlPlane: v.RPC(), KeyFile: filepath.Join(dir, "keys", "client.key"), NodeTimeout: units.Duration(10 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &testNetwork{c: c, nodes: nodes, dir: dir, admin: admin, rpc: v.RPC()}
}

func TestStoreReadOneNodeDown(t *testing.T) {
	c, nodes := network(t)
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	var ids []blob.ID
	var blobs [][]byte
	for _, size := range []int{0, 1, 1000, 300_000} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		r, err := c.Store(ctx, data, client.StoreOptions{Epochs: 3, Deletable: true})
		if err != nil {
			t.Fatalf("store %d bytes: %v", size, err)
		}
		if r.Size != int64(size) || r.CertifiedEpoch == 0 || r.AlreadyCertified {
			t.Fatalf("store result %+v", r)
		}
		got, err := c.Read(ctx, r.BlobID)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes back: %v", size, err)
		}
		ids, blobs = append(ids, r.BlobID), append(blobs, data)
	}
	// Storing the same bytes again uploads nothing.
	if r, err := c.Store(ctx, blobs[3], client.StoreOptions{Epochs: 3}); err != nil || !r.AlreadyCertified {
		t.Fatalf("second store: %+v %v", r, err)
	}
	// Byte ranges.
	for i := 0; i < 20; i++ {
		off := rng.Int64N(300_000)
		n := rng.Int64N(300_000 - off + 10)
		got, err := c.ReadRange(ctx, ids[3], off, n)
		want := blobs[3][off:min(off+n, 300_000)]
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("range %d+%d: %d bytes, %v", off, n, len(got), err)
		}
	}
	// One node (3 shards = f) down: writes and reads go on.
	down := rng.IntN(4)
	nodes[down].Shutdown(context.Background())
	data := bytes.Repeat([]byte("weft"), 50_000)
	r, err := c.Store(ctx, data, client.StoreOptions{})
	if err != nil {
		t.Fatalf("store with node %d down: %v", down, err)
	}
	for i, id := range append(ids, r.BlobID) {
		want := data
		if i < len(blobs) {
			want = blobs[i]
		}
		got, err := c.Read(ctx, id)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read with node %d down: %v", down, err)
		}
	}
	// Unknown and deleted blobs are not available.
	if _, err := c.Read(ctx, blob.ID{42}); !errors.Is(err, client.ErrNotAvailable) {
		t.Fatalf("unknown blob: %v", err)
	}
	if err := c.Delete(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(ctx, ids[2]); !errors.Is(err, client.ErrNotAvailable) {
		t.Fatalf("deleted blob: %v", err)
	}
	if info, _ := c.Status(ctx, ids[2]); info.Status != chain.StatusDeleted {
		t.Fatalf("status after delete: %s", info.Status)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	// Below the ephemeral range, so that no outgoing connection takes
	// the port before the server binds it.
	addr, err := loopback.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
