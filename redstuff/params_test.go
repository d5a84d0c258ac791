package redstuff

import (
	"bytes"
	"errors"
	"testing"
	"testing/iotest"

	"github.com/weftnet/weft/blob"
)

func TestParams(t *testing.T) {
	for _, tc := range []struct{ n, f, kp, ks int }{
		{4, 1, 2, 3}, {5, 1, 3, 4}, {7, 2, 3, 5}, {10, 3, 4, 7}, {100, 33, 34, 67}, {1000, 333, 334, 667}, {65536, 21845, 21846, 43691},
	} {
		p, err := NewParams(tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if p.F != tc.f || p.Kp != tc.kp || p.Ks != tc.ks {
			t.Errorf("n=%d: got f=%d kp=%d ks=%d, want %d %d %d", tc.n, p.F, p.Kp, p.Ks, tc.f, tc.kp, tc.ks)
		}
	}
	for _, n := range []int{-1, 0, 3, 65537} {
		if _, err := New(n); !errors.Is(err, ErrShards) {
			t.Errorf("New(%d): got %v, want ErrShards", n, err)
		}
	}
	p, _ := NewParams(10)
	for _, tc := range []struct {
		length uint64
		s      int
	}{{0, 2}, {1, 2}, {56, 2}, {57, 4}, {112, 4}, {113, 6}} {
		if got := p.SymbolSize(tc.length); got != tc.s {
			t.Errorf("SymbolSize(%d) = %d, want %d", tc.length, got, tc.s)
		}
	}
	// Pairs map onto shards one to one, rotated per blob.
	id := blob.ID{0, 0, 0, 0, 0, 0, 0, 13}
	seen := map[int]bool{}
	for pair := 0; pair < 10; pair++ {
		sh := p.ShardOf(id, pair)
		if seen[sh] || p.PairAt(id, sh) != pair {
			t.Fatalf("pair %d ↔ shard %d is not a bijection", pair, sh)
		}
		seen[sh] = true
	}
	if p.ShardOf(id, 0) != 3 {
		t.Errorf("rotation: pair 0 on shard %d, want 13 mod 10 = 3", p.ShardOf(id, 0))
	}
}

// TestSmallBlobOnManyShards: symbols are 2 bytes, so a 1 KiB blob on 1000
// shards is about 2 MB of slivers, and a pair's metadata stays far below
// 1 KiB.
func TestSmallBlobOnManyShards(t *testing.T) {
	c := codecFor(t, 1000)
	e, err := c.Encode(make([]byte, 1024))
	if err != nil {
		t.Fatal(err)
	}
	if e.SymbolSize != 2 {
		t.Errorf("symbol size %d, want 2", e.SymbolSize)
	}
	var total int64
	for i := 0; i < 1000; i++ {
		total += int64(len(e.Primary[i]) + len(e.Secondary[i]))
	}
	if total != e.EncodedSize() || total != 1000*(667+334)*2 {
		t.Errorf("encoded size %d (EncodedSize %d), want %d", total, e.EncodedSize(), 1000*(667+334)*2)
	}
	wire, err := e.Pairs[17].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(wire) >= 512 {
		t.Errorf("pair commitment is %d bytes on the wire, want well under 1 KiB", len(wire))
	}
	t.Logf("1 KiB at n=1000: %d bytes of slivers, %d-byte pair commitment", total, len(wire))
}

func TestBadInput(t *testing.T) {
	c := codecFor(t, 10)
	p := c.Params()
	data := []byte("weft: bad input is refused, nothing is lost")
	e, err := c.Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	L := e.Length
	sl := func(k blob.SliverKind, i int) *blob.Sliver { s := e.Sliver(k, i); return &s }
	short := e.Sliver(blob.Primary, 1)
	short.Data = short.Data[:len(short.Data)-2]
	odd := e.Sliver(blob.Primary, 1)
	odd.SymbolSize = 3
	far := e.Sliver(blob.Primary, 1)
	far.Index = 10
	kind := e.Sliver(blob.Primary, 1)
	kind.Kind = 7
	syms := symbolsFor(t, c, e, blob.Primary, 2, perm0(p.Ks), true)
	foreign := append(append([]blob.RecoverySymbol(nil), syms[:p.Ks-1]...), symbolsFor(t, c, e, blob.Primary, 3, []int{9}, false)...)
	bigRow := syms[0]
	bigRow.Row = 10

	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"verify short sliver", c.VerifySliver(e.ID, L, &short, &e.Pairs[1]), ErrSize},
		{"verify wrong symbol size", c.VerifySliver(e.ID, L, &odd, &e.Pairs[1]), ErrSize},
		{"verify index out of range", c.VerifySliver(e.ID, L, &far, &e.Pairs[1]), ErrIndex},
		{"verify bad kind", c.VerifySliver(e.ID, L, &kind, &e.Pairs[1]), ErrIndex},
		{"verify wrong pair", c.VerifySliver(e.ID, L, sl(blob.Primary, 1), &e.Pairs[2]), ErrIndex},
		{"verify secondary against its pair's primary index", c.VerifySliver(e.ID, L, sl(blob.Secondary, 1), &e.Pairs[1]), ErrIndex},
		{"commitment with short path", c.VerifyCommitment(e.ID, L, &blob.PairCommitment{Pair: 1, Path: e.Pairs[1].Path[:1]}), ErrVerify},
		{"commitment pair out of range", c.VerifyCommitment(e.ID, L, &blob.PairCommitment{Pair: 99}), ErrIndex},
		{"length beyond the grid", c.VerifySliver(e.ID, p.MaxLength()+1, sl(blob.Primary, 1), &e.Pairs[1]), ErrSize},
		{"symbol out of grid", c.VerifySymbol(e.ID, L, &bigRow), ErrIndex},
		{"symbol without proof", c.VerifySymbol(e.ID, L, &symbolsFor(t, c, e, blob.Primary, 2, []int{0}, false)[0]), ErrVerify},
		{"decode too few", errOf(c.Decode(e.ID, L, []blob.Sliver{*sl(blob.Primary, 0)})), ErrTooFew},
		{"decode duplicates", errOf(c.Decode(e.ID, L, []blob.Sliver{*sl(blob.Primary, 0), *sl(blob.Primary, 0), *sl(blob.Primary, 0), *sl(blob.Primary, 0)})), ErrTooFew},
		{"decode secondary", errOf(c.Decode(e.ID, L, []blob.Sliver{*sl(blob.Secondary, 0)})), ErrIndex},
		{"decode short sliver", errOf(c.Decode(e.ID, L, []blob.Sliver{short})), ErrSize},
		{"decode wrong ID", errOf(c.Decode(blob.ID{1}, L, []blob.Sliver{*sl(blob.Primary, 0), *sl(blob.Primary, 1), *sl(blob.Primary, 2), *sl(blob.Primary, 3)})), ErrInconsistent},
		{"rebuild foreign symbol", errOf(c.Rebuild(e.ID, L, blob.Primary, 2, &e.Pairs[2], foreign)), ErrIndex},
		{"rebuild wrong pair", errOf(c.Rebuild(e.ID, L, blob.Primary, 2, &e.Pairs[3], syms)), ErrIndex},
		{"rebuild index out of range", errOf(c.Rebuild(e.ID, L, blob.Primary, 10, &e.Pairs[2], syms)), ErrIndex},
		{"rebuild bad kind", errOf(c.Rebuild(e.ID, L, 5, 2, &e.Pairs[2], syms)), ErrIndex},
		{"rebuild too few", errOf(c.Rebuild(e.ID, L, blob.Primary, 2, &e.Pairs[2], syms[:p.Ks-1])), ErrTooFew},
		{"rebuild forged commitment", errOf(c.Rebuild(e.ID, L, blob.Primary, 2, &blob.PairCommitment{Pair: 2, Path: e.Pairs[2].Path}, syms)), ErrVerify},
		{"symbol source from short sliver", errOf(c.NewSymbolSource(L, &short, &e.Pairs[1])), ErrSize},
		{"blob id from short reader", errOf(c.BlobIDReader(bytes.NewReader(data[:10]), L)), nil},
		{"blob id from failing reader", errOf(c.BlobIDReader(failingReaderAt{}, L)), iotest.ErrTimeout},
	} {
		if tc.want == nil {
			if tc.err == nil {
				t.Errorf("%s: no error", tc.name)
			}
			continue
		}
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	// Nothing above damaged the encoding.
	got, err := c.Decode(e.ID, L, []blob.Sliver{*sl(blob.Primary, 9), *sl(blob.Primary, 8), *sl(blob.Primary, 7), *sl(blob.Primary, 6)})
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("decode after bad input: %v", err)
	}
}

func errOf[T any](_ T, err error) error { return err }

type failingReaderAt struct{}

func (failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, iotest.ErrTimeout }
