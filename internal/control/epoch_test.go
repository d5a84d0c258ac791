package control

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// Helpers for epoch changes.

func (n *testNet) advance() result {
	n.t.Helper()
	r := n.block(n.tx(n.admin, Payload{AdvanceEpoch: &AdvanceEpoch{Epoch: n.epoch() + 1}}))
	if r[0].err != nil {
		n.t.Fatalf("advance: %v", r[0].err)
	}
	return r[0]
}

func (n *testNet) committee() *Committee {
	n.t.Helper()
	c, err := n.m.Committee(0)
	if err != nil {
		n.t.Fatal(err)
	}
	return c
}

func (n *testNet) change() *EpochChange {
	n.t.Helper()
	c, err := n.m.EpochChange(0)
	if err != nil {
		n.t.Fatal(err)
	}
	return c
}

func (n *testNet) syncDone(key ed25519.PrivateKey, epoch uint64) result {
	return n.one(n.tx(key, Payload{EpochSyncDone: &EpochSyncDone{Epoch: epoch}}))
}

func eventTypes(evs []Event) []EventType {
	var out []EventType
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

// TestLeaveCommittee: a node that leaves is in no committee from the next
// epoch, its shards go to the others with no other move, governance
// weight does not bring it back, and registering again does.
func TestLeaveCommittee(t *testing.T) {
	n := newTestNet(t, 5, 20, 0) // four shards each
	leaver := n.nodes[2]
	before := n.committee()
	r := n.one(n.tx(leaver, Payload{LeaveCommittee: &LeaveCommittee{}}))
	if r.err != nil || !slices.Equal(eventTypes(r.events), []EventType{EventNodeLeaving}) || *r.events[0].Node != KeyOf(leaver) {
		t.Fatalf("leave: %+v", r)
	}
	if rec, _ := n.m.Node(KeyOf(leaver)); !rec.Leaving || rec.LeaveEpoch != before.Epoch+1 || rec.Weight != 1 {
		t.Fatalf("leaver's record %+v", rec)
	}
	if n.committee().Weight(KeyOf(leaver)) != 4 {
		t.Fatal("a leave took effect before the epoch boundary")
	}
	for name, tc := range map[string]struct {
		key  ed25519.PrivateKey
		want error
	}{
		"second leave":       {leaver, ErrBadRequest},
		"unregistered key":   {testKey("stranger"), ErrBadRequest},
		"the governance key": {n.admin, ErrBadRequest}, // not a node
	} {
		if r := n.one(n.tx(tc.key, Payload{LeaveCommittee: &LeaveCommittee{}})); !errors.Is(r.err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, r.err, tc.want)
		}
	}
	// Governance changing its weight does not bring it back.
	if r := n.one(n.tx(n.admin, Payload{SetWeight: &SetWeight{Node: KeyOf(leaver), Weight: 7}})); r.err != nil {
		t.Fatal(r.err)
	}
	n.advance()
	after := n.committee()
	if after.Weight(KeyOf(leaver)) != 0 || len(after.Members) != 4 {
		t.Fatalf("the leaver is in the next committee: %+v", after.Members)
	}
	if moved := movedShards(before, after); moved != 4 {
		t.Fatalf("%d shards moved, want only the leaver's 4", moved)
	}
	for _, m := range after.Members {
		if m.Key != KeyOf(leaver) && len(m.Shards) != 5 {
			t.Fatalf("member %s holds %d shards, want 5", m.Key.Short(), len(m.Shards))
		}
	}
	// It is out in the epoch after too; registering again brings it back,
	// with the weight governance gave it meanwhile.
	n.advance()
	if n.committee().Weight(KeyOf(leaver)) != 0 {
		t.Fatal("the leaver came back by itself")
	}
	if r := n.one(n.tx(leaver, Payload{RegisterNode: &RegisterNode{Name: "node2", Address: "http://127.0.0.1:7002"}})); r.err != nil {
		t.Fatal(r.err)
	}
	if rec, _ := n.m.Node(KeyOf(leaver)); rec.Leaving || rec.LeaveEpoch != 0 {
		t.Fatalf("record after registering again: %+v", rec)
	}
	n.advance()
	if w := n.committee().Weight(KeyOf(leaver)); w != ShardCap(20, 5) { // weight 7 of 11: capped at f = 6
		t.Fatalf("the node that came back with weight 7 holds %d shards", w)
	}
}

