package blob_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/testseed"
)

// newRand returns a PCG seeded from -seed or the clock (logged).
func newRand(t testing.TB) *rand.Rand { return testseed.Rand(t) }

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func randHash(rng *rand.Rand) blob.Hash {
	return blob.Hash(randBytes(rng, blob.HashSize))
}

func randID(rng *rand.Rand) blob.ID {
	return blob.ID(randBytes(rng, blob.HashSize))
}

func fillID(b byte) blob.ID {
	var id blob.ID
	for i := range id {
		id[i] = b
	}
	return id
}

func TestIDStringRoundTrip(t *testing.T) {
	rng := newRand(t)
	ids := []blob.ID{{}, fillID(0xff), fillID(0xfb), fillID(0x3e)}
	for range 1000 {
		ids = append(ids, randID(rng))
	}
	for _, id := range ids {
		s := id.String()
		if len(s) != 43 || strings.ContainsAny(s, "=+/") {
			t.Fatalf("String() = %q: want 43 characters of the URL-safe alphabet", s)
		}
		got, err := blob.ParseID(s)
		if err != nil || got != id {
			t.Fatalf("ParseID(%q) = %v, %v, want %v", s, got, err, id)
		}
		text, err := id.MarshalText()
		if err != nil || string(text) != s {
			t.Fatalf("MarshalText = %q, %v, want %q", text, err, s)
		}
		var back blob.ID
		if err := back.UnmarshalText(text); err != nil || back != id {
			t.Fatalf("UnmarshalText(%q) = %v, %v, want %v", text, back, err, id)
		}
	}
}

