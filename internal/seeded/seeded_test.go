package seeded_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/weftnet/weft/internal/seeded"
)

func TestReader(t *testing.T) {
	a, err := io.ReadAll(seeded.Reader(7, 100_003))
	if err != nil || len(a) != 100_003 {
		t.Fatalf("read %d bytes, %v; want 100003", len(a), err)
	}
	// Read in odd-sized pieces, the same bytes come out.
	var b bytes.Buffer
	r := seeded.Reader(7, 100_003)
	buf := make([]byte, 977)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err == io.EOF {
			break
		}
	}
	if !bytes.Equal(a, b.Bytes()) {
		t.Fatal("the same seed gave other bytes")
	}
	c, _ := io.ReadAll(seeded.Reader(8, 100_003))
	if bytes.Equal(a, c) {
		t.Fatal("another seed gave the same bytes")
	}
}
