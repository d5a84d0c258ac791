package control

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/weftnet/weft/blob"
)

// Rejection reasons. A rejected transaction changes nothing but its
// sender's nonce; the error says why.
var (
	ErrNotInitialized = errors.New("control: state has no genesis")
	ErrNonce          = errors.New("control: nonce already used")
	ErrUnknownBlob    = errors.New("control: unknown blob")
	ErrBlobExists     = errors.New("control: blob already registered")
	ErrBlobState      = errors.New("control: blob is not in a state that allows this")
	ErrEpoch          = errors.New("control: wrong epoch")
	ErrCertificate    = errors.New("control: invalid certificate")
	ErrNotAllowed     = errors.New("control: sender not allowed")
	ErrBadRequest     = errors.New("control: bad request")
)

// Key layout. Integers are big-endian so that keys sort numerically.
var (
	keyParams = []byte("m/params")
	keyEpoch  = []byte("m/epoch") // epoch u64 ‖ start unix-ns i64
	keySeq    = []byte("m/seq")   // next event seq
	keyLast   = []byte("m/last")  // height i64 ‖ app hash
)

func keyCommittee(epoch uint64) []byte { return binary.BigEndian.AppendUint64([]byte("c/"), epoch) }
func keyNode(k PublicKey) []byte       { return append([]byte("n/"), k[:]...) }
func keyNonce(k PublicKey) []byte      { return append([]byte("a/"), k[:]...) }
func keyBlob(id blob.ID) []byte        { return append([]byte("b/"), id[:]...) }
func keyLive(id blob.ID) []byte        { return append([]byte("l/"), id[:]...) }
func keyEvent(seq uint64) []byte       { return binary.BigEndian.AppendUint64([]byte("e/"), seq) }
func keyExpiry(epoch uint64, id blob.ID) []byte {
	return append(binary.BigEndian.AppendUint64([]byte("x/"), epoch), id[:]...)
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
		n.Registered = 1
		m.setJSON(keyNode(n.Key), n)
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

// End finishes a block's transactions: the epoch advances if its
// duration has passed by the block time.
func (m *Machine) End() ([]Event, error) {
	if m.params != nil && m.params.EpochDuration > 0 {
		epoch, start := m.epoch()
		if m.time.UnixNano()-start >= int64(m.params.EpochDuration) {
			m.advance(epoch + 1)
		}
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
	clear(m.writes)
	return app, nil
}

// Check validates a transaction for the mempool against committed state:
// encoding, signature and nonce.
func (m *Machine) Check(raw []byte) (*Tx, error) {
	if m.params == nil {
		return nil, ErrNotInitialized
	}
	tx, err := DecodeTx(m.params.NetworkID, raw)
	if err != nil {
		return nil, err
	}
	if tx.Payload.Nonce <= m.getU64(keyNonce(tx.Sender)) {
		return nil, fmt.Errorf("%w: %d", ErrNonce, tx.Payload.Nonce)
	}
	return tx, m.err
}

// Deliver applies one transaction of the current block. A rejected
// transaction returns an error wrapping one of the rejection reasons and
// changes only its sender's nonce (so it can never be replayed). A store
// failure is reported by Commit.
func (m *Machine) Deliver(raw []byte) ([]Event, error) {
	tx, err := m.Check(raw)
	if err != nil {
		return nil, err
	}
	m.set(keyNonce(tx.Sender), binary.BigEndian.AppendUint64(nil, tx.Payload.Nonce))
	err = m.apply(tx)
	return m.takeEvents(), err
}

func (m *Machine) apply(tx *Tx) error {
	p := &tx.Payload
	switch {
	case p.RegisterNode != nil:
		return m.registerNode(tx.Sender, p.RegisterNode)
	case p.RegisterBlob != nil:
		return m.registerBlob(tx.Sender, p.RegisterBlob)
	case p.CertifyBlob != nil:
		return m.certify(p.CertifyBlob)
	case p.InvalidateBlob != nil:
		return m.invalidate(p.InvalidateBlob)
	case p.DeleteBlob != nil:
		return m.deleteBlob(tx.Sender, p.DeleteBlob.ID)
	case p.ExtendBlob != nil:
		return m.extend(p.ExtendBlob)
	case p.AdvanceEpoch != nil:
		return m.adminAdvance(tx.Sender, p.AdvanceEpoch)
	}
	return ErrBadRequest
}

// --- transactions ---

func (m *Machine) registerNode(sender PublicKey, r *RegisterNode) error {
	if len(r.Name) > 64 || len(r.Address) > 256 || r.Address == "" {
		return fmt.Errorf("%w: node name up to 64 bytes and an address up to 256 bytes", ErrBadRequest)
	}
	var n Node
	if m.getJSON(keyNode(sender), &n) {
		// A registered node may update its name and address.
		n.Name, n.Address = r.Name, r.Address
		m.setJSON(keyNode(sender), n)
		m.emit(Event{Type: EventNodeUpdated, Node: &sender})
		return nil
	}
	epoch, _ := m.epoch()
	n = Node{Key: sender, Name: r.Name, Address: r.Address, Registered: epoch}
	m.setJSON(keyNode(sender), n)
	m.emit(Event{Type: EventNodeRegistered, Node: &sender})
	return nil
}

func (m *Machine) registerBlob(owner PublicKey, r *RegisterBlob) error {
	epoch, _ := m.epoch()
	switch {
	case r.Encoding != blob.RS2D16:
		return fmt.Errorf("%w: unknown encoding %d", ErrBadRequest, r.Encoding)
	case r.EndEpoch <= epoch:
		return fmt.Errorf("%w: end epoch %d is not after the current epoch %d", ErrEpoch, r.EndEpoch, epoch)
	case r.EndEpoch > epoch+m.params.MaxEpochsAhead:
		return fmt.Errorf("%w: end epoch %d is more than %d epochs ahead", ErrEpoch, r.EndEpoch, m.params.MaxEpochsAhead)
	}
	if m.get(keyBlob(r.ID)) != nil {
		return fmt.Errorf("%w: %v", ErrBlobExists, r.ID)
	}
	b := Blob{ID: r.ID, Length: r.Length, Encoding: r.Encoding, Owner: owner,
		RegisteredEpoch: epoch, EndEpoch: r.EndEpoch, Deletable: r.Deletable}
	m.setJSON(keyBlob(r.ID), b)
	m.set(keyLive(r.ID), []byte{1})
	m.set(keyExpiry(r.EndEpoch, r.ID), []byte{1})
	id := r.ID
	m.emit(Event{Type: EventBlobRegistered, BlobID: &id, EndEpoch: r.EndEpoch})
	return nil
}

func (m *Machine) blob(id blob.ID) (*Blob, error) {
	var b Blob
	if !m.getJSON(keyBlob(id), &b) {
		return nil, fmt.Errorf("%w: %v", ErrUnknownBlob, id)
	}
	return &b, nil
}

// checkCertificate verifies signatures over msg by distinct members of the
// current committee and returns their weight in shards.
func (m *Machine) checkCertificate(c *Certificate, msg []byte) (int, error) {
	epoch, _ := m.epoch()
	if c.Epoch != epoch {
		return 0, fmt.Errorf("%w: certificate for epoch %d, current epoch is %d", ErrEpoch, c.Epoch, epoch)
	}
	var com Committee
	if !m.getJSON(keyCommittee(epoch), &com) {
		return 0, fmt.Errorf("%w: no committee for epoch %d", ErrCertificate, epoch)
	}
	seen := map[PublicKey]bool{}
	weight := 0
	for i, s := range c.Signatures {
		if seen[s.Node] {
			return 0, fmt.Errorf("%w: signer %s appears twice", ErrCertificate, s.Node.Short())
		}
		seen[s.Node] = true
		w := com.Weight(s.Node)
		if w == 0 {
			return 0, fmt.Errorf("%w: signer %s is not in the committee of epoch %d", ErrCertificate, s.Node.Short(), epoch)
		}
		if len(s.Sig) != ed25519.SignatureSize || !ed25519.Verify(s.Node[:], msg, s.Sig) {
			return 0, fmt.Errorf("%w: signature %d (node %s) does not verify", ErrCertificate, i, s.Node.Short())
		}
		weight += w
	}
	return weight, nil
}

func (m *Machine) certify(c *Certificate) error {
	b, err := m.blob(c.ID)
	if err != nil {
		return err
	}
	epoch, _ := m.epoch()
	if st := b.Status(epoch); st != StatusRegistered {
		return fmt.Errorf("%w: blob is %s", ErrBlobState, st)
	}
	weight, err := m.checkCertificate(c, ConfirmationMessage(m.params.NetworkID, c.Epoch, c.ID))
	if err != nil {
		return err
	}
	if weight < m.params.Quorum() {
		return fmt.Errorf("%w: confirmations worth %d shards, need %d", ErrCertificate, weight, m.params.Quorum())
	}
	b.Certified, b.CertifiedEpoch = true, epoch
	m.setJSON(keyBlob(c.ID), b)
	id := c.ID
	m.emit(Event{Type: EventBlobCertified, BlobID: &id, EndEpoch: b.EndEpoch})
	return nil
}

func (m *Machine) invalidate(c *Certificate) error {
	b, err := m.blob(c.ID)
	if err != nil {
		return err
	}
	if b.Invalid {
		return fmt.Errorf("%w: blob is already invalid", ErrBlobState)
	}
	weight, err := m.checkCertificate(c, InvalidMessage(m.params.NetworkID, c.Epoch, c.ID))
	if err != nil {
		return err
	}
	if weight < m.params.Validity() {
		return fmt.Errorf("%w: attestations worth %d shards, need %d", ErrCertificate, weight, m.params.Validity())
	}
	b.Invalid = true
	m.setJSON(keyBlob(c.ID), b)
	m.dropLive(b)
	id := c.ID
	m.emit(Event{Type: EventBlobInvalid, BlobID: &id})
	return nil
}

func (m *Machine) dropLive(b *Blob) {
	m.del(keyLive(b.ID))
	m.del(keyExpiry(b.EndEpoch, b.ID))
}

func (m *Machine) deleteBlob(sender PublicKey, id blob.ID) error {
	b, err := m.blob(id)
	if err != nil {
		return err
	}
	epoch, _ := m.epoch()
	switch {
	case b.Owner != sender:
		return fmt.Errorf("%w: only the owner may delete a blob", ErrNotAllowed)
	case !b.Deletable:
		return fmt.Errorf("%w: blob was not registered as deletable", ErrNotAllowed)
	}
	if st := b.Status(epoch); st != StatusRegistered && st != StatusCertified {
		return fmt.Errorf("%w: blob is %s", ErrBlobState, st)
	}
	b.Deleted = true
	m.setJSON(keyBlob(id), b)
	m.dropLive(b)
	m.emit(Event{Type: EventBlobDeleted, BlobID: &id})
	return nil
}

func (m *Machine) extend(e *ExtendBlob) error {
	b, err := m.blob(e.ID)
	if err != nil {
		return err
	}
	epoch, _ := m.epoch()
	if st := b.Status(epoch); st != StatusRegistered && st != StatusCertified {
		return fmt.Errorf("%w: blob is %s", ErrBlobState, st)
	}
	if e.EndEpoch <= b.EndEpoch || e.EndEpoch > epoch+m.params.MaxEpochsAhead {
		return fmt.Errorf("%w: new end epoch %d must be after %d and at most %d", ErrEpoch, e.EndEpoch, b.EndEpoch, epoch+m.params.MaxEpochsAhead)
	}
	m.del(keyExpiry(b.EndEpoch, b.ID))
	b.EndEpoch = e.EndEpoch
	m.setJSON(keyBlob(e.ID), b)
	m.set(keyExpiry(b.EndEpoch, b.ID), []byte{1})
	id := e.ID
	m.emit(Event{Type: EventBlobExtended, BlobID: &id, EndEpoch: e.EndEpoch})
	return nil
}

func (m *Machine) adminAdvance(sender PublicKey, a *AdvanceEpoch) error {
	if m.params.Admin == (PublicKey{}) || sender != m.params.Admin {
		return fmt.Errorf("%w: only the admin may advance the epoch", ErrNotAllowed)
	}
	epoch, _ := m.epoch()
	if a.Epoch != epoch+1 {
		return fmt.Errorf("%w: asked to start epoch %d, current is %d", ErrEpoch, a.Epoch, epoch)
	}
	m.advance(epoch + 1)
	return nil
}

// --- epochs ---

func (m *Machine) advance(next uint64) {
	var prev Committee
	m.getJSON(keyCommittee(next-1), &prev)
	m.startEpoch(next, &prev)
	// Blobs whose end epoch is reached expire now.
	var expired []blob.ID
	start := binary.BigEndian.AppendUint64([]byte("x/"), next)
	end := binary.BigEndian.AppendUint64([]byte("x/"), next+1)
	if err := m.scan(start, end, func(k, _ []byte) bool {
		var id blob.ID
		copy(id[:], k[len(start):])
		expired = append(expired, id)
		return true
	}); err != nil {
		return
	}
	for _, id := range expired {
		m.del(keyLive(id))
		m.del(keyExpiry(next, id))
		m.emit(Event{Type: EventBlobExpired, BlobID: &id})
	}
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

func (m *Machine) startEpoch(epoch uint64, prev *Committee) {
	var nodes []Node
	m.scan([]byte("n/"), []byte("n0"), func(_, v []byte) bool {
		var n Node
		if err := json.Unmarshal(v, &n); err == nil {
			nodes = append(nodes, n)
		}
		return true
	})
	com := Committee{Epoch: epoch, Start: m.time.UnixNano(), Members: AssignShards(m.params.Shards, prev, nodes)}
	m.setJSON(keyCommittee(epoch), com)
	m.set(keyEpoch, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, epoch), uint64(com.Start)))
	m.emit(Event{Type: EventEpochChanged, Epoch: epoch})
}
