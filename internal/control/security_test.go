package control

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestCandidatesGetNoShards: a thousand keys that register as nodes are
// candidates with weight 0; they take no shard at the epoch change, and
// their signatures count for nothing.
func TestCandidatesGetNoShards(t *testing.T) {
	n := newTestNet(t, 7, 28, 0)
	id := blobID(1)
	n.register(id, 5, false)
	before, _ := n.m.Committee(0)
	var attackers []PublicKey
	var txs [][]byte
	for i := 0; i < 1000; i++ {
		k := testKey(fmt.Sprint("sybil", i))
		attackers = append(attackers, KeyOf(k))
		txs = append(txs, n.tx(k, Payload{RegisterNode: &RegisterNode{Name: fmt.Sprint("sybil", i), Address: fmt.Sprintf("http://127.0.0.%d:80", 1+i%250)}}))
	}
	for _, r := range n.block(txs...) {
		if r.err != nil {
			t.Fatal(r.err)
		}
	}
	n.one(n.tx(n.admin, Payload{AdvanceEpoch: &AdvanceEpoch{Epoch: n.epoch() + 1}}))
	after, _ := n.m.Committee(0)
	if len(after.Members) != 7 || movedShards(before, after) != 0 {
		t.Fatalf("after 1000 candidates registered: %d members, %d shards moved", len(after.Members), movedShards(before, after))
	}
	for _, k := range attackers {
		if after.Weight(k) != 0 {
			t.Fatalf("candidate %s got shards", k.Short())
		}
	}
	// Their attestations do not invalidate an honest blob.
	c := &Certificate{ID: id, Epoch: after.Epoch}
	for i := 0; i < 20; i++ {
		k := testKey(fmt.Sprint("sybil", i))
		c.Signatures = append(c.Signatures, Signature{Node: KeyOf(k), Sig: ed25519.Sign(k, InvalidMessage("weft-test", after.Epoch, id))})
	}
	if r := n.one(n.tx(testKey("sybil0"), Payload{InvalidateBlob: c})); !errors.Is(r.err, ErrCertificate) {
		t.Fatalf("candidates' attestations: got %v, want ErrCertificate", r.err)
	}
	if info, _ := n.m.Blob(id); info.Status != StatusRegistered {
		t.Fatalf("blob is %s", info.Status)
	}
}

// TestNodeAddresses: a node's address is a bare http(s) base URL.
func TestNodeAddresses(t *testing.T) {
	for addr, ok := range map[string]bool{
		"http://127.0.0.1:9000":               true,
		"https://node.example.org":            true,
		"http://[::1]:80/":                    true,
		"":                                    false,
		"127.0.0.1:9000":                      false,
		"ftp://127.0.0.1":                     false,
		"file:///etc/passwd":                  false,
		"http://":                             false,
		"http://user:pw@127.0.0.1":            false,
		"http://127.0.0.1/admin":              false,
		"http://127.0.0.1/?x=1":               false,
		"http://127.0.0.1/#frag":              false,
		"javascript:alert(1)":                 false,
		"http://" + string(make([]byte, 300)): false,
	} {
		if err := CheckNodeAddress(addr); (err == nil) != ok {
			t.Errorf("%q: got %v, want ok=%v", addr, err, ok)
		}
	}
	n := newTestNet(t, 4, 8, 0)
	k := testKey("joiner")
	if r := n.one(n.tx(k, Payload{RegisterNode: &RegisterNode{Name: "x", Address: "gopher://127.0.0.1"}})); !errors.Is(r.err, ErrBadRequest) {
		t.Fatalf("registering a gopher address: %v", r.err)
	}
}

