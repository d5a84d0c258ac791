package download_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/download"
	"github.com/weftnet/weft/internal/upload"
	"github.com/weftnet/weft/redstuff"
)

func committee(epoch uint64, names ...string) *control.Committee {
	com := &control.Committee{Epoch: epoch}
	for i, name := range names {
		var k control.PublicKey
		copy(k[:], name)
		com.Members = append(com.Members, control.Member{NodeRecord: control.NodeRecord{Key: k, Name: name}, Shards: []int{2 * i, 2*i + 1}})
	}
	return com
}

// TestHoldersDuringSync: while a change syncs, a shard is read from its
// previous owner first, then its new one; a shard that did not move has
// one holder; when no change syncs, only the current owners.
func TestHoldersDuringSync(t *testing.T) {
	prev := committee(3, "a", "b")
	com := committee(4, "a", "c") // shards 2 and 3 moved from b to c
	h := download.Holders(com, prev, 4)
	names := func(s int) string {
		out := ""
		for _, m := range h[s] {
			out += m.Name
		}
		return out
	}
	for s, want := range []string{"a", "a", "bc", "bc"} {
		if got := names(s); got != want {
			t.Fatalf("shard %d read from %q, want %q", s, got, want)
		}
	}
	h = download.Holders(com, nil, 4)
	if names(2) != "c" {
		t.Fatalf("shard 2 outside a change read from %q", names(2))
	}
	ctl := fakeControl{coms: map[uint64]*control.Committee{3: prev, 4: com}, st: control.Status{Epoch: 4, EpochState: control.EpochSyncing, PreviousEpoch: 3}}
	if h, err := download.LookupHolders(context.Background(), ctl, 4); err != nil || len(h[2]) != 2 || h[2][0].Name != "b" {
		t.Fatalf("a syncing status does not read from the previous epoch first: %v %v", h, err)
	}
	ctl.st.EpochState = control.EpochDone
	if h, err := download.LookupHolders(context.Background(), ctl, 4); err != nil || len(h[2]) != 1 || h[2][0].Name != "c" {
		t.Fatalf("a done status reads from the previous epoch: %v %v", h, err)
	}
}

// TestReadWavesAndChecks: waves ask for as many rows as are still
// needed, systematic rows first; answers are checked against the blob
// ID; a read short of slivers fails with ErrTooFew.
func TestReadWavesAndChecks(t *testing.T) {
	codec, err := redstuff.New(10)
	if err != nil {
		t.Fatal(err)
	}
	e, err := codec.Encode([]byte("rows first, then whatever else answers"))
	if err != nil {
		t.Fatal(err)
	}
	p := codec.Params()
	r := download.NewRead(codec, e.ID, e.Length, p.Kp, nil, download.Holders(committee(1, "a", "b", "c", "d", "e"), nil, p.N))
	wave := r.Wave()
	if len(wave) != p.Kp || wave[0] != 0 || wave[p.Kp-1] != p.Kp-1 {
		t.Fatalf("first wave %v, want the %d systematic rows", wave, p.Kp)
	}
	answer := func(row int) (int, []byte) {
		pair := p.PairOf(blob.Primary, row)
		raw, err := (&blob.SliverMessage{Commitment: e.Pairs[pair], Sliver: e.Sliver(blob.Primary, row)}).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return pair, raw
	}
	for _, row := range wave[1:] {
		pair, raw := answer(row)
		if _, nodes := r.Sources(row); len(nodes) != 1 {
			t.Fatalf("row %d from %d nodes", row, len(nodes))
		}
		sl, err := r.Check(pair, http.StatusOK, raw)
		if err != nil {
			t.Fatalf("row %d: %v", row, err)
		}
		r.Got(sl)
	}
	// Row 0's node lies: wrong bytes, another pair's sliver, an error.
	pair, raw := answer(0)
	bad := append([]byte(nil), raw...)
	bad[len(bad)-1] ^= 1
	_, other := answer(1)
	for name, a := range map[string]struct {
		code int
		body []byte
	}{"flipped byte": {200, bad}, "other pair": {200, other}, "503": {503, []byte("busy")}, "garbage": {200, []byte("garbage")}} {
		if _, err := r.Check(pair, a.code, a.body); err == nil {
			t.Fatalf("%s accepted", name)
		}
	}
	if _, err := r.Check(pair, 503, nil); !errors.As(err, new(*upload.StatusError)) {
		t.Fatalf("a 503 is not a status error: %v", err)
	}
	r.Failed(0, fmt.Errorf("from a: lied"))
	if wave := r.Wave(); len(wave) != 1 || wave[0] != p.Kp {
		t.Fatalf("second wave %v, want row %d", wave, p.Kp)
	}
	tooFew := errors.New("too few")
	if _, err := r.Result(tooFew); !errors.Is(err, tooFew) {
		t.Fatalf("a read one sliver short: %v", err)
	}
	pair, raw = answer(p.Kp)
	sl, err := r.Check(pair, http.StatusOK, raw)
	if err != nil {
		t.Fatal(err)
	}
	r.Got(sl)
	if wave := r.Wave(); len(wave) != 0 {
		t.Fatalf("a wave %v after enough slivers", wave)
	}
	slivers, err := r.Result(tooFew)
	if err != nil {
		t.Fatal(err)
	}
	data, err := codec.Decode(e.ID, e.Length, slivers)
	if err != nil || string(data) != "rows first, then whatever else answers" {
		t.Fatalf("decoded %q, %v", data, err)
	}
	if r.MaxAnswer() < int64(len(raw)) {
		t.Fatalf("an honest answer of %d bytes is over the bound %d", len(raw), r.MaxAnswer())
	}
}

func TestChallengeWaitIsBounded(t *testing.T) {
	const limit = time.Minute
	if !download.WaitAgain(0, 5*time.Second, limit) || download.WaitAgain(0, 0, limit) {
		t.Fatal("a Retry-After is not waited out, or no Retry-After is")
	}
	if download.WaitAgain(limit-time.Second, 2*time.Second, limit) {
		t.Fatal("a read waits past its limit")
	}
	h := http.Header{"Retry-After": {"7"}}
	if got := download.RetryAfter(http.StatusServiceUnavailable, h); got != 7*time.Second {
		t.Fatalf("503 with Retry-After 7: wait %v", got)
	}
	for _, c := range []struct {
		code int
		h    http.Header
	}{{http.StatusOK, h}, {http.StatusServiceUnavailable, nil}, {http.StatusServiceUnavailable, http.Header{"Retry-After": {"soon"}}}, {http.StatusServiceUnavailable, http.Header{"Retry-After": {"-3"}}}} {
		if got := download.RetryAfter(c.code, c.h); got != 0 {
			t.Fatalf("%d %v: wait %v, want none", c.code, c.h, got)
		}
	}
}

type fakeControl struct {
	coms map[uint64]*control.Committee
	st   control.Status
}

func (f fakeControl) Status(context.Context) (*control.Status, error) { return &f.st, nil }

func (f fakeControl) Committee(_ context.Context, epoch uint64) (*control.Committee, error) {
	if c := f.coms[epoch]; c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("no committee %d", epoch)
}
