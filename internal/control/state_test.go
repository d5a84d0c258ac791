package control

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/testseed"
)

func testSeed(t testing.TB) uint64 { return testseed.Seed(t) }

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("weft test key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testNet drives a Machine over a MemStore block by block.
type testNet struct {
	t      testing.TB
	m      *Machine
	store  *MemStore
	nodes  []ed25519.PrivateKey
	admin  ed25519.PrivateKey
	user   ed25519.PrivateKey
	nonces map[PublicKey]uint64
	height int64
	now    time.Time
	hashes [][]byte
}

func newTestNet(t testing.TB, nodes, shards int, epochDuration time.Duration) *testNet {
	t.Helper()
	return newTestNetWith(t, nodes, shards, func(p *Params) { p.EpochDuration = epochDuration })
}

// newTestNetWith is newTestNet with parameters set by edit.
func newTestNetWith(t testing.TB, nodes, shards int, edit func(*Params)) *testNet {
	t.Helper()
	n := &testNet{t: t, store: NewMemStore(), admin: testKey("admin"), user: testKey("user"),
		nonces: map[PublicKey]uint64{}, now: t0}
	g := Genesis{Params: Params{NetworkID: "weft-test", Shards: shards,
		Admin: KeyOf(n.admin), MaxEpochsAhead: 10}}
	edit(&g.Params)
	for i := 0; i < nodes; i++ {
		k := testKey(fmt.Sprint("node", i))
		n.nodes = append(n.nodes, k)
		g.Nodes = append(g.Nodes, NodeRecord{Key: KeyOf(k), Name: fmt.Sprint("node", i), Address: fmt.Sprintf("http://127.0.0.1:%d", 7000+i)})
	}
	var err error
	if n.m, err = NewMachine(n.store); err != nil {
		t.Fatal(err)
	}
	if _, err := n.m.InitGenesis(g, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := n.m.Commit(); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *testNet) tx(key ed25519.PrivateKey, p Payload) []byte {
	n.t.Helper()
	k := KeyOf(key)
	n.nonces[k]++
	p.Nonce = n.nonces[k]
	p.Expires = n.now.Add(time.Minute).UnixMilli()
	raw, err := SignTx("weft-test", key, p)
	if err != nil {
		n.t.Fatal(err)
	}
	return raw
}

type result struct {
	events []Event
	err    error
}

// block applies txs as one block one second after the previous one.
func (n *testNet) block(txs ...[]byte) []result {
	n.t.Helper()
	return n.blockAfter(time.Second, txs...)
}

// blockAfter applies txs as one block d after the previous one.
func (n *testNet) blockAfter(d time.Duration, txs ...[]byte) []result {
	n.t.Helper()
	n.height++
	n.now = n.now.Add(d)
	n.m.Begin(n.height, n.now)
	var out []result
	for _, tx := range txs {
		ev, err := n.m.Deliver(tx)
		out = append(out, result{ev, err})
	}
	end, err := n.m.End()
	if err != nil {
		n.t.Fatal(err)
	}
	if len(end) > 0 {
		out = append(out, result{events: end})
	}
	h, err := n.m.Commit()
	if err != nil {
		n.t.Fatal(err)
	}
	n.hashes = append(n.hashes, h)
	return out
}

// one applies a single transaction in its own block and returns its result.
func (n *testNet) one(tx []byte) result {
	n.t.Helper()
	return n.block(tx)[0]
}

func (n *testNet) epoch() uint64 { e, _ := n.m.Epoch(); return e }

// Test blobs: blob i has length 1000 and root H("blob" i).
var testRoots sync.Map // blob.ID → blob.Hash

func blobID(i int) blob.ID {
	root := blob.Hash(sha256.Sum256([]byte(fmt.Sprint("blob", i))))
	id := blob.ComputeID(blob.RS2D16, 1000, root)
	testRoots.Store(id, root)
	return id
}

// regBody registers a test blob made by blobID.
func regBody(id blob.ID, end uint64, deletable bool) *RegisterBlob {
	root, ok := testRoots.Load(id)
	if !ok {
		panic("regBody: not a blobID")
	}
	return &RegisterBlob{ID: id, Length: 1000, Encoding: blob.RS2D16, Root: root.(blob.Hash), EndEpoch: end, Deletable: deletable}
}

func (n *testNet) register(id blob.ID, end uint64, deletable bool) result {
	return n.registerAs(n.user, id, end, deletable)
}

func (n *testNet) registerAs(key ed25519.PrivateKey, id blob.ID, end uint64, deletable bool) result {
	return n.one(n.tx(key, Payload{RegisterBlob: regBody(id, end, deletable)}))
}

// cert signs msg with the given committee nodes for the current epoch.
func (n *testNet) cert(id blob.ID, epoch uint64, signers []int, msg func(string, uint64, blob.ID) []byte) *Certificate {
	c := &Certificate{ID: id, Epoch: epoch}
	for _, i := range signers {
		c.Signatures = append(c.Signatures, Signature{Node: KeyOf(n.nodes[i]), Sig: ed25519.Sign(n.nodes[i], msg("weft-test", epoch, id))})
	}
	return c
}

func seq(k int) []int {
	s := make([]int, k)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestCertification(t *testing.T) {
	n := newTestNet(t, 10, 10, 0) // one shard per node: n=10, f=3, quorum 7
	id := blobID(1)
	if r := n.register(id, 5, false); r.err != nil || len(r.events) != 1 || r.events[0].Type != EventBlobRegistered {
		t.Fatalf("register: %+v", r)
	}
	e := n.epoch()
	stranger := testKey("stranger")

	dup := n.cert(id, e, seq(7), ConfirmationMessage)
	dup.Signatures[6] = dup.Signatures[0]
	outsider := n.cert(id, e, seq(6), ConfirmationMessage)
	outsider.Signatures = append(outsider.Signatures, Signature{Node: KeyOf(stranger), Sig: ed25519.Sign(stranger, ConfirmationMessage("weft-test", e, id))})
	forged := n.cert(id, e, seq(7), ConfirmationMessage)
	forged.Signatures[3].Sig = slices.Clone(forged.Signatures[3].Sig)
	forged.Signatures[3].Sig[10] ^= 1
	wrongMsg := n.cert(id, e, seq(7), InvalidMessage)
	otherNet := n.cert(id, e, seq(7), func(_ string, ep uint64, b blob.ID) []byte { return ConfirmationMessage("other-net", ep, b) })
	truncated := n.cert(id, e, seq(7), ConfirmationMessage)
	truncated.Signatures[0].Sig = truncated.Signatures[0].Sig[:63]

	for _, tc := range []struct {
		name string
		c    *Certificate
		want error
	}{
		{"wrong epoch", n.cert(id, e+1, seq(7), ConfirmationMessage), ErrEpoch},
		{"duplicate signer", dup, ErrCertificate},
		{"signer not in committee", outsider, ErrCertificate},
		{"forged signature", forged, ErrCertificate},
		{"invalid-blob attestations used as confirmations", wrongMsg, ErrCertificate},
		{"signed for another network", otherNet, ErrCertificate},
		{"truncated signature", truncated, ErrCertificate},
		{"weight n-f-1", n.cert(id, e, seq(6), ConfirmationMessage), ErrCertificate},
		{"no signatures", &Certificate{ID: id, Epoch: e}, ErrCertificate},
		{"unregistered blob", n.cert(blobID(99), e, seq(7), ConfirmationMessage), ErrUnknownBlob},
	} {
		r := n.one(n.tx(n.user, Payload{CertifyBlob: tc.c}))
		if !errors.Is(r.err, tc.want) || len(r.events) != 0 {
			t.Errorf("%s: got %v (events %v), want %v", tc.name, r.err, r.events, tc.want)
		}
		if info, _ := n.m.Blob(id); info.Status != StatusRegistered {
			t.Fatalf("%s: a rejected certificate changed the blob to %s", tc.name, info.Status)
		}
	}

	r := n.one(n.tx(n.user, Payload{CertifyBlob: n.cert(id, e, []int{9, 2, 4, 6, 8, 1, 3}, ConfirmationMessage)}))
	if r.err != nil || len(r.events) != 1 || r.events[0].Type != EventBlobCertified || *r.events[0].BlobID != id {
		t.Fatalf("certify with weight n-f: %+v", r)
	}
	info, _ := n.m.Blob(id)
	if info.Status != StatusCertified || info.CertifiedEpoch != e {
		t.Fatalf("after certification: %+v", info)
	}
	if r := n.one(n.tx(n.user, Payload{CertifyBlob: n.cert(id, e, seq(10), ConfirmationMessage)})); !errors.Is(r.err, ErrBlobState) {
		t.Errorf("certifying twice: got %v, want ErrBlobState", r.err)
	}

	// An expired blob cannot be certified.
	old := blobID(2)
	n.register(old, e+1, false)
	if r := n.one(n.tx(n.admin, Payload{AdvanceEpoch: &AdvanceEpoch{Epoch: e + 1}})); r.err != nil {
		t.Fatal(r.err)
	}
	if r := n.one(n.tx(n.user, Payload{CertifyBlob: n.cert(old, e+1, seq(10), ConfirmationMessage)})); !errors.Is(r.err, ErrBlobState) {
		t.Errorf("certifying an expired blob: got %v, want ErrBlobState", r.err)
	}
	// Confirmations from the previous epoch no longer count.
	fresh := blobID(3)
	n.register(fresh, e+5, false)
	if r := n.one(n.tx(n.user, Payload{CertifyBlob: n.cert(fresh, e, seq(10), ConfirmationMessage)})); !errors.Is(r.err, ErrEpoch) {
		t.Errorf("stale epoch confirmations: got %v, want ErrEpoch", r.err)
	}
}

func TestInvalidation(t *testing.T) {
	n := newTestNet(t, 10, 10, 0) // f = 3
	id := blobID(1)
	n.register(id, 5, false)
	e := n.epoch()
	if r := n.one(n.tx(n.nodes[0], Payload{InvalidateBlob: n.cert(id, e, seq(3), InvalidMessage)})); !errors.Is(r.err, ErrCertificate) {
		t.Fatalf("invalidation by f shards: got %v, want ErrCertificate", r.err)
	}
	if r := n.one(n.tx(n.nodes[0], Payload{InvalidateBlob: n.cert(id, e, seq(4), ConfirmationMessage)})); !errors.Is(r.err, ErrCertificate) {
		t.Fatalf("invalidation with confirmation signatures: got %v, want ErrCertificate", r.err)
	}
	r := n.one(n.tx(n.nodes[0], Payload{InvalidateBlob: n.cert(id, e, []int{7, 1, 5, 3}, InvalidMessage)}))
	if r.err != nil || len(r.events) != 1 || r.events[0].Type != EventBlobInvalid {
		t.Fatalf("invalidation by f+1 shards: %+v", r)
	}
	if info, _ := n.m.Blob(id); info.Status != StatusInvalid {
		t.Fatalf("status %s, want invalid", info.Status)
	}
	if live, _ := n.m.LiveBlobs(nil, 10); len(live) != 0 {
		t.Fatalf("invalid blob still live: %v", live)
	}
	if r := n.one(n.tx(n.user, Payload{CertifyBlob: n.cert(id, e, seq(10), ConfirmationMessage)})); !errors.Is(r.err, ErrBlobState) {
		t.Fatalf("certifying an invalid blob: got %v", r.err)
	}
}

func TestBlobLifecycle(t *testing.T) {
	n := newTestNet(t, 4, 12, 0)
	e := n.epoch()
	a, b, c := blobID(1), blobID(2), blobID(3)
	if r := n.register(a, e, false); !errors.Is(r.err, ErrEpoch) {
		t.Errorf("end epoch = current: got %v", r.err)
	}
	if r := n.register(a, e+11, false); !errors.Is(r.err, ErrEpoch) {
		t.Errorf("end epoch beyond max: got %v", r.err)
	}
	n.register(a, e+2, true)
	n.register(b, e+1, false)
	n.register(c, e+3, true)
	if r := n.register(a, e+2, true); !errors.Is(r.err, ErrBlobExists) {
		t.Errorf("registering twice: got %v", r.err)
	}
	odd := regBody(blobID(9), e+1, false)
	odd.Encoding = 7
	if r := n.one(n.tx(n.user, Payload{RegisterBlob: odd})); !errors.Is(r.err, ErrBadRequest) {
		t.Errorf("unknown encoding: got %v", r.err)
	}
	// Deletion: the owner of a registration only, deletable only.
	if r := n.one(n.tx(n.admin, Payload{DeleteBlob: &BlobRef{ID: a}})); !errors.Is(r.err, ErrUnknownBlob) {
		t.Errorf("delete by non-owner: got %v", r.err)
	}
	if r := n.one(n.tx(n.user, Payload{DeleteBlob: &BlobRef{ID: b}})); !errors.Is(r.err, ErrNotAllowed) {
		t.Errorf("delete non-deletable: got %v", r.err)
	}
	if r := n.one(n.tx(n.user, Payload{DeleteBlob: &BlobRef{ID: a}})); r.err != nil || r.events[0].Type != EventBlobDeleted {
		t.Errorf("delete: %+v", r)
	}
	if r := n.one(n.tx(n.user, Payload{DeleteBlob: &BlobRef{ID: a}})); !errors.Is(r.err, ErrUnknownBlob) {
		t.Errorf("delete twice: got %v", r.err)
	}
	// Extension moves expiry; only the owner of a registration extends it.
	if r := n.one(n.tx(n.admin, Payload{ExtendBlob: &ExtendBlob{ID: b, EndEpoch: e + 2}})); !errors.Is(r.err, ErrUnknownBlob) {
		t.Errorf("extend by a stranger: got %v", r.err)
	}
	if r := n.one(n.tx(n.user, Payload{ExtendBlob: &ExtendBlob{ID: b, EndEpoch: e + 2}})); r.err != nil {
		t.Errorf("extend: %v", r.err)
	}
	if r := n.one(n.tx(n.user, Payload{ExtendBlob: &ExtendBlob{ID: b, EndEpoch: e + 2}})); !errors.Is(r.err, ErrEpoch) {
		t.Errorf("extend to the same epoch: got %v", r.err)
	}
	// Epoch e+1: nothing expires (b was extended); e+2: b expires. The
	// committee does not change, so each epoch is done at once.
	r := n.one(n.tx(n.admin, Payload{AdvanceEpoch: &AdvanceEpoch{Epoch: e + 1}}))
	if r.err != nil || len(r.events) != 2 || r.events[1].Type != EventEpochDone {
		t.Fatalf("advance to e+1: %+v", r)
	}
	r = n.one(n.tx(n.admin, Payload{AdvanceEpoch: &AdvanceEpoch{Epoch: e + 2}}))
	if r.err != nil || len(r.events) != 3 || r.events[2].Type != EventBlobExpired || *r.events[2].BlobID != b {
		t.Fatalf("advance to e+2: %+v", r)
	}
	for id, want := range map[blob.ID]BlobStatus{a: StatusDeleted, b: StatusExpired, c: StatusRegistered, blobID(50): StatusUnknown} {
		if info, _ := n.m.Blob(id); info.Status != want {
			t.Errorf("blob %v: status %s, want %s", id, info.Status, want)
		}
	}
	live, _ := n.m.LiveBlobs(nil, 10)
	if len(live) != 1 || live[0].ID != c {
		t.Errorf("live blobs: %v", live)
	}
	if r := n.one(n.tx(n.user, Payload{AdvanceEpoch: &AdvanceEpoch{Epoch: e + 3}})); !errors.Is(r.err, ErrNotAllowed) {
		t.Errorf("advance by non-admin: got %v", r.err)
	}
	if r := n.one(n.tx(n.admin, Payload{AdvanceEpoch: &AdvanceEpoch{Epoch: e + 5}})); !errors.Is(r.err, ErrEpoch) {
		t.Errorf("advance skipping epochs: got %v", r.err)
	}
}

func TestTransactionsAreAuthenticatedAndNotReplayable(t *testing.T) {
	n := newTestNet(t, 4, 4, 0)
	raw := n.tx(n.user, Payload{RegisterBlob: regBody(blobID(1), 3, false)})
	if r := n.one(raw); r.err != nil {
		t.Fatal(r.err)
	}
	if r := n.one(raw); !errors.Is(r.err, ErrReplay) {
		t.Errorf("replayed transaction: got %v, want ErrReplay", r.err)
	}
	// A rejected transaction cannot be replayed either.
	bad := n.tx(n.user, Payload{DeleteBlob: &BlobRef{ID: blobID(7)}})
	if r := n.one(bad); !errors.Is(r.err, ErrUnknownBlob) {
		t.Fatal(r.err)
	}
	if r := n.one(bad); !errors.Is(r.err, ErrReplay) {
		t.Errorf("replayed rejected transaction: got %v, want ErrReplay", r.err)
	}
	// Transactions expire; the state forgets them once they have.
	expiring := n.tx(n.user, Payload{DeleteBlob: &BlobRef{ID: blobID(8)}})
	for i := 0; i < 61; i++ {
		n.block()
	}
	if r := n.one(expiring); !errors.Is(r.err, ErrTxExpired) {
		t.Errorf("expired transaction: got %v, want ErrTxExpired", r.err)
	}
	if r := n.one(raw); !errors.Is(r.err, ErrTxExpired) {
		t.Errorf("replay after expiry: got %v, want ErrTxExpired", r.err)
	}
	if seen := n.store.count("h/"); seen != 0 {
		t.Errorf("%d expired transactions still remembered", seen)
	}
	late, _ := SignTx("weft-test", n.user, Payload{Nonce: 1, Expires: n.now.Add(MaxTxLifetime + time.Minute).UnixMilli(), DeleteBlob: &BlobRef{ID: blobID(1)}})
	if r := n.one(late); !errors.Is(r.err, ErrTxExpired) {
		t.Errorf("transaction expiring too late: got %v, want ErrTxExpired", r.err)
	}
	flipped := n.tx(n.user, Payload{RegisterBlob: regBody(blobID(2), 3, false)})
	flipped[40] ^= 1
	tampered := n.tx(n.user, Payload{RegisterBlob: regBody(blobID(3), 3, false)})
	tampered = bytes.Replace(tampered, []byte(`"endEpoch":3`), []byte(`"endEpoch":4`), 1)
	otherNet, _ := SignTx("other-net", n.user, Payload{Nonce: 100, DeleteBlob: &BlobRef{ID: blobID(1)}})
	two, _ := SignTx("weft-test", n.user, Payload{Nonce: 101})
	for name, tc := range map[string]struct {
		raw  []byte
		want error
	}{
		"flipped signature bit": {flipped, ErrBadSig},
		"tampered payload":      {tampered, ErrBadSig},
		"other network":         {otherNet, ErrBadSig},
		"empty":                 {nil, ErrMalformedTx},
		"version 2":             {append([]byte{2}, flipped[1:]...), ErrMalformedTx},
		"junk payload":          {append(slices.Clone(flipped[:97]), "{nonce"...), ErrMalformedTx},
		"unknown field":         {append(slices.Clone(flipped[:97]), `{"nonce":5,"deleteBlob":{},"x":1}`...), ErrMalformedTx},
		"oversized":             {make([]byte, MaxTxSize+1), ErrMalformedTx},
	} {
		if r := n.one(tc.raw); !errors.Is(r.err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, r.err, tc.want)
		}
	}
	if two != nil {
		t.Errorf("a payload without a body was signed")
	}
}

func TestEventsAreDenseAndPaged(t *testing.T) {
	n := newTestNet(t, 3, 6, 0)
	for i := 0; i < 25; i++ {
		n.register(blobID(i), 4, false)
	}
	all, err := n.m.Events(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range all {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	if n.m.NextSeq() != uint64(len(all)+1) {
		t.Fatalf("next seq %d after %d events", n.m.NextSeq(), len(all))
	}
	// Paging from any cursor gives the rest, in order.
	var paged []Event
	for cur := uint64(0); ; {
		page, err := n.m.Events(cur, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		cur = page[len(page)-1].Seq
	}
	if len(paged) != len(all) {
		t.Fatalf("paged %d events, want %d", len(paged), len(all))
	}
	// Live blobs page by ID.
	var ids []blob.ID
	var after *blob.ID
	for {
		page, err := n.m.LiveBlobs(after, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, b := range page {
			ids = append(ids, b.ID)
		}
		last := page[len(page)-1].ID
		after = &last
	}
	if len(ids) != 25 || !slices.IsSortedFunc(ids, func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) }) {
		t.Fatalf("live blobs: %d, sorted=%v", len(ids), slices.IsSortedFunc(ids, func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) }))
	}
}

func TestEpochAdvancesByBlockTime(t *testing.T) {
	n := newTestNet(t, 4, 8, 10*time.Second)
	start := n.epoch()
	for i := 0; i < 9; i++ {
		n.block()
	}
	if n.epoch() != start {
		t.Fatalf("epoch advanced after 9 s of 10")
	}
	out := n.block()
	if n.epoch() != start+1 || len(out) != 1 || out[0].events[0].Type != EventEpochChanged {
		t.Fatalf("epoch %d after 10 s, events %+v", n.epoch(), out)
	}
}

func TestNodeJoinsAtNextEpoch(t *testing.T) {
	n := newTestNet(t, 3, 10, 0)
	joiner := testKey("joiner")
	r := n.one(n.tx(joiner, Payload{RegisterNode: &RegisterNode{Name: "joiner", Address: "http://127.0.0.1:9999"}}))
	if r.err != nil || r.events[0].Type != EventNodeRegistered {
		t.Fatalf("register node: %+v", r)
	}
	r = n.one(n.tx(joiner, Payload{RegisterNode: &RegisterNode{Name: "joiner", Address: "http://127.0.0.1:9998"}}))
	if r.err != nil || len(r.events) != 1 || r.events[0].Type != EventNodeUpdated {
		t.Fatalf("re-register node: %+v", r)
	}
	if r := n.one(n.tx(joiner, Payload{RegisterNode: &RegisterNode{Name: "joiner"}})); !errors.Is(r.err, ErrBadRequest) {
		t.Fatalf("node without address: %v", r.err)
	}
	// A candidate has no weight: it is not in the next committee.
	n.one(n.tx(n.admin, Payload{AdvanceEpoch: &AdvanceEpoch{Epoch: n.epoch() + 1}}))
	before, _ := n.m.Committee(0)
	if before.Weight(KeyOf(joiner)) != 0 {
		t.Fatalf("a candidate without weight got shards")
	}
	// Only governance gives weight; it counts from the next epoch.
	if r := n.one(n.tx(joiner, Payload{SetWeight: &SetWeight{Node: KeyOf(joiner), Weight: 1}})); !errors.Is(r.err, ErrNotAllowed) {
		t.Fatalf("a node set its own weight: %v", r.err)
	}
	if r := n.one(n.tx(n.admin, Payload{SetWeight: &SetWeight{Node: KeyOf(testKey("nobody")), Weight: 1}})); !errors.Is(r.err, ErrBadRequest) {
		t.Fatalf("weight for an unregistered key: %v", r.err)
	}
	if r := n.one(n.tx(n.admin, Payload{SetWeight: &SetWeight{Node: KeyOf(joiner), Weight: 1}})); r.err != nil {
		t.Fatal(r.err)
	}
	if c, _ := n.m.Committee(0); c.Weight(KeyOf(joiner)) != 0 {
		t.Fatalf("weight took effect before the epoch change")
	}
	n.one(n.tx(n.admin, Payload{AdvanceEpoch: &AdvanceEpoch{Epoch: before.Epoch + 1}}))
	after, _ := n.m.Committee(0)
	if w := after.Weight(KeyOf(joiner)); w < 2 || w > 3 {
		t.Fatalf("joiner holds %d shards of 10 among 4 nodes", w)
	}
	if moved := movedShards(before, after); moved != after.Weight(KeyOf(joiner)) {
		t.Fatalf("%d shards moved, want only the joiner's %d", moved, after.Weight(KeyOf(joiner)))
	}
}

func movedShards(a, b *Committee) int {
	owner := map[int]PublicKey{}
	for _, m := range a.Members {
		for _, s := range m.Shards {
			owner[s] = m.Key
		}
	}
	moved := 0
	for _, m := range b.Members {
		for _, s := range m.Shards {
			if owner[s] != m.Key {
				moved++
			}
		}
	}
	return moved
}

func TestAssignShards(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	var prev *Committee
	var nodes []NodeRecord
	for round := 0; round < 200; round++ {
		shards := 4 + rng.IntN(200)
		if prev != nil { // n is fixed once the network runs
			shards = 0
			for _, m := range prev.Members {
				shards += len(m.Shards)
			}
		}
		// Churn: some nodes join, some leave.
		if len(nodes) == 0 || rng.IntN(2) == 0 {
			nodes = append(nodes, NodeRecord{Key: KeyOf(testKey(fmt.Sprint(seed, round))), Weight: 1})
		}
		if len(nodes) > 1 && rng.IntN(3) == 0 {
			i := rng.IntN(len(nodes))
			nodes = slices.Delete(nodes, i, i+1)
		}
		members := AssignShards(shards, prev, nodes)
		got := &Committee{Members: members}
		counts := map[int]int{}
		lo, hi := shards, 0
		for _, m := range members {
			lo, hi = min(lo, len(m.Shards)), max(hi, len(m.Shards))
			for _, s := range m.Shards {
				counts[s]++
			}
		}
		if len(counts) != shards || hi-lo > 1 {
			t.Fatalf("seed %d round %d: %d shards assigned, loads %d..%d", seed, round, len(counts), lo, hi)
		}
		for s, c := range counts {
			if c != 1 || s < 0 || s >= shards {
				t.Fatalf("seed %d round %d: shard %d assigned %d times", seed, round, s, c)
			}
		}
		if prev != nil {
			// Minimal moves: a shard moves only if its owner left or was
			// over its quota.
			quota := shards / len(nodes)
			present := map[PublicKey]bool{}
			for _, nd := range nodes {
				present[nd.Key] = true
			}
			// Orphaned shards and any load above quota+1 must move; beyond
			// that at most one shard per member (the quota's remainder).
			need := 0
			for _, m := range prev.Members {
				if !present[m.Key] {
					need += len(m.Shards)
				} else if len(m.Shards) > quota+1 {
					need += len(m.Shards) - quota - 1
				}
			}
			if moved := movedShards(prev, got); moved > need+len(nodes) {
				t.Fatalf("seed %d round %d: %d shards moved, at most %d needed", seed, round, moved, need+len(nodes))
			}
		}
		shuffled := slices.Clone(nodes)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if !reflect.DeepEqual(AssignShards(shards, prev, shuffled), members) {
			t.Fatalf("seed %d round %d: assignment depends on the order nodes are listed", seed, round)
		}
		prev = got
	}
}
