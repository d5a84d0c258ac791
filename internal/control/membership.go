package control

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// CheckNodeAddress accepts the base URL of a node's API: http or https,
// with a host, and nothing a client would have to interpret (no user
// info, query, fragment or path other than "/"). Peers and clients send
// requests to it, so it must not name anything else.
func CheckNodeAddress(addr string) error {
	if len(addr) == 0 || len(addr) > 256 {
		return fmt.Errorf("%w: a node address is 1 to 256 bytes", ErrBadRequest)
	}
	u, err := url.Parse(addr)
	switch {
	case err != nil:
		return fmt.Errorf("%w: node address %q: %v", ErrBadRequest, addr, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: node address %q: the scheme must be http or https", ErrBadRequest, addr)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%w: node address %q has no host", ErrBadRequest, addr)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || (u.Path != "" && u.Path != "/"):
		return fmt.Errorf("%w: node address %q must be a bare base URL (scheme://host[:port])", ErrBadRequest, addr)
	}
	return nil
}

func checkNodeInfo(name, addr string) error {
	if len(name) > 64 || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return fmt.Errorf("%w: a node name is at most 64 printable bytes", ErrBadRequest)
	}
	return CheckNodeAddress(addr)
}

// putNode writes a node record and keeps the index of weighted nodes
// that are not leaving, which is all an epoch change reads: candidates
// and leavers cost it nothing.
func (m *Machine) putNode(n NodeRecord) {
	m.setJSON(keyNode(n.Key), n)
	if n.Weight > 0 && !n.Leaving {
		m.set(keyWeighted(n.Key), []byte{1})
	} else {
		m.del(keyWeighted(n.Key))
	}
}

// lastWeighted reports whether key is the only node that would be in
// the next committee.
func (m *Machine) lastWeighted(key PublicKey) bool {
	if m.get(keyWeighted(key)) == nil {
		return false
	}
	others := false
	m.scan([]byte("w/"), []byte("w0"), func(k, _ []byte) bool {
		others = PublicKey(k[2:]) != key
		return !others
	})
	return !others
}

func (m *Machine) registerNode(sender PublicKey, r *RegisterNode) error {
	if err := checkNodeInfo(r.Name, r.Address); err != nil {
		return err
	}
	var n NodeRecord
	if m.getJSON(keyNode(sender), &n) {
		// A registered node may update its name and address; its weight
		// is governance's. Registering again is also how a node that
		// left comes back: only its own key may undo its leaving.
		n.Name, n.Address = r.Name, r.Address
		n.Leaving, n.LeaveEpoch = false, 0
		m.putNode(n)
		m.emit(Event{Type: EventNodeUpdated, Node: &sender})
		return nil
	}
	epoch, _ := m.epoch()
	m.putNode(NodeRecord{Key: sender, Name: r.Name, Address: r.Address, Registered: epoch})
	m.emit(Event{Type: EventNodeRegistered, Node: &sender})
	return nil
}

func (m *Machine) setWeight(sender PublicKey, w *SetWeight) error {
	if !m.isGovernance(sender) {
		return fmt.Errorf("%w: only the governance key may set a node's weight", ErrNotAllowed)
	}
	if w.Weight > MaxWeight {
		return fmt.Errorf("%w: weight %d exceeds %d", ErrBadRequest, w.Weight, uint64(MaxWeight))
	}
	var n NodeRecord
	if !m.getJSON(keyNode(w.Node), &n) {
		return fmt.Errorf("%w: node %s is not registered (it registers itself first)", ErrBadRequest, w.Node)
	}
	if w.Weight == 0 && m.lastWeighted(w.Node) {
		return fmt.Errorf("%w: node %s is the last node with weight; the committee would be empty", ErrNotAllowed, w.Node)
	}
	n.Weight = w.Weight
	m.putNode(n)
	if w.Weight > 0 {
		m.resetStreak(w.Node)
	}
	k := w.Node
	m.emit(Event{Type: EventNodeUpdated, Node: &k})
	return nil
}

func (m *Machine) leaveCommittee(sender PublicKey) error {
	var n NodeRecord
	switch {
	case !m.getJSON(keyNode(sender), &n):
		return fmt.Errorf("%w: node %s is not registered", ErrBadRequest, sender)
	case n.Leaving:
		return fmt.Errorf("%w: node %s is already leaving (from epoch %d)", ErrBadRequest, sender, n.LeaveEpoch)
	case m.lastWeighted(sender):
		return fmt.Errorf("%w: node %s is the last node with weight; the committee would be empty", ErrNotAllowed, sender)
	}
	epoch, _ := m.epoch()
	n.Leaving, n.LeaveEpoch = true, epoch+1
	m.putNode(n)
	m.emit(Event{Type: EventNodeLeaving, Node: &sender})
	return nil
}

// Node returns a registered node's record.
func (m *Machine) Node(key PublicKey) (*NodeRecord, error) {
	var n NodeRecord
	if !m.getJSON(keyNode(key), &n) {
		return nil, m.err
	}
	return &n, m.err
}

