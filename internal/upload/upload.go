// Package upload is the SDK's store path without its input and output:
// which pairs each committee member is sent, the requests that carry
// them, how each answer is judged, how often a request is tried, and
// when confirmations make a certificate.
//
// The SDK (package client) drives a Round with goroutines, HTTP and the
// wall clock; the simulator (internal/sim) drives the same Round from
// its event loop over simulated links and clocks. Both therefore make the
// same decisions: what a member lacks, which answers are final, which
// mean an epoch changed under the upload, and which confirmations count.
package upload

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/redstuff"
)

// Grace is how long uploads may go on once confirmations are worth a
// quorum, so that most members get their slivers from the writer rather
// than by recovery.
const Grace = 200 * time.Millisecond

// PerNode bounds the slivers in flight to one member, so that the node
// verifies one while it writes another.
const PerNode = 3

// Tries is how often one request is sent before its member counts as
// failed for the round.
const Tries = 3

// Backoff is the wait after the try-th failed send of a request (0-based).
func Backoff(try int) time.Duration { return 100 * time.Millisecond << (2 * try) }

// Rounds bounds the rounds of one store. A round is tried again only when
// an epoch change explains its failure (Again).
const Rounds = 4

// Again reports whether a store whose round-th round (0-based) failed
// with err uploads again, and after how long.
func Again(round int, err error) (time.Duration, bool) {
	if round+1 >= Rounds || !(errors.Is(err, control.ErrEpoch) || errors.Is(err, ErrEpochLag)) {
		return 0, false
	}
	return time.Duration(round+1) * 250 * time.Millisecond, true
}

// ErrEpochLag marks a failure that a committee in another epoch explains:
// a node confirmed for an epoch other than the committee's, or refused a
// shard the committee gives it (it has not seen the epoch change yet).
var ErrEpochLag = errors.New("client: nodes and control plane are in different epochs")

// StatusError is a node's answer other than the one asked for.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Msg) }

// Final reports whether a failed request is not worth sending again: a
// 4xx answer other than 409 (not ready yet) and 429 (busy).
func Final(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code/100 == 4 && se.Code != http.StatusConflict && se.Code != http.StatusTooManyRequests
}

// Member is a committee member with the pairs of the blob its shards
// hold.
type Member struct {
	control.Member
	Pairs []int
}

// Sliver names one sliver a member is sent.
type Sliver struct {
	Pair int
	Kind blob.SliverKind
}

// Round is one upload of a blob to one committee, collecting the
// members' confirmations until they are worth a quorum of shards. It is
// not safe for concurrent use.
type Round struct {
	blob    *redstuff.Encoded
	epoch   uint64
	network string
	quorum  int
	// Members are the committee members that hold a shard, in committee
	// order.
	Members []Member
	sigs    map[int][]byte // member → confirmation signature
	weight  int
}

// NewRound plans the upload of e to com: each member is sent the pairs of
// its shards. networkID and quorum are the control plane's.
func NewRound(e *redstuff.Encoded, com *control.Committee, networkID string, quorum int) *Round {
	p := e.Params
	owners := com.ShardMap(p.N)
	byMember := make([][]int, len(com.Members))
	for pair := range p.N {
		if m := owners[p.ShardOf(e.ID, pair)]; m >= 0 {
			byMember[m] = append(byMember[m], pair)
		}
	}
	r := &Round{blob: e, epoch: com.Epoch, network: networkID, quorum: quorum, sigs: map[int][]byte{}}
	for i, pairs := range byMember {
		if len(pairs) > 0 {
			r.Members = append(r.Members, Member{Member: com.Members[i], Pairs: pairs})
		}
	}
	return r
}

// Epoch is the committee's epoch.
func (r *Round) Epoch() uint64 { return r.epoch }

// StatusPath is the path of a node's answer to which slivers of the blob
// it holds.
func (r *Round) StatusPath() string { return fmt.Sprintf("/v1/blobs/%s/status", r.blob.ID) }

