package node

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestPeerCallsDoNotFollowRedirects: a peer that answers with a redirect
// cannot send the node's calls elsewhere.
func TestPeerCallsDoNotFollowRedirects(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	defer other.Close()
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, code)
		}))
		n := &Node{rec: &recoveryState{httpc: newPeerClient()}}
		_, err := n.httpPost(context.Background(), peer.URL+"/v1/symbols", []byte("request"), 1<<20, 5*time.Second)
		peer.Close()
		if err == nil {
			t.Errorf("redirect %d: no error", code)
		}
		if k := elsewhere.Load(); k != 0 {
			t.Fatalf("redirect %d: the other server got %d requests", code, k)
		}
	}
}
