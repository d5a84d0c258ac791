package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weftnet/weft/internal/control"
)

// TestNodeLeaveAndEpochState: weft node leave takes the node out of the
// next committee; weft info then shows the epoch syncing, the previous
// committee and each member's weight.
func TestNodeLeaveAndEpochState(t *testing.T) {
	dir := t.TempDir()
	rpc, adminKey, keys := testControlPlane(t, dir, 1, 2, 3)
	clientCfg := filepath.Join(dir, "client.json")
	raw, _ := json.Marshal(map[string]string{"controlPlane": rpc})
	os.WriteFile(clientCfg, raw, 0o600)

	type info struct {
		EpochState        string             `json:"epochState"`
		Committee         *control.Committee `json:"committee"`
		PreviousCommittee *control.Committee `json:"previousCommittee"`
	}
	getInfo := func() (info, string) {
		t.Helper()
		code, out, errs := run(t, "", "info", "--json", "--config", clientCfg)
		if code != 0 {
			t.Fatalf("info --json: code %d, err %q", code, errs)
		}
		var got info
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("info --json: %v\n%s", err, out)
		}
		return got, out
	}
	got, out := getInfo()
	if got.EpochState != "done" || got.PreviousCommittee != nil || !strings.Contains(out, `"previousCommittee": null`) || len(got.Committee.Members) != 3 {
		t.Fatalf("info at epoch 1:\n%s", out)
	}

	nodeCfg := filepath.Join(dir, "node.json")
	raw, _ = json.Marshal(map[string]string{"name": "g2", "listen": "127.0.0.1:9402", "dataDir": filepath.Join(dir, "data"),
		"keyFile": keys[2], "controlPlane": rpc})
	os.WriteFile(nodeCfg, raw, 0o600)
	code, out, errs := run(t, "", "node", "leave", "--config", nodeCfg)
	if code != 0 || !strings.Contains(out, "leaves the committee from epoch 2") || strings.Count(out, "\n") != 1 {
		t.Fatalf("node leave: code %d, out %q, err %q", code, out, errs)
	}
	if code, _, errs := run(t, "", "node", "leave", "--config", nodeCfg); code == 0 || !strings.Contains(errs, "already leaving") {
		t.Fatalf("second leave: code %d, err %q", code, errs)
	}
	if code, _, errs := run(t, "", "node", "leave"); code != 2 || !strings.Contains(errs, "--config") {
		t.Fatalf("leave without a config: code %d, err %q", code, errs)
	}
	if code, _, errs := run(t, "", "admin", "advance-epoch", "--admin-key", adminKey, "--control-plane", rpc); code != 0 {
		t.Fatalf("advance-epoch: code %d, err %q", code, errs)
	}
	got, out = getInfo()
	if got.EpochState != "syncing" || got.PreviousCommittee == nil || got.PreviousCommittee.Epoch != 1 || len(got.PreviousCommittee.Members) != 3 ||
		got.Committee.Epoch != 2 || len(got.Committee.Members) != 2 {
		t.Fatalf("info after the leave:\n%s", out)
	}
	for _, m := range got.Committee.Members {
		if m.Weight == 0 || m.Name == "g2" {
			t.Fatalf("member %+v", m)
		}
	}
	code, out, errs = run(t, "", "info", "--config", clientCfg)
	if code != 0 || !strings.Contains(out, "epoch 2 (syncing from epoch 1, 0 of 6 shards synced)") ||
		!strings.Contains(out, "weight 2") || !strings.Contains(out, "previous committee (epoch 1):") || !strings.Contains(out, "g2") {
		t.Fatalf("info: code %d, out %q, err %q", code, out, errs)
	}
}
