package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/engine"
	"github.com/weftnet/weft/internal/keyfile"
)

// testControlPlane starts an embedded validator whose genesis lists one
// node per weight (keys in dir, addresses that nothing serves) and a
// governance key; it returns the RPC URL, the governance key file and the
// node key files.
func testControlPlane(t *testing.T, dir string, weights ...uint64) (rpc, adminKey string, nodeKeys []string) {
	t.Helper()
	adminKey = filepath.Join(dir, "admin.key")
	admin, err := keyfile.LoadOrCreate(adminKey)
	if err != nil {
		t.Fatal(err)
	}
	g := control.Genesis{Params: control.Params{NetworkID: "weft-cli-test", Shards: 8, Admin: control.KeyOf(admin), MaxEpochsAhead: 10}}
	for i, w := range weights {
		path := filepath.Join(dir, fmt.Sprint("genesis-", i, ".key"))
		k, err := keyfile.LoadOrCreate(path)
		if err != nil {
			t.Fatal(err)
		}
		nodeKeys = append(nodeKeys, path)
		g.Nodes = append(g.Nodes, control.NodeRecord{Key: control.KeyOf(k), Name: fmt.Sprint("g", i), Address: fmt.Sprintf("http://127.0.0.1:%d", 9400+i), Weight: w})
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
	return v.RPC(), adminKey, nodeKeys
}
