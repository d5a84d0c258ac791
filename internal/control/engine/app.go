// Package engine runs Weft's control plane state machine as a CometBFT
// ABCI application: one validator embedded in-process by default, or
// several validators as separate processes. The application keeps its
// state in Pebble, synced at every Commit; on restart CometBFT replays
// any block the application had not committed and checks the app hash.
package engine

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log"
	"strconv"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
)

// AppVersion is reported to CometBFT.
const AppVersion = 1

// App is the ABCI application.
type App struct {
	abci.BaseApplication

	mu        sync.Mutex // CometBFT's local client serialises calls; this guards direct use
	db        *pebble.DB
	store     *pebbleStore
	committed committedStore // what queries and the mempool read: never a block in progress
	m         *control.Machine
	pool      *control.Mempool
}

// OpenApp opens (or creates) the application state in dir.
func OpenApp(dir string) (*App, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("engine: opening state in %s: %w", dir, err)
	}
	st := &pebbleStore{db: db}
	m, err := control.NewMachine(st)
	if err != nil {
		db.Close()
		return nil, err
	}
	a := &App{db: db, store: st, committed: committedStore{db}, m: m}
	a.pool = control.NewMempool(a.committed, control.DefaultMaxPending)
	if err := a.resetPool(); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

// resetPool starts the mempool's scratch state afresh from the last
// committed block.
func (a *App) resetPool() error {
	h, _, err := a.m.LastBlock()
	if err != nil {
		return err
	}
	t, err := a.m.LastBlockTime()
	if err != nil {
		return err
	}
	a.pool.Reset(h, t)
	return nil
}

// Close closes the state database.
func (a *App) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.db.Close()
}

var _ abci.Application = (*App)(nil)

// Info reports the last committed block so CometBFT can replay the rest.
func (a *App) Info(context.Context, *abci.RequestInfo) (*abci.ResponseInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h, hash, err := a.m.LastBlock()
	if err != nil {
		return nil, err
	}
	return &abci.ResponseInfo{Data: "weft", Version: "1", AppVersion: AppVersion, LastBlockHeight: h, LastBlockAppHash: hash}, nil
}

// InitChain applies the Weft genesis carried as the chain's app state.
func (a *App) InitChain(_ context.Context, req *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m.Params() != nil { // crashed before block 1: genesis is already applied
		_, hash, err := a.m.LastBlock()
		return &abci.ResponseInitChain{AppHash: hash}, err
	}
	var g control.Genesis
	if err := json.Unmarshal(req.AppStateBytes, &g); err != nil {
		return nil, fmt.Errorf("engine: genesis app state: %w", err)
	}
	a.store.begin()
	if _, err := a.m.InitGenesis(g, req.Time); err != nil {
		a.store.batch = nil
		return nil, err
	}
	hash, err := a.m.Commit()
	if err != nil {
		return nil, err
	}
	if err := a.store.commit(); err != nil {
		return nil, err
	}
	return &abci.ResponseInitChain{AppHash: hash}, a.resetPool()
}

// CheckTx admits a transaction only if it would apply: every check of
// its block is run on the mempool's scratch state (control.Mempool), and
// each sender has a bound on pending transactions. CometBFT re-checks the
// waiting transactions after each block (Recheck), against the new state.
func (a *App) CheckTx(_ context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.pool.Check(req.Tx); err != nil {
		return &abci.ResponseCheckTx{Code: control.Code(err), Log: err.Error()}, nil
	}
	return &abci.ResponseCheckTx{Code: 0}, nil
}

// FinalizeBlock applies a decided block and returns the app hash.
func (a *App) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.store.begin()
	a.m.Begin(req.Height, req.Time)
	resp := &abci.ResponseFinalizeBlock{TxResults: make([]*abci.ExecTxResult, len(req.Txs))}
	for i, tx := range req.Txs {
		evs, err := a.m.Deliver(tx)
		r := &abci.ExecTxResult{Code: control.Code(err), Events: abciEvents(evs)}
		if err != nil {
			r.Log = err.Error()
		}
		resp.TxResults[i] = r
	}
	evs, err := a.m.End()
	if err != nil {
		return nil, err
	}
	resp.Events = abciEvents(evs)
	if resp.AppHash, err = a.m.Commit(); err != nil {
		return nil, err
	}
	return resp, nil
}

// Commit makes the block durable; the mempool starts again from it.
func (a *App) Commit(context.Context, *abci.RequestCommit) (*abci.ResponseCommit, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.store.commit(); err != nil {
		return nil, err
	}
	return &abci.ResponseCommit{}, a.resetPool()
}

