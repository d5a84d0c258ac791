package migration

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/testseed"
	"github.com/weftnet/weft/redstuff"
)

func key(i int) control.PublicKey { return control.PublicKey{byte(i + 1)} }

func committee(epoch uint64, shards ...[]int) *control.Committee {
	c := &control.Committee{Epoch: epoch}
	for i, s := range shards {
		if len(s) > 0 {
			c.Members = append(c.Members, control.Member{NodeRecord: control.NodeRecord{Key: key(i), Name: fmt.Sprint("n", i), Address: fmt.Sprint("http://n", i)}, Shards: s})
		}
	}
	return c
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name       string
		prev, next *control.Committee
		self       int
		gained     map[int]int // shard → previous owner (-1: none)
		givenUp    []int
		kept       []int
	}{
		{"genesis: nothing moves", nil, committee(1, []int{0, 1}, []int{2, 3}), 0, map[int]int{}, nil, []int{0, 1}},
		{"unchanged", committee(1, []int{0, 1}, []int{2, 3}), committee(2, []int{0, 1}, []int{2, 3}), 1, map[int]int{}, nil, []int{2, 3}},
		{"new member takes from a shrinking one", committee(1, []int{0, 1}, []int{2, 3}), committee(2, []int{0}, []int{2, 3}, []int{1}), 2, map[int]int{1: 0}, nil, nil},
		{"shrinking member gives up", committee(1, []int{0, 1}, []int{2, 3}), committee(2, []int{0}, []int{2, 3}, []int{1}), 0, map[int]int{}, []int{1}, []int{0}},
		{"leaving member gives up all", committee(1, []int{0, 1}, []int{2, 3}), committee(2, []int{0, 1, 2, 3}), 1, map[int]int{}, []int{2, 3}, nil},
		{"growing member takes from a leaving one", committee(1, []int{0, 1}, []int{2, 3}), committee(2, []int{0, 1, 2, 3}), 0, map[int]int{2: 1, 3: 1}, nil, []int{0, 1}},
		{"shard without a previous owner", committee(1, []int{0}, []int{2, 3}), committee(2, []int{0, 1}, []int{2, 3}), 0, map[int]int{1: -1}, nil, []int{0}},
		{"not a member", committee(1, []int{0, 1}), committee(2, []int{0, 1}), 5, map[int]int{}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PlanFor(key(tc.self), tc.prev, tc.next, 4)
			got := map[int]int{}
			for _, g := range p.Gained {
				got[g.Shard] = -1
				if g.HasFrom {
					got[g.Shard] = int(g.From.Key[0]) - 1
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.gained) || !slices.Equal(p.GivenUp, tc.givenUp) || !slices.Equal(p.Kept, tc.kept) {
				t.Fatalf("gained %v given up %v kept %v; want %v %v %v", got, p.GivenUp, p.Kept, tc.gained, tc.givenUp, tc.kept)
			}
		})
	}
}