func TestIDKnownString(t *testing.T) {
	for _, tc := range []struct {
		id   blob.ID
		want string
	}{
		{blob.ID{}, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{fillID(0xff), "__________________________________________8"},
		{fillID(0xfb), "-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s"},
	} {
		if got := tc.id.String(); got != tc.want {
			t.Errorf("%x.String() = %q, want %q", tc.id[:], got, tc.want)
		}
	}
}

func TestIDJSON(t *testing.T) {
	type doc struct {
		ID   blob.ID
		Refs map[blob.ID]int
	}
	id := fillID(0xfb)
	in := doc{ID: id, Refs: map[blob.ID]int{id: 7}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ID":"` + id.String() + `","Refs":{"` + id.String() + `":7}}`
	if string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil || out.ID != id || out.Refs[id] != 7 {
		t.Errorf("json round trip = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"ID":"AAAA"}`), &out); err == nil {
		t.Errorf("json accepted a short ID")
	}
}

func TestParseIDRejects(t *testing.T) {
	valid := fillID(0xfb).String() // "-_v7...-_s": both URL-only characters
	zero := blob.ID{}.String()
	std := strings.NewReplacer("-", "+", "_", "/").Replace(valid)
	for _, tc := range []struct{ name, s string }{
		{"empty", ""},
		{"42 characters", valid[:42]},
		{"44 characters", valid + "A"},
		{"padded", valid + "="},
		{"padding inside 43", valid[:42] + "="},
		{"standard alphabet", std},
		{"plus", "+" + zero[1:]},
		{"slash", zero[:20] + "/" + zero[21:]},
		{"space", zero[:20] + " " + zero[21:]},
		{"newline", zero[:20] + "\n" + zero[21:]},
		{"carriage return", zero[:42] + "\r"},
		{"NUL", zero[:42] + "\x00"},
		{"dot", zero[:42] + "."},
		{"non-ASCII", zero[:41] + "é"}, // 2 bytes: 43 bytes total
		{"invalid UTF-8", zero[:42] + "\xff"},
		{"twice", valid + valid},
		// The last character carries 4 bits of the ID and 2 bits that
		// must be zero: 'B' = 000001 is a non-canonical spelling of 'A'.
		{"non-canonical B", zero[:42] + "B"},
		{"non-canonical C", zero[:42] + "C"},
		{"non-canonical D", zero[:42] + "D"},
		{"non-canonical _", valid[:42] + "_"}, // 's' = 101100 is canonical
		{"non-canonical t", valid[:42] + "t"},
	} {
		id, err := blob.ParseID(tc.s)
		if err == nil || !errors.Is(err, blob.ErrBadID) {
			t.Errorf("%s: ParseID(%q) = %v, %v, want ErrBadID", tc.name, tc.s, id, err)
		}
		if id != (blob.ID{}) {
			t.Errorf("%s: ParseID(%q) returned non-zero ID %v with error", tc.name, tc.s, id)
		}
		before := fillID(0x42)
		got := before
		if err := got.UnmarshalText([]byte(tc.s)); !errors.Is(err, blob.ErrBadID) || got != before {
			t.Errorf("%s: UnmarshalText(%q) = %v and changed the ID to %v", tc.name, tc.s, err, got)
		}
	}
}

func TestParseIDAcceptsEveryCanonicalLastCharacter(t *testing.T) {
	// The 43rd character holds the last 4 bits of the ID: exactly the 16
	// characters whose low 2 bits are zero are valid there.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	zero := blob.ID{}.String()
	accepted := 0
	for v, c := range alphabet {
		id, err := blob.ParseID(zero[:42] + string(c))
		if v%4 == 0 {
			if err != nil {
				t.Errorf("ParseID(...%c): %v", c, err)
			} else if got, want := id[31], byte(v>>2); got != want {
				t.Errorf("ParseID(...%c): last byte %#x, want %#x", c, got, want)
			}
			accepted++
		} else if err == nil {
			t.Errorf("ParseID(...%c) accepted a non-canonical encoding", c)
		}
	}
	if accepted != 16 {
		t.Errorf("%d canonical last characters, want 16", accepted)
	}
}

func TestComputeIDKnownAnswer(t *testing.T) {
	var root blob.Hash
	for i := range root {
		root[i] = byte(i)
	}
	for _, tc := range []struct {
		enc    blob.EncodingType
		length uint64
		root   blob.Hash
		hex    string // SHA-256 of enc ‖ length (big endian) ‖ root, by sha256sum
		str    string
	}{
		{blob.RS2D16, 0x0102030405060708, root,
			"ce0f8ccf89080ccc4495b24aaa76a54784465339566357f5986e4099368d55ed",
			"zg-Mz4kIDMxElbJKqnalR4RGUzlWY1f1mG5AmTaNVe0"},
		{blob.RS2D16, 0, blob.Hash{},
			"f350fbd7557ef9d0a8fb9906b5699288f3bf3f68ee9adbddb5d69c0bd39575c0",
			"81D711V--dCo-5kGtWmSiPO_P2jumtvdtdacC9OVdcA"},
	} {
		id := blob.ComputeID(tc.enc, tc.length, tc.root)
		if got := hex.EncodeToString(id[:]); got != tc.hex {
			t.Errorf("ComputeID(%v, %#x, ...) = %s, want %s", tc.enc, tc.length, got, tc.hex)
		}
		if got := id.String(); got != tc.str {
			t.Errorf("ComputeID(%v, %#x, ...).String() = %s, want %s", tc.enc, tc.length, got, tc.str)
		}
	}
}

func TestComputeIDLayout(t *testing.T) {
	rng := newRand(t)
	for range 200 {
		enc := blob.EncodingType(rng.Uint32())
		length := rng.Uint64() >> rng.UintN(64)
		root := randHash(rng)
		// enc byte ‖ uint64 big-endian length ‖ root, spelled out.
		buf := []byte{byte(enc)}
		for shift := 56; shift >= 0; shift -= 8 {
			buf = append(buf, byte(length>>shift))
		}
		buf = append(buf, root[:]...)
		if got, want := blob.ComputeID(enc, length, root), blob.ID(sha256.Sum256(buf)); got != want {
			t.Fatalf("ComputeID(%d, %d, %x) = %v, want %v", enc, length, root[:], got, want)
		}
	}
}

func TestComputeIDBindsEveryInput(t *testing.T) {
	rng := newRand(t)
	root := randHash(rng)
	base := blob.ComputeID(blob.RS2D16, 1000, root)
	other := root
	other[31] ^= 1
	for name, id := range map[string]blob.ID{
		"encoding": blob.ComputeID(2, 1000, root),
		"length":   blob.ComputeID(blob.RS2D16, 1001, root),
		"length 0": blob.ComputeID(blob.RS2D16, 0, root),
		"root":     blob.ComputeID(blob.RS2D16, 1000, other),
	} {
		if id == base {
			t.Errorf("changing the %s does not change the ID", name)
		}
	}
	if blob.ComputeID(blob.RS2D16, 1000, root) != base {
		t.Errorf("ComputeID is not deterministic")
	}
}

func TestEncodingTypeString(t *testing.T) {
	if got := blob.RS2D16.String(); got != "rs2d16" {
		t.Errorf("RS2D16.String() = %q", got)
	}
	if got := blob.EncodingType(7).String(); got != "encoding(7)" {
		t.Errorf("EncodingType(7).String() = %q", got)
	}
}

func TestSliverKind(t *testing.T) {
	for _, tc := range []struct {
		k     blob.SliverKind
		s     string
		other blob.SliverKind
	}{
		{blob.Primary, "primary", blob.Secondary},
		{blob.Secondary, "secondary", blob.Primary},
	} {
		if got := tc.k.String(); got != tc.s {
			t.Errorf("%d.String() = %q, want %q", tc.k, got, tc.s)
		}
		if got := tc.k.Other(); got != tc.other {
			t.Errorf("%v.Other() = %v, want %v", tc.k, got, tc.other)
		}
		if got, err := blob.ParseSliverKind(tc.s); err != nil || got != tc.k {
			t.Errorf("ParseSliverKind(%q) = %v, %v", tc.s, got, err)
		}
	}
	if got := blob.SliverKind(2).String(); got != "kind(2)" {
		t.Errorf("SliverKind(2).String() = %q", got)
	}
	for _, s := range []string{"", "Primary", "row", "primary ", "kind(0)"} {
		if _, err := blob.ParseSliverKind(s); err == nil {
			t.Errorf("ParseSliverKind(%q) succeeded", s)
		}
	}
}

func TestPairCommitmentRoot(t *testing.T) {
	rng := newRand(t)
	c := blob.PairCommitment{Primary: randHash(rng), Secondary: randHash(rng)}
	if c.Root(blob.Primary) != c.Primary || c.Root(blob.Secondary) != c.Secondary {
		t.Errorf("PairCommitment.Root returns the wrong root")
	}
}

func TestRecoverySymbolTarget(t *testing.T) {
	for _, tc := range []struct {
		src      blob.SliverKind
		wantKind blob.SliverKind
		wantIdx  uint32
	}{
		// Cut from column 9 to rebuild primary sliver (row) 4.
		{blob.Secondary, blob.Primary, 4},
		// Cut from row 4 to rebuild secondary sliver (column) 9.
		{blob.Primary, blob.Secondary, 9},
	} {
		s := blob.RecoverySymbol{Source: tc.src, Row: 4, Col: 9}
		if k, i := s.Target(); k != tc.wantKind || i != tc.wantIdx {
			t.Errorf("Target of symbol from %v = %v %d, want %v %d", tc.src, k, i, tc.wantKind, tc.wantIdx)
		}
	}
}
