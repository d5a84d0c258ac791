package control

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/weftnet/weft/blob"
)

// TxVersion is the first byte of every transaction.
const TxVersion = 1

// MaxTxSize bounds an encoded transaction of any kind; each kind has a
// tighter bound (maxSize).
const MaxTxSize = maxChallengeTxSize

// MaxTxLifetime bounds how far past the block time a transaction's
// Expires may be, and so how long the state remembers a transaction to
// refuse its replay.
const MaxTxLifetime = 10 * time.Minute

// Size bounds per transaction kind.
const (
	maxSmallTxSize = 2 << 10 // everything but certificates
	// A registration may carry attributes, whose every byte JSON may
	// escape as \u00XX (6 bytes).
	maxRegisterTxSize = maxSmallTxSize + 6*MaxAttributesSize
	// A certificate's signature costs about 150 bytes of JSON; the bound
	// is checked against the committee's size when the tx is applied.
	certificateBaseSize = 1 << 10
	certificateSigSize  = 256
)

// Tx is a signed transaction: version ‖ sender key (32) ‖ Ed25519
// signature (64) ‖ payload (JSON). The signature covers the domain
// "weft/tx/v1", the network ID and the payload bytes exactly as sent, so
// no re-encoding is ever needed to check it.
type Tx struct {
	Sender  PublicKey
	Sig     [ed25519.SignatureSize]byte
	Payload Payload
	raw     []byte // payload bytes as signed
}

// Payload is what a transaction asks for. Exactly one body is set.
//
// Replay protection needs no per-sender sequence: a transaction is valid
// only in a block whose time is at most Expires (Unix milliseconds), and
// Expires may be at most MaxTxLifetime past the block time; the state
// remembers every transaction until it expires and refuses it a second
// time. Nonce is any value (senders pick it at random) that makes two
// otherwise equal transactions distinct. So one sender may submit any
// number of transactions at once, in any order, from any number of
// processes.
type Payload struct {
	Nonce          uint64          `json:"nonce"`
	Expires        int64           `json:"expires"`
	RegisterNode   *RegisterNode   `json:"registerNode,omitempty"`
	RegisterBlob   *RegisterBlob   `json:"registerBlob,omitempty"`
	CertifyBlob    *Certificate    `json:"certifyBlob,omitempty"`
	InvalidateBlob *Certificate    `json:"invalidateBlob,omitempty"`
	DeleteBlob     *BlobRef        `json:"deleteBlob,omitempty"`
	ExtendBlob     *ExtendBlob     `json:"extendBlob,omitempty"`
	AdvanceEpoch   *AdvanceEpoch   `json:"advanceEpoch,omitempty"`
	SetWeight      *SetWeight      `json:"setWeight,omitempty"`
	LeaveCommittee *LeaveCommittee `json:"leaveCommittee,omitempty"`
	EpochSyncDone  *EpochSyncDone  `json:"epochSyncDone,omitempty"`
	// ChallengeAnswer is a member's answer to a storage challenge.
	ChallengeAnswer *ChallengeAnswer `json:"challengeAnswer,omitempty"`
}

// RegisterNode registers the sender as a candidate storage node (weight
// 0), or updates a registered node's name and address. A candidate joins
// a committee only once governance gives it weight.
type RegisterNode struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// RegisterBlob adds the sender's registration of a blob ID. Root is the
// blob root: the state machine checks ID = H(encoding ‖ length ‖ root),
// so nobody can register an ID with a length other than its own.
type RegisterBlob struct {
	ID        blob.ID           `json:"blobId"`
	Length    uint64            `json:"length"`
	Encoding  blob.EncodingType `json:"encoding"`
	Root      blob.Hash         `json:"root"`
	EndEpoch  uint64            `json:"endEpoch"`
	Deletable bool              `json:"deletable"`
	// Attributes, optional, are small facts about the content (at most
	// MaxAttributesSize bytes).
	Attributes *Attributes `json:"attributes,omitempty"`
}

// Certificate is a set of committee signatures over one message about a
// blob in one epoch: storage confirmations (CertifyBlob) or invalid-blob
// attestations (InvalidateBlob).
type Certificate struct {
	ID         blob.ID     `json:"blobId"`
	Epoch      uint64      `json:"epoch"`
	Signatures []Signature `json:"signatures"`
}

// Signature is one node's Ed25519 signature.
type Signature struct {
	Node PublicKey `json:"node"`
	Sig  []byte    `json:"sig"`
}

// BlobRef names a blob; DeleteBlob deletes the sender's registration of
// it.
type BlobRef struct {
	ID blob.ID `json:"blobId"`
}

// ExtendBlob moves the end epoch of the sender's registration of a blob
// later.
type ExtendBlob struct {
	ID       blob.ID `json:"blobId"`
	EndEpoch uint64  `json:"endEpoch"`
}

// AdvanceEpoch starts the next epoch now (admin only).
type AdvanceEpoch struct {
	Epoch uint64 `json:"epoch"` // the epoch to start: current + 1
}

// SetWeight sets a registered node's weight (governance only). It takes
// effect at the next epoch boundary; weight 0 takes the node out of the
// next committee.
type SetWeight struct {
	Node   PublicKey `json:"node"`
	Weight uint64    `json:"weight"`
}

// LeaveCommittee takes the sender, a registered node, out of every
// committee from the next epoch on, whatever its weight, until it
// registers again (RegisterNode). It keeps serving its old shards,
// read-only, until the epoch change is done. Refused if no other node
// would be left in the next committee.
type LeaveCommittee struct{}