// TestLeaveNeverEmptiesTheCommittee: the last weighted node may not
// leave, nor be set to weight 0; a candidate may leave at any time.
func TestLeaveNeverEmptiesTheCommittee(t *testing.T) {
	n := newTestNet(t, 2, 8, 0)
	cand := testKey("candidate")
	n.one(n.tx(cand, Payload{RegisterNode: &RegisterNode{Name: "c", Address: "http://127.0.0.1:9"}}))
	if r := n.one(n.tx(n.nodes[0], Payload{LeaveCommittee: &LeaveCommittee{}})); r.err != nil {
		t.Fatal(r.err)
	}
	if r := n.one(n.tx(n.nodes[1], Payload{LeaveCommittee: &LeaveCommittee{}})); !errors.Is(r.err, ErrNotAllowed) {
		t.Fatalf("the last weighted node left: %v", r.err)
	}
	if r := n.one(n.tx(n.admin, Payload{SetWeight: &SetWeight{Node: KeyOf(n.nodes[1]), Weight: 0}})); !errors.Is(r.err, ErrNotAllowed) {
		t.Fatalf("the last weighted node set to weight 0: %v", r.err)
	}
	if r := n.one(n.tx(cand, Payload{LeaveCommittee: &LeaveCommittee{}})); r.err != nil {
		t.Fatalf("a candidate leaving: %v", r.err)
	}
	n.advance()
	if c := n.committee(); len(c.Members) != 1 || c.Weight(KeyOf(n.nodes[1])) != 8 {
		t.Fatalf("committee %+v", c.Members)
	}
	// Both refusals are refused at admission too.
	pool := NewMempool(n.store, 8)
	pool.Reset(n.height, n.now)
	if _, err := pool.Check(n.tx(n.nodes[1], Payload{LeaveCommittee: &LeaveCommittee{}})); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("mempool admitted the last node's leave: %v", err)
	}
}

// TestEpochState: an epoch is syncing exactly when its committee's shards
// differ from the previous epoch's; otherwise it is done at once.
func TestEpochState(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(n *testNet) // before the boundary
		syncing bool
	}{
		{"nothing", func(n *testNet) {}, false},
		{"a candidate registers", func(n *testNet) {
			n.one(n.tx(testKey("cand"), Payload{RegisterNode: &RegisterNode{Name: "c", Address: "http://127.0.0.1:9"}}))
		}, false},
		{"a weight changes, no shard moves", func(n *testNet) { // 4 nodes, 8 shards: the cap keeps two each
			n.one(n.tx(n.admin, Payload{SetWeight: &SetWeight{Node: KeyOf(n.nodes[0]), Weight: 2}}))
		}, false},
		{"a node joins", func(n *testNet) {
			k := testKey("joiner")
			n.one(n.tx(k, Payload{RegisterNode: &RegisterNode{Name: "j", Address: "http://127.0.0.1:9"}}))
			n.one(n.tx(n.admin, Payload{SetWeight: &SetWeight{Node: KeyOf(k), Weight: 1}}))
		}, true},
		{"a node leaves", func(n *testNet) { n.one(n.tx(n.nodes[1], Payload{LeaveCommittee: &LeaveCommittee{}})) }, true},
		{"governance sets weight 0", func(n *testNet) {
			n.one(n.tx(n.admin, Payload{SetWeight: &SetWeight{Node: KeyOf(n.nodes[1]), Weight: 0}}))
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newTestNet(t, 4, 8, 0)
			if c := n.change(); c.State != EpochDone || c.PreviousEpoch != 0 {
				t.Fatalf("genesis epoch: %+v", c)
			}
			tc.change(n)
			before := n.committee()
			r := n.advance()
			after := n.committee()
			c := n.change()
			if SameShards(before, after) == tc.syncing || (c.State == EpochSyncing) != tc.syncing || c.PreviousEpoch != 1 {
				t.Fatalf("change %+v, same shards %v, want syncing %v", c, SameShards(before, after), tc.syncing)
			}
			want := []EventType{EventEpochChanged, EventEpochDone}
			if tc.syncing {
				want = want[:1]
			}
			if !slices.Equal(eventTypes(r.events), want) || r.events[0].EpochState != c.State || r.events[0].PreviousEpoch != 1 {
				t.Fatalf("events %+v, want %v", r.events, want)
			}
		})
	}
}

