package upload_test

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/upload"
	"github.com/weftnet/weft/redstuff"
)

const network = "weft-test"

// testRound: 10 shards over 4 members (3, 3, 2, 2 shards) and a fifth
// member with none; quorum 7.
func testRound(t *testing.T) (*upload.Round, []ed25519.PrivateKey, *redstuff.Encoded) {
	t.Helper()
	codec, err := redstuff.New(10)
	if err != nil {
		t.Fatal(err)
	}
	e, err := codec.Encode([]byte("the same bytes, wherever they are stored"))
	if err != nil {
		t.Fatal(err)
	}
	com := &control.Committee{Epoch: 4}
	var keys []ed25519.PrivateKey
	for i, shards := range [][]int{{0, 1, 2}, {3, 4, 5}, {6, 7}, {8, 9}, nil} {
		_, k, _ := ed25519.GenerateKey(nil)
		keys = append(keys, k)
		com.Members = append(com.Members, control.Member{NodeRecord: control.NodeRecord{Key: control.KeyOf(k), Name: fmt.Sprint("node", i)}, Shards: shards})
	}
	return upload.NewRound(e, com, network, 7), keys, e
}

func confirm(t *testing.T, key ed25519.PrivateKey, epoch uint64, id blob.ID) *upload.Confirmation {
	t.Helper()
	raw, err := json.Marshal(upload.Confirmation{BlobID: id, Epoch: epoch, Node: control.KeyOf(key),
		Signature: ed25519.Sign(key, control.ConfirmationMessage(network, epoch, id))})
	if err != nil {
		t.Fatal(err)
	}
	c, err := upload.ReadConfirmation(http.StatusOK, raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRoundPlansEveryPairOnce: each pair goes to the member owning its
// shard, exactly once; a member with no shard is not in the round.
func TestRoundPlansEveryPairOnce(t *testing.T) {
	r, _, e := testRound(t)
	if len(r.Members) != 4 {
		t.Fatalf("%d members in the round, want the 4 that hold shards", len(r.Members))
	}
	seen := map[int]bool{}
	for _, m := range r.Members {
		for _, pair := range m.Pairs {
			if seen[pair] {
				t.Fatalf("pair %d sent twice", pair)
			}
			seen[pair] = true
			if sh := e.Params.ShardOf(e.ID, pair); !slices.Contains(m.Shards, sh) {
				t.Fatalf("pair %d (shard %d) sent to %s, which holds %v", pair, sh, m.Name, m.Shards)
			}
		}
		if got := len(r.Slivers(0, nil)); got != 2*len(r.Members[0].Pairs) {
			t.Fatalf("%d slivers for member 0, want both of its %d pairs", got, len(r.Members[0].Pairs))
		}
	}
	if len(seen) != 10 {
		t.Fatalf("%d pairs planned, want 10", len(seen))
	}
}

// TestSliversSkipWhatTheNodeHolds: a round after the first sends a member
// only what its status answer says it lacks; an answer that does not
// parse sends everything.
func TestSliversSkipWhatTheNodeHolds(t *testing.T) {
	r, _, _ := testRound(t)
	pairs := r.Members[1].Pairs
	status := fmt.Sprintf(`{"pairs":[{"pair":%d,"primary":true,"secondary":true},{"pair":%d,"primary":true}]}`, pairs[0], pairs[1])
	got := r.Slivers(1, []byte(status))
	if len(got) != 2*len(pairs)-3 {
		t.Fatalf("%d slivers to send, want %d: %v", len(got), 2*len(pairs)-3, got)
	}
	for _, s := range got {
		if s.Pair == pairs[0] || s.Pair == pairs[1] && s.Kind == blob.Primary {
			t.Fatalf("sends %v, which the node holds", s)
		}
	}
	if got := r.Slivers(1, []byte("{not json")); len(got) != 2*len(pairs) {
		t.Fatalf("%d slivers after a garbled status, want all %d", len(got), 2*len(pairs))
	}
	path, body, sl, err := r.Put(got[0])
	var msg blob.SliverMessage
	if err != nil || msg.UnmarshalBinary(body) != nil || string(msg.Sliver.Data) != string(sl.Data) || msg.Sliver.Kind != got[0].Kind || path == "" {
		t.Fatalf("put %v: %s, %d bytes, %v", got[0], path, len(sl.Data), err)
	}
}

// TestConfirmCountsVerifiedShardsOnce: a quorum is reported once, when
// the weight first reaches it; a confirmation for another epoch is an
// epoch lag; a forged one or one counted twice adds nothing; the
// certificate lists signers in committee order.
func TestConfirmCountsVerifiedShardsOnce(t *testing.T) {
	r, keys, e := testRound(t)
	if _, err := r.Confirm(2, confirm(t, keys[2], 5, e.ID)); !errors.Is(err, upload.ErrEpochLag) {
		t.Fatalf("confirmation for epoch 5 in a round of epoch 4: %v", err)
	}
	if _, err := r.Confirm(2, confirm(t, keys[0], 4, e.ID)); err == nil || errors.Is(err, upload.ErrEpochLag) {
		t.Fatalf("member 2's confirmation signed by member 0's key: %v", err)
	}
	for _, step := range []struct {
		m      int
		quorum bool
		weight int
	}{{3, false, 2}, {3, false, 2}, {1, false, 5}, {2, true, 7}, {0, false, 10}} {
		q, err := r.Confirm(step.m, confirm(t, keys[step.m], 4, e.ID))
		if err != nil || q != step.quorum || r.Weight() != step.weight {
			t.Fatalf("confirm member %d: quorum %v weight %d %v, want %v %d", step.m, q, r.Weight(), err, step.quorum, step.weight)
		}
	}
	cert := r.Certificate()
	if cert.Epoch != 4 || cert.ID != e.ID || len(cert.Signatures) != 4 {
		t.Fatalf("certificate %+v", cert)
	}
	for i, s := range cert.Signatures {
		if s.Node != control.KeyOf(keys[i]) {
			t.Fatalf("signature %d from %v, want member %d", i, s.Node, i)
		}
	}
}

// TestAnswersAndRetries: which answers are final, which mean an epoch
// lag, and how often a store goes on.
func TestAnswersAndRetries(t *testing.T) {
	if err := upload.PutAnswer(http.StatusCreated, nil); err != nil {
		t.Fatal(err)
	}
	if err := upload.PutAnswer(http.StatusMisdirectedRequest, []byte("not my shard")); !errors.Is(err, upload.ErrEpochLag) || !upload.Final(err) {
		t.Fatalf("421: %v (final %v)", err, upload.Final(err))
	}
	for code, final := range map[int]bool{400: true, 404: true, 409: false, 429: false, 500: false, 503: false} {
		if got := upload.Final(upload.PutAnswer(code, nil)); got != final {
			t.Errorf("answer %d final %v, want %v", code, got, final)
		}
	}
	if _, err := upload.ReadConfirmation(http.StatusConflict, []byte("not yet")); err == nil || upload.Final(err) {
		t.Fatalf("409 confirmation: %v", err)
	}
	if _, again := upload.Again(0, errors.New("disk full")); again {
		t.Fatal("a store goes on after a failure no epoch change explains")
	}
	rounds := 1
	for r := 0; ; r++ {
		wait, again := upload.Again(r, fmt.Errorf("certify: %w", chain.ErrEpoch))
		if !again {
			break
		}
		if wait <= 0 {
			t.Fatalf("round %d again at once", r)
		}
		rounds++
	}
	if rounds != upload.Rounds {
		t.Fatalf("%d rounds under endless epoch changes, want %d", rounds, upload.Rounds)
	}
}
