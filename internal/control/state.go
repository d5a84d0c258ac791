package control

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/weftnet/weft/blob"
)

// Key layout. Integers are big-endian so that keys sort numerically.
var (
	keyParams = []byte("m/params")
	keyEpoch  = []byte("m/epoch") // epoch u64 ‖ start unix-ns i64
	keySeq    = []byte("m/seq")   // next event seq
	keyLast   = []byte("m/last")  // height i64 ‖ app hash
	keyTime   = []byte("m/time")  // last block's time, unix-ns i64 (outside the app hash, like m/last)
)

func keyCommittee(epoch uint64) []byte { return binary.BigEndian.AppendUint64([]byte("c/"), epoch) }
func keyNode(k PublicKey) []byte       { return append([]byte("n/"), k[:]...) }
func keyWeighted(k PublicKey) []byte   { return append([]byte("w/"), k[:]...) } // nodes with weight > 0
func keyBlob(id blob.ID) []byte        { return append([]byte("b/"), id[:]...) }
func keyLive(id blob.ID) []byte        { return append([]byte("l/"), id[:]...) }
func keyEvent(seq uint64) []byte       { return binary.BigEndian.AppendUint64([]byte("e/"), seq) }

// Epoch changes: s/ epoch → EpochChange; a/ epoch key marks a member's
// EpochSyncDone while the epoch is syncing.
func keyEpochChange(epoch uint64) []byte { return binary.BigEndian.AppendUint64([]byte("s/"), epoch) }
func keyAttested(epoch uint64, k PublicKey) []byte {
	return append(binary.BigEndian.AppendUint64([]byte("a/"), epoch), k[:]...)
}

// Registrations: r/ id owner → Registration; x/ end id owner marks when
// it expires; y/ id ^end owner orders an ID's registrations latest end
// first, so the ID's end epoch is the first key under its prefix.
func keyReg(id blob.ID, owner PublicKey) []byte {
	return append(append([]byte("r/"), id[:]...), owner[:]...)
}
func keyExpiry(end uint64, id blob.ID, owner PublicKey) []byte {
	return append(append(binary.BigEndian.AppendUint64([]byte("x/"), end), id[:]...), owner[:]...)
}
func keyRegEnd(id blob.ID, end uint64, owner PublicKey) []byte {
	return append(binary.BigEndian.AppendUint64(append([]byte("y/"), id[:]...), ^end), owner[:]...)
}

// Replay memory: h/ txid → expires; t/ expires txid for pruning.
func keyTxSeen(id [32]byte) []byte { return append([]byte("h/"), id[:]...) }
func keyTxExpiry(expires int64, id [32]byte) []byte {
	return append(binary.BigEndian.AppendUint64([]byte("t/"), uint64(expires)), id[:]...)
}

// prefixEnd is the first key after every key that starts with prefix.
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Genesis is the initial state.
type Genesis struct {
	Params Params `json:"params"`
	Nodes  []Node `json:"nodes"`
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

// LastBlock returns the height and app hash of the last committed block.
func (m *Machine) LastBlock() (int64, []byte, error) {
	raw, err := m.store.Get(keyLast)
	if err != nil || len(raw) < 8 {
		return 0, nil, err
	}
	return int64(binary.BigEndian.Uint64(raw)), raw[8:], nil
}

// --- store access with a sticky error and a write log ---

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

// Deliver applies one transaction of the current block. A transaction
// that does not decode or verify, or that is a replay, changes nothing.
// One that is rejected by the rules returns an error wrapping one of the
// rejection reasons and changes only the state's memory of it, so it
// can never be replayed. A store failure is reported by Commit.
//
// The mempool runs Deliver too, on a scratch copy of the committed state
// with the pending transactions applied (see Overlay), so a transaction
// that would fail is never admitted.
func (m *Machine) Deliver(raw []byte) ([]Event, error) {
	if m.params == nil {
		return nil, ErrNotInitialized
	}
	tx, err := DecodeTx(m.params.NetworkID, raw)
	if err != nil {
		return nil, err
	}
	err = m.deliver(tx)
	return m.takeEvents(), err
}

func (m *Machine) deliver(tx *Tx) error {
	if err := m.remember(tx); err != nil {
		return err
	}
	return m.apply(tx)
}

func (m *Machine) apply(tx *Tx) error {
	p := &tx.Payload
	switch {
	case p.RegisterNode != nil:
		return m.registerNode(tx.Sender, p.RegisterNode)
	case p.SetWeight != nil:
		return m.setWeight(tx.Sender, p.SetWeight)
	case p.RegisterBlob != nil:
		return m.registerBlob(tx.Sender, p.RegisterBlob)
	case p.CertifyBlob != nil:
		return m.certify(p.CertifyBlob)
	case p.InvalidateBlob != nil:
		return m.invalidate(p.InvalidateBlob)
	case p.DeleteBlob != nil:
		return m.deleteRegistration(tx.Sender, p.DeleteBlob.ID)
	case p.ExtendBlob != nil:
		return m.extend(tx.Sender, p.ExtendBlob)
	case p.AdvanceEpoch != nil:
		return m.adminAdvance(tx.Sender, p.AdvanceEpoch)
	case p.LeaveCommittee != nil:
		return m.leaveCommittee(tx.Sender)
	case p.EpochSyncDone != nil:
		return m.epochSyncDone(tx.Sender, p.EpochSyncDone)
	case p.ChallengeAnswer != nil:
		return m.challengeAnswer(tx.Sender, p.ChallengeAnswer)
	}
	return ErrBadRequest
}

// isGovernance reports whether key is the network's governance key (the
// admin of a devnet).
func (m *Machine) isGovernance(key PublicKey) bool {
	return m.params.Admin != (PublicKey{}) && key == m.params.Admin
}

// scan iterates the store; the block's own writes are already in the
// store, which Store implementations make visible to reads.
func (m *Machine) scan(start, end []byte, fn func(k, v []byte) bool) error {
	err := m.store.Scan(start, end, fn)
	if err != nil && m.err == nil {
		m.err = fmt.Errorf("control: store: %w", err)
	}
	return err
}