func (m *Machine) adminAdvance(sender PublicKey, a *AdvanceEpoch) error {
	if !m.isGovernance(sender) {
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
	m.expireRegistrations(next)
}

// startEpoch computes the committee of an epoch from the weighted nodes
// that are not leaving: shards apportioned by weight with a cap, moving
// as few as possible from prev (nil at genesis). The epoch is done at
// once if the previous one was done and no shard changed hands; else it
// is syncing, and a previous epoch still syncing is superseded.
func (m *Machine) startEpoch(epoch uint64, prev *Committee) {
	var keys []PublicKey
	m.scan([]byte("w/"), []byte("w0"), func(k, _ []byte) bool {
		keys = append(keys, PublicKey(k[2:]))
		return true
	})
	nodes := make([]NodeRecord, 0, len(keys))
	for _, k := range keys {
		n, err := m.weightedNode(k)
		if err != nil {
			if m.err == nil {
				m.err = err
			}
			return
		}
		nodes = append(nodes, n)
	}
	com := Committee{Epoch: epoch, Start: m.time.UnixNano(), Members: AssignShards(m.params.Shards, prev, nodes)}
	change := EpochChange{Epoch: epoch, State: EpochDone}
	if epoch > 1 {
		last := m.epochChange(epoch - 1)
		switch last.State {
		case EpochDone:
			change.PreviousEpoch = epoch - 1
		case EpochSyncing:
			last.State = EpochSuperseded
			m.setJSON(keyEpochChange(epoch-1), last)
			change.PreviousEpoch = last.PreviousEpoch
		}
		m.forgetAttestations(epoch - 1)
		if change.PreviousEpoch != epoch-1 || !SameShards(prev, &com) {
			change.State = EpochSyncing
		}
	}
	m.setJSON(keyCommittee(epoch), com)
	m.setJSON(keyEpochChange(epoch), change)
	m.set(keyEpoch, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, epoch), uint64(com.Start)))
	m.emit(Event{Type: EventEpochChanged, Epoch: epoch, EpochState: change.State, PreviousEpoch: change.PreviousEpoch})
	if change.State == EpochDone {
		m.emit(Event{Type: EventEpochDone, Epoch: epoch})
	}
}

// weightedNode reads the record of a node in the index of weighted
// nodes. putNode writes the two together, so a record that is missing,
// does not decode, or is not that of a weighted node that stays is
// corrupt state: an error naming the node, fatal for the replica like
// every other corrupt record. Left out instead, the node would silently
// lose its shards.
func (m *Machine) weightedNode(k PublicKey) (NodeRecord, error) {
	var n NodeRecord
	raw := m.get(keyNode(k))
	if raw == nil {
		return n, fmt.Errorf("control: weighted node %s has no record", k)
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return n, fmt.Errorf("control: weighted node %s: corrupt record: %w", k, err)
	}
	if n.Key != k || n.Weight == 0 || n.Leaving {
		return n, fmt.Errorf("control: weighted node %s: corrupt record (key %s, weight %d, leaving %v)", k, n.Key, n.Weight, n.Leaving)
	}
	return n, nil
}

// epochChange reads an epoch's change. A state written before epoch
// changes were recorded has none: its epochs count as done.
func (m *Machine) epochChange(epoch uint64) EpochChange {
	var c EpochChange
	if !m.getJSON(keyEpochChange(epoch), &c) {
		c = EpochChange{Epoch: epoch, State: EpochDone, PreviousEpoch: epoch - 1}
	}
	return c
}

// forgetAttestations drops an epoch's EpochSyncDone marks once they can
// no longer matter (the epoch is done or superseded).
func (m *Machine) forgetAttestations(epoch uint64) {
	prefix := binary.BigEndian.AppendUint64([]byte("a/"), epoch)
	var keys [][]byte
	m.scan(prefix, prefixEnd(prefix), func(k, _ []byte) bool {
		keys = append(keys, bytes.Clone(k))
		return true
	})
	for _, k := range keys {
		m.del(k)
	}
}

func (m *Machine) epochSyncDone(sender PublicKey, d *EpochSyncDone) error {
	epoch, _ := m.epoch()
	if d.Epoch != epoch {
		return fmt.Errorf("%w: sync done for epoch %d, current is %d", ErrEpoch, d.Epoch, epoch)
	}
	change := m.epochChange(epoch)
	if change.State != EpochSyncing && change.State != EpochDone {
		return fmt.Errorf("%w: epoch %d is %s", ErrEpochState, epoch, change.State)
	}
	var com Committee
	if !m.getJSON(keyCommittee(epoch), &com) {
		return fmt.Errorf("%w: no committee for epoch %d", ErrEpoch, epoch)
	}
	w := com.Weight(sender)
	switch {
	case w == 0:
		return fmt.Errorf("%w: %s is not a member of epoch %d's committee", ErrNotAllowed, sender, epoch)
	case m.get(keyAttested(epoch, sender)) != nil:
		return fmt.Errorf("%w: %s attested epoch %d's sync already", ErrAttested, sender, epoch)
	}
	// Attestations count until the epoch ends, also after it is done: a
	// member that finishes its sync late still says so, and the previous
	// owners of its shards drop them only then.
	m.set(keyAttested(epoch, sender), []byte{1})
	change.SyncedWeight += w
	m.emit(Event{Type: EventEpochSyncDone, Epoch: epoch, Node: &sender})
	if change.State == EpochSyncing && change.SyncedWeight >= m.params.Quorum() {
		change.State = EpochDone
		m.emit(Event{Type: EventEpochDone, Epoch: epoch})
	}
	m.setJSON(keyEpochChange(epoch), change)
	return nil
}
