package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/devnet"
)

// ChallengesConfig says how the challenges benchmark runs.
type ChallengesConfig struct {
	Windows  int           // windows measured; default 5
	Blobs    int           // blobs of 64 KiB–1 MiB stored first; default 20
	Interval time.Duration // the devnet's challenge interval; default 5s
	// Stopped is the measured window (1-based) during which one node is
	// stopped with SIGSTOP; default the third (or the last), negative none.
	Stopped int
}

// ChallengeWindow is one storage challenge window of the benchmark.
type ChallengeWindow struct {
	Window uint64
	Blobs  int
	// AnswerBytes is each member's answer size in the window, by name.
	AnswerBytes map[string]int
	// Checked is how many accepted answers were found on the chain and
	// replayed through control.CheckAnswer; CheckMedian and CheckMax are
	// the time of one check.
	Checked               int
	CheckMedian, CheckMax time.Duration
	Results               map[string]control.ChallengeResult
}

// Challenges starts the default devnet with a short challenge interval,
// stores cfg.Blobs blobs, waits for the first window that samples them,
// then follows cfg.Windows windows with one node stopped (SIGSTOP) for
// one of them. Per window it reports the sampled blobs, each member's
// answer bytes, the time control.CheckAnswer takes for each answer (the
// accepted ChallengeAnswer transactions, read back from the chain and
// replayed in this process), and each member's result.
func Challenges(w io.Writer, cfg ChallengesConfig) ([]ChallengeWindow, error) {
	if cfg.Windows <= 0 {
		cfg.Windows = 5
	}
	if cfg.Blobs <= 0 {
		cfg.Blobs = 20
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.Stopped == 0 {
		cfg.Stopped = min(3, cfg.Windows)
	}
	stopAt := cfg.Stopped - 1 // 0-based; negative: none
	ctx := context.Background()
	layout, c, ctl, stop, err := startDevnetClients(ctx, devnet.Config{ChallengeInterval: cfg.Interval})
	if err != nil {
		return nil, err
	}
	defer stop()
	shards := c.Codec().Params().N

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var stored int64
	for i := 0; i < cfg.Blobs; i++ {
		size := 64<<10 + rng.Int64N(1<<20-64<<10)
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		if _, err := c.Store(ctx, data, client.StoreOptions{Epochs: 10}); err != nil {
			return nil, err
		}
		stored += size
	}
	// The first window that samples them: blobs certified less than an
	// interval before a window are not sampled.
	var first uint64
	for first == 0 {
		reps, err := ctl.Challenges(ctx, 0, 1)
		if err != nil {
			return nil, err
		}
		if len(reps) == 1 && len(reps[0].Blobs) > 0 {
			first = reps[0].Window + 1
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if _, err := waitClosed(ctx, ctl, first-1, 2*cfg.Interval); err != nil {
		return nil, err
	}
	victim := layout.Nodes[1]
	fmt.Fprintf(w, "weft bench challenges: devnet of %d storage node processes, %d shards; a window every %v (answers within %v);\n",
		len(layout.Nodes), shards, cfg.Interval, cfg.Interval/2)
	fmt.Fprintf(w, "%d blobs of 64 KiB–1 MiB stored first (%s in all)", cfg.Blobs, FormatSize(stored))
	if stopAt >= 0 {
		fmt.Fprintf(w, "; %s stopped with SIGSTOP for window %d", victim.Name, first+uint64(stopAt))
	}
	fmt.Fprint(w, "\n\n")

	var wins []*control.Window
	for k := 0; k < cfg.Windows; k++ {
		// Stopped before the window opens (the previous one just
		// closed), continued once it closed.
		if k == stopAt {
			if err := syscall.Kill(victim.PID, syscall.SIGSTOP); err != nil {
				return nil, err
			}
		}
		win, err := waitClosed(ctx, ctl, first+uint64(k), 3*cfg.Interval)
		if k == stopAt {
			syscall.Kill(victim.PID, syscall.SIGCONT)
		}
		if err != nil {
			return nil, err
		}
		wins = append(wins, win)
	}

	answers, err := answersOnChain(ctx, layout.ControlPlane, ctl.NetworkID(), wins[0].Height, first, first+uint64(cfg.Windows))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, nd := range wins[0].Nodes {
		names = append(names, nd.Name)
	}
	slices.Sort(names)
	fmt.Fprintf(w, "%6s | %5s | %17s | %7s | %13s %13s | %s\n", "window", "blobs", "answer bytes/node", "checked", "check median", "check max", strings.Join(shortNames(names), " "))
	var out []ChallengeWindow
	for _, win := range wins {
		cw := ChallengeWindow{Window: win.Window, Blobs: len(win.Blobs), AnswerBytes: map[string]int{}, Results: map[string]control.ChallengeResult{}}
		var times []time.Duration
		for _, nd := range win.Nodes {
			cw.AnswerBytes[nd.Name] = nd.AnswerBytes
			cw.Results[nd.Name] = nd.Result
			a, ok := answers[answerKey{win.Window, nd.Key}]
			if !ok {
				continue
			}
			d, err := timeCheck(shards, win, nd.Shards, a)
			if err != nil {
				return out, fmt.Errorf("bench: window %d: %s's answer, accepted on the chain, does not check here: %w", win.Window, nd.Name, err)
			}
			times = append(times, d)
		}
		cw.Checked = len(times)
		if len(times) > 0 {
			slices.Sort(times)
			cw.CheckMedian, cw.CheckMax = times[len(times)/2], times[len(times)-1]
		}
		var res []string
		sizes := map[int]bool{}
		for _, nd := range win.Nodes {
			sizes[nd.AnswerBytes] = true
		}
		for _, name := range names {
			res = append(res, fmt.Sprintf("%*s", len(shortName(name))+1, resultLetter(cw.Results[name])))
		}
		all := slices.Collect(maps.Keys(sizes))
		bytesCol := fmt.Sprint(slices.Min(all))
		if len(all) > 1 {
			bytesCol = fmt.Sprintf("%d–%d", slices.Min(all), slices.Max(all))
		}
		med, mx := "-", "-"
		if cw.Checked > 0 {
			med, mx = formatDuration(cw.CheckMedian), formatDuration(cw.CheckMax)
		}
		fmt.Fprintf(w, "%6d | %5d | %17s | %7d | %13s %13s | %s\n", cw.Window, cw.Blobs, bytesCol, cw.Checked, med, mx, strings.Join(res, " "))
		out = append(out, cw)
	}
	fmt.Fprintf(w, `
P passed, F failed, V void (no answer at all landed: the control plane stalled). Answer bytes: each member's binary answer (the transaction carries it as base64).
Check time: each accepted ChallengeAnswer transaction, read back from the chain
(tx_search over the windows' blocks) and replayed through control.CheckAnswer in
this process (best of several runs). At n = 1000 see BenchmarkChallengeAnswerN1000
in internal/control (go test -bench ChallengeAnswer ./internal/control).
`)
	return out, nil
}

func shortName(name string) string { return strings.TrimPrefix(name, "node-") }

func shortNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "n" + shortName(n)
	}
	return out
}

func resultLetter(r control.ChallengeResult) string {
	switch r {
	case control.ChallengePassed:
		return "P"
	case control.ChallengeFailed:
		return "F"
	case control.ChallengeVoid:
		return "V"
	}
	return "?"
}

// waitClosed polls until window w is closed, for at most d after it
// opened (or from now, before).
func waitClosed(ctx context.Context, ctl *rpc.Client, w uint64, d time.Duration) (*control.Window, error) {
	deadline := time.Now().Add(d)
	for {
		win, err := ctl.ChallengeWindow(ctx, w)
		if err != nil && !errors.Is(err, control.ErrBadRequest) {
			return nil, err
		}
		if win != nil && win.Closed {
			return win, nil
		}
		if win != nil {
			deadline = time.Unix(0, win.Deadline).Add(d)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("bench: challenge window %d not closed in time", w)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type answerKey struct {
	window uint64
	node   control.PublicKey
}

// answersOnChain reads the accepted ChallengeAnswer transactions of
// windows [from, to) from the blocks after height.
func answersOnChain(ctx context.Context, rpcURL, networkID string, height int64, from, to uint64) (map[answerKey][]byte, error) {
	rpc, err := rpchttp.New(rpcURL, "/websocket")
	if err != nil {
		return nil, err
	}
	out := map[answerKey][]byte{}
	perPage := 100
	for page := 1; ; page++ {
		res, err := rpc.TxSearch(ctx, fmt.Sprintf("tx.height > %d", height), false, &page, &perPage, "asc")
		if err != nil {
			return nil, fmt.Errorf("bench: tx_search: %w", err)
		}
		for _, t := range res.Txs {
			if t.TxResult.Code != 0 {
				continue
			}
			tx, err := control.DecodeTx(networkID, t.Tx)
			if err != nil || tx.Payload.ChallengeAnswer == nil {
				continue
			}
			a := tx.Payload.ChallengeAnswer
			if a.Window >= from && a.Window < to {
				out[answerKey{a.Window, tx.Sender}] = a.Answer
			}
		}
		if page*perPage >= res.TotalCount {
			return out, nil
		}
	}
}

// timeCheck runs control.CheckAnswer on an answer a few times and
// returns the fastest run.
func timeCheck(n int, win *control.Window, shards []int, answer []byte) (time.Duration, error) {
	best := time.Duration(1<<63 - 1)
	for range 5 {
		t0 := time.Now()
		if err := control.CheckAnswer(n, win, shards, answer); err != nil {
			return 0, err
		}
		best = min(best, time.Since(t0))
	}
	return best, nil
}
