package devnet_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/redstuff"
)

// restartWith starts node i by hand with another config file.
func (n *net_) restartWith(i int, config string) {
	n.t.Helper()
	cmd := exec.Command(weftBin, "node", "--config", config)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.Contains(line, "listening") {
		n.t.Fatalf("node %d did not start: %q %v\n%s", i, line, err, stderr.String())
	}
	n.nodes[i] = cmd
}

// wipe kills node i with SIGKILL and deletes its data directory; its
// identity key stays.
func (n *net_) wipe(i int) {
	n.t.Helper()
	n.kill(i)
	if err := os.RemoveAll(n.layout.Nodes[i].DataDir); err != nil {
		n.t.Fatal(err)
	}
}

func (n *net_) get(i int, path string) (int, []byte) {
	n.t.Helper()
	resp, err := http.Get(n.layout.Nodes[i].API + path)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// metric sums a Prometheus metric's samples on node i (-1 if the node
// does not answer).
func (n *net_) metric(i int, name string) float64 {
	n.t.Helper()
	code, body := n.get(i, "/metrics")
	if code != http.StatusOK {
		return -1
	}
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			sum += v
		}
	}
	return sum
}

// holdsAll reports whether node i holds both slivers of every pair of its
// shards of every blob, by its status endpoint.
func (n *net_) holdsAll(i int, ids []string) bool {
	for _, id := range ids {
		code, body := n.get(i, "/v1/blobs/"+id+"/status")
		var st node.HeldSlivers
		if code != http.StatusOK || json.Unmarshal(body, &st) != nil || len(st.Pairs) == 0 {
			return false
		}
		for _, p := range st.Pairs {
			if !p.Primary || !p.Secondary {
				return false
			}
		}
	}
	return true
}

