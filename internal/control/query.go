package control

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/weftnet/weft/blob"
)

// Queries read committed state; the engine serialises them with blocks.

// Epoch returns the current epoch and when it began.
func (m *Machine) Epoch() (uint64, time.Time) {
	e, start := m.epoch()
	return e, time.Unix(0, start).UTC()
}

// Committee returns the committee of an epoch (0 = current).
func (m *Machine) Committee(epoch uint64) (*Committee, error) {
	if epoch == 0 {
		epoch, _ = m.epoch()
	}
	var c Committee
	if !m.getJSON(keyCommittee(epoch), &c) {
		return nil, fmt.Errorf("%w: no committee for epoch %d", ErrEpoch, epoch)
	}
	return &c, m.err
}

// EpochChange returns the state of an epoch's change of committee (0 =
// current).
func (m *Machine) EpochChange(epoch uint64) (*EpochChange, error) {
	current, _ := m.epoch()
	if epoch == 0 {
		epoch = current
	}
	if epoch == 0 || epoch > current {
		return nil, fmt.Errorf("%w: no epoch %d yet", ErrEpoch, epoch)
	}
	c := m.epochChange(epoch)
	return &c, m.err
}

// Blob returns what the control plane knows of a blob: Status is
// StatusUnknown (and the record empty) for an unregistered blob.
func (m *Machine) Blob(id blob.ID) (BlobInfo, error) {
	epoch, _ := m.epoch()
	var b Blob
	if !m.getJSON(keyBlob(id), &b) {
		return BlobInfo{Blob: Blob{ID: id}, Status: StatusUnknown}, m.err
	}
	return BlobInfo{Blob: b, Status: b.Status(epoch)}, m.err
}

// Registration returns an owner's registration of a blob, or nil if it
// holds none.
func (m *Machine) Registration(id blob.ID, owner PublicKey) (*Registration, error) {
	var r Registration
	if !m.getJSON(keyReg(id, owner), &r) {
		return nil, m.err
	}
	return &r, m.err
}

// NextSeq is the sequence number the next event will get.
func (m *Machine) NextSeq() uint64 {
	if s := m.getU64(keySeq); s > 0 {
		return s
	}
	return 1
}

// Events returns up to limit events with sequence numbers above after.
func (m *Machine) Events(after uint64, limit int) ([]Event, error) {
	var out []Event
	var bad error
	err := m.store.Scan(keyEvent(after+1), []byte("e0"), func(_, v []byte) bool {
		var ev Event
		if err := json.Unmarshal(v, &ev); err != nil {
			bad = fmt.Errorf("control: corrupt event: %w", err)
			return false
		}
		out = append(out, ev)
		return len(out) < limit
	})
	if err == nil {
		err = bad
	}
	return out, err
}

// LiveBlobs returns up to limit blobs, in blob ID order after the given
// one (nil for the first page), that nodes must store now: registered or
// certified, not expired, deleted or invalid. Every live blob has one
// pair on every shard, so this is also the live set of any shard.
func (m *Machine) LiveBlobs(after *blob.ID, limit int) ([]BlobInfo, error) {
	start := []byte("l/")
	if after != nil {
		start = append(keyLive(*after), 0)
	}
	var ids []blob.ID
	if err := m.store.Scan(start, []byte("l0"), func(k, _ []byte) bool {
		var id blob.ID
		copy(id[:], k[2:])
		ids = append(ids, id)
		return len(ids) < limit
	}); err != nil {
		return nil, err
	}
	out := make([]BlobInfo, 0, len(ids))
	for _, id := range ids {
		b, err := m.Blob(id)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
