package client_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/files"
	"github.com/weftnet/weft/internal/testseed"
)

// TestBatch packs files (an empty one, names with / and unicode) into one
// blob and reads each alone by name; duplicates and oversize batches are
// refused before anything is stored.
func TestBatch(t *testing.T) {
	c, _ := network(t)
	ctx := context.Background()
	rng := testseed.Rand(t)
	in := []files.BatchFile{
		{Name: "index.html", ContentType: "text/html", Data: []byte("<p>hi</p>")},
		{Name: "empty.txt", Data: nil},
		{Name: "img/thumbs/ünï ✓.bin", Data: randomBytes(rng, 70_000)},
		{Name: "logs/a.log", Data: randomBytes(rng, 1024)},
	}
	r, err := c.StoreBatch(ctx, in, client.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := c.Status(ctx, r.BlobID); info.Attributes == nil || info.Attributes.Kind != chain.KindBatch {
		t.Fatalf("batch attributes %+v", info.Attributes)
	}
	for _, f := range in {
		got, e, err := c.ReadBatchFile(ctx, r.BlobID, f.Name)
		if err != nil || !bytes.Equal(got, f.Data) || e.ContentType != f.ContentType {
			t.Fatalf("%q: %d bytes, %+v, %v", f.Name, len(got), e, err)
		}
	}
	if _, _, err := c.ReadBatchFile(ctx, r.BlobID, "nope"); !errors.Is(err, files.ErrNoSuchFile) {
		t.Fatalf("missing name: %v", err)
	}
	if _, err := c.StoreBatch(ctx, []files.BatchFile{{Name: "a"}, {Name: "a"}}, client.StoreOptions{}); !errors.Is(err, files.ErrDuplicateName) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := c.StoreBatch(ctx, []files.BatchFile{{Name: "big", Data: make([]byte, files.MaxBatchBytes)}}, client.StoreOptions{}); !errors.Is(err, files.ErrBatchTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	// A plain blob is not a batch.
	plain, err := c.Store(ctx, []byte("just some bytes here"), client.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadBatchFile(ctx, plain.BlobID, "x"); !errors.Is(err, files.ErrBatch) {
		t.Fatalf("plain blob as a batch: %v", err)
	}
}
