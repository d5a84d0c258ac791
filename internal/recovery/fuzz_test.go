package recovery

import (
	"testing"
)

// FuzzDecodeRequest: the request decoder never panics, and what it
// accepts encodes back to the same bytes.
func FuzzDecodeRequest(f *testing.F) {
	raw, _ := sampleRequest().MarshalBinary()
	f.Add(raw)
	f.Add([]byte{1, 'Q', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRequest(b, 1<<16)
		if err != nil {
			return
		}
		again, err := req.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
		if string(again) != string(b) {
			// Varints have one canonical form only when minimal; accept
			// a non-minimal input only if it decodes to the same request.
			req2, err := DecodeRequest(again, 1<<16)
			if err != nil || req2.Symbols() != req.Symbols() {
				t.Fatalf("re-encoding changed the request")
			}
		}
	})
}

// FuzzDecodeResponse: the response decoder never panics, and what it
// accepts has the request's shape.
func FuzzDecodeResponse(f *testing.F) {
	req := sampleRequest()
	req.Blobs[1].SymbolSize = 4
	f.Add([]byte{1, 'A', 0})
	f.Add([]byte{1, 'A', 1, 0, 2})
	f.Add(append([]byte{1, 'A', 0}, make([]byte, 200)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := DecodeResponse(req, b)
		if err != nil {
			return
		}
		if len(resp.Blobs) != len(req.Blobs) {
			t.Fatalf("%d blobs answered of %d", len(resp.Blobs), len(req.Blobs))
		}
		for i := range req.Blobs {
			if len(resp.Blobs[i].Items) != len(req.Blobs[i].Items) || len(resp.Blobs[i].Commitments) != len(req.Blobs[i].Commitments) {
				t.Fatal("answer shaped unlike the request")
			}
			for j, a := range resp.Blobs[i].Items {
				if a.Missing != Present {
					continue
				}
				it := req.Blobs[i].Items[j]
				if len(a.Symbols) != len(it.Positions) {
					t.Fatalf("%d symbols for %d positions", len(a.Symbols), len(it.Positions))
				}
				for _, s := range a.Symbols {
					if len(s) != req.Blobs[i].SymbolSize {
						t.Fatalf("symbol of %d bytes", len(s))
					}
				}
			}
		}
	})
}
