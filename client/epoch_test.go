package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/node"
)

// TestStoreAcrossEpochBoundary: the epoch changes — and shards move to a
// new node — between a store's uploads and its certificate. The store
// does not fail: it uploads to the new committee only what its members
// lack (the new node's pairs) and certifies in the new epoch.
func TestStoreAcrossEpochBoundary(t *testing.T) {
	tn := startNetwork(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A fifth node, a candidate until governance gives it weight.
	kf := filepath.Join(tn.dir, "keys", "fifth.key")
	// Any port: the node registers the address it bound.
	fifth, err := node.Start(ctx, &node.Config{Name: "fifth", Listen: "127.0.0.1:0", DataDir: filepath.Join(tn.dir, "data-fifth"), KeyFile: kf, ControlPlane: tn.rpc}, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fifth.Shutdown(context.Background()) })
	key, _ := keyfile.Load(kf)
	admin := rpc.NewSigner(tn.admin)
	ctl := client.Control(tn.c)

	data := bytes.Repeat([]byte("across the boundary "), 20_000)
	id, err := tn.c.Codec().BlobID(data)
	if err != nil {
		t.Fatal(err)
	}
	p := tn.c.Codec().Params()
	symbol := int64(p.SymbolSize(uint64(len(data))))
	var moved atomic.Bool
	var missing int64 // sliver bytes the old owners lacked when the epoch moved
	client.SetBeforeCertify(tn.c, func() {
		if moved.Swap(true) {
			return
		}
		for _, n := range tn.nodes {
			var st node.HeldSlivers
			if err := getJSON("http://"+n.Addr()+"/v1/blobs/"+id.String()+"/status", &st); err != nil {
				t.Error(err)
				return
			}
			for _, ps := range st.Pairs {
				if !ps.Primary {
					missing += symbol * int64(p.Ks)
				}
				if !ps.Secondary {
					missing += symbol * int64(p.Kp)
				}
			}
		}
		if _, err := ctl.Submit(ctx, admin, control.Payload{SetWeight: &control.SetWeight{Node: control.KeyOf(key), Weight: 1}}); err != nil {
			t.Error(err)
			return
		}
		st, err := ctl.Status(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := ctl.Submit(ctx, admin, control.Payload{AdvanceEpoch: &control.AdvanceEpoch{Epoch: st.Epoch + 1}}); err != nil {
			t.Error(err)
		}
	})
	var sent atomic.Int64
	r, err := tn.c.Store(ctx, data, client.StoreOptions{Epochs: 5, Progress: func(done, _ int64) { sent.Store(done) }})
	if err != nil {
		t.Fatalf("store across an epoch change: %v", err)
	}
	com, err := ctl.Committee(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	gained := com.Weight(control.KeyOf(key))
	if r.CertifiedEpoch != com.Epoch || gained == 0 {
		t.Fatalf("certified in epoch %d, committee epoch %d; the new node holds %d shards", r.CertifiedEpoch, com.Epoch, gained)
	}
	// The second upload sends the new node's pairs and what the first
	// left out (it stops at quorum plus a grace), not the whole blob.
	pair := symbol * int64(p.Ks+p.Kp)
	need := int64(gained)*pair + missing
	second := sent.Load() - (r.EncodedSize - missing)
	t.Logf("encoded %d bytes; the first upload left %d out; the second sent %d for the new node's %d shards (%d bytes of pairs)", r.EncodedSize, missing, second, gained, int64(gained)*pair)
	if second > need {
		t.Fatalf("the second upload sent %d bytes, %d were needed", second, need)
	}
	if got, err := tn.c.Read(ctx, r.BlobID); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