// TestApportion: shards follow weight, sum to n, respect the cap, and
// do not depend on the order nodes are listed; moves between epochs are
// only what the new quotas need.
func TestApportion(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	for round := 0; round < 300; round++ {
		shards := 4 + rng.IntN(300)
		m := 1 + rng.IntN(40)
		nodes := make([]NodeRecord, m)
		for i := range nodes {
			w := uint64(1 + rng.IntN(100))
			if rng.IntN(10) == 0 {
				w = uint64(1+rng.IntN(5)) << 38 // a whale
			}
			nodes[i] = NodeRecord{Key: KeyOf(testKey(fmt.Sprint(seed, round, i))), Weight: w}
		}
		first := AssignShards(shards, nil, nodes)
		checkCommittee(t, seed, round, shards, nodes, first)
		// Weights change, nodes come and go, shards move only as needed.
		next := slices.Clone(nodes)
		for i := range next {
			if rng.IntN(3) == 0 {
				next[i].Weight = uint64(1 + rng.IntN(100))
			}
		}
		if len(next) > 1 && rng.IntN(2) == 0 {
			i := rng.IntN(len(next))
			next = slices.Delete(next, i, i+1)
		}
		if rng.IntN(2) == 0 {
			next = append(next, NodeRecord{Key: KeyOf(testKey(fmt.Sprint(seed, round, "new"))), Weight: uint64(1 + rng.IntN(100))})
		}
		prev := &Committee{Members: first}
		second := AssignShards(shards, prev, next)
		checkCommittee(t, seed, round, shards, next, second)
		held := map[PublicKey][]int{}
		for _, mem := range first {
			held[mem.Key] = mem.Shards
		}
		need := 0
		for _, mem := range second {
			kept := 0
			for _, s := range mem.Shards {
				if slices.Contains(held[mem.Key], s) {
					kept++
				}
			}
			if kept != min(len(mem.Shards), len(held[mem.Key])) {
				t.Fatalf("seed %d round %d: %s kept %d of its %d shards with a quota of %d", seed, round, mem.Key.Short(), kept, len(held[mem.Key]), len(mem.Shards))
			}
			need += max(0, len(mem.Shards)-len(held[mem.Key]))
		}
		if moved := movedShards(prev, &Committee{Members: second}); moved != need {
			t.Fatalf("seed %d round %d: %d shards moved, the quotas need %d", seed, round, moved, need)
		}
		shuffled := slices.Clone(next)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if !reflect.DeepEqual(AssignShards(shards, prev, shuffled), second) {
			t.Fatalf("seed %d round %d: assignment depends on the order nodes are listed", seed, round)
		}
	}
}

func checkCommittee(t *testing.T, seed uint64, round, shards int, nodes []NodeRecord, members []Member) {
	t.Helper()
	weight := map[PublicKey]uint64{}
	for _, nd := range nodes {
		weight[nd.Key] = nd.Weight
	}
	limit := ShardCap(shards, len(nodes))
	seen := map[int]bool{}
	var total uint64
	for _, mem := range members {
		total += weight[mem.Key]
	}
	for _, mem := range members {
		if len(mem.Shards) > limit {
			t.Fatalf("seed %d round %d: %d shards on one node, cap %d", seed, round, len(mem.Shards), limit)
		}
		for _, s := range mem.Shards {
			if seen[s] || s < 0 || s >= shards {
				t.Fatalf("seed %d round %d: shard %d twice or out of range", seed, round, s)
			}
			seen[s] = true
		}
	}
	if len(seen) != shards {
		t.Fatalf("seed %d round %d: %d of %d shards assigned", seed, round, len(seen), shards)
	}
	// Monotone in weight: a heavier node never holds fewer shards.
	for _, a := range members {
		for _, b := range members {
			if weight[a.Key] > weight[b.Key] && len(a.Shards) < len(b.Shards) {
				t.Fatalf("seed %d round %d: weight %d holds %d shards, weight %d holds %d", seed, round, weight[a.Key], len(a.Shards), weight[b.Key], len(b.Shards))
			}
		}
	}
	if len(nodes) >= 20 && limit > shards/10 && shards/10 >= (shards+len(nodes)-1)/len(nodes) {
		t.Fatalf("seed %d round %d: cap %d with %d members", seed, round, limit, len(nodes))
	}
}