// TestEpochSyncDone: attestations by distinct members of the new
// committee, counted in its shards, end the change exactly at n − f;
// others are refused, at admission as in a block.
func TestEpochSyncDone(t *testing.T) {
	n := newTestNet(t, 7, 10, 0) // n = 10, f = 3, quorum 7
	leaver := n.nodes[6]
	n.one(n.tx(leaver, Payload{LeaveCommittee: &LeaveCommittee{}}))
	cand := testKey("cand")
	n.one(n.tx(cand, Payload{RegisterNode: &RegisterNode{Name: "c", Address: "http://127.0.0.1:9"}}))
	n.advance()
	e := n.epoch()
	com := n.committee()
	if c := n.change(); c.State != EpochSyncing || c.SyncedWeight != 0 {
		t.Fatalf("after a leave: %+v", c)
	}
	refusals := map[string]struct {
		key   ed25519.PrivateKey
		epoch uint64
		want  error
	}{
		"past epoch":   {n.nodes[0], e - 1, ErrEpoch},
		"future epoch": {n.nodes[0], e + 1, ErrEpoch},
		"the leaver":   {leaver, e, ErrNotAllowed},
		"a candidate":  {cand, e, ErrNotAllowed},
		"governance":   {n.admin, e, ErrNotAllowed},
	}
	for name, tc := range refusals {
		if r := n.syncDone(tc.key, tc.epoch); !errors.Is(r.err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, r.err, tc.want)
		}
	}
	// Members in order of key; the epoch is done at the attestation that
	// reaches 7 shards, not before.
	weight := 0
	for i, m := range com.Members {
		key := n.nodes[slices.IndexFunc(n.nodes, func(k ed25519.PrivateKey) bool { return KeyOf(k) == m.Key })]
		r := n.syncDone(key, e)
		if r.err != nil {
			t.Fatalf("member %d: %v", i, r.err)
		}
		weight += len(m.Shards)
		done := weight >= 7
		want := []EventType{EventEpochSyncDone}
		if done {
			want = append(want, EventEpochDone)
		}
		if c := n.change(); !slices.Equal(eventTypes(r.events), want) || c.SyncedWeight != weight || (c.State == EpochDone) != done {
			t.Fatalf("member %d, %d shards attested: change %+v, events %v", i, weight, c, eventTypes(r.events))
		}
		if done {
			// Late attestations still count (the previous owners of a late
			// member's shards drop them on it), once each, and change
			// nothing else.
			for _, late := range com.Members[i+1:] {
				lk := n.nodes[slices.IndexFunc(n.nodes, func(k ed25519.PrivateKey) bool { return KeyOf(k) == late.Key })]
				if r := n.syncDone(lk, e); r.err != nil || !slices.Equal(eventTypes(r.events), []EventType{EventEpochSyncDone}) {
					t.Fatalf("late attestation after done: %v, events %v", r.err, eventTypes(r.events))
				}
				if r := n.syncDone(lk, e); !errors.Is(r.err, ErrAttested) {
					t.Fatalf("late duplicate: got %v, want ErrAttested", r.err)
				}
			}
			if c := n.change(); c.State != EpochDone {
				t.Fatalf("after late attestations: %+v", c)
			}
			break
		}
		if r := n.syncDone(key, e); !errors.Is(r.err, ErrAttested) {
			t.Fatalf("duplicate: got %v, want ErrAttested", r.err)
		}
	}
	if weight < 7 {
		t.Fatalf("never done: %d shards attested", weight)
	}
	// The marks last while the epoch does; the next unchanged epoch is
	// done at once, and the marks of the last are gone.
	n.advance()
	if c := n.change(); c.State != EpochDone || c.PreviousEpoch != e {
		t.Fatalf("unchanged epoch after a done one: %+v", c)
	}
	if n.store.count("a/") != 0 {
		t.Fatal("attestation marks left after the epoch ended")
	}
}