// TestPlanProperties: over random committees built as the control plane
// builds them, for every node: gained, given up and kept partition the
// shards it holds before and after; every gained shard's previous owner
// held it; every shard moves from exactly one giver to one taker; and a
// member whose count is unchanged moves nothing.
func TestPlanProperties(t *testing.T) {
	rng := testseed.Rand(t)
	for round := 0; round < 200; round++ {
		n := 4 + rng.IntN(60)
		var nodes []control.NodeRecord
		for i := 0; i < 1+rng.IntN(12); i++ {
			nodes = append(nodes, control.NodeRecord{Key: key(i), Weight: 1 + uint64(rng.IntN(5))})
		}
		prev := &control.Committee{Epoch: 1, Members: control.AssignShards(n, nil, nodes)}
		// Weights change, nodes leave and join.
		var next []control.NodeRecord
		for _, nd := range nodes {
			if rng.IntN(5) > 0 {
				nd.Weight = 1 + uint64(rng.IntN(5))
				next = append(next, nd)
			}
		}
		for i := len(nodes); i < len(nodes)+rng.IntN(4); i++ {
			next = append(next, control.NodeRecord{Key: key(i), Weight: 1 + uint64(rng.IntN(5))})
		}
		if len(next) == 0 {
			next = nodes[:1]
		}
		cur := &control.Committee{Epoch: 2, Members: control.AssignShards(n, prev, next)}
		gives, takes := map[int]int{}, map[int]int{}
		for i := 0; i < 20; i++ {
			p := PlanFor(key(i), prev, cur, n)
			before, after := shardsOf(key(i), prev), shardsOf(key(i), cur)
			union := slices.Sorted(slices.Values(append(append(slices.Clone(p.Kept), p.GivenUp...), gainedShards(p.Gained)...)))
			if !slices.Equal(union, slices.Sorted(slices.Values(append(slices.Clone(before), gainedShards(p.Gained)...)))) ||
				!slices.Equal(slices.Sorted(slices.Values(append(slices.Clone(p.Kept), gainedShards(p.Gained)...))), after) {
				t.Fatalf("round %d node %d: plan %+v does not partition %v → %v", round, i, p, before, after)
			}
			for _, g := range p.Gained {
				if !g.HasFrom || !slices.Contains(g.From.Shards, g.Shard) || g.From.Key == key(i) {
					t.Fatalf("round %d node %d: shard %d gained from %v", round, i, g.Shard, g.From.Key)
				}
				takes[g.Shard]++
			}
			for _, s := range p.GivenUp {
				gives[s]++
			}
			if len(before) == len(after) && len(before) > 0 && (len(p.Gained) > 0 || len(p.GivenUp) > 0) {
				t.Fatalf("round %d node %d: count unchanged (%d) but plan moves %+v", round, i, len(before), p)
			}
		}
		for s, k := range takes {
			if k != 1 || gives[s] != 1 {
				t.Fatalf("round %d: shard %d taken %d times, given %d times", round, s, k, gives[s])
			}
		}
	}
}

func gainedShards(gs []Gain) []int {
	var out []int
	for _, g := range gs {
		out = append(out, g.Shard)
	}
	return out
}

func ids(k int) []blob.ID {
	out := make([]blob.ID, k)
	for i := range out {
		out[i] = blob.ID{byte(i / 256), byte(i), 7}
	}
	return out
}

func TestRequestRoundTripAndSignature(t *testing.T) {
	key := make([]byte, 32)
	priv := ed25519NewKey(key)
	r := &Request{Epoch: 9, Shard: 3, IDs: ids(5)}
	r.Sign("net", priv)
	raw, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRequest(raw)
	if err != nil || got.Epoch != 9 || got.Shard != 3 || !slices.Equal(got.IDs, r.IDs) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	pub := pubOf(priv)
	if !got.Verify("net", pub) {
		t.Fatal("signature does not verify")
	}
	for _, bad := range []func(*Request){
		func(r *Request) { r.Epoch++ },
		func(r *Request) { r.Shard++ },
		func(r *Request) { r.IDs = r.IDs[1:] },
	} {
		c := *got
		bad(&c)
		if c.Verify("net", pub) {
			t.Fatal("signature verifies over a changed request")
		}
	}
	if got.Verify("other-net", pub) {
		t.Fatal("signature verifies on another network")
	}
	unsorted := &Request{IDs: []blob.ID{{2}, {1}}}
	if _, err := unsorted.MarshalBinary(); !errors.Is(err, ErrWire) {
		t.Fatalf("unsorted IDs: %v", err)
	}
}

// pairs returns the encoded blob's pair on a shard as a present item.
func item(e *redstuff.Encoded, shard int) Item {
	p := e.Params
	pair := p.PairAt(e.ID, shard)
	return Item{Status: Present, Commitment: e.Pairs[pair], Primary: e.Sliver(blob.Primary, p.PrimaryOf(pair)), Secondary: e.Sliver(blob.Secondary, p.SecondaryOf(pair))}
}

