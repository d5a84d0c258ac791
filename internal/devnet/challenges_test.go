package devnet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/node"
)

// challenges runs weft challenges --json with more flags and returns its
// windows, newest first.
func (n *net_) challenges(flags ...string) []control.WindowReport {
	n.t.Helper()
	out, err := n.weft(append([]string{"challenges", "--json"}, flags...)...)
	if err != nil {
		n.t.Fatal(err)
	}
	var r struct {
		Windows []control.WindowReport `json:"windows"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		n.t.Fatalf("weft challenges --json: %v\n%s", err, out)
	}
	return r.Windows
}

// window is weft challenges --json --window w.
func (n *net_) window(w uint64) *control.WindowReport {
	n.t.Helper()
	reps := n.challenges("--window", fmt.Sprint(w))
	if len(reps) != 1 || reps[0].Window != w {
		n.t.Fatalf("weft challenges --window %d: %+v", w, reps)
	}
	return &reps[0]
}

func nodeIn(r *control.WindowReport, name string) *control.NodeReport {
	for i := range r.Nodes {
		if r.Nodes[i].Name == name {
			return &r.Nodes[i]
		}
	}
	return nil
}

// pollWindows polls the latest windows (every 50 ms, in-process: the
// timing matters) until pick returns one, or d passes.
func pollWindows(t *testing.T, ctl *rpc.Client, what string, d time.Duration, pick func(reps []control.WindowReport) *control.WindowReport) *control.WindowReport {
	t.Helper()
	deadline := time.Now().Add(d)
	var reps []control.WindowReport
	for {
		var err error
		if reps, err = ctl.Challenges(context.Background(), 0, 50); err == nil {
			if r := pick(reps); r != nil {
				return r
			}
		}
		if time.Now().After(deadline) {
			raw, _ := json.MarshalIndent(reps[:min(len(reps), 3)], "", " ")
			t.Fatalf("%s: not after %v (%v); latest windows:\n%s", what, d, err, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// closedAfter waits until the first window opened after t0 closes.
func closedAfter(t *testing.T, ctl *rpc.Client, what string, t0 time.Time) *control.WindowReport {
	t.Helper()
	return pollWindows(t, ctl, what, 30*time.Second, func(reps []control.WindowReport) *control.WindowReport {
		var first *control.WindowReport
		for i := range reps { // newest first
			if reps[i].OpenedAt.After(t0) {
				first = &reps[i]
			}
		}
		if first != nil && first.Closed {
			return first
		}
		return nil
	})
}

// TestChallengesOnDevnet: storage challenges with real processes, on a
// devnet opening a window every 5 s (answers within 2.5 s) and evicting
// after 3 failed windows in a row.
//
//   - An honest network passes every window, three or more of them
//     sampling blobs, while a writer stores and reads through the SDK and
//     never fails.
//   - A node stopped with SIGSTOP for a whole window fails that window,
//     and passes the first window opened after SIGCONT.
//   - A node that lost its slivers (the testHooks forget endpoint: deleted
//     and never rebuilt) cannot answer and fails; while the window is
//     open every peer answers 503 with Retry-After for the sampled blob's
//     slivers, so the node could not fetch them on demand, and an SDK
//     read of that blob waits the window out and succeeds.
//   - That node keeps failing and is evicted (weight 0 in weft challenges
//     --json); weft devnet advance-epoch moves its shards to the others
//     (the next committee leaves it out; its new owners rebuild them
//     through recovery, as it holds nothing), every member then holds every
//     pair of its shards, every blob reads back byte-exact, and the next
//     window is passed by every member.
func TestChallengesOnDevnet(t *testing.T) {
	const interval = 5 * time.Second
	n := startDevnetIn(t, t.TempDir(), "--challenge-interval", interval.String(), "--test-hooks")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 5))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := n.sdk(ctx)
	ctl := n.control(ctx)
	shards := c.Codec().Params().N

	// 1. Honest, under a writer, until three closed windows sampled blobs.
	w, stopWriter := startWriter(ctx, t, c, rand.New(rand.NewPCG(seed, 6)))
	defer stopWriter()
	pollWindows(t, ctl, "three closed windows sampling blobs", 90*time.Second, func(reps []control.WindowReport) *control.WindowReport {
		k := 0
		for i := range reps {
			if reps[i].Closed && len(reps[i].Blobs) > 0 {
				k++
			}
		}
		if k >= 3 {
			return &reps[0]
		}
		return nil
	})
	stopWriter()
	if len(w.errs) > 0 {
		t.Fatalf("the writer failed %d times, first: %v", len(w.errs), w.errs[0])
	}
	t.Logf("the writer stored %d blobs", w.count())
	sampling := 0
	for _, r := range n.challenges("--limit", "50") {
		if !r.Closed {
			continue
		}
		if len(r.Blobs) > 0 {
			sampling++
		}
		for _, nd := range r.Nodes {
			if nd.Result != control.ChallengePassed || nd.Weight == 0 || (len(r.Blobs) > 0 && nd.AnswerBytes == 0) {
				t.Fatalf("honest window %d: %+v", r.Window, nd)
			}
		}
		t.Logf("honest window %d: %d blobs sampled, passed by all %d nodes", r.Window, len(r.Blobs), len(r.Nodes))
	}
	if sampling < 3 {
		t.Fatalf("%d closed windows sampled blobs", sampling)
	}

	order := rng.Perm(len(n.layout.Nodes))
	stopped, liar := order[0], order[1]
	stoppedName, liarName := n.layout.Nodes[stopped].Name, n.layout.Nodes[liar].Name

	// 2. SIGSTOP right after a window closes, so that the stop spans the
	// next window whole; SIGCONT once it closed.
	closedAfter(t, ctl, "a window to close", time.Now())
	pid := n.pid(stopped)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	stopAt := time.Now()
	missed := closedAfter(t, ctl, "a window while "+stoppedName+" is stopped", stopAt)
	syscall.Kill(pid, syscall.SIGCONT)
	r := n.window(missed.Window)
	for _, nd := range r.Nodes {
		want := control.ChallengePassed
		if nd.Name == stoppedName {
			want = control.ChallengeFailed
		}
		if nd.Result != want {
			t.Fatalf("window %d, %s stopped: %s %s", r.Window, stoppedName, nd.Name, nd.Result)
		}
	}
	t.Logf("window %d: %s, stopped with SIGSTOP, failed (score %.3f, streak %d)", r.Window, stoppedName, nodeIn(r, stoppedName).Score, nodeIn(r, stoppedName).Streak)
	poll(t, 30*time.Second, stoppedName+" answers again", func() bool {
		code, _ := n.get(stopped, "/v1/health")
		return code == http.StatusOK
	})
	back := closedAfter(t, ctl, "a window after SIGCONT", time.Now())
	r = n.window(back.Window)
	if nd := nodeIn(r, stoppedName); nd.Result != control.ChallengePassed || nd.Weight == 0 || nd.Streak != 0 {
		t.Fatalf("window %d, after SIGCONT: %+v", r.Window, nd)
	}
	t.Logf("window %d: %s passes again after SIGCONT", r.Window, stoppedName)

	// 3. The liar loses every blob's slivers and may not rebuild them.
	ids := liveIDs(t, ctl)
	n.waitHoldsAll(liar, ids, time.Minute)
	for _, id := range ids {
		resp, err := http.Post(n.layout.Nodes[liar].API+"/v1/test/forget/"+id, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("forget %s on %s: %s", id, liarName, resp.Status)
		}
	}
	forgotAt := time.Now()
	open := pollWindows(t, ctl, "a window opened after the loss", 30*time.Second, func(reps []control.WindowReport) *control.WindowReport {
		for i := range reps {
			if reps[i].OpenedAt.After(forgotAt) && !reps[i].Closed && len(reps[i].Blobs) > 0 {
				return &reps[i]
			}
		}
		return nil
	})
	sampled := open.Blobs[0]
	// Every peer that has seen the window open (its health says so)
	// refuses the sampled blob's slivers to everyone, the liar included.
	for i, nd := range n.layout.Nodes {
		if i == liar {
			continue
		}
		poll(t, 5*time.Second, nd.Name+" sees window "+fmt.Sprint(open.Window), func() bool {
			var h node.Health
			_, body := n.get(i, "/v1/health")
			return json.Unmarshal(body, &h) == nil && h.Challenge != nil && h.Challenge.Window == open.Window
		})
		pair := control.PairAt(shards, sampled.ID, nodeIn(open, nd.Name).Shards[0])
		resp, err := http.Get(fmt.Sprintf("%s/v1/blobs/%s/slivers/%d/primary", nd.API, sampled.ID, pair))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s served blob %s, sampled by open window %d: %s, Retry-After %q", nd.Name, sampled.ID, open.Window, resp.Status, resp.Header.Get("Retry-After"))
		}
		if i == stopped {
			t.Logf("%s (and every other peer): sliver of pair %d of %s → %s, Retry-After %s", nd.Name, pair, sampled.ID, resp.Status, resp.Header.Get("Retry-After"))
		}
	}
	// The liar knows it cannot answer; its slivers are gone.
	var answered string
	poll(t, 5*time.Second, liarName+" gives up answering", func() bool {
		var h node.Health
		_, body := n.get(liar, "/v1/health")
		if json.Unmarshal(body, &h) != nil || h.Challenge == nil || h.Challenge.Window != open.Window {
			return false
		}
		answered = h.Challenge.Answered
		return answered != ""
	})
	if !strings.HasPrefix(answered, "unable") {
		t.Fatalf("%s answered window %d: %q", liarName, open.Window, answered)
	}
	t.Logf("%s's health in window %d: %q", liarName, open.Window, answered)
	if n.holdsAll(liar, []string{sampled.ID.String()}) {
		t.Fatalf("%s still holds %s", liarName, sampled.ID)
	}
	// A reader of the sampled blob waits the blackout out.
	start := time.Now()
	got, err := c.Read(ctx, sampled.ID)
	if err != nil || !bytes.Equal(got, w.blob(sampled.ID)) {
		t.Fatalf("read of %s during window %d: %d bytes, %v", sampled.ID, open.Window, len(got), err)
	}
	t.Logf("read of %s, sampled by window %d, took %v", sampled.ID, open.Window, time.Since(start).Round(time.Millisecond))
	failed := closedAfter(t, ctl, "the liar's window to close", forgotAt)
	r = n.window(failed.Window)
	for _, nd := range r.Nodes {
		want := control.ChallengePassed
		if nd.Name == liarName {
			want = control.ChallengeFailed
		}
		if nd.Result != want {
			t.Fatalf("window %d, %s lost its slivers: %s %s", r.Window, liarName, nd.Name, nd.Result)
		}
	}
	t.Logf("window %d: %s, which lost its slivers, failed", r.Window, liarName)

	// 4. It keeps failing: evicted.
	evicted := pollWindows(t, ctl, liarName+" evicted", 30*time.Second, func(reps []control.WindowReport) *control.WindowReport {
		for i := range reps {
			if nd := nodeIn(&reps[i], liarName); reps[i].Closed && nd.Result == control.ChallengeFailed && nd.Weight == 0 {
				return &reps[i]
			}
		}
		return nil
	})
	r = n.window(evicted.Window)
	evict := control.DefaultEvictAfter
	if nd := nodeIn(r, liarName); nd.Weight != 0 || nd.Streak < evict {
		t.Fatalf("window %d: the evicted %+v", r.Window, nd)
	}
	for _, nd := range r.Nodes {
		if nd.Name != liarName && (nd.Weight == 0 || nd.Result != control.ChallengePassed) {
			t.Fatalf("window %d: %+v", r.Window, nd)
		}
	}
	for v := failed.Window; v <= evicted.Window; v++ {
		if nd := nodeIn(n.window(v), liarName); nd.Result != control.ChallengeFailed {
			t.Fatalf("window %d: %s %s", v, liarName, nd.Result)
		}
	}
	t.Logf("window %d: %s evicted after %d failed windows (score %.3f, weight 0)", r.Window, liarName, nodeIn(r, liarName).Streak, nodeIn(r, liarName).Score)

	// Its shards move at the next epoch.
	st, err := ctl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old, err := ctl.Committee(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var lost []int
	for _, m := range old.Members {
		if m.Name == liarName {
			lost = m.Shards
		}
	}
	n.devnetCmd("advance-epoch")
	waitDone(t, ctl, st.Epoch+1, 2*time.Minute)
	com, err := ctl.Committee(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	owners := map[int]string{}
	for _, m := range com.Members {
		if m.Name == liarName {
			t.Fatalf("the evicted %s is in epoch %d's committee", liarName, com.Epoch)
		}
		for _, s := range m.Shards {
			owners[s] = m.Name
		}
	}
	moved := map[int]string{}
	for _, s := range lost {
		if owners[s] == "" {
			t.Fatalf("shard %d of the evicted %s has no owner in epoch %d", s, liarName, com.Epoch)
		}
		moved[s] = owners[s]
	}
	t.Logf("epoch %d: %s's shards moved: %v", com.Epoch, liarName, moved)
	ids = liveIDs(t, ctl)
	for _, m := range com.Members {
		n.waitHoldsAll(n.index(m.Name), ids, time.Minute)
	}
	// The evicted node had none of their pairs: they came through
	// recovery (the migration's fallback path).
	for s, name := range moved {
		var h node.Health
		_, body := n.get(n.index(name), "/v1/health")
		json.Unmarshal(body, &h)
		i := slices.IndexFunc(h.ShardStates, func(st node.ShardHealth) bool { return st.Shard == s && st.Epoch == com.Epoch })
		if i < 0 || h.ShardStates[i].From != liarName || h.ShardStates[i].ToRecovery == 0 || h.ShardStates[i].Pulled != 0 {
			t.Fatalf("%s's shard %d, gained from the evicted %s: %s", name, s, liarName, body)
		}
		t.Logf("%s: shard %d from %s: %+v", name, s, liarName, h.ShardStates[i])
	}
	for _, id := range w.ids {
		got, err := c.Read(ctx, id)
		if err != nil || !bytes.Equal(got, w.data[id]) {
			t.Fatalf("read of %s after the move: %d bytes, %v", id, len(got), err)
		}
	}
	t.Logf("all %d blobs read back byte-exact", len(w.ids))
	r = n.window(closedAfter(t, ctl, "a window after the move", time.Now()).Window)
	for _, nd := range r.Nodes {
		if nd.Result != control.ChallengePassed || !slices.ContainsFunc(com.Members, func(m control.Member) bool { return m.Name == nd.Name }) {
			t.Fatalf("window %d after the move: %+v", r.Window, nd)
		}
	}
	t.Logf("window %d: passed by the %d members of epoch %d", r.Window, len(r.Nodes), com.Epoch)
}