// TestEpochSyncDoneAdmission: a duplicate pending in the mempool is
// refused, so it never reaches a block.
func TestEpochSyncDoneAdmission(t *testing.T) {
	n := newTestNet(t, 4, 8, 0)
	n.one(n.tx(n.nodes[3], Payload{LeaveCommittee: &LeaveCommittee{}}))
	n.advance()
	e := n.epoch()
	pool := NewMempool(n.store, 8)
	pool.Reset(n.height, n.now)
	if _, err := pool.Check(n.tx(n.nodes[0], Payload{EpochSyncDone: &EpochSyncDone{Epoch: e}})); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		raw  []byte
		want error
	}{
		"duplicate pending": {n.tx(n.nodes[0], Payload{EpochSyncDone: &EpochSyncDone{Epoch: e}}), ErrAttested},
		"non-member":        {n.tx(n.nodes[3], Payload{EpochSyncDone: &EpochSyncDone{Epoch: e}}), ErrNotAllowed},
		"wrong epoch":       {n.tx(n.nodes[1], Payload{EpochSyncDone: &EpochSyncDone{Epoch: e - 1}}), ErrEpoch},
	} {
		if _, err := pool.Check(tc.raw); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
}

// TestEpochAdvancesMidSync: an epoch still syncing when the next begins
// is superseded, never done; the next change syncs from the last epoch
// that was done, even if its own committee equals the superseded one's.
func TestEpochAdvancesMidSync(t *testing.T) {
	n := newTestNet(t, 4, 8, 0)
	n.one(n.tx(n.nodes[3], Payload{LeaveCommittee: &LeaveCommittee{}}))
	n.advance() // epoch 2: syncing from 1
	if r := n.syncDone(n.nodes[0], 2); r.err != nil {
		t.Fatal(r.err)
	}
	r := n.advance() // epoch 3: same shards as 2, but 2 was never done
	if !slices.Equal(eventTypes(r.events), []EventType{EventEpochChanged}) || r.events[0].PreviousEpoch != 1 || r.events[0].EpochState != EpochSyncing {
		t.Fatalf("epoch 3 events %+v", r.events)
	}
	if c, _ := n.m.EpochChange(2); c.State != EpochSuperseded || c.SyncedWeight == 0 {
		t.Fatalf("epoch 2 after epoch 3 began: %+v", c)
	}
	if c := n.change(); c.State != EpochSyncing || c.PreviousEpoch != 1 || c.SyncedWeight != 0 {
		t.Fatalf("epoch 3: %+v", c)
	}
	// Epoch 2's attestations neither count for 3 nor can be completed.
	if r := n.syncDone(n.nodes[1], 2); !errors.Is(r.err, ErrEpoch) {
		t.Fatalf("sync done for the superseded epoch: %v", r.err)
	}
	// A member attests again for the new epoch, and the others until done.
	for _, k := range n.nodes[:3] {
		if r := n.syncDone(k, 3); r.err != nil {
			t.Fatal(r.err)
		}
		if n.change().State == EpochDone {
			break
		}
	}
	if c := n.change(); c.State != EpochDone {
		t.Fatalf("epoch 3 with every member attested: %+v", c)
	}
	n.advance()
	if c := n.change(); c.State != EpochDone || c.PreviousEpoch != 3 {
		t.Fatalf("epoch 4: %+v", c)
	}
	// What members must sync: the shards they hold now and did not hold
	// throughout the epochs since the last done one.
	c1, _ := n.m.Committee(1)
	c2, _ := n.m.Committee(2)
	c3, _ := n.m.Committee(3)
	for _, k := range n.nodes[:3] {
		key := KeyOf(k)
		var want []int
		for _, s := range c3.Members[slices.IndexFunc(c3.Members, func(m Member) bool { return m.Key == key })].Shards {
			if !c1.holds(key, s) || !c2.holds(key, s) {
				want = append(want, s)
			}
		}
		if got := GainedShards(c3, []*Committee{c1, c2}, key); !slices.Equal(got, want) {
			t.Fatalf("%s gained %v, want %v", key.Short(), got, want)
		}
		if got := GainedShards(c3, []*Committee{c3}, key); len(got) != 0 {
			t.Fatalf("gained %v against its own committee", got)
		}
	}
}

