package control

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/weftnet/weft/blob"
)

// PublicKey is an Ed25519 public key: the identity of an account or a
// storage node.
type PublicKey [ed25519.PublicKeySize]byte

// String returns the key as URL-safe base64 without padding.
func (k PublicKey) String() string { return base64.RawURLEncoding.EncodeToString(k[:]) }

// Short is a short printable form for logs.
func (k PublicKey) Short() string { return hex.EncodeToString(k[:6]) }

// MarshalText implements encoding.TextMarshaler.
func (k PublicKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *PublicKey) UnmarshalText(b []byte) error {
	v, err := base64.RawURLEncoding.Strict().DecodeString(string(b))
	if err != nil || len(v) != len(k) {
		return fmt.Errorf("control: malformed public key %q", b)
	}
	copy(k[:], v)
	return nil
}

// KeyOf returns the public key of an Ed25519 private key.
func KeyOf(priv ed25519.PrivateKey) PublicKey {
	var k PublicKey
	copy(k[:], priv.Public().(ed25519.PublicKey))
	return k
}

// Params are fixed at genesis.
type Params struct {
	NetworkID string `json:"networkId"`
	Shards    int    `json:"shards"`
	// EpochDuration advances the epoch by block time; zero means epochs
	// advance only by the admin's AdvanceEpoch transaction.
	EpochDuration time.Duration `json:"epochDuration"`
	// Admin may advance epochs (devnets). Zero means no admin.
	Admin PublicKey `json:"admin"`
	// MaxEpochsAhead bounds how far a blob's end epoch may be.
	MaxEpochsAhead uint64 `json:"maxEpochsAhead"`

	// Storage challenges (DESIGN.md §11; see Challenge for defaults).
	// ChallengeInterval opens a window every interval of block time; 0
	// turns challenges off.
	ChallengeInterval time.Duration `json:"challengeInterval,omitempty"`
	// ChallengeDeadline is how long a window takes answers (0: half the
	// interval); at most the interval.
	ChallengeDeadline time.Duration `json:"challengeDeadline,omitempty"`
	// ChallengeBlobs is the number of blobs sampled per window (0: 4).
	ChallengeBlobs int `json:"challengeBlobs,omitempty"`
	// ChallengeSymbols is the number of symbol indices per (shard,
	// sampled blob) (0: 2).
	ChallengeSymbols int `json:"challengeSymbols,omitempty"`
	// EvictAfter is the number of consecutive failed windows after which
	// a node's weight drops to 0 (0: 3).
	EvictAfter int `json:"evictAfter,omitempty"`
}

// Validate checks the parameters.
func (p *Params) Validate() error {
	switch {
	case p.NetworkID == "" || len(p.NetworkID) > 50:
		return errors.New("control: network ID must be 1 to 50 bytes (it is also the chain ID)")
	case p.Shards < 4 || p.Shards > 65536:
		return fmt.Errorf("control: %d shards, want 4..65536", p.Shards)
	case p.EpochDuration < 0:
		return errors.New("control: negative epoch duration")
	case p.MaxEpochsAhead == 0:
		return errors.New("control: maxEpochsAhead must be positive")
	}
	return p.validateChallenge()
}

// F is the number of faulty shards tolerated.
func (p *Params) F() int { return blob.MaxFaulty(p.Shards) }

// Quorum is the weight, in shards, of a certificate: n − f.
func (p *Params) Quorum() int { return blob.Quorum(p.Shards) }

// Validity is the weight that proves a fact to at least one honest
// shard: f + 1.
func (p *Params) Validity() int { return blob.Validity(p.Shards) }

