package node

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/httpapi"
	"github.com/weftnet/weft/redstuff"
)

// Storage challenges (DESIGN.md §11), the node's side. On ChallengeOpened
// the node (1) blacks out the sampled blobs — slivers, recovery symbols
// and sync batches of them are refused to everyone with 503 and
// Retry-After until the window closes, so that a node that dropped them
// cannot fetch them on demand — and (2) builds its answer from its own
// stored slivers and submits it before the deadline.

// challengeState is what the node knows of the open window.
type challengeState struct {
	mu       sync.Mutex
	window   *control.Window
	sampled  map[blob.ID]bool
	answered string // "" (not yet), "passed" (accepted), or why it could not answer
	// forgotten blobs are never rebuilt (a test hook: a node that lost
	// them and is not allowed to get them back).
	forgotten map[blob.ID]bool
}

// ChallengeHealth is the open window as health shows it.
type ChallengeHealth struct {
	Window   uint64    `json:"window"`
	Deadline time.Time `json:"deadline"`
	Blobs    int       `json:"blobs"`
	// Answered is "" while the node is still answering, "submitted" once
	// its answer was accepted, else why it could not answer.
	Answered string `json:"answered"`
}

func (n *Node) challengeHealth() *ChallengeHealth {
	c := &n.chal
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.window == nil {
		return nil
	}
	return &ChallengeHealth{Window: c.window.Window, Deadline: time.Unix(0, c.window.Deadline).UTC(), Blobs: len(c.window.Blobs), Answered: c.answered}
}

// blackedOut reports whether a blob is sampled by the open window, and
// for how long to tell askers to wait.
func (n *Node) blackedOut(id blob.ID) (time.Duration, bool) {
	c := &n.chal
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.window == nil || !c.sampled[id] {
		return 0, false
	}
	// The window closes at the first block after its deadline; a control
	// plane that stalls does not keep the blob dark for long after it.
	left := time.Unix(0, c.window.Deadline).Sub(n.clock())
	if left < -10*time.Second {
		return 0, false
	}
	return max(left, 0) + time.Second, true
}

// Challenge returns the open storage challenge window as health shows it
// (nil if none), with whether the node answered it.
func (n *Node) Challenge() *ChallengeHealth { return n.challengeHealth() }

// BlackedOut reports whether the node withholds a blob for now: one the
// open challenge window samples (DESIGN §11).
func (n *Node) BlackedOut(id blob.ID) bool {
	_, ok := n.blackedOut(id)
	return ok
}

// refuseBlackout answers 503 with Retry-After for a blacked-out blob.
func (n *Node) refuseBlackout(w http.ResponseWriter, id blob.ID) error {
	wait, ok := n.blackedOut(id)
	if !ok {
		return nil
	}
	n.m.refused.WithLabelValues("challenge_blackout").Inc()
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	return httpapi.Errorf(http.StatusServiceUnavailable, "blob %v is under a storage challenge; retry after the window closes", id)
}