// EpochSyncDone is a member's attestation that it holds every shard it
// gained in the current epoch (at once if it gained none). Attestations
// by distinct members of the epoch's committee worth n − f shards end the
// epoch's change.
type EpochSyncDone struct {
	Epoch uint64 `json:"epoch"` // the current epoch
}

// MaxWeight bounds a node's weight.
const MaxWeight = 1 << 40

func txMessage(networkID string, payload []byte) []byte {
	m := make([]byte, 0, 16+len(networkID)+len(payload))
	m = append(m, "weft/tx/v1\x00"...)
	m = append(m, networkID...)
	m = append(m, 0)
	return append(m, payload...)
}

// SignTx builds and signs a transaction.
func SignTx(networkID string, priv ed25519.PrivateKey, p Payload) ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	sig := ed25519.Sign(priv, txMessage(networkID, payload))
	b := make([]byte, 0, 1+32+64+len(payload))
	b = append(b, TxVersion)
	b = append(b, priv.Public().(ed25519.PublicKey)...)
	b = append(b, sig...)
	b = append(b, payload...)
	if len(b) > MaxTxSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformedTx, len(b), MaxTxSize)
	}
	return b, nil
}

// DecodeTx parses a transaction and checks its signature.
func DecodeTx(networkID string, b []byte) (*Tx, error) {
	if len(b) > MaxTxSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformedTx, len(b), MaxTxSize)
	}
	if len(b) < 1+32+64 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformedTx, len(b))
	}
	if b[0] != TxVersion {
		return nil, fmt.Errorf("%w: version %d", ErrMalformedTx, b[0])
	}
	tx := &Tx{raw: b[97:]}
	copy(tx.Sender[:], b[1:33])
	copy(tx.Sig[:], b[33:97])
	dec := json.NewDecoder(bytes.NewReader(tx.raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tx.Payload); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedTx, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrMalformedTx)
	}
	if err := tx.Payload.check(); err != nil {
		return nil, err
	}
	if max := tx.Payload.maxSize(); len(b) > max {
		return nil, fmt.Errorf("%w: a %s transaction of %d bytes exceeds %d", ErrMalformedTx, tx.Payload.Kind(), len(b), max)
	}
	if !ed25519.Verify(tx.Sender[:], txMessage(networkID, tx.raw), tx.Sig[:]) {
		return nil, fmt.Errorf("%w: transaction", ErrBadSig)
	}
	return tx, nil
}

func (p *Payload) check() error {
	n := 0
	for _, set := range []bool{p.RegisterNode != nil, p.RegisterBlob != nil, p.CertifyBlob != nil,
		p.InvalidateBlob != nil, p.DeleteBlob != nil, p.ExtendBlob != nil, p.AdvanceEpoch != nil, p.SetWeight != nil,
		p.LeaveCommittee != nil, p.EpochSyncDone != nil, p.ChallengeAnswer != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%w: %d bodies, want exactly 1", ErrMalformedTx, n)
	}
	return nil
}

// maxSize is the stateless size bound of the payload's kind.
func (p *Payload) maxSize() int {
	if c := p.certificate(); c != nil {
		return min(MaxTxSize, certificateBaseSize+certificateSigSize*len(c.Signatures))
	}
	if p.RegisterBlob != nil {
		return maxRegisterTxSize
	}
	if p.ChallengeAnswer != nil {
		// The exact length is checked against the window when applied.
		return maxChallengeTxSize
	}
	return maxSmallTxSize
}

func (p *Payload) certificate() *Certificate {
	if p.CertifyBlob != nil {
		return p.CertifyBlob
	}
	return p.InvalidateBlob
}

// ID is what the state remembers of a transaction to refuse its replay:
// H(sender ‖ payload as signed).
func (tx *Tx) ID() [32]byte {
	h := sha256.New()
	h.Write(tx.Sender[:])
	h.Write(tx.raw)
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// Kind names the payload's body, for logs and metrics.
func (p *Payload) Kind() string {
	switch {
	case p.RegisterNode != nil:
		return "registerNode"
	case p.RegisterBlob != nil:
		return "registerBlob"
	case p.CertifyBlob != nil:
		return "certifyBlob"
	case p.InvalidateBlob != nil:
		return "invalidateBlob"
	case p.DeleteBlob != nil:
		return "deleteBlob"
	case p.ExtendBlob != nil:
		return "extendBlob"
	case p.AdvanceEpoch != nil:
		return "advanceEpoch"
	case p.SetWeight != nil:
		return "setWeight"
	case p.LeaveCommittee != nil:
		return "leaveCommittee"
	case p.EpochSyncDone != nil:
		return "epochSyncDone"
	case p.ChallengeAnswer != nil:
		return "challengeAnswer"
	}
	return "empty"
}

func attestation(domain, networkID string, epoch uint64, id blob.ID) []byte {
	m := make([]byte, 0, len(domain)+len(networkID)+1+8+len(id))
	m = append(m, domain...)
	m = append(m, networkID...)
	m = append(m, 0)
	m = binary.BigEndian.AppendUint64(m, epoch)
	return append(m, id[:]...)
}

// ConfirmationMessage is what a storage node signs to confirm that it
// stores every pair of its shards for a blob in an epoch.
func ConfirmationMessage(networkID string, epoch uint64, id blob.ID) []byte {
	return attestation("weft/confirm/v1\x00", networkID, epoch, id)
}

// InvalidMessage is what a storage node signs to attest that a blob is
// inconsistently encoded (after checking an inconsistency proof).
func InvalidMessage(networkID string, epoch uint64, id blob.ID) []byte {
	return attestation("weft/invalid/v1\x00", networkID, epoch, id)
}
