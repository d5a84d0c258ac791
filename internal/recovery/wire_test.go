package recovery

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/weftnet/weft/blob"
)

func sampleRequest() *Request {
	return &Request{Blobs: []BlobRequest{
		{ID: blob.ID{1}, SymbolSize: 6, Commitments: []uint32{3, 70000}, Items: []Item{
			{Source: blob.Secondary, Index: 4, Positions: []uint32{0, 9, 300}},
			{Source: blob.Primary, Index: 999, Proofs: true, Positions: []uint32{5}},
		}},
		{ID: blob.ID{2}, SymbolSize: 1 << 20, Items: []Item{{Source: blob.Primary, Index: 1, Positions: []uint32{}}}},
	}}
}

func TestRequestRoundTrip(t *testing.T) {
	req := sampleRequest()
	raw, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRequest(raw, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, req) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, req)
	}
	if req.Symbols() != 4 {
		t.Fatalf("%d symbols", req.Symbols())
	}
	if _, err := DecodeRequest(raw, 3); !errors.Is(err, ErrWire) {
		t.Fatalf("over the symbol limit: %v", err)
	}
}

func TestRequestRefused(t *testing.T) {
	good, _ := sampleRequest().MarshalBinary()
	cases := map[string][]byte{
		"empty":         nil,
		"version":       append([]byte{3}, good[1:]...),
		"tag":           append([]byte{1, 'A'}, good[2:]...),
		"truncated":     good[:len(good)-1],
		"trailing":      append(bytes.Clone(good), 0),
		"huge count":    {1, 'Q', 0xff, 0xff, 0xff, 0xff, 0x0f},
		"odd size":      append(append([]byte{1, 'Q', 1}, make([]byte, 32)...), 3, 0, 0),
		"zero size":     append(append([]byte{1, 'Q', 1}, make([]byte, 32)...), 0, 0, 0),
		"bad flags":     append(append([]byte{1, 'Q', 1}, make([]byte, 32)...), 2, 0, 1, 4, 0, 0),
		"index > 2^32":  append(append([]byte{1, 'Q', 1}, make([]byte, 32)...), 2, 0, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0),
		"bad varint":    {1, 'Q', 0x80},
		"items too few": append(append([]byte{1, 'Q', 1}, make([]byte, 32)...), 2, 0, 5),
	}
	for name, raw := range cases {
		if _, err := DecodeRequest(raw, 1000); !errors.Is(err, ErrWire) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Version 2: a run's flags, positions and indices.
	v2 := func(run ...byte) []byte {
		return append(append(append([]byte{2, 'Q', 1}, make([]byte, 32)...), 2, 0, 1), run...)
	}
	for name, raw := range map[string][]byte{
		"run flags":           v2(4, 0, 0),
		"negative index":      v2(0, 0, 1, 1), // zigzag 1 is −1
		"index > 2^32":        v2(0, 0, 1, 0x80, 0x80, 0x80, 0x80, 0x20),
		"positions truncated": v2(0, 2, 2),
		"runs too few":        append(append([]byte{2, 'Q', 1}, make([]byte, 32)...), 2, 0, 2, 0, 0, 0),
		"over the limit":      v2(0, 10, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 100, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2),
	} {
		if _, err := DecodeRequest(raw, 999); !errors.Is(err, ErrWire) {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := &Request{Blobs: []BlobRequest{{SymbolSize: 3}}}
	if _, err := bad.MarshalBinary(); err == nil {
		t.Error("odd symbol size encoded")
	}
}

// TestRequestVersion1: a version 1 request, as nodes before runs send
// it, decodes to the same request.
func TestRequestVersion1(t *testing.T) {
	raw := append([]byte{1, 'Q', 1}, bytes.Repeat([]byte{9}, 32)...)
	raw = append(raw, 4, 1, 7, 2)          // symbol size 4, commitment of pair 7, 2 items
	raw = append(raw, 1, 5, 2, 0, 3)       // secondary source 5, positions 0 and 3
	raw = append(raw, 2, 6, 1, 0x90, 0x03) // primary source 6 with proofs, position 400
	got, err := DecodeRequest(raw, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := &Request{Blobs: []BlobRequest{{ID: blob.ID(bytes.Repeat([]byte{9}, 32)), SymbolSize: 4, Commitments: []uint32{7}, Items: []Item{
		{Source: blob.Secondary, Index: 5, Positions: []uint32{0, 3}},
		{Source: blob.Primary, Index: 6, Proofs: true, Positions: []uint32{400}},
	}}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if _, err := DecodeRequest(raw, 2); !errors.Is(err, ErrWire) {
		t.Fatalf("over the symbol limit: %v", err)
	}
}

// TestRequestRuns: the sources of one rebuilt group name their positions
// once, so that a request stays small next to its answer of 2-byte
// symbols.
func TestRequestRuns(t *testing.T) {
	positions := []uint32{3, 17, 40, 41, 900}
	var items []Item
	for idx := uint32(5); idx < 1000; idx += 97 {
		items = append(items, Item{Source: blob.Secondary, Index: idx, Positions: positions})
	}
	req := &Request{Blobs: []BlobRequest{{ID: blob.ID{3}, SymbolSize: 2, Items: items}}}
	raw, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	answer := len(items) * len(positions) * 2
	// Header, blob ID, symbol size and counts (38 bytes), the flags and
	// positions once (8 bytes), 2 bytes per index.
	if len(raw) > 38+8+2*len(items) {
		t.Fatalf("a request of %d bytes for an answer of %d", len(raw), answer)
	}
	got, err := DecodeRequest(raw, answer)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, req) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, req)
	}
}

// TestResponseLayout: a response carries nothing per symbol but the
// symbol, and missing entries are listed with their reasons.
func TestResponseLayout(t *testing.T) {
	req := &Request{Blobs: []BlobRequest{
		{ID: blob.ID{1}, SymbolSize: 6, Commitments: []uint32{2}, Items: []Item{
			{Source: blob.Secondary, Index: 4, Positions: []uint32{0, 1, 2}},
			{Source: blob.Secondary, Index: 5, Positions: []uint32{0, 1, 2}},
		}},
	}}
	w := &responseWriter{}
	w.miss(NotHeld) // the commitment
	w.present()
	w.body = append(w.body, bytes.Repeat([]byte{7}, 18)...)
	w.miss(NotStored)
	raw := append(w.header(), w.body...)
	if len(raw) != 2+1+2*2+18 {
		t.Fatalf("%d bytes", len(raw))
	}
	resp, err := DecodeResponse(req, raw)
	if err != nil {
		t.Fatal(err)
	}
	b := resp.Blobs[0]
	if b.Commitments[0].Missing != NotHeld || b.Items[0].Missing != Present || b.Items[1].Missing != NotStored {
		t.Fatalf("%+v", b)
	}
	if len(b.Items[0].Symbols) != 3 || !bytes.Equal(b.Items[0].Symbols[2], []byte{7, 7, 7, 7, 7, 7}) {
		t.Fatalf("symbols %v", b.Items[0].Symbols)
	}
	for name, bad := range map[string][]byte{
		"short":          raw[:len(raw)-1],
		"long":           append(bytes.Clone(raw), 1),
		"missing beyond": {1, 'A', 1, 3, byte(NotStored)},
		"bad reason":     {1, 'A', 1, 0, 0},
		"header":         {1, 'Q'},
	} {
		if _, err := DecodeResponse(req, bad); !errors.Is(err, ErrWire) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
