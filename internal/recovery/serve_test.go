package recovery

import (
	"errors"
	"testing"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/redstuff"
)

// TestCheckRefusesBeforeWork: repeats and requests whose answer or
// extensions exceed the limits are refused from the request alone.
func TestCheckRefusesBeforeWork(t *testing.T) {
	c, err := redstuff.New(10)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Params()
	item := func(k blob.SliverKind, idx uint32, pos ...uint32) Item {
		return Item{Source: k, Index: idx, Positions: pos}
	}
	one := func(items ...Item) *Request {
		return &Request{Blobs: []BlobRequest{{ID: blob.ID{1}, SymbolSize: 1 << 20, Items: items}}}
	}
	limits := Limits{MaxBytes: 64 << 20, MaxExtendBytes: 25 << 20}
	for _, tc := range []struct {
		name string
		req  *Request
		want error
	}{
		{"systematic symbols, no extension", one(item(blob.Secondary, 1, 0, 1), item(blob.Secondary, 2, 0, 1), item(blob.Secondary, 3, 0)), nil},
		{"two extensions within the bound", one(item(blob.Secondary, 1, 9), item(blob.Secondary, 2, 9)), nil},
		{"three extensions beyond it", one(item(blob.Secondary, 1, 9), item(blob.Secondary, 2, 9), item(blob.Primary, 2, 9)), ErrTooLarge},
		{"one extension beyond it is served", &Request{Blobs: []BlobRequest{{ID: blob.ID{1}, SymbolSize: 4 << 20, Items: []Item{item(blob.Secondary, 1, 9)}}}}, nil},
		{"answer too large", &Request{Blobs: []BlobRequest{{ID: blob.ID{1}, SymbolSize: 32 << 20, Items: []Item{item(blob.Secondary, 1, 0, 1, 2)}}}}, ErrTooLarge},
		{"same item twice", one(item(blob.Secondary, 1, 0), item(blob.Secondary, 1, 1)), ErrDuplicate},
		{"same position twice", one(item(blob.Secondary, 1, 0, 0)), ErrDuplicate},
		{"same blob twice", &Request{Blobs: []BlobRequest{{ID: blob.ID{1}, SymbolSize: 2}, {ID: blob.ID{1}, SymbolSize: 2}}}, ErrDuplicate},
		{"same commitment twice", &Request{Blobs: []BlobRequest{{ID: blob.ID{1}, SymbolSize: 2, Commitments: []uint32{3, 3}}}}, ErrDuplicate},
	} {
		err := tc.req.Check(p, limits)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
