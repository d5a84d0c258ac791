package control

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/weftnet/weft/blob"
)

// FuzzDecodeTx: no input crashes the decoder; whatever decodes was signed
// by its sender over exactly these bytes.
func FuzzDecodeTx(f *testing.F) {
	k := testKey("fuzz")
	for _, p := range []Payload{
		{Nonce: 1, RegisterBlob: &RegisterBlob{ID: blob.ID{1}, Length: 5, Encoding: blob.RS2D16, EndEpoch: 3}},
		{Nonce: 2, CertifyBlob: &Certificate{ID: blob.ID{2}, Epoch: 1, Signatures: []Signature{{Node: KeyOf(k), Sig: make([]byte, 64)}}}},
		{Nonce: 3, AdvanceEpoch: &AdvanceEpoch{Epoch: 2}},
		{Nonce: 4, LeaveCommittee: &LeaveCommittee{}},
		{Nonce: 5, EpochSyncDone: &EpochSyncDone{Epoch: 2}},
	} {
		raw, err := SignTx("fuzz-net", k, p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx, err := DecodeTx("fuzz-net", raw)
		if err != nil {
			return
		}
		if tx.Sender != KeyOf(k) {
			t.Fatalf("decoded a transaction from an unknown signer %s", tx.Sender)
		}
		// It must be one we signed: re-signing its payload bytes gives the
		// same transaction.
		var p Payload
		if err := json.Unmarshal(raw[97:], &p); err != nil {
			t.Fatalf("decoded payload does not parse: %v", err)
		}
		again, err := SignTx("fuzz-net", k, p)
		if err == nil && bytes.Equal(again[97:], raw[97:]) && !bytes.Equal(again, raw) {
			t.Fatalf("same payload, different signature accepted")
		}
	})
}