func TestShardCap(t *testing.T) {
	for _, tc := range []struct{ n, m, want int }{
		{28, 7, 9},       // f
		{1000, 100, 100}, // n/10
		{1000, 20, 100},
		{1000, 19, 333},
		{4, 1, 4},  // a single node must hold everything
		{10, 2, 5}, // f = 3 cannot be met by two nodes
		{100, 25, 10},
	} {
		if got := ShardCap(tc.n, tc.m); got != tc.want {
			t.Errorf("ShardCap(%d, %d) = %d, want %d", tc.n, tc.m, got, tc.want)
		}
	}
	// Equal weights with a whale: the whale is capped and the rest share.
	q := Apportion(28, []uint64{1000, 1, 1, 1, 1, 1, 1}, nil)
	if q[0] != 9 || q[1]+q[2]+q[3]+q[4]+q[5]+q[6] != 19 {
		t.Fatalf("whale apportionment %v", q)
	}
}

// TestRegistrationsPerOwner: registrations are per owner, so squatting an
// ID, forging its length or extending someone else's hold gets nothing.
func TestRegistrationsPerOwner(t *testing.T) {
	n := newTestNet(t, 4, 4, 0)
	attacker, victim := testKey("attacker"), n.user
	id := blobID(1)
	e := n.epoch()
	// The attacker registers the victim's content first, deletable, short.
	if r := n.registerAs(attacker, id, e+1, true); r.err != nil {
		t.Fatal(r.err)
	}
	// A registration with a forged length is refused.
	forged := regBody(blobID(2), e+3, false)
	forged.Length = 7
	if r := n.one(n.tx(attacker, Payload{RegisterBlob: forged})); !errors.Is(r.err, ErrBadRequest) {
		t.Fatalf("forged length: got %v", r.err)
	}
	// The victim registers its own, permanent, and certifies.
	if r := n.registerAs(victim, id, e+5, false); r.err != nil {
		t.Fatal(r.err)
	}
	if r := n.registerAs(victim, id, e+5, false); !errors.Is(r.err, ErrBlobExists) {
		t.Fatalf("second registration by one owner: got %v", r.err)
	}
	if r := n.one(n.tx(victim, Payload{CertifyBlob: n.cert(id, e, seq(4), ConfirmationMessage)})); r.err != nil {
		t.Fatal(r.err)
	}
	// The attacker cannot touch the victim's registration.
	if r := n.one(n.tx(attacker, Payload{ExtendBlob: &ExtendBlob{ID: id, EndEpoch: e + 9}})); r.err != nil {
		t.Fatalf("extending its own registration: %v", r.err) // allowed: its own
	}
	if reg, _ := n.m.Registration(id, KeyOf(victim)); reg.EndEpoch != e+5 {
		t.Fatalf("the victim's registration changed: %+v", reg)
	}
	// Deleting its own registration leaves the blob live and certified.
	r := n.one(n.tx(attacker, Payload{DeleteBlob: &BlobRef{ID: id}}))
	if r.err != nil || len(r.events) != 1 || r.events[0].Type != EventRegistrationDeleted || r.events[0].EndEpoch != e+5 {
		t.Fatalf("attacker's delete: %+v", r)
	}
	info, _ := n.m.Blob(id)
	if info.Status != StatusCertified || info.Registrations != 1 || info.EndEpoch != e+5 {
		t.Fatalf("after the attacker's delete: %+v", info)
	}
	if live, _ := n.m.LiveBlobs(nil, 10); len(live) != 1 {
		t.Fatalf("live blobs: %v", live)
	}
	// A late registration of certified content is certified at once.
	late := testKey("late")
	n.registerAs(late, id, e+2, true)
	if info, _ := n.m.Blob(id); info.Status != StatusCertified || info.Registrations != 2 {
		t.Fatalf("after a late registration: %+v", info)
	}
	// Its expiry does not expire the blob.
	for i := uint64(1); i <= 2; i++ {
		for _, r := range n.block(n.tx(n.admin, Payload{AdvanceEpoch: &AdvanceEpoch{Epoch: e + i}})) {
			for _, ev := range r.events {
				if ev.Type == EventBlobExpired {
					t.Fatalf("blob expired at epoch %d with a registration until %d", e+i, e+5)
				}
			}
		}
	}
	if info, _ := n.m.Blob(id); info.Status != StatusCertified || info.Registrations != 1 {
		t.Fatalf("after the late registration expired: %+v", info)
	}
	if reg, _ := n.m.Registration(id, KeyOf(late)); reg != nil {
		t.Fatalf("expired registration still there: %+v", reg)
	}
}