// TestEpochChangesProperty: random weights, joins, leaves and returns,
// epochs advanced with and without their syncs done. Against a model:
// the committee holds exactly the weighted nodes that are not leaving,
// shards move only as the quotas need, an epoch syncs exactly when it
// must, and it is done exactly when the attested shards reach n − f.
func TestEpochChangesProperty(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 11))
	shards := 10 + rng.IntN(30)
	n := newTestNet(t, 4, shards, 0)
	quorum := n.m.Params().Quorum()
	keys := map[PublicKey]ed25519.PrivateKey{}
	for _, k := range n.nodes {
		keys[KeyOf(k)] = k
	}
	lastDone := uint64(1)
	syncing, superseded := 0, 0
	for round := 0; round < 40; round++ {
		// Churn before the boundary.
		for k := rng.IntN(4); k > 0; k-- {
			switch rng.IntN(4) {
			case 0: // a new node, maybe weighted
				key := testKey(fmt.Sprint("prop", seed, round, k))
				keys[KeyOf(key)] = key
				n.nodes = append(n.nodes, key)
				n.one(n.tx(key, Payload{RegisterNode: &RegisterNode{Name: "p", Address: "http://127.0.0.1:9"}}))
				n.one(n.tx(n.admin, Payload{SetWeight: &SetWeight{Node: KeyOf(key), Weight: uint64(rng.IntN(5))}}))
			case 1: // a weight changes, maybe to 0 (refused for the last)
				key := n.nodes[rng.IntN(len(n.nodes))]
				n.one(n.tx(n.admin, Payload{SetWeight: &SetWeight{Node: KeyOf(key), Weight: uint64(rng.IntN(6))}}))
			case 2: // a node leaves (refused for the last or a leaver)
				n.one(n.tx(n.nodes[rng.IntN(len(n.nodes))], Payload{LeaveCommittee: &LeaveCommittee{}}))
			case 3: // a node registers again: a leaver comes back
				key := n.nodes[rng.IntN(len(n.nodes))]
				n.one(n.tx(key, Payload{RegisterNode: &RegisterNode{Name: "p", Address: "http://127.0.0.1:9"}}))
			}
		}
		// The model's next committee: weighted nodes not leaving.
		var eligible []NodeRecord
		for k := range keys {
			if rec, _ := n.m.Node(k); rec != nil && rec.Weight > 0 && !rec.Leaving {
				eligible = append(eligible, *rec)
			}
		}
		prev := n.committee()
		prevState := n.change().State
		r := n.advance()
		com := n.committee()
		if len(com.Members) == 0 {
			t.Fatalf("seed %d round %d: empty committee", seed, round)
		}
		if want := AssignShards(shards, prev, eligible); !slices.EqualFunc(want, com.Members, func(a, b Member) bool {
			return a.Key == b.Key && slices.Equal(a.Shards, b.Shards)
		}) {
			t.Fatalf("seed %d round %d: committee differs from AssignShards over the eligible nodes", seed, round)
		}
		for _, m := range com.Members {
			if rec, _ := n.m.Node(m.Key); rec.Leaving || rec.Weight == 0 {
				t.Fatalf("seed %d round %d: %s is in the committee with %+v", seed, round, m.Key.Short(), rec)
			}
		}
		// Minimal moves: every member keeps what it held up to its new count.
		need := 0
		for _, m := range com.Members {
			held := prev.Weight(m.Key)
			kept := 0
			for _, s := range m.Shards {
				if prev.holds(m.Key, s) {
					kept++
				}
			}
			if kept != min(held, len(m.Shards)) {
				t.Fatalf("seed %d round %d: %s kept %d of %d with %d now", seed, round, m.Key.Short(), kept, held, len(m.Shards))
			}
			need += max(0, len(m.Shards)-held)
		}
		if moved := movedShards(prev, com); moved != need {
			t.Fatalf("seed %d round %d: %d shards moved, %d needed", seed, round, moved, need)
		}
		// State against the model.
		e := n.epoch()
		ch := n.change()
		wantSyncing := prevState != EpochDone || !SameShards(prev, com)
		if (ch.State == EpochSyncing) != wantSyncing {
			t.Fatalf("seed %d round %d: change %+v, previous done %d, want syncing %v", seed, round, ch, lastDone, wantSyncing)
		}
		if prevState == EpochDone {
			lastDone = e - 1
		} else {
			superseded++
		}
		if ch.PreviousEpoch != lastDone {
			t.Fatalf("seed %d round %d: previous epoch %d, want %d", seed, round, ch.PreviousEpoch, lastDone)
		}
		if (r.events[len(r.events)-1].Type == EventEpochDone) != !wantSyncing {
			t.Fatalf("seed %d round %d: events %v", seed, round, eventTypes(r.events))
		}
		if !wantSyncing {
			continue
		}
		syncing++
		// Attest in random order, with noise, and sometimes stop short.
		order := rng.Perm(len(com.Members))
		stop := len(order)
		if rng.IntN(3) == 0 {
			stop = rng.IntN(len(order))
		}
		weight := 0
		var attested []PublicKey
		for _, i := range order[:stop] {
			m := com.Members[i]
			if rng.IntN(4) == 0 && len(attested) > 0 { // a duplicate
				k := attested[rng.IntN(len(attested))]
				if r := n.syncDone(keys[k], e); !errors.Is(r.err, ErrAttested) {
					t.Fatalf("seed %d round %d: duplicate got %v", seed, round, r.err)
				}
			}
			r := n.syncDone(keys[m.Key], e)
			if weight >= quorum {
				if r.err != nil || slices.Contains(eventTypes(r.events), EventEpochDone) {
					t.Fatalf("seed %d round %d: attestation after done got %v, events %v", seed, round, r.err, eventTypes(r.events))
				}
				attested = append(attested, m.Key)
				continue
			}
			if r.err != nil {
				t.Fatalf("seed %d round %d: member attestation: %v", seed, round, r.err)
			}
			attested = append(attested, m.Key)
			weight += len(m.Shards)
			if (n.change().State == EpochDone) != (weight >= quorum) {
				t.Fatalf("seed %d round %d: %d of %d shards attested, state %s", seed, round, weight, quorum, n.change().State)
			}
		}
	}
	if syncing == 0 {
		t.Fatalf("seed %d: no epoch synced", seed)
	}
	t.Logf("seed %d: %d shards, %d nodes, %d epochs: %d syncing, %d superseded", seed, shards, len(keys), n.epoch(), syncing, superseded)
}

