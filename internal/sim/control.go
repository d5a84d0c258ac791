package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	storage "github.com/weftnet/weft/internal/node"
)

// machineControl is the control plane as a simulated storage node sees it
// (node.Control): the machine's own queries, answered at once, and
// transactions into the simulated sequencer's next block. The simulator
// hands the node its events itself, so Follow refuses.
type machineControl struct{ s *Sim }

var (
	_ storage.Control = machineControl{}

	errSimFollow = errors.New("sim: the simulator applies a node's events itself")
)

func (c machineControl) Status(ctx context.Context) (*control.Status, error) {
	com, err := c.Committee(ctx, 0)
	if err != nil {
		return nil, err
	}
	ch, err := c.s.m.EpochChange(com.Epoch)
	if err != nil {
		return nil, err
	}
	return &control.Status{Epoch: com.Epoch, EpochState: ch.State, PreviousEpoch: ch.PreviousEpoch, Params: c.s.m.Params()}, nil
}

func (c machineControl) Blob(_ context.Context, id blob.ID) (*control.BlobInfo, error) {
	info, err := c.s.m.Blob(id)
	return &info, err
}

// Committee and ChallengeWindow answers are the same for every node until
// the next block: the simulator decodes each once per block, and its nodes
// share it, read-only (a real node decodes its own copy).
func (c machineControl) Committee(_ context.Context, epoch uint64) (*control.Committee, error) {
	q := c.s.queries()
	if com := q.coms[epoch]; com != nil {
		return com, nil
	}
	com, err := c.s.m.Committee(epoch)
	if err == nil {
		q.coms[epoch] = com
	}
	return com, err
}

func (c machineControl) Node(_ context.Context, key control.PublicKey) (*control.NodeRecord, error) {
	return c.s.m.Node(key)
}

func (c machineControl) EpochChange(_ context.Context, epoch uint64) (*control.EpochChange, error) {
	return c.s.m.EpochChange(epoch)
}

func (c machineControl) ChallengeWindow(_ context.Context, w uint64) (*control.Window, error) {
	q := c.s.queries()
	if win, ok := q.wins[w]; ok {
		return win, nil
	}
	var win *control.Window
	var err error
	if w == 0 {
		win, err = c.s.m.OpenWindow()
	} else {
		win, err = c.s.m.ChallengeWindow(w)
	}
	if err == nil {
		q.wins[w] = win
	}
	return win, err
}

// queryCache holds the machine's answers of one block.
type queryCache struct {
	height int64
	coms   map[uint64]*control.Committee
	wins   map[uint64]*control.Window
}

// queries returns the answers cached since the last block.
func (s *Sim) queries() *queryCache {
	if s.qc == nil || s.qc.height != s.height {
		s.qc = &queryCache{height: s.height, coms: map[uint64]*control.Committee{}, wins: map[uint64]*control.Window{}}
	}
	return s.qc
}

func (c machineControl) LiveBlobs(_ context.Context, after *blob.ID, limit int) ([]control.BlobInfo, error) {
	return c.s.m.LiveBlobs(after, limit)
}

func (c machineControl) Follow(context.Context, uint64, func(control.Event) error) error {
	return errSimFollow
}

// Submit signs p with the node's key and queues it for the next block,
// like a submit that returns once the transaction is accepted into the
// mempool; what the machine says of it is checked when it is committed.
func (c machineControl) Submit(_ context.Context, signer *rpc.Signer, p control.Payload) (*rpc.Result, error) {
	s := c.s
	i, ok := s.byKey[signer.Key()]
	if !ok {
		return nil, fmt.Errorf("sim: no node %s", signer.Key().Short())
	}
	nd := s.nodes[i]
	if p.ChallengeAnswer != nil {
		nd.answered = p.ChallengeAnswer.Window
	}
	s.submit(nd.key, p, func(err error) {
		switch {
		case err == nil:
		case p.ChallengeAnswer != nil && (errors.Is(err, control.ErrAnswered) || errors.Is(err, control.ErrWindow)):
		case p.ChallengeAnswer != nil && errors.Is(err, control.ErrAnswer):
			// A wrong answer is refused; the node fails the window when
			// it closes, and the simulator says whether it should have.
		case p.EpochSyncDone != nil && (errors.Is(err, control.ErrAttested) || errors.Is(err, control.ErrEpochState) ||
			errors.Is(err, control.ErrEpoch) || errors.Is(err, control.ErrNotAllowed)):
			// An attestation no longer needed counts as given, as the
			// node's own submit has it.
		default:
			s.fail(fmt.Errorf("%s: a transaction of the node is refused: %w", nd.name, err))
		}
	})
	return &rpc.Result{}, nil
}

func (c machineControl) Close() error { return nil }

// quiet is the simulated nodes' logger: their trouble shows in the table.
var quiet = log.New(io.Discard, "", 0)
