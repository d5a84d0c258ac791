package control

import (
	"bytes"
	"slices"
)

// Overlay is a Store that keeps writes in memory over a read-only base:
// the mempool's scratch state. The engine runs every transaction it is
// asked to admit through a Machine over an Overlay of the committed
// state, with the transactions already admitted applied, and rolls back
// the ones that fail: so a transaction that would fail in its block is
// never admitted, and one that depends on an earlier pending one (a
// certificate after its registration) is.
type Overlay struct {
	base   Store
	writes map[string][]byte // nil value: deleted
	undo   []undo
}

type undo struct {
	key     string
	value   []byte
	present bool
}

// NewOverlay returns an empty overlay over base.
func NewOverlay(base Store) *Overlay { return &Overlay{base: base, writes: map[string][]byte{}} }

// Mark returns a point to roll back to.
func (o *Overlay) Mark() int { return len(o.undo) }

// Rollback undoes every write since mark.
func (o *Overlay) Rollback(mark int) {
	for i := len(o.undo) - 1; i >= mark; i-- {
		u := o.undo[i]
		if u.present {
			o.writes[u.key] = u.value
		} else {
			delete(o.writes, u.key)
		}
	}
	o.undo = o.undo[:mark]
}

// Len is the number of keys the overlay holds, a measure of its memory.
func (o *Overlay) Len() int { return len(o.writes) }

func (o *Overlay) record(key string) {
	v, ok := o.writes[key]
	o.undo = append(o.undo, undo{key: key, value: v, present: ok})
}

// Get implements Store.
func (o *Overlay) Get(key []byte) ([]byte, error) {
	if v, ok := o.writes[string(key)]; ok {
		return v, nil
	}
	return o.base.Get(key)
}

// Set implements Store.
func (o *Overlay) Set(key, value []byte) error {
	o.record(string(key))
	o.writes[string(key)] = bytes.Clone(value)
	return nil
}

// Delete implements Store.
func (o *Overlay) Delete(key []byte) error {
	o.record(string(key))
	o.writes[string(key)] = nil
	return nil
}

// Scan implements Store: the base's keys merged with the overlay's.
func (o *Overlay) Scan(start, end []byte, fn func(key, value []byte) bool) error {
	var mine []string
	for k := range o.writes {
		if k >= string(start) && (end == nil || k < string(end)) {
			mine = append(mine, k)
		}
	}
	slices.Sort(mine)
	i, stopped := 0, false
	// emit sends the overlay's keys below limit (all if limit is nil).
	emit := func(limit []byte) bool {
		for ; i < len(mine) && (limit == nil || mine[i] < string(limit)); i++ {
			if v := o.writes[mine[i]]; v != nil && !fn([]byte(mine[i]), v) {
				return false
			}
		}
		return true
	}
	err := o.base.Scan(start, end, func(k, v []byte) bool {
		if !emit(k) {
			stopped = true
			return false
		}
		if i < len(mine) && mine[i] == string(k) {
			i++
			if w := o.writes[string(k)]; w != nil && !fn(k, w) {
				stopped = true
				return false
			}
			return true
		}
		if !fn(k, v) {
			stopped = true
			return false
		}
		return true
	})
	if err != nil || stopped {
		return err
	}
	emit(nil)
	return nil
}