// TestCorruptNodeRecordIsFatal: a weighted node whose record is missing,
// does not decode, or is not the record of a weighted node that stays is
// corrupt state. The epoch change stops with an error naming the node,
// fatal for the replica like any other corrupt record — the node is never
// silently left out of the next committee.
func TestCorruptNodeRecordIsFatal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		record func(n NodeRecord) []byte
	}{
		{"missing", func(NodeRecord) []byte { return nil }},
		{"not JSON", func(NodeRecord) []byte { return []byte("{") }},
		{"wrong type", func(NodeRecord) []byte { return []byte(`{"weight":"heavy"}`) }},
		{"null", func(NodeRecord) []byte { return []byte("null") }},
		{"empty object", func(NodeRecord) []byte { return []byte("{}") }},
		{"another node's key", func(n NodeRecord) []byte {
			n.Key = KeyOf(testKey("someone else"))
			return mustJSON(n)
		}},
		{"weight 0", func(n NodeRecord) []byte { n.Weight = 0; return mustJSON(n) }},
		{"leaving", func(n NodeRecord) []byte { n.Leaving, n.LeaveEpoch = true, 2; return mustJSON(n) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newTestNet(t, 4, 12, 0)
			victim := KeyOf(n.nodes[2])
			rec, err := n.m.Node(victim)
			if err != nil || rec == nil {
				t.Fatalf("node record: %v %v", rec, err)
			}
			if raw := tc.record(*rec); raw == nil {
				n.store.Delete(keyNode(victim))
			} else {
				n.store.Set(keyNode(victim), raw)
			}
			n.height++
			n.now = n.now.Add(time.Second)
			n.m.Begin(n.height, n.now)
			evs, err := n.m.Deliver(n.tx(n.admin, Payload{AdvanceEpoch: &AdvanceEpoch{Epoch: 2}}))
			if err != nil {
				t.Fatalf("deliver: %v", err)
			}
			if slices.Contains(eventTypes(evs), EventEpochChanged) {
				t.Errorf("epoch changed over a corrupt node record: %v", eventTypes(evs))
			}
			_, err = n.m.End()
			if err == nil || !strings.Contains(err.Error(), victim.String()) {
				t.Fatalf("end of block: %v, want an error naming node %s", err, victim)
			}
			if _, err := n.m.Commit(); err == nil {
				t.Fatal("the block committed over a corrupt node record")
			}
		})
	}
}

func mustJSON(v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return raw
}
