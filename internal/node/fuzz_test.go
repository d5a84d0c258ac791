package node_test

import (
	"net/http"
	neturl "net/url"
	"strings"
	"testing"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/recovery"
)

// FuzzHandlers sends arbitrary requests to a live node: none may crash it
// or get a 500, and it stays healthy.
func FuzzHandlers(f *testing.F) {
	tb := newTestbed(f, 1)
	n := tb.nodes[0]
	e := tb.register(make([]byte, 5000), false)
	f.Add(uint8(0), e.ID.String(), "3", "primary", message(e, 3, blob.Primary))
	f.Add(uint8(0), e.ID.String(), "4", "secondary", message(e, 4, blob.Secondary))
	f.Add(uint8(1), e.ID.String(), "3", "primary", []byte(nil))
	f.Add(uint8(2), e.ID.String(), "", "", []byte(nil))
	req, _ := (&recovery.Request{Blobs: []recovery.BlobRequest{{ID: e.ID, SymbolSize: e.SymbolSize, Commitments: []uint32{3},
		Items: []recovery.Item{{Source: blob.Primary, Index: 3, Positions: []uint32{1, 2}, Proofs: true}}}}}).MarshalBinary()
	f.Add(uint8(3), "", "", "", req)
	f.Add(uint8(4), e.ID.String(), "", "", []byte(nil))
	f.Add(uint8(5), e.ID.String(), "", "", []byte{1, 'P', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, op uint8, id, pair, kind string, body []byte) {
		clean := func(s string) string {
			return strings.Map(func(r rune) rune {
				if r == '/' || r == '?' || r == '#' || r < 33 || r > 126 {
					return -1
				}
				return r
			}, s)
		}
		// Odd bytes travel escaped, as a client would send them.
		id, pair, kind = neturl.PathEscape(clean(id)), neturl.PathEscape(clean(pair)), neturl.PathEscape(clean(kind))
		var method, path string
		switch op % 6 {
		case 0:
			method, path = "PUT", "/v1/blobs/"+id+"/slivers/"+pair+"/"+kind
		case 1:
			method, path = "GET", "/v1/blobs/"+id+"/slivers/"+pair+"/"+kind
		case 2:
			method, path = "GET", "/v1/blobs/"+id+"/confirmation"
		case 3:
			method, path = "POST", "/v1/symbols"
		case 5:
			method, path = "POST", "/v1/blobs/"+id+"/inconsistency"
		default:
			method, path = "GET", "/v1/blobs/"+id+"/status"
		}
		code, resp := do(t, method, "http://"+n.Addr()+path, body)
		if code >= 500 && code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s: status %d: %s", method, path, code, resp)
		}
		if code, _ := do(t, "GET", "http://"+n.Addr()+"/v1/health", nil); code != http.StatusOK {
			t.Fatalf("node unhealthy after %s %s", method, path)
		}
	})
}
