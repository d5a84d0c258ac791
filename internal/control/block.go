// The block lifecycle: genesis, Begin, End (epoch boundaries and
// expiries), Commit and the app hash.

package control

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// LastBlock returns the height and app hash of the last committed block.
func (m *Machine) LastBlock() (int64, []byte, error) {
	raw, err := m.store.Get(keyLast)
	if err != nil || len(raw) < 8 {
		return 0, nil, err
	}
	return int64(binary.BigEndian.Uint64(raw)), raw[8:], nil
}

// --- store access with a sticky error and a write log ---

// InitGenesis writes the genesis state at block time t: parameters, the
// genesis nodes and the first committee (epoch 1).
func (m *Machine) InitGenesis(g Genesis, t time.Time) ([]Event, error) {
	if m.params != nil {
		return nil, errors.New("control: state already initialised")
	}
	if err := g.Params.Validate(); err != nil {
		return nil, err
	}
	if len(g.Nodes) == 0 {
		return nil, errors.New("control: genesis needs at least one storage node")
	}
	m.time = t
	p := g.Params
	m.params = &p
	m.setJSON(keyParams, p)
	seen := map[PublicKey]bool{}
	for _, n := range g.Nodes {
		if seen[n.Key] {
			return nil, fmt.Errorf("control: genesis node %s listed twice", n.Key)
		}
		seen[n.Key] = true
		if err := checkNodeInfo(n.Name, n.Address); err != nil {
			return nil, fmt.Errorf("control: genesis node %s: %w", n.Key, err)
		}
		if n.Weight == 0 {
			n.Weight = 1 // a genesis node that names no weight
		}
		if n.Weight > MaxWeight {
			return nil, fmt.Errorf("control: genesis node %s: weight %d exceeds %d", n.Key, n.Weight, MaxWeight)
		}
		n.Registered = 1
		n.Leaving, n.LeaveEpoch = false, 0
		m.putNode(n)
		k := n.Key
		m.emit(Event{Type: EventNodeRegistered, Node: &k, Epoch: 1})
	}
	m.startEpoch(1, nil)
	return m.takeEvents(), m.err
}

// Begin starts a block.
func (m *Machine) Begin(height int64, t time.Time) {
	m.height, m.time = height, t
	clear(m.writes)
	m.events = nil
}

// End finishes a block's transactions: transactions that expired are
// forgotten, and the epoch advances if its duration has passed by the
// block time.
func (m *Machine) End() ([]Event, error) {
	if m.params != nil {
		m.forgetExpiredTxs()
	}
	if m.params != nil && m.params.EpochDuration > 0 {
		epoch, start := m.epoch()
		if m.time.UnixNano()-start >= int64(m.params.EpochDuration) {
			m.advance(epoch + 1)
		}
	}
	if m.params != nil {
		m.endChallenges()
	}
	return m.takeEvents(), m.err
}

// Commit ends the block and returns the app hash:
// H("weft/apphash/v1" ‖ previous app hash ‖ height ‖ H(sorted writes)).
func (m *Machine) Commit() ([]byte, error) {
	if m.err != nil {
		return nil, m.err
	}
	_, prev, err := m.LastBlock()
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(m.writes))
	for k := range m.writes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	wh := sha256.New()
	var lenBuf [8]byte
	for _, k := range keys {
		v := m.writes[k]
		binary.BigEndian.PutUint64(lenBuf[:], uint64(len(k)))
		wh.Write(lenBuf[:])
		wh.Write([]byte(k))
		if v == nil {
			wh.Write([]byte{0})
			continue
		}
		wh.Write([]byte{1})
		binary.BigEndian.PutUint64(lenBuf[:], uint64(len(v)))
		wh.Write(lenBuf[:])
		wh.Write(v)
	}
	h := sha256.New()
	h.Write([]byte("weft/apphash/v1"))
	h.Write(prev)
	binary.BigEndian.PutUint64(lenBuf[:], uint64(m.height))
	h.Write(lenBuf[:])
	h.Write(wh.Sum(nil))
	app := h.Sum(nil)
	last := binary.BigEndian.AppendUint64(nil, uint64(m.height))
	if err := m.store.Set(keyLast, append(last, app...)); err != nil {
		return nil, err
	}
	if err := m.store.Set(keyTime, binary.BigEndian.AppendUint64(nil, uint64(m.time.UnixNano()))); err != nil {
		return nil, err
	}
	clear(m.writes)
	return app, nil
}

// LastBlockTime returns the time of the last committed block (zero
// before the first).
func (m *Machine) LastBlockTime() (time.Time, error) {
	raw, err := m.store.Get(keyTime)
	if err != nil || len(raw) < 8 {
		return time.Time{}, err
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(raw))).UTC(), nil
}
