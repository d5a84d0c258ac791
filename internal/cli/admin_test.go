package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/loopback"
)

// TestMembershipCommands: weft node register makes a candidate with
// weight 0; weft admin set-weight (the governance key only) gives it
// weight; weft admin advance-epoch puts it in the committee.
func TestMembershipCommands(t *testing.T) {
	dir := t.TempDir()
	rpcURL, adminKey, _ := testControlPlane(t, dir, 1, 1, 1)

	addr, _ := loopback.FreeAddr()
	nodeKey := filepath.Join(dir, "new.key")
	cfg, _ := json.Marshal(map[string]string{"name": "newcomer", "listen": addr, "dataDir": filepath.Join(dir, "data"),
		"keyFile": nodeKey, "controlPlane": rpcURL})
	cfgPath := filepath.Join(dir, "node.json")
	os.WriteFile(cfgPath, cfg, 0o600)
	code, out, errs := run(t, "", "node", "register", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "with weight 0") {
		t.Fatalf("node register: code %d, out %q, err %q", code, out, errs)
	}
	k, _ := keyfile.Load(nodeKey)
	key := control.KeyOf(k).String()

	// Any other key is refused; the governance key is not.
	other := filepath.Join(dir, "other.key")
	keyfile.LoadOrCreate(other)
	if code, _, errs := run(t, "", "admin", "set-weight", key, "3", "--admin-key", other, "--control-plane", rpcURL); code == 0 || !strings.Contains(errs, "only the governance key") {
		t.Fatalf("set-weight with another key: code %d, err %q", code, errs)
	}
	if code, _, errs := run(t, "", "admin", "set-weight", key, "3", "--control-plane", rpcURL); code != 2 || !strings.Contains(errs, "--admin-key") {
		t.Fatalf("set-weight without a key: code %d, err %q", code, errs)
	}
	if code, out, errs := run(t, "", "admin", "set-weight", key, "3", "--admin-key", adminKey, "--control-plane", rpcURL); code != 0 || !strings.Contains(out, "weight 3 from epoch 2") {
		t.Fatalf("set-weight: code %d, out %q, err %q", code, out, errs)
	}
	if code, out, errs := run(t, "", "admin", "advance-epoch", "--admin-key", adminKey, "--control-plane", rpcURL); code != 0 || out != "epoch 2 started\n" {
		t.Fatalf("advance-epoch: code %d, out %q, err %q", code, out, errs)
	}
	ctx := context.Background()
	c, err := rpc.Dial(ctx, rpcURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	com, err := c.Committee(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Weights 1, 1, 1, 3 over 8 shards (control.Apportion): the heavier
	// newcomer holds at least as many as any genesis node.
	w := com.Weight(control.KeyOf(k))
	for _, m := range com.Members {
		if m.Key != control.KeyOf(k) && len(m.Shards) > w {
			t.Fatalf("weight 3 holds %d shards, a weight-1 node %d", w, len(m.Shards))
		}
	}
	if w == 0 {
		t.Fatalf("the weighted node is not in the committee: %+v", com.Members)
	}
}