// Slivers lists what member m is sent: both slivers of each of its
// pairs, less those that status (the node's answer at StatusPath, or nil
// to send all) says it holds.
func (r *Round) Slivers(m int, status []byte) []Sliver {
	held := map[Sliver]bool{}
	if status != nil {
		var st struct {
			Pairs []struct {
				Pair      int  `json:"pair"`
				Primary   bool `json:"primary"`
				Secondary bool `json:"secondary"`
			} `json:"pairs"`
		}
		if json.Unmarshal(status, &st) == nil {
			for _, ps := range st.Pairs {
				held[Sliver{ps.Pair, blob.Primary}] = ps.Primary
				held[Sliver{ps.Pair, blob.Secondary}] = ps.Secondary
			}
		}
	}
	var out []Sliver
	for _, pair := range r.Members[m].Pairs {
		for _, k := range []blob.SliverKind{blob.Primary, blob.Secondary} {
			if !held[Sliver{pair, k}] {
				out = append(out, Sliver{pair, k})
			}
		}
	}
	return out
}

// Put returns the path and body of the request that stores sliver s, and
// the sliver.
func (r *Round) Put(s Sliver) (path string, body []byte, sl blob.Sliver, err error) {
	p := r.blob.Params
	idx := p.PrimaryOf(s.Pair)
	if s.Kind == blob.Secondary {
		idx = p.SecondaryOf(s.Pair)
	}
	sl = r.blob.Sliver(s.Kind, idx)
	body, err = (&blob.SliverMessage{Commitment: r.blob.Pairs[s.Pair], Sliver: sl}).MarshalBinary()
	return fmt.Sprintf("/v1/blobs/%s/slivers/%d/%s", r.blob.ID, s.Pair, s.Kind), body, sl, err
}

// PutAnswer judges a node's answer to a Put: nil when it stored the
// sliver. A 421 means the node does not own the shard in its epoch: the
// error is also ErrEpochLag.
func PutAnswer(code int, msg []byte) error {
	switch {
	case code == http.StatusMisdirectedRequest:
		return errors.Join(&StatusError{code, string(msg)}, ErrEpochLag)
	case code/100 != 2:
		return &StatusError{code, string(msg)}
	}
	return nil
}

// ConfirmationPath is the path of a node's signed confirmation that it
// stores its slivers of the blob.
func (r *Round) ConfirmationPath() string { return fmt.Sprintf("/v1/blobs/%s/confirmation", r.blob.ID) }

// Confirmation is a storage node's confirmation answer.
type Confirmation struct {
	BlobID    blob.ID           `json:"blobId"`
	Epoch     uint64            `json:"epoch"`
	Node      control.PublicKey `json:"node"`
	Signature []byte            `json:"signature"`
}

// ReadConfirmation decodes a node's answer at ConfirmationPath.
func ReadConfirmation(code int, msg []byte) (*Confirmation, error) {
	if code != http.StatusOK {
		return nil, &StatusError{code, string(msg)}
	}
	var c Confirmation
	if err := json.Unmarshal(msg, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Confirm checks member m's confirmation and counts its shards. It
// reports whether this confirmation made the round's weight reach a
// quorum. A confirmation for another epoch fails with ErrEpochLag; one
// that is not the member's signature of this blob fails.
func (r *Round) Confirm(m int, c *Confirmation) (quorum bool, err error) {
	mem := &r.Members[m]
	if c.Epoch != r.epoch {
		return false, fmt.Errorf("%w: confirmation for epoch %d, the committee's is %d", ErrEpochLag, c.Epoch, r.epoch)
	}
	if c.Node != mem.Key || c.BlobID != r.blob.ID ||
		!ed25519.Verify(mem.Key[:], control.ConfirmationMessage(r.network, r.epoch, r.blob.ID), c.Signature) {
		return false, errors.New("confirmation does not verify")
	}
	if r.sigs[m] != nil {
		return false, nil
	}
	r.sigs[m] = c.Signature
	before := r.weight
	r.weight += len(mem.Shards)
	return before < r.quorum && r.weight >= r.quorum, nil
}

// Weight is the shards the confirmations so far are worth.
func (r *Round) Weight() int { return r.weight }

// Quorate reports whether the confirmations are worth a quorum.
func (r *Round) Quorate() bool { return r.weight >= r.quorum }

// Quorum is the weight in shards a certificate needs.
func (r *Round) Quorum() int { return r.quorum }

// Certificate is the certificate of the round's confirmations, in
// committee order.
func (r *Round) Certificate() *control.Certificate {
	cert := &control.Certificate{ID: r.blob.ID, Epoch: r.epoch}
	for _, m := range slices.Sorted(func(yield func(int) bool) {
		for m := range r.sigs {
			if !yield(m) {
				return
			}
		}
	}) {
		cert.Signatures = append(cert.Signatures, control.Signature{Node: r.Members[m].Key, Sig: r.sigs[m]})
	}
	return cert
}