// NodeRecord is a registered storage node. A node registers itself as a
// candidate with weight 0; weight (a stand-in for stake) comes from the
// genesis file or from the governance key's SetWeight, and only nodes
// with weight above 0 that are not leaving at an epoch boundary join the
// next committee.
//
// Leaving is the node's own decision (LeaveCommittee): it stays out of
// every committee whatever its weight, until the node itself registers
// again (RegisterNode from its key). Governance may still change its
// weight, which then counts from the epoch the node comes back.
type NodeRecord struct {
	Key        PublicKey `json:"key"`
	Name       string    `json:"name"`
	Address    string    `json:"address"` // base URL of its API
	Registered uint64    `json:"registeredEpoch"`
	Weight     uint64    `json:"weight"`
	Leaving    bool      `json:"leaving,omitempty"`
	// LeaveEpoch is the first epoch the leaving node is in no committee.
	LeaveEpoch uint64 `json:"leaveEpoch,omitempty"`
}

// Member is a node in an epoch's committee, with the shards it holds.
type Member struct {
	NodeRecord
	Shards []int `json:"shards"`
}

// Committee is the set of storage nodes of one epoch.
type Committee struct {
	Epoch   uint64   `json:"epoch"`
	Start   int64    `json:"start"` // block time the epoch began, Unix ns
	Members []Member `json:"members"`
}

// ShardMap returns, for each shard, the index of its member.
func (c *Committee) ShardMap(n int) []int {
	m := make([]int, n)
	for i := range m {
		m[i] = -1
	}
	for i, mem := range c.Members {
		for _, s := range mem.Shards {
			if s >= 0 && s < n {
				m[s] = i
			}
		}
	}
	return m
}

// EpochState is where an epoch's change of committee is.
type EpochState string

// Epoch states. An epoch whose committee holds the same shards as the
// previous one's (and whose previous epoch was done) is done at once;
// otherwise it is syncing until members of its committee worth n − f
// shards attest (EpochSyncDone) that they hold every shard they gained.
// An epoch still syncing when the next one starts is superseded: it is
// never done, and the next change syncs from the last epoch that was.
const (
	EpochSyncing    EpochState = "syncing"
	EpochDone       EpochState = "done"
	EpochSuperseded EpochState = "superseded"
)

// EpochChange is the state of the change of committee that began an
// epoch.
type EpochChange struct {
	Epoch uint64     `json:"epoch"`
	State EpochState `json:"state"`
	// PreviousEpoch is the last epoch whose change was done when this one
	// began (0 for the first epoch): its committee holds the data this
	// epoch's members sync from, and its members keep the shards they
	// gave up until this epoch (or a later one) is done.
	PreviousEpoch uint64 `json:"previousEpoch"`
	// SyncedWeight is the weight, in shards of this epoch's committee, of
	// the members that attested EpochSyncDone.
	SyncedWeight int `json:"syncedWeight"`
}

// SameShards reports whether two committees have the same members
// holding the same shards (names, addresses and weights aside).
func SameShards(a, b *Committee) bool {
	if a == nil || b == nil {
		return a == b
	}
	held := make(map[PublicKey][]int, len(a.Members))
	for _, m := range a.Members {
		held[m.Key] = slices.Sorted(slices.Values(m.Shards))
	}
	if len(held) != len(b.Members) {
		return false
	}
	for _, m := range b.Members {
		h, ok := held[m.Key]
		if !ok || !slices.Equal(h, slices.Sorted(slices.Values(m.Shards))) {
			return false
		}
	}
	return true
}

// GainedShards returns the shards key holds in committee cur that it did
// not hold throughout the committees since (those of the epochs from the
// change's PreviousEpoch to the one before cur): the shards it must sync
// before it attests EpochSyncDone. With since empty (the first epoch) it
// gained nothing.
func GainedShards(cur *Committee, since []*Committee, key PublicKey) []int {
	var gained []int
	for _, m := range cur.Members {
		if m.Key != key {
			continue
		}
		for _, s := range m.Shards {
			for _, c := range since {
				if !c.holds(key, s) {
					gained = append(gained, s)
					break
				}
			}
		}
	}
	return gained
}

