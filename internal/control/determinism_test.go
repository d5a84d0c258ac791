package control

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
)

// randomBlocks builds a random but valid-looking sequence of blocks of
// transactions (many rejected ones among them) from a seed.
func randomBlocks(t *testing.T, seed uint64, n *testNet, blocks int) [][][]byte {
	rng := rand.New(rand.NewPCG(seed, 9))
	var out [][][]byte
	var ids []blob.ID
	for b := 0; b < blocks; b++ {
		var txs [][]byte
		for k := rng.IntN(6); k > 0; k-- {
			e := n.epoch()
			switch op := rng.IntN(13); {
			case op < 3 || len(ids) == 0:
				id := blobID(rng.IntN(1 << 30))
				ids = append(ids, id)
				body := regBody(id, e+1+rng.Uint64N(12), rng.IntN(2) == 0)
				if rng.IntN(5) == 0 {
					body.Length = rng.Uint64N(1 << 30) // a forged length: rejected
				}
				owner := n.user
				if rng.IntN(3) == 0 {
					owner = n.admin // a second owner of some blobs
				}
				txs = append(txs, n.tx(owner, Payload{RegisterBlob: body}))
			case op == 3:
				txs = append(txs, n.tx(n.user, Payload{CertifyBlob: n.cert(ids[rng.IntN(len(ids))], e, rng.Perm(len(n.nodes))[:rng.IntN(len(n.nodes)+1)], ConfirmationMessage)}))
			case op == 4:
				txs = append(txs, n.tx(n.user, Payload{DeleteBlob: &BlobRef{ID: ids[rng.IntN(len(ids))]}}))
			case op == 5:
				txs = append(txs, n.tx(n.user, Payload{ExtendBlob: &ExtendBlob{ID: ids[rng.IntN(len(ids))], EndEpoch: e + rng.Uint64N(12)}}))
			case op == 6:
				txs = append(txs, n.tx(n.admin, Payload{AdvanceEpoch: &AdvanceEpoch{Epoch: e + 1}}))
			case op == 8: // a node leaves (refused for the last weighted one)
				txs = append(txs, n.tx(n.nodes[rng.IntN(len(n.nodes))], Payload{LeaveCommittee: &LeaveCommittee{}}))
			case op == 9: // a node registers again, coming back if it left
				i := rng.IntN(len(n.nodes))
				txs = append(txs, n.tx(n.nodes[i], Payload{RegisterNode: &RegisterNode{Name: fmt.Sprint("node", i), Address: fmt.Sprintf("http://127.0.0.1:%d", 7000+i)}}))
			case op == 10: // governance moves weight, sometimes to 0
				txs = append(txs, n.tx(n.admin, Payload{SetWeight: &SetWeight{Node: KeyOf(n.nodes[rng.IntN(len(n.nodes))]), Weight: rng.Uint64N(4)}}))
			case op == 11: // sync attestations, for this epoch or a wrong one, by members or not
				for k := rng.IntN(4); k >= 0; k-- {
					txs = append(txs, n.tx(n.nodes[rng.IntN(len(n.nodes))], Payload{EpochSyncDone: &EpochSyncDone{Epoch: e + uint64(rng.IntN(5)/4)}}))
				}
			case op == 12: // challenge answers: to the open window or another, of the right size or not (refused)
				w, _ := n.m.OpenWindow()
				win, size := uint64(rng.IntN(3)), 1+rng.IntN(64)
				if w != nil {
					win += w.Window - 1
					if nd := w.Member(KeyOf(n.nodes[0])); nd != nil && rng.IntN(2) == 0 {
						size = AnswerSize(n.m.Params().Shards, len(nd.Shards), w.Symbols, w.Blobs)
					}
				}
				answer := make([]byte, size)
				for i := range answer {
					answer[i] = byte(rng.UintN(256))
				}
				txs = append(txs, n.tx(n.nodes[rng.IntN(len(n.nodes))], Payload{ChallengeAnswer: &ChallengeAnswer{Window: win, Answer: answer}}))
			default:
				txs = append(txs, n.tx(n.nodes[0], Payload{InvalidateBlob: n.cert(ids[rng.IntN(len(ids))], e, rng.Perm(len(n.nodes))[:rng.IntN(len(n.nodes)+1)], InvalidMessage)}))
			}
		}
		n.block(txs...)
		out = append(out, txs)
	}
	return out
}

// detNet is the network of TestDeterminism: epochs every 3 s of block
// time, challenge windows every 2 s.
func detNet(t *testing.T) *testNet {
	return newTestNetWith(t, 7, 20, func(p *Params) {
		p.EpochDuration = 3 * time.Second
		p.ChallengeInterval = 2 * time.Second
		p.EvictAfter = 2
	})
}

func TestDeterminism(t *testing.T) {
	seed := testSeed(t)
	a := detNet(t)
	blocks := randomBlocks(t, seed, a, 60)

	// A replica given the same blocks reaches the same app hash after
	// every block and the same state.
	b := detNet(t)
	for i, txs := range blocks {
		b.block(txs...)
		if !bytes.Equal(a.hashes[i], b.hashes[i]) {
			t.Fatalf("seed %d: app hash differs after block %d", seed, i+1)
		}
	}
	if !maps.EqualFunc(a.store.m, b.store.m, bytes.Equal) {
		t.Fatalf("seed %d: replica states differ", seed)
	}
	// Regenerating from the printed seed gives the same chain.
	c := detNet(t)
	randomBlocks(t, seed, c, 60)
	if !bytes.Equal(a.hashes[len(a.hashes)-1], c.hashes[len(c.hashes)-1]) {
		t.Fatalf("seed %d: replay from seed gives a different app hash", seed)
	}
	// A different history gives a different hash.
	d := detNet(t)
	randomBlocks(t, seed+1, d, 60)
	if bytes.Equal(a.hashes[len(a.hashes)-1], d.hashes[len(d.hashes)-1]) {
		t.Fatalf("seeds %d and %d give the same app hash", seed, seed+1)
	}
	evs, _ := a.m.Events(0, 1<<20)
	kinds := map[EventType]int{}
	for _, ev := range evs {
		kinds[ev.Type]++
	}
	t.Logf("seed %d: %d blocks, %d events %v, final app hash %x", seed, len(blocks), len(evs), kinds, a.hashes[len(a.hashes)-1][:8])
}

// TestReopen: a machine reopened over the same store continues where it
// left off.
func TestReopen(t *testing.T) {
	n := newTestNet(t, 4, 8, 0)
	n.register(blobID(1), 5, false)
	h, hash, err := n.m.LastBlock()
	if err != nil || h != n.height || !bytes.Equal(hash, n.hashes[len(n.hashes)-1]) {
		t.Fatalf("last block %d %x, want %d", h, hash, n.height)
	}
	m2, err := NewMachine(n.store)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Params() == nil || m2.Params().Shards != 8 {
		t.Fatalf("params not reloaded")
	}
	info, _ := m2.Blob(blobID(1))
	if info.Status != StatusRegistered {
		t.Fatalf("blob after reopen: %+v", info)
	}
	if _, err := m2.InitGenesis(Genesis{}, t0); err == nil {
		t.Fatal("genesis applied twice")
	}
	if r, _ := m2.Registration(blobID(1), KeyOf(n.user)); r == nil || r.EndEpoch != 5 {
		t.Fatalf("registration after reopen: %+v", r)
	}
}
