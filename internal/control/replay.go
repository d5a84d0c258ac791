package control

import (
	"encoding/binary"
	"fmt"
	"time"
)

// remember refuses a transaction whose validity window does not hold the
// block time, or that the state has seen before; otherwise it records the
// transaction until it expires.
func (m *Machine) remember(tx *Tx) error {
	now := m.time.UnixMilli()
	exp := tx.Payload.Expires
	switch {
	case exp < now:
		return fmt.Errorf("%w: it expired at %s, the block time is %s", ErrTxExpired,
			time.UnixMilli(exp).UTC().Format(time.RFC3339), m.time.UTC().Format(time.RFC3339))
	case exp > now+MaxTxLifetime.Milliseconds():
		return fmt.Errorf("%w: it expires at %s, more than %v after the block time %s (is the sender's clock right?)", ErrTxExpired,
			time.UnixMilli(exp).UTC().Format(time.RFC3339), MaxTxLifetime, m.time.UTC().Format(time.RFC3339))
	}
	id := tx.ID()
	if m.get(keyTxSeen(id)) != nil {
		return fmt.Errorf("%w: %x", ErrReplay, id[:8])
	}
	m.set(keyTxSeen(id), binary.BigEndian.AppendUint64(nil, uint64(exp)))
	m.set(keyTxExpiry(exp, id), []byte{1})
	return nil
}

// forgetExpiredTxs drops the memory of transactions that can no longer
// be valid: their Expires is before the block time.
func (m *Machine) forgetExpiredTxs() {
	start := []byte("t/")
	end := binary.BigEndian.AppendUint64([]byte("t/"), uint64(m.time.UnixMilli()))
	var ids [][32]byte
	var exps []int64
	m.scan(start, end, func(k, _ []byte) bool {
		var id [32]byte
		copy(id[:], k[10:])
		ids = append(ids, id)
		exps = append(exps, int64(binary.BigEndian.Uint64(k[2:10])))
		return true
	})
	for i, id := range ids {
		m.del(keyTxSeen(id))
		m.del(keyTxExpiry(exps[i], id))
	}
}