func (n *net_) waitHoldsAll(i int, ids []string, d time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(d)
	for !n.holdsAll(i, ids) {
		if time.Now().After(deadline) {
			_, q := n.get(i, "/v1/recovery")
			n.t.Fatalf("node %d does not hold all its pairs after %v; queue: %s", i, d, q)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRecoveryIdle waits until node i's recovery queue is empty and no
// batch runs (a batch may store its last sliver a moment before it ends).
func (n *net_) waitRecoveryIdle(i int, d time.Duration) node.Health {
	n.t.Helper()
	deadline := time.Now().Add(d)
	for {
		var h node.Health
		_, hb := n.get(i, "/v1/health")
		json.Unmarshal(hb, &h)
		if h.Recovery.Pending == 0 && h.Recovery.InProgress == 0 {
			return h
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("node %d: recovery still busy after %v: %+v", i, d, h.Recovery)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSelfHealing: with real processes, a node down during writes
// rebuilds what it missed once back; a node killed in the middle of its
// recovery resumes and finishes; a node whose disk is wiped rebuilds every
// pair of its shards from its peers, downloading no more than 1.2× what
// it holds; and with f shards' worth of other nodes down, every blob
// reads back byte-exact.
func TestSelfHealing(t *testing.T) {
	n := startDevnet(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	order := rng.Perm(len(n.layout.Nodes))
	late, interrupted, wiped := order[0], order[1], order[2]

	// Node "late" is down while blobs are written.
	n.kill(late)
	sizes := []int{1, 1 << 20, 20 << 20}
	for i := 0; i < 12; i++ {
		sizes = append(sizes, 64<<10+rng.IntN(256<<10))
	}
	var ids []string
	files := map[string]string{}
	lengths := map[string]int{}
	for _, size := range sizes {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		f := filepath.Join(t.TempDir(), "blob")
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := n.weft("store", f)
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimSpace(out)
		ids = append(ids, id)
		files[id], lengths[id] = f, size
	}
	n.restart(late)
	n.waitHoldsAll(late, ids, 2*time.Minute)
	t.Logf("node %d, down during the writes, rebuilt %.0f slivers", late, n.metric(late, "weft_slivers_recovered_total"))

	// Node "interrupted" loses its disk and is killed again in the middle
	// of its recovery (one blob per batch, so that there is a middle).
	n.wipe(interrupted)
	var cfg map[string]any
	raw, _ := os.ReadFile(n.layout.Nodes[interrupted].Config)
	json.Unmarshal(raw, &cfg)
	cfg["recoveryBatchBlobs"], cfg["recoveryConcurrency"] = 1, 1
	slow := filepath.Join(t.TempDir(), "slow.json")
	raw, _ = json.Marshal(cfg)
	os.WriteFile(slow, raw, 0o600)
	n.restartWith(interrupted, slow)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rec, queued := n.metric(interrupted, "weft_slivers_recovered_total"), n.metric(interrupted, "weft_recovery_queue_length")
		if rec > 0 && queued > 0 {
			// Health reports the same progress.
			var h node.Health
			_, hb := n.get(interrupted, "/v1/health")
			if json.Unmarshal(hb, &h) == nil && h.Recovery.Pending+h.Recovery.InProgress > 0 {
				t.Logf("killing node %d after %.0f slivers, %.0f blobs still queued (health: %+v)", interrupted, rec, queued, h.Recovery)
				break
			}
		}
		if n.holdsAll(interrupted, ids) || time.Now().After(deadline) {
			t.Fatalf("could not catch node %d in the middle of its recovery (recovered %.0f, queued %.0f)", interrupted, rec, queued)
		}
		time.Sleep(2 * time.Millisecond)
	}
	n.kill(interrupted)
	n.restart(interrupted)
	// Clients are served while it recovers: a store and a read go through.
	extra := make([]byte, 1<<20+3)
	for i := range extra {
		extra[i] = byte(rng.Uint32())
	}
	f := filepath.Join(t.TempDir(), "extra")
	os.WriteFile(f, extra, 0o600)
	out, err := n.weft("store", f)
	if err != nil {
		t.Fatalf("store during recovery: %v", err)
	}
	id := strings.TrimSpace(out)
	if got, err := n.weft("read", id); err != nil || got != string(extra) {
		t.Fatalf("read during recovery: %v", err)
	}
	ids = append(ids, id)
	files[id], lengths[id] = f, len(extra)
	n.waitHoldsAll(interrupted, ids, 2*time.Minute)
	if rec := n.metric(interrupted, "weft_slivers_recovered_total"); rec <= 0 {
		t.Fatalf("after the restart node %d rebuilt nothing: it did not resume", interrupted)
	}

	// Node "wiped" loses its disk for good measure, and comes back on an
	// empty one with the same identity.
	var codec *redstuff.Codec
	n.wipe(wiped)
	n.restart(wiped)
	n.waitHoldsAll(wiped, ids, 2*time.Minute)
	h := n.waitRecoveryIdle(wiped, time.Minute)
	codec, err = redstuff.New(28)
	if err != nil {
		t.Fatal(err)
	}
	p := codec.Params()
	var held int64
	for _, id := range ids {
		s := int64(p.SymbolSize(uint64(lengths[id])))
		held += int64(len(h.Shards)) * int64(p.Ks+p.Kp) * s
	}
	recv := n.metric(wiped, "weft_recovery_bytes_received_total")
	t.Logf("wiped node %d holds %d sliver bytes again; received %.0f bytes (%.3f×)", wiped, held, recv, recv/float64(held))
	if recv <= 0 || recv > 1.2*float64(held) {
		t.Fatalf("wiped node received %.0f bytes to rebuild %d", recv, held)
	}
	// Every sliver it serves verifies against the blob ID.
	for _, id := range ids {
		bid, _ := blob.ParseID(id)
		_, body := n.get(wiped, "/v1/blobs/"+id+"/status")
		var st node.HeldSlivers
		json.Unmarshal(body, &st)
		for _, ps := range st.Pairs {
			for _, k := range []string{"primary", "secondary"} {
				code, raw := n.get(wiped, fmt.Sprintf("/v1/blobs/%s/slivers/%d/%s", id, ps.Pair, k))
				var msg blob.SliverMessage
				if code != http.StatusOK || msg.UnmarshalBinary(raw) != nil {
					t.Fatalf("blob %s pair %d %s: %d", id, ps.Pair, k, code)
				}
				if err := codec.VerifySliver(bid, uint64(lengths[id]), &msg.Sliver, &msg.Commitment); err != nil {
					t.Fatalf("blob %s pair %d %s: %v", id, ps.Pair, k, err)
				}
			}
		}
	}

	// f shards' worth of other nodes stop (2 nodes hold 8 ≤ f = 9 shards):
	// every blob still reads back byte-exact.
	for _, i := range order[3:5] {
		n.kill(i)
	}
	for _, id := range ids {
		out := filepath.Join(t.TempDir(), "out")
		if _, err := n.weft("read", id, "-o", out); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(out)
		want, _ := os.ReadFile(files[id])
		if !bytes.Equal(got, want) {
			t.Fatalf("blob %s (%d bytes) read back differently", id, len(want))
		}
	}
}
