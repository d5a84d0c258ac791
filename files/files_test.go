package files

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/weftnet/weft/blob"
)

func sampleManifest() *Manifest {
	return &Manifest{Length: 25, SHA256: [32]byte{7}, Segments: []Segment{{blob.ID{1}, 10}, {blob.ID{2}, 10}, {blob.ID{3}, 5}}}
}

func TestManifestRoundTrip(t *testing.T) {
	for _, m := range []*Manifest{sampleManifest(), {Length: 0}} {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Manifest
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		again, _ := got.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatalf("round trip changed the encoding")
		}
		// Every truncation and every extra byte is refused.
		for i := 0; i < len(b); i++ {
			if err := new(Manifest).UnmarshalBinary(b[:i]); !errors.Is(err, ErrManifest) {
				t.Fatalf("truncated at %d: %v", i, err)
			}
		}
		if err := new(Manifest).UnmarshalBinary(append(b, 0)); !errors.Is(err, ErrManifest) {
			t.Fatalf("trailing byte: %v", err)
		}
	}
}

func TestManifestRefusesInconsistentLengths(t *testing.T) {
	for name, m := range map[string]*Manifest{
		"sum":   {Length: 24, Segments: sampleManifest().Segments},
		"empty": {Length: 10, Segments: []Segment{{blob.ID{1}, 10}, {blob.ID{2}, 0}}},
	} {
		if _, err := m.MarshalBinary(); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestManifestSpans(t *testing.T) {
	m := sampleManifest()
	cases := []struct {
		off, n uint64
		want   []Span
	}{
		{0, 25, []Span{{0, 0, 10}, {1, 0, 10}, {2, 0, 5}}},
		{9, 2, []Span{{0, 9, 1}, {1, 0, 1}}},
		{10, 10, []Span{{1, 0, 10}}},
		{24, 100, []Span{{2, 4, 1}}},
		{25, 1, nil},
		{3, 0, nil},
	}
	for _, c := range cases {
		got := m.Spans(c.off, c.n)
		if len(got) != len(c.want) {
			t.Fatalf("spans(%d,%d) = %v, want %v", c.off, c.n, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("spans(%d,%d) = %v, want %v", c.off, c.n, got, c.want)
			}
		}
	}
}

func TestBatchPackAndIndex(t *testing.T) {
	in := []BatchFile{
		{Name: "a.txt", ContentType: "text/plain", Data: []byte("alpha")},
		{Name: "empty", Data: nil},
		{Name: "dir/sub/ünïcødé ✓.bin", Data: bytes.Repeat([]byte{9}, 1000)},
	}
	b, idx, err := PackBatch(in)
	if err != nil {
		t.Fatal(err)
	}
	n, err := BatchIndexLen(b[:BatchPrefixLen], uint64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var got BatchIndex
	if err := got.UnmarshalBinary(b[:n]); err != nil {
		t.Fatal(err)
	}
	if got.End() != uint64(len(b)) || len(got.Entries) != 3 {
		t.Fatalf("index %+v for %d bytes", got, len(b))
	}
	for i, f := range in {
		e, err := got.Lookup(f.Name)
		if err != nil || e != idx.Entries[i] || !bytes.Equal(b[e.Offset:e.Offset+e.Length], f.Data) || e.ContentType != f.ContentType {
			t.Fatalf("%q: %+v %v", f.Name, e, err)
		}
	}
	if _, err := got.Lookup("nope"); !errors.Is(err, ErrNoSuchFile) {
		t.Fatal(err)
	}
	for i := BatchPrefixLen; i < n; i++ {
		if err := new(BatchIndex).UnmarshalBinary(b[:i]); !errors.Is(err, ErrBatch) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
}

func TestBatchRefuses(t *testing.T) {
	if _, _, err := PackBatch([]BatchFile{{Name: "x"}, {Name: "x"}}); !errors.Is(err, ErrDuplicateName) {
		t.Errorf("duplicate: %v", err)
	}
	if _, _, err := PackBatch([]BatchFile{{Name: "big", Data: make([]byte, MaxBatchBytes)}}); !errors.Is(err, ErrBatchTooLarge) || !strings.Contains(err.Error(), "big") {
		t.Errorf("too large: %v", err)
	}
	if _, _, err := PackBatch([]BatchFile{{Name: ""}}); !errors.Is(err, ErrBatch) {
		t.Errorf("empty name: %v", err)
	}
	if _, _, err := PackBatch([]BatchFile{{Name: "\xff"}}); !errors.Is(err, ErrBatch) {
		t.Errorf("invalid UTF-8: %v", err)
	}
}

func FuzzManifest(f *testing.F) {
	b, _ := sampleManifest().MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Manifest
		if m.UnmarshalBinary(b) != nil {
			return
		}
		again, err := m.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted %x but re-encodes to %x (%v)", b, again, err)
		}
	})
}

func FuzzBatchIndex(f *testing.F) {
	b, _, _ := PackBatch([]BatchFile{{Name: "a", ContentType: "t/x", Data: []byte("hi")}, {Name: "b/c"}})
	n, _ := BatchIndexLen(b, uint64(len(b)))
	f.Add(b[:n])
	f.Fuzz(func(t *testing.T, b []byte) {
		var x BatchIndex
		if x.UnmarshalBinary(b) != nil {
			return
		}
		seen := map[string]bool{}
		for _, e := range x.Entries {
			if seen[e.Name] || e.Name == "" {
				t.Fatalf("accepted index with bad names: %+v", x)
			}
			seen[e.Name] = true
		}
	})
}

func TestCouldBeManifest(t *testing.T) {
	for _, m := range []*Manifest{sampleManifest(), {}} {
		b, _ := m.MarshalBinary()
		if !CouldBeManifest(uint64(len(b))) || CouldBeManifest(uint64(len(b)+1)) {
			t.Fatalf("length %d", len(b))
		}
	}
}
