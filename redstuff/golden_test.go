package redstuff

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/weftnet/weft/blob"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json from the current code")

// goldenData is the fixed input of the golden vectors.
func goldenData(length int) []byte {
	b := make([]byte, length)
	for i := range b {
		b[i] = byte(i*131+17) ^ byte(i>>8)
	}
	return b
}

type goldenVector struct {
	Shards     int    `json:"shards"`
	Length     int    `json:"length"`
	SymbolSize int    `json:"symbolSize"`
	BlobID     string `json:"blobId"`
	BlobRoot   string `json:"blobRoot"`
	// Roots of pair 0 and pair n−1 (whose slivers are parity on one axis).
	Pair0Primary      string `json:"pair0Primary"`
	Pair0Secondary    string `json:"pair0Secondary"`
	PairLastPrimary   string `json:"pairLastPrimary"`
	PairLastSecondary string `json:"pairLastSecondary"`
	// SHA-256 of the bytes of the last primary (parity) sliver and of the
	// last secondary (parity) sliver: freezes the byte layout itself.
	LastPrimarySHA   string `json:"lastPrimarySha256"`
	LastSecondarySHA string `json:"lastSecondarySha256"`
	// The pair commitment of pair 1 in its wire form.
	Pair1Wire string `json:"pair1Wire"`
}

var goldenCases = []struct{ n, length int }{
	{4, 0}, {4, 1}, {4, 1000}, {4, 100003}, {4, 1_000_003},
	{7, 0}, {7, 1}, {7, 1000}, {7, 100003},
	{10, 0}, {10, 1}, {10, 1000}, {10, 100003},
	{100, 0}, {100, 1}, {100, 1000}, {100, 100003},
	{1000, 0}, {1000, 1024}, {1000, 500_000},
}

func makeGolden(t *testing.T, n, length int) goldenVector {
	c := codecFor(t, n)
	e, err := c.Encode(goldenData(length))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Release()
	hx := func(h blob.Hash) string { return hex.EncodeToString(h[:]) }
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	wire, err := e.Pairs[1].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return goldenVector{
		Shards: n, Length: length, SymbolSize: e.SymbolSize,
		BlobID: e.ID.String(), BlobRoot: hx(e.Root),
		Pair0Primary: hx(e.Pairs[0].Primary), Pair0Secondary: hx(e.Pairs[0].Secondary),
		PairLastPrimary: hx(e.Pairs[n-1].Primary), PairLastSecondary: hx(e.Pairs[n-1].Secondary),
		LastPrimarySHA: sum(e.Primary[n-1]), LastSecondarySHA: sum(e.Secondary[n-1]),
		Pair1Wire: hex.EncodeToString(wire),
	}
}

// TestGolden freezes the encoding: blob IDs, roots and sliver bytes for
// fixed inputs. A difference is a protocol break; regenerate with -update
// only on purpose.
func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "golden.json")
	var got []goldenVector
	for _, gc := range goldenCases {
		if testing.Short() && gc.n == 1000 {
			continue
		}
		got = append(got, makeGolden(t, gc.n, gc.length))
	}
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
	}
	var want []goldenVector
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	byCase := map[[2]int]goldenVector{}
	for _, v := range want {
		byCase[[2]int{v.Shards, v.Length}] = v
	}
	for _, g := range got {
		w, ok := byCase[[2]int{g.Shards, g.Length}]
		if !ok {
			t.Errorf("n=%d length=%d: no golden vector", g.Shards, g.Length)
			continue
		}
		if g != w {
			t.Errorf("n=%d length=%d: encoding changed:\n got  %+v\n want %+v", g.Shards, g.Length, g, w)
		}
	}
}
