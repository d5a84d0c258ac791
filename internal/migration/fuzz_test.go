package migration

import (
	"crypto/ed25519"
	"testing"

	"github.com/weftnet/weft/redstuff"
)

func ed25519NewKey(seed []byte) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(seed) }
func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// FuzzDecodeRequest: the request decoder never panics, and what it
// accepts encodes back to the same bytes.
func FuzzDecodeRequest(f *testing.F) {
	r := &Request{Epoch: 3, Shard: 1, IDs: ids(3)}
	raw, _ := r.MarshalBinary()
	f.Add(raw)
	f.Add([]byte{1, 'R', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRequest(b)
		if err != nil {
			return
		}
		again, err := req.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
		if req2, err := DecodeRequest(again); err != nil || len(req2.IDs) != len(req.IDs) || req2.Signature != req.Signature {
			t.Fatal("re-encoding changed the request")
		}
	})
}

// FuzzDecodeResponse: the response decoder never panics, answers the
// number of blobs asked, and what it accepts encodes back to the same
// bytes.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte{1, 'P', 2, 1, 2}, 2)
	f.Add([]byte{1, 'P', 0}, 0)
	ok, _ := (&Response{Items: []Item{{Status: NotHeld}}}).MarshalBinary()
	f.Add(ok, 1)
	if codec, err := redstuff.New(4); err == nil {
		if e, err := codec.Encode([]byte("a small blob of a few bytes")); err == nil {
			full, _ := (&Response{Items: []Item{item(e, 1), {Status: NotLive}}}).MarshalBinary()
			f.Add(full, 2)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, want int) {
		if want < 0 || want > MaxBatchBlobs {
			return
		}
		resp, err := DecodeResponse(b, want)
		if err != nil {
			return
		}
		if len(resp.Items) != want {
			t.Fatalf("%d items for %d blobs", len(resp.Items), want)
		}
		again, err := resp.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded response does not encode: %v", err)
		}
		if _, err := DecodeResponse(again, want); err != nil {
			t.Fatalf("re-encoded response does not decode: %v", err)
		}
	})
}