func TestPullerVerifiesRetriesAndGivesUp(t *testing.T) {
	codec, err := redstuff.New(10)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var encs []*redstuff.Encoded
	var page []Blob
	for i := 0; i < 4; i++ {
		data := make([]byte, 1000+rng.IntN(5000))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		e, _ := codec.Encode(data)
		encs = append(encs, e)
	}
	slices.SortFunc(encs, func(a, b *redstuff.Encoded) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	for _, e := range encs {
		page = append(page, Blob{ID: e.ID, Length: e.Length, Certified: true})
	}
	page = append(page, Blob{ID: blob.ID{0xff}, Length: 10}) // registered, not certified
	const shard = 4
	u := NewPuller(codec, Config{BatchBlobs: 10, BatchBytes: 1 << 20, MaxFailures: 3, Backoff: time.Second}, Progress{Epoch: 2, Shard: shard, State: Syncing})
	b := u.Next(page, func(bl Blob) bool { return bl.ID == encs[3].ID })
	if len(b.Ask) != 3 || b.Covered != 5 || b.Last != page[4].ID {
		t.Fatalf("batch asks %d blobs covering %d", len(b.Ask), b.Covered)
	}
	// Fails twice (with back-off), then answers: one good, one lying,
	// one missing.
	now := time.Unix(1000, 0)
	for i, want := range []time.Duration{time.Second, 2 * time.Second} {
		out := u.Deliver(b, nil, 0, errors.New("down"), now)
		if !out.Retry || out.RetryAt != now.Add(want) {
			t.Fatalf("failure %d: %+v", i, out)
		}
	}
	lie := item(encs[1], shard)
	lie.Secondary.Data = bytes.Clone(lie.Secondary.Data)
	lie.Secondary.Data[0] ^= 1
	resp := &Response{Items: []Item{item(encs[0], shard), lie, {Status: NotHeld}}}
	out := u.Deliver(b, resp, 100, nil, now)
	if len(out.Store) != 1 || out.Store[0].ID != encs[0].ID || len(out.Recover) != 2 || out.Rejected != 2 || out.Missing != 2 {
		t.Fatalf("outcome %+v", out)
	}
	p := u.Progress()
	if *p.Cursor != page[4].ID || p.BlobsDone != 5 || p.Pulled != 1 || p.ToRecovery != 2 || p.Bytes != 100 {
		t.Fatalf("progress %+v", p)
	}
	// A commitment of another pair is refused even if it verifies.
	wrong := item(encs[0], shard+1)
	out = u.Deliver(&Batch{Ask: page[:1], Last: page[0].ID, Covered: 1}, &Response{Items: []Item{wrong}}, 0, nil, now)
	if out.Rejected != 2 {
		t.Fatalf("pair of another shard accepted: %+v", out)
	}
	// Three failures in a row: the shard turns to recovery.
	for i := 0; i < 3; i++ {
		out = u.Deliver(b, nil, 0, errors.New("down"), now)
	}
	if !out.GaveUp || len(out.Recover) != 3 || u.Progress().State != Recovering {
		t.Fatalf("after 3 failures: %+v, state %s", out, u.Progress().State)
	}
	u.EndOfBlobs()
	if u.Checked(2) || u.Progress().State != Recovering {
		t.Fatal("ready with pairs missing")
	}
	if !u.Checked(0) || u.Progress().State != Ready {
		t.Fatal("not ready with every pair held")
	}
	// Pages are cut by bytes: a blob alone may exceed the cap.
	u = NewPuller(codec, Config{BatchBlobs: 10, BatchBytes: 1}, Progress{Epoch: 2, Shard: shard, State: Syncing})
	if b := u.Next(page, func(Blob) bool { return false }); len(b.Ask) != 1 || b.Covered != 1 {
		t.Fatalf("byte-capped batch asks %d, covers %d", len(b.Ask), b.Covered)
	}
}

func TestProgressRoundTrip(t *testing.T) {
	id := blob.ID{3}
	p := Progress{Epoch: 4, Shard: 2, State: Syncing, From: key(1), Cursor: &id, BlobsDone: 3}
	raw, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalProgress(raw)
	if err != nil || got.Epoch != 4 || *got.Cursor != id || got.From != key(1) || got.Version != ProgressVersion {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := UnmarshalProgress([]byte(`{"v":9,"state":"ready"}`)); err == nil {
		t.Fatal("unknown version accepted")
	}
}
