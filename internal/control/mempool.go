package control

import (
	"fmt"
	"time"
)

// DefaultMaxPending bounds the transactions of one sender waiting in the
// mempool.
const DefaultMaxPending = 64

// Mempool decides which transactions a validator admits: every check
// that applying the transaction runs (signature, replay, expiry, the
// rules of its kind against the state), on a scratch state that holds
// the committed state plus the transactions admitted since, and a bound
// on the pending transactions of each sender. After each commit the
// engine resets it and re-checks what is still waiting, in order.
type Mempool struct {
	base       Store
	maxPending int
	overlay    *Overlay
	pending    map[PublicKey]int
	height     int64
	time       time.Time
}

// NewMempool returns an admission state over the committed store base.
// maxPending ≤ 0 means DefaultMaxPending.
func NewMempool(base Store, maxPending int) *Mempool {
	if maxPending <= 0 {
		maxPending = DefaultMaxPending
	}
	p := &Mempool{base: base, maxPending: maxPending}
	p.Reset(0, time.Time{})
	return p
}

// Reset forgets the admitted transactions: the block at height, with
// block time t, has just been committed.
func (p *Mempool) Reset(height int64, t time.Time) {
	p.overlay = NewOverlay(p.base)
	p.pending = map[PublicKey]int{}
	p.height, p.time = height, t
}

// Check admits raw or says why not. An admitted transaction's effects
// stay in the scratch state until the next Reset.
func (p *Mempool) Check(raw []byte) (*Tx, error) {
	m, err := NewMachine(p.overlay)
	if err != nil {
		return nil, err
	}
	if m.params == nil {
		return nil, ErrNotInitialized
	}
	tx, err := DecodeTx(m.params.NetworkID, raw)
	if err != nil {
		return nil, err
	}
	if p.pending[tx.Sender] >= p.maxPending {
		return nil, fmt.Errorf("%w: %d waiting", ErrBusy, p.pending[tx.Sender])
	}
	mark := p.overlay.Mark()
	m.Begin(p.height+1, p.time)
	if err := m.deliver(tx); err != nil {
		p.overlay.Rollback(mark)
		return nil, err
	}
	if m.err != nil {
		p.overlay.Rollback(mark)
		return nil, m.err
	}
	p.pending[tx.Sender]++
	return tx, nil
}