// ForgetBlob deletes the node's slivers of a blob and never rebuilds
// them: a test hook for a node that lost data.
func (n *Node) ForgetBlob(id blob.ID) error {
	n.chal.mu.Lock()
	if n.chal.forgotten == nil {
		n.chal.forgotten = map[blob.ID]bool{}
	}
	n.chal.forgotten[id] = true
	n.chal.mu.Unlock()
	n.dequeue(id)
	n.sources.dropBlob(id)
	_, shards, _ := n.state()
	for _, s := range shards {
		if err := n.store.DeleteSliver(id, uint32(n.codec.Params().PairAt(id, s)), blob.Primary, true); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) forgot(id blob.ID) bool {
	n.chal.mu.Lock()
	defer n.chal.mu.Unlock()
	return n.chal.forgotten[id]
}

// challengeOpened starts a window: blackout at once, the answer in the
// background. A window already closed (the node catching up on events)
// is ignored.
func (n *Node) challengeOpened(ctx context.Context, w uint64) error {
	win, err := n.ctl.ChallengeWindow(ctx, w)
	if err != nil {
		return err
	}
	return n.openChallenge(ctx, win)
}

// resumeChallenge takes up the window open now when the node starts. A
// node restarted during a window has already applied its ChallengeOpened
// event, so without this it would serve the sampled blobs to everyone,
// ask its peers for them as if they were any other, and never answer.
func (n *Node) resumeChallenge(ctx context.Context) error {
	win, err := n.ctl.ChallengeWindow(ctx, 0)
	if err != nil {
		return fmt.Errorf("node: the open challenge window: %w", err)
	}
	return n.openChallenge(ctx, win)
}

func (n *Node) openChallenge(ctx context.Context, win *control.Window) error {
	if win == nil || win.Closed {
		return nil
	}
	sampled := make(map[blob.ID]bool, len(win.Blobs))
	for _, b := range win.Blobs {
		sampled[b.ID] = true
	}
	n.chal.mu.Lock()
	n.chal.window, n.chal.sampled, n.chal.answered = win, sampled, ""
	n.chal.mu.Unlock()
	nd := win.Member(n.id)
	if nd == nil || nd.Result != control.ChallengePending {
		n.setAnswered(win.Window, "nothing to answer")
		return nil
	}
	n.spawn(func() { n.answer(ctx, win, nd.Shards) })
	return nil
}

func (n *Node) challengeClosed(w uint64) {
	n.chal.mu.Lock()
	defer n.chal.mu.Unlock()
	if n.chal.window != nil && n.chal.window.Window <= w {
		n.chal.window, n.chal.sampled = nil, nil
	}
}

// countWindow counts this node's result in a closed window
// (weft_challenge_windows_total{result}). A window it was no member of,
// or that cannot be read now, is not counted.
func (n *Node) countWindow(ctx context.Context, w uint64) {
	win, err := n.ctl.ChallengeWindow(ctx, w)
	if err != nil || win == nil {
		return
	}
	if me := win.Member(n.id); me != nil && win.Closed {
		n.m.challengeWindows.WithLabelValues(string(me.Result)).Inc()
	}
}

func (n *Node) setAnswered(w uint64, s string) {
	n.chal.mu.Lock()
	defer n.chal.mu.Unlock()
	if n.chal.window != nil && n.chal.window.Window == w {
		n.chal.answered = s
	}
}

// answer builds and submits the node's answer, retrying a failed submit
// until the deadline.
func (n *Node) answer(ctx context.Context, win *control.Window, shards []int) {
	start := time.Now()
	raw, err := n.buildAnswer(win, shards)
	if err != nil {
		n.logger.Printf("node: challenge window %d: cannot answer: %v", win.Window, err)
		n.m.challengeAnswers.WithLabelValues("unable").Inc()
		n.setAnswered(win.Window, "unable: "+err.Error())
		return
	}
	if n.bug == BugCorruptAnswer && len(raw) > 0 {
		raw[len(raw)-1] ^= 1
	}
	n.m.challengeBuild.Observe(time.Since(start).Seconds())
	n.m.challengeBytes.Add(float64(len(raw)))
	ctx, cancel := context.WithTimeout(ctx, time.Unix(0, win.Deadline).Sub(n.clock()))
	defer cancel()
	backoff := 200 * time.Millisecond
	for {
		_, err = n.ctl.Submit(ctx, n.signer, control.Payload{ChallengeAnswer: &control.ChallengeAnswer{Window: win.Window, Answer: raw}})
		if err == nil || errors.Is(err, control.ErrAnswered) {
			n.m.challengeAnswers.WithLabelValues("accepted").Inc()
			n.setAnswered(win.Window, "submitted")
			return
		}
		if errors.Is(err, control.ErrAnswer) || errors.Is(err, control.ErrWindow) || errors.Is(err, control.ErrNotAllowed) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	n.logger.Printf("node: challenge window %d: answer refused: %v", win.Window, err)
	n.m.challengeAnswers.WithLabelValues("refused").Inc()
	n.setAnswered(win.Window, "refused: "+err.Error())
}

// buildAnswer cuts the challenged symbols from the node's own slivers
// (control.BuildAnswer).
func (n *Node) buildAnswer(win *control.Window, shards []int) ([]byte, error) {
	lengths := make(map[blob.ID]uint64, len(win.Blobs))
	for _, b := range win.Blobs {
		lengths[b.ID] = b.Length
	}
	return control.BuildAnswer(n.codec, win, shards, func(id blob.ID, pair int, k blob.SliverKind) (*redstuff.SymbolSource, error) {
		sl, pc, err := n.store.Sliver(id, uint32(pair), k)
		if err != nil {
			return nil, err
		}
		return n.extend(id, lengths[id], sl, pc)
	})
}
