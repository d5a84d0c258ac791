// The state's key layout.

package control

import (
	"bytes"
	"encoding/binary"

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
