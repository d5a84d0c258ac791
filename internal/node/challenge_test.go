package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/node"
)

// challengeTestbed: windows every 3 s of block time taking answers for
// 1.5 s, sampling up to 8 blobs (all of a small test's), eviction after 2
// failed windows.
func challengeTestbed(t *testing.T) *testbed {
	return windowsTestbed(t, 3*time.Second, 1500*time.Millisecond, 8, 2)
}

// windowsTestbed: 4 nodes, a challenge window every interval of block
// time taking answers for deadline, sampling up to sampled blobs,
// eviction after evictAfter failed windows.
func windowsTestbed(t *testing.T, interval, deadline time.Duration, sampled, evictAfter int) *testbed {
	return newTestbedWith(t, 4, func(g *control.Genesis) {
		g.Params.ChallengeInterval = interval
		g.Params.ChallengeDeadline = deadline
		g.Params.ChallengeBlobs = sampled
		g.Params.EvictAfter = evictAfter
	})
}

// waitWindow polls the control plane until cond holds for some window
// report, and returns it.
func (tb *testbed) waitWindow(what string, d time.Duration, cond func(r *control.WindowReport) bool) *control.WindowReport {
	tb.t.Helper()
	deadline := time.Now().Add(d)
	for {
		reps, err := tb.ctl.Challenges(context.Background(), 0, 20)
		if err != nil {
			tb.t.Fatal(err)
		}
		for i := range reps {
			if cond(&reps[i]) {
				return &reps[i]
			}
		}
		if time.Now().After(deadline) {
			raw, _ := json.MarshalIndent(reps, "", " ")
			tb.t.Fatalf("no window %s after %v:\n%s", what, d, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func nodeResult(r *control.WindowReport, key control.PublicKey) *control.NodeReport {
	for i := range r.Nodes {
		if r.Nodes[i].Key == key {
			return &r.Nodes[i]
		}
	}
	return nil
}

func allPassed(r *control.WindowReport) bool {
	for _, nd := range r.Nodes {
		if nd.Result != control.ChallengePassed {
			return false
		}
	}
	return true
}

// TestChallenges: an honest network passes windows; a node that lost a
// sampled blob and may not rebuild it fails while its peers refuse the
// blob (503 + Retry-After) and readers wait; failing twice evicts it
// (weight 0); a node shut down for a window fails it.
func TestChallenges(t *testing.T) {
	tb := challengeTestbed(t)
	blobs := tb.storeBlobs(1000, 20000)
	for _, n := range tb.nodes {
		waitHolding(t, n, blobs, 20*time.Second)
	}
	ctx := context.Background()

	// Honest: two closed windows sampling both blobs, every node passed.
	var honest []uint64
	tb.waitWindow("passed by all twice", 30*time.Second, func(r *control.WindowReport) bool {
		if r.Closed && len(r.Blobs) == 2 && allPassed(r) && (len(honest) == 0 || honest[len(honest)-1] != r.Window) {
			honest = append(honest, r.Window)
		}
		return len(honest) >= 2
	})
	for _, w := range honest {
		reps, _ := tb.ctl.Challenges(ctx, w, 1)
		for _, nd := range reps[0].Nodes {
			if nd.Result != control.ChallengePassed || nd.AnswerBytes == 0 || nd.Weight != 1 {
				t.Fatalf("window %d: %+v", w, nd)
			}
		}
	}

	// Node 3 loses blob 0 and may not rebuild it.
	lost, liar := blobs[0], tb.nodes[3]
	if err := liar.ForgetBlob(lost.ID); err != nil {
		t.Fatal(err)
	}
	last, _ := tb.ctl.Challenges(ctx, 0, 1)
	after := last[0].Window
	open := tb.waitWindow("opened after the loss", 10*time.Second, func(r *control.WindowReport) bool {
		return r.Window > after && !r.Closed
	})
	// Once a peer has seen the window open (its health says so), it
	// refuses the sampled blob to everyone: the liar cannot fetch what it
	// lost.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var h node.Health
		c, raw := do(t, "GET", url(tb.nodes[0], "/v1/health"), nil)
		if c == http.StatusOK && json.Unmarshal(raw, &h) == nil && h.Challenge != nil && h.Challenge.Window == open.Window {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health during window %d: %s", open.Window, raw)
		}
	}
	pair := tb.codec.Params().PairAt(lost.ID, tb.shardOf(0)[0])
	code, body := doHeader(t, sliverURL(tb.nodes[0], lost.ID, pair, blob.Primary))
	if code.status != http.StatusServiceUnavailable || code.retryAfter == "" {
		t.Fatalf("peer served a sampled blob during window %d: %d %.100q", open.Window, code.status, body)
	}
	// A reader waits out the blackout instead of failing.
	start := time.Now()
	got, err := tb.sdk().Read(ctx, lost.ID)
	if err != nil || len(got) != int(lost.Length) {
		t.Fatalf("read during the window: %v", err)
	}
	t.Logf("read of a sampled blob during window %d took %v (peer said Retry-After %s)", open.Window, time.Since(start), code.retryAfter)

	closed := tb.waitWindow("closed with the liar failing", 10*time.Second, func(r *control.WindowReport) bool {
		return r.Window == open.Window && r.Closed
	})
	for i, n := range tb.nodes {
		want := control.ChallengePassed
		if i == 3 {
			want = control.ChallengeFailed
		}
		if nd := nodeResult(closed, n.ID()); nd.Result != want {
			t.Fatalf("window %d: node %d %s, want %s", closed.Window, i, nd.Result, want)
		}
	}
	// It keeps failing: evicted after two windows, its weight is 0.
	tb.waitWindow("evicting the liar", 15*time.Second, func(r *control.WindowReport) bool {
		nd := nodeResult(r, liar.ID())
		return r.Closed && nd.Result == control.ChallengeFailed && nd.Weight == 0 && nd.Streak >= 2
	})
	if n, err := tb.ctl.Node(ctx, liar.ID()); err != nil || n.Weight != 0 {
		t.Fatalf("evicted node: %+v %v", n, err)
	}
	// Each node counts its own results (it follows the close event).
	for deadline := time.Now().Add(10 * time.Second); metric(t, liar, `weft_challenge_windows_total{result="failed"}`) < 2 ||
		metric(t, tb.nodes[0], `weft_challenge_windows_total{result="passed"}`) < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("window metrics: liar failed %v, node 0 passed %v", metric(t, liar, `weft_challenge_windows_total{result="failed"}`),
				metric(t, tb.nodes[0], `weft_challenge_windows_total{result="passed"}`))
		}
	}

	// A node shut down for a whole window fails it.
	tb.stop(2)
	stopped := time.Now().UnixNano()
	down := tb.waitWindow("closed while node 2 is down", 15*time.Second, func(r *control.WindowReport) bool {
		return r.Closed && r.OpenedAt.UnixNano() > stopped
	})
	if nd := nodeResult(down, tb.nodes[2].ID()); nd.Result != control.ChallengeFailed {
		t.Fatalf("window %d: the stopped node %s", down.Window, nd.Result)
	}
	if nd := nodeResult(down, tb.nodes[0].ID()); nd.Result != control.ChallengePassed {
		t.Fatalf("window %d: node 0 %s", down.Window, nd.Result)
	}
}

// shardOf returns the shards node i holds now.
func (tb *testbed) shardOf(i int) []int {
	tb.t.Helper()
	com, err := tb.ctl.Committee(context.Background(), 0)
	if err != nil {
		tb.t.Fatal(err)
	}
	return com.Members[slicesIndex(com, tb.nodes[i].ID())].Shards
}

func slicesIndex(com *control.Committee, k control.PublicKey) int {
	for i, m := range com.Members {
		if m.Key == k {
			return i
		}
	}
	return -1
}

type statusHeader struct {
	status     int
	retryAfter string
}

func doHeader(t *testing.T, u string) (statusHeader, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf [512]byte
	k, _ := resp.Body.Read(buf[:])
	return statusHeader{resp.StatusCode, resp.Header.Get("Retry-After")}, string(buf[:k])
}

// TestForgetHook: POST /v1/test/forget/{id} exists only with testHooks,
// and then drops the node's slivers of the blob.
func TestForgetHook(t *testing.T) {
	tb := newTestbed(t, 4)
	blobs := tb.storeBlobs(5000)
	id := blobs[0].ID
	waitHolding(t, tb.nodes[1], blobs, 20*time.Second)
	if code, body := do(t, "POST", url(tb.nodes[1], "/v1/test/forget/%s", id), nil); code != http.StatusNotFound {
		t.Fatalf("forget without testHooks: %d %s", code, body)
	}
	tb.stop(1)
	tb.cfgs[1].TestHooks = true
	n := tb.start(1)
	if code, body := do(t, "POST", url(n, "/v1/test/forget/%s", id), nil); code != http.StatusNoContent {
		t.Fatalf("forget: %d %s", code, body)
	}
	_, body := do(t, "GET", url(n, "/v1/blobs/%s/status", id), nil)
	var st node.HeldSlivers
	if err := json.Unmarshal(body, &st); err != nil || len(st.Pairs) == 0 {
		t.Fatalf("status: %s %v", body, err)
	}
	for _, ps := range st.Pairs {
		if ps.Primary || ps.Secondary {
			t.Fatalf("after forget the node still holds %+v", ps)
		}
	}
}

// TestRestartDuringWindow: a node restarted while a window is open takes
// the window up again, though it applied the ChallengeOpened event before
// it went down: it still refuses the sampled blobs to everyone.
func TestRestartDuringWindow(t *testing.T) {
	tb := windowsTestbed(t, 6*time.Second, 4*time.Second, 8, 100)
	blobs := tb.storeBlobs(1000, 20000)
	for _, n := range tb.nodes {
		waitHolding(t, n, blobs, 20*time.Second)
	}
	ctx := context.Background()
	pair := tb.codec.Params().PairAt(blobs[0].ID, tb.shardOf(1)[0])
	var after uint64
	for try := 0; try < 3; try++ {
		open := tb.waitWindow("opened", 20*time.Second, func(r *control.WindowReport) bool {
			return r.Window > after && !r.Closed && len(r.Blobs) == 2
		})
		after = open.Window
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if h := tb.nodes[1].Challenge(); h != nil && h.Window == open.Window {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node 1 never saw window %d open", open.Window)
			}
		}
		tb.stop(1)
		n := tb.start(1)
		h := n.Challenge()
		code, body := doHeader(t, sliverURL(n, blobs[0].ID, pair, blob.Primary))
		reps, err := tb.ctl.Challenges(ctx, open.Window, 1)
		if err != nil {
			t.Fatal(err)
		}
		if reps[0].Closed {
			t.Logf("window %d closed while node 1 restarted; trying the next one", open.Window)
			continue
		}
		if h == nil || h.Window != open.Window {
			t.Fatalf("restarted node 1 does not know window %d, still open: %+v", open.Window, h)
		}
		if code.status != http.StatusServiceUnavailable || code.retryAfter == "" {
			t.Fatalf("restarted node 1 served a blob sampled by window %d: %d %.100q", open.Window, code.status, body)
		}
		return
	}
	t.Fatal("no window stayed open across a restart of node 1")
}
