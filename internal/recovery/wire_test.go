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
		"version":       append([]byte{2}, good[1:]...),
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
	bad := &Request{Blobs: []BlobRequest{{SymbolSize: 3}}}
	if _, err := bad.MarshalBinary(); err == nil {
		t.Error("odd symbol size encoded")
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