// TestDeletedBlobCanBeStoredAgain: a blob whose last registration was
// deleted starts a new life when registered again.
func TestDeletedBlobCanBeStoredAgain(t *testing.T) {
	n := newTestNet(t, 4, 4, 0)
	id := blobID(1)
	e := n.epoch()
	n.register(id, e+3, true)
	n.one(n.tx(n.user, Payload{CertifyBlob: n.cert(id, e, seq(4), ConfirmationMessage)}))
	if r := n.one(n.tx(n.user, Payload{DeleteBlob: &BlobRef{ID: id}})); r.err != nil || r.events[0].Type != EventBlobDeleted {
		t.Fatalf("delete: %+v", r)
	}
	if info, _ := n.m.Blob(id); info.Status != StatusDeleted {
		t.Fatalf("after delete: %s", info.Status)
	}
	if r := n.register(id, e+4, false); r.err != nil {
		t.Fatalf("registering a deleted blob again: %v", r.err)
	}
	info, _ := n.m.Blob(id)
	if info.Status != StatusRegistered || info.Certified || info.EndEpoch != e+4 {
		t.Fatalf("a new life: %+v", info)
	}
}

// TestMempoolAdmitsOnlyWhatApplies: admission runs every check of the
// block, sees the transactions admitted before, and bounds each sender.
func TestMempoolAdmitsOnlyWhatApplies(t *testing.T) {
	n := newTestNet(t, 4, 4, 0)
	pool := NewMempool(n.store, 8)
	pool.Reset(n.height, n.now)
	id := blobID(1)
	e := n.epoch()
	for name, tc := range map[string]struct {
		raw  []byte
		want error
	}{
		"delete of an unknown blob": {n.tx(n.user, Payload{DeleteBlob: &BlobRef{ID: blobID(5)}}), ErrUnknownBlob},
		"certificate of nothing":    {n.tx(n.user, Payload{CertifyBlob: n.cert(blobID(6), e, seq(4), ConfirmationMessage)}), ErrUnknownBlob},
		"weight from a stranger":    {n.tx(n.user, Payload{SetWeight: &SetWeight{Node: KeyOf(n.user), Weight: 5}}), ErrNotAllowed},
		"oversized registration":    {padded(t, n, 100<<10), ErrMalformedTx},
		"forged length":             {n.tx(n.user, Payload{RegisterBlob: func() *RegisterBlob { b := regBody(blobID(7), e+1, false); b.Length++; return b }()}), ErrBadRequest},
	} {
		if _, err := pool.Check(tc.raw); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
	if pool.overlay.Len() != 0 {
		t.Fatalf("refused transactions left %d keys in the scratch state", pool.overlay.Len())
	}
	// A registration and its certificate, both pending, are both admitted;
	// a second certificate is not.
	if _, err := pool.Check(n.tx(n.user, Payload{RegisterBlob: regBody(id, e+2, false)})); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Check(n.tx(n.user, Payload{CertifyBlob: bigCert(n, id, e, 400)})); !errors.Is(err, ErrCertificate) {
		t.Fatalf("certificate with 400 signers for 4 members: %v", err)
	}
	if _, err := pool.Check(n.tx(n.user, Payload{CertifyBlob: n.cert(id, e, seq(4), ConfirmationMessage)})); err != nil {
		t.Fatalf("certificate after a pending registration: %v", err)
	}
	if _, err := pool.Check(n.tx(n.admin, Payload{CertifyBlob: n.cert(id, e, seq(3), ConfirmationMessage)})); !errors.Is(err, ErrBlobState) {
		t.Fatalf("second certificate: %v", err)
	}
	// Per-sender bound: the user has 2 pending; 6 more fit, then no more.
	for i := 0; i < 6; i++ {
		if _, err := pool.Check(n.tx(n.user, Payload{RegisterBlob: regBody(blobID(10+i), e+2, false)})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Check(n.tx(n.user, Payload{RegisterBlob: regBody(blobID(20), e+2, false)})); !errors.Is(err, ErrBusy) {
		t.Fatalf("ninth pending transaction: %v", err)
	}
	if _, err := pool.Check(n.tx(testKey("other"), Payload{RegisterBlob: regBody(blobID(20), e+2, false)})); err != nil {
		t.Fatalf("another sender is not bounded by the user's pending: %v", err)
	}
	// After a commit the bound starts over; nothing was written to the
	// committed state by admission.
	before := maps.Clone(n.store.m)
	pool.Reset(n.height, n.now)
	if !maps.EqualFunc(before, n.store.m, bytes.Equal) {
		t.Fatal("admission wrote to the committed state")
	}
	if _, err := pool.Check(n.tx(n.user, Payload{RegisterBlob: regBody(blobID(20), e+2, false)})); err != nil {
		t.Fatalf("after reset: %v", err)
	}
}

func padded(t *testing.T, n *testNet, size int) []byte {
	b := regBody(blobID(30), n.epoch()+1, false)
	raw := n.tx(n.user, Payload{RegisterBlob: b})
	// Sign a payload padded with white space (valid JSON) up to size.
	p := append(slices.Clone(raw[97:]), bytes.Repeat([]byte(" "), size)...)
	tx := append([]byte{TxVersion}, raw[1:33]...)
	tx = append(tx, ed25519.Sign(n.user, txMessage("weft-test", p))...)
	return append(tx, p...)
}

func bigCert(n *testNet, id [32]byte, epoch uint64, signers int) *Certificate {
	c := &Certificate{ID: id, Epoch: epoch}
	for i := 0; i < signers; i++ {
		k := testKey(fmt.Sprint("signer", i))
		c.Signatures = append(c.Signatures, Signature{Node: KeyOf(k), Sig: make([]byte, 64)})
	}
	return c
}

// TestOverlayMatchesStore: random writes, scans and rollbacks on an
// Overlay agree with the same operations on a plain store.
func TestOverlayMatchesStore(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 4))
	base := NewMemStore()
	for i := 0; i < 50; i++ {
		base.Set([]byte(fmt.Sprintf("k%03d", rng.IntN(100))), []byte{byte(i)})
	}
	ov := NewOverlay(base)
	ref := base.Clone()
	type snap struct {
		mark int
		ref  *MemStore
	}
	var marks []snap
	for op := 0; op < 2000; op++ {
		k := []byte(fmt.Sprintf("k%03d", rng.IntN(100)))
		switch rng.IntN(6) {
		case 0, 1:
			v := []byte{byte(op), byte(op >> 8)}
			ov.Set(k, v)
			ref.Set(k, v)
		case 2:
			ov.Delete(k)
			ref.Delete(k)
		case 3:
			marks = append(marks, snap{ov.Mark(), ref.Clone()})
		case 4:
			if len(marks) > 0 {
				i := rng.IntN(len(marks))
				ov.Rollback(marks[i].mark)
				ref = marks[i].ref
				marks = marks[:i]
			}
		}
		lo := []byte(fmt.Sprintf("k%03d", rng.IntN(100)))
		hi := []byte(fmt.Sprintf("k%03d", rng.IntN(101)))
		limit := 1 + rng.IntN(20)
		collect := func(s Store) []string {
			var out []string
			s.Scan(lo, hi, func(k, v []byte) bool {
				out = append(out, fmt.Sprintf("%s=%x", k, v))
				return len(out) < limit
			})
			return out
		}
		if got, want := collect(ov), collect(ref); !slices.Equal(got, want) {
			t.Fatalf("seed %d op %d: scan [%s,%s) limit %d: got %v, want %v", seed, op, lo, hi, limit, got, want)
		}
		if got, _ := ov.Get(k); !bytes.Equal(got, ref.m[string(k)]) {
			t.Fatalf("seed %d op %d: get %s", seed, op, k)
		}
	}
}