func abciEvents(evs []control.Event) []abci.Event {
	out := make([]abci.Event, 0, len(evs))
	for _, ev := range evs {
		attrs := []abci.EventAttribute{
			{Key: "type", Value: string(ev.Type), Index: true},
			{Key: "seq", Value: strconv.FormatUint(ev.Seq, 10), Index: true},
		}
		if ev.BlobID != nil {
			attrs = append(attrs, abci.EventAttribute{Key: "blob", Value: ev.BlobID.String(), Index: true})
		}
		if ev.Window != 0 {
			attrs = append(attrs, abci.EventAttribute{Key: "window", Value: strconv.FormatUint(ev.Window, 10), Index: true})
		}
		out = append(out, abci.Event{Type: "weft", Attributes: attrs})
	}
	return out
}

// MaxQueryLimit bounds pages of events and blobs.
const MaxQueryLimit = 10000

// Query answers read-only questions about committed state.
func (a *App) Query(_ context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// Queries read committed state only, through a machine of their own:
	// never a block between FinalizeBlock and Commit, and a query's
	// failure cannot touch the replicated machine.
	qm, err := control.NewMachine(a.committed)
	if err != nil {
		return &abci.ResponseQuery{Code: control.Code(err), Log: err.Error()}, nil
	}
	v, err := query(qm, req.Path, req.Data)
	if err != nil {
		return &abci.ResponseQuery{Code: control.Code(err), Log: err.Error()}, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	h, _, _ := qm.LastBlock()
	return &abci.ResponseQuery{Value: raw, Height: h}, nil
}

func limitOf(b []byte) int {
	if len(b) < 4 {
		return 1000
	}
	return min(max(int(binary.BigEndian.Uint32(b)), 1), MaxQueryLimit)
}

func query(qm *control.Machine, path string, data []byte) (any, error) {
	if qm.Params() == nil {
		return nil, control.ErrNotInitialized
	}
	bad := fmt.Errorf("%w: malformed query data for %s", control.ErrBadRequest, path)
	switch path {
	case control.QueryStatus:
		h, _, err := qm.LastBlock()
		if err != nil {
			return nil, err
		}
		e, start := qm.Epoch()
		ch, err := qm.EpochChange(0)
		if err != nil {
			return nil, err
		}
		return control.Status{Height: h, Epoch: e, EpochStart: start.UnixNano(), EpochState: ch.State, PreviousEpoch: ch.PreviousEpoch,
			SyncedWeight: ch.SyncedWeight, NextSeq: qm.NextSeq(), Params: qm.Params()}, nil
	case control.QueryBlob:
		if len(data) != len(blob.ID{}) {
			return nil, bad
		}
		return qm.Blob(blob.ID(data))
	case control.QueryCommittee:
		var e uint64
		if len(data) == 8 {
			e = binary.BigEndian.Uint64(data)
		} else if len(data) != 0 {
			return nil, bad
		}
		return qm.Committee(e)
	case control.QueryEpochChange:
		var e uint64
		if len(data) == 8 {
			e = binary.BigEndian.Uint64(data)
		} else if len(data) != 0 {
			return nil, bad
		}
		return qm.EpochChange(e)
	case control.QueryEvents:
		if len(data) != 12 {
			return nil, bad
		}
		evs, err := qm.Events(binary.BigEndian.Uint64(data), limitOf(data[8:]))
		if evs == nil {
			evs = []control.Event{}
		}
		return evs, err
	case control.QueryLive:
		var after *blob.ID
		switch len(data) {
		case 4:
		case 36:
			id := blob.ID(data[:32])
			after, data = &id, data[32:]
		default:
			return nil, bad
		}
		live, err := qm.LiveBlobs(after, limitOf(data))
		if live == nil {
			live = []control.BlobInfo{}
		}
		return live, err
	case control.QueryChallenges:
		if len(data) != 12 {
			return nil, bad
		}
		return qm.ChallengeReports(binary.BigEndian.Uint64(data), min(limitOf(data[8:]), 100))
	case control.QueryChallengeWindow:
		switch len(data) {
		case 0:
			return qm.OpenWindow()
		case 8:
			return qm.ChallengeWindow(binary.BigEndian.Uint64(data))
		}
		return nil, bad
	case control.QueryNode:
		if len(data) != len(control.PublicKey{}) {
			return nil, bad
		}
		return qm.Node(control.PublicKey(data))
	case control.QueryRegistration:
		if len(data) != len(blob.ID{})+len(control.PublicKey{}) {
			return nil, bad
		}
		return qm.Registration(blob.ID(data[:32]), control.PublicKey(data[32:]))
	}
	return nil, fmt.Errorf("%w: unknown query path %q", control.ErrBadRequest, path)
}

// quietLogger keeps Pebble's informational chatter out of the logs.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)              {}
func (quietLogger) Errorf(format string, args ...any) { log.Printf("pebble: "+format, args...) }
func (quietLogger) Fatalf(format string, args ...any) { log.Fatalf("pebble: "+format, args...) }