func (c *Committee) holds(key PublicKey, shard int) bool {
	for _, m := range c.Members {
		if m.Key == key {
			return slices.Contains(m.Shards, shard)
		}
	}
	return false
}

// Weight returns the number of shards key holds in the committee.
func (c *Committee) Weight(key PublicKey) int {
	for _, m := range c.Members {
		if m.Key == key {
			return len(m.Shards)
		}
	}
	return 0
}

// Registration is one owner's claim on a blob ID: only its owner may
// extend it or (if deletable) delete it. An owner holds at most one live
// registration per ID. A registration is certified when its blob is.
type Registration struct {
	ID              blob.ID     `json:"blobId"`
	Owner           PublicKey   `json:"owner"`
	RegisteredEpoch uint64      `json:"registeredEpoch"`
	EndEpoch        uint64      `json:"endEpoch"`
	Deletable       bool        `json:"deletable"`
	Attributes      *Attributes `json:"attributes,omitempty"`
}

// EventType names what happened.
type EventType string

// Event types.
const (
	EventNodeRegistered EventType = "NodeRegistered"
	EventNodeUpdated    EventType = "NodeUpdated"
	// EventNodeLeaving: a node asked to leave; it is in no committee from
	// its LeaveEpoch.
	EventNodeLeaving EventType = "NodeLeaving"
	// EventEpochChanged: a new epoch began, with its committee; the event
	// carries the epoch's state (syncing or done) and previous epoch.
	EventEpochChanged EventType = "EpochChanged"
	// EventEpochSyncDone: a member of the epoch's committee attested that
	// it holds every shard it gained (progress of a syncing epoch).
	EventEpochSyncDone EventType = "EpochSyncDone"
	// EventEpochDone: the epoch's change is done (at once when nothing
	// moved, else when attestations reach n − f shards): members of the
	// previous committee may drop the shards they gave up.
	EventEpochDone      EventType = "EpochDone"
	EventBlobRegistered EventType = "BlobRegistered"
	EventBlobCertified  EventType = "BlobCertified"
	EventBlobInvalid    EventType = "BlobInvalid"
	EventBlobDeleted    EventType = "BlobDeleted"
	EventBlobExtended   EventType = "BlobExtended"
	EventBlobExpired    EventType = "BlobExpired"
	// EventRegistrationDeleted: one registration of a blob was deleted and
	// others keep the blob live (its EndEpoch may have moved earlier).
	EventRegistrationDeleted EventType = "RegistrationDeleted"
	// EventChallengeOpened: challenge window Window opened (query it for
	// its sample, members and deadline).
	EventChallengeOpened EventType = "ChallengeOpened"
	// EventChallengeClosed: window Window closed; its per-node results
	// are final (query the window).
	EventChallengeClosed EventType = "ChallengeClosed"
	// EventNodeEvicted: Node failed EvictAfter windows in a row (the last
	// is Window); its weight is now 0, so the next epoch moves its shards.
	EventNodeEvicted EventType = "NodeEvicted"
)

// Event is one ordered state change. Seq numbers are global, dense and
// start at 1.
type Event struct {
	Seq    uint64    `json:"seq"`
	Height int64     `json:"height"`
	Epoch  uint64    `json:"epoch"`
	Type   EventType `json:"type"`
	// Blob events.
	BlobID   *blob.ID `json:"blobId,omitempty"`
	EndEpoch uint64   `json:"endEpoch,omitempty"`
	// Registration events: the registration's owner.
	Owner *PublicKey `json:"owner,omitempty"`
	// NodeRegistered, NodeUpdated, NodeLeaving, EpochSyncDone.
	Node *PublicKey `json:"node,omitempty"`
	// EpochChanged: the new epoch's state and previous epoch (see
	// EpochChange).
	EpochState    EpochState `json:"epochState,omitempty"`
	PreviousEpoch uint64     `json:"previousEpoch,omitempty"`
	// Challenge events: the window.
	Window uint64 `json:"window,omitempty"`
}
