// The machine and its access to the store: reads, this block's
// writes, events.

package control

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// Genesis is the initial state.
type Genesis struct {
	Params Params       `json:"params"`
	Nodes  []NodeRecord `json:"nodes"`
}

// Machine is the control plane state machine over a Store.
type Machine struct {
	store  Store
	params *Params

	height int64
	time   time.Time
	writes map[string][]byte // this block's writes; a nil value is a delete
	events []Event
	err    error // first store error: fatal for the replica
}

// NewMachine returns a machine over store, which may be empty (then
// InitGenesis must run first) or hold a previous state.
func NewMachine(store Store) (*Machine, error) {
	m := &Machine{store: store, writes: map[string][]byte{}}
	raw, err := store.Get(keyParams)
	if err != nil {
		return nil, err
	}
	if raw != nil {
		var p Params
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("control: stored params: %w", err)
		}
		m.params = &p
	}
	return m, nil
}

// Params returns the network parameters, or nil before genesis.
func (m *Machine) Params() *Params { return m.params }

func (m *Machine) get(key []byte) []byte {
	if v, ok := m.writes[string(key)]; ok {
		return v
	}
	v, err := m.store.Get(key)
	if err != nil && m.err == nil {
		m.err = fmt.Errorf("control: store: %w", err)
	}
	return v
}

func (m *Machine) set(key, value []byte) {
	m.writes[string(key)] = value
	if err := m.store.Set(key, value); err != nil && m.err == nil {
		m.err = fmt.Errorf("control: store: %w", err)
	}
}

func (m *Machine) del(key []byte) {
	m.writes[string(key)] = nil
	if err := m.store.Delete(key); err != nil && m.err == nil {
		m.err = fmt.Errorf("control: store: %w", err)
	}
}

func (m *Machine) getJSON(key []byte, v any) bool {
	raw := m.get(key)
	if raw == nil {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil && m.err == nil {
		m.err = fmt.Errorf("control: corrupt state at %q: %w", key, err)
	}
	return true
}

func (m *Machine) setJSON(key []byte, v any) {
	raw, err := json.Marshal(v)
	if err != nil && m.err == nil {
		m.err = err
	}
	m.set(key, raw)
}

func (m *Machine) getU64(key []byte) uint64 {
	raw := m.get(key)
	if len(raw) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(raw)
}

func (m *Machine) epoch() (uint64, int64) {
	raw := m.get(keyEpoch)
	if len(raw) < 16 {
		return 0, 0
	}
	return binary.BigEndian.Uint64(raw), int64(binary.BigEndian.Uint64(raw[8:]))
}

func (m *Machine) emit(ev Event) {
	seq := m.getU64(keySeq)
	if seq == 0 {
		seq = 1
	}
	ev.Seq, ev.Height = seq, m.height
	if ev.Epoch == 0 {
		ev.Epoch, _ = m.epoch()
	}
	m.setJSON(keyEvent(seq), ev)
	m.set(keySeq, binary.BigEndian.AppendUint64(nil, seq+1))
	m.events = append(m.events, ev)
}

func (m *Machine) takeEvents() []Event {
	ev := m.events
	m.events = nil
	return ev
}

// --- block lifecycle ---

// scan iterates the store; the block's own writes are already in the
// store, which Store implementations make visible to reads.
func (m *Machine) scan(start, end []byte, fn func(k, v []byte) bool) error {
	err := m.store.Scan(start, end, fn)
	if err != nil && m.err == nil {
		m.err = fmt.Errorf("control: store: %w", err)
	}
	return err
}
