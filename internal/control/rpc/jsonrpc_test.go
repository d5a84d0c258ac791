package rpc_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
)

// The subscription delivers every committed transaction with its height
// and outcome, and ends when its context does.
func TestSubscriptionDeliversCommits(t *testing.T) {
	n, _, _ := testNetwork(t, 4, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, n.RPC())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	type commit struct {
		hash [32]byte
		r    *rpc.Result
	}
	got := make(chan commit, 100)
	subCtx, stop := context.WithCancel(ctx)
	done, err := rpc.SubscribeTxs(subCtx, c, func(hash [32]byte, r *rpc.Result) { got <- commit{hash, r} })
	if err != nil {
		t.Fatal(err)
	}
	user := rpc.NewSigner(key("subscriber"))
	var want [][32]byte
	var ids []blob.ID
	for i := range 2 {
		root := blob.Hash(sha256.Sum256([]byte{byte(i)}))
		id := blob.ComputeID(blob.RS2D16, 10, root)
		ids = append(ids, id)
		raw, err := user.Sign(c.NetworkID(), control.Payload{RegisterBlob: &control.RegisterBlob{ID: id, Length: 10, Encoding: blob.RS2D16, Root: root, EndEpoch: 5}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Broadcast(ctx, raw); err != nil {
			t.Fatalf("broadcast: %v", err)
		}
		want = append(want, sha256.Sum256(raw))
	}
	results := map[[32]byte]*rpc.Result{}
	for len(results) < len(want) {
		select {
		case cm := <-got:
			if cm.hash == want[0] || cm.hash == want[1] {
				results[cm.hash] = cm.r
			}
		case <-ctx.Done():
			t.Fatalf("saw %d of %d commits", len(results), len(want))
		}
	}
	for i, h := range want {
		if r := results[h]; r.Err != nil || r.Height <= 0 || len(r.Events) != 1 || r.Events[0].Type != control.EventBlobRegistered || *r.Events[0].BlobID != ids[i] {
			t.Errorf("registration %d: %+v", i, r)
		}
	}
	stop()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the subscription outlived its context")
	}
}

// fakeValidator answers abci_query for /status (so Dial succeeds) and
// every other call with answer.
func fakeValidator(t *testing.T, answer http.HandlerFunc) *httptest.Server {
	st, _ := json.Marshal(control.Status{Epoch: 1, Params: &control.Params{NetworkID: "fake", Shards: 4}})
	value, _ := json.Marshal(st) // []byte: base64, as CometBFT sends it
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Method string
			Params map[string]any
		}
		json.NewDecoder(r.Body).Decode(&req)
		if req.Method == "abci_query" && req.Params["path"] == control.QueryStatus {
			w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"response":{"value":` + string(value) + `}}}`))
			return
		}
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAnswersAreBounded(t *testing.T) {
	ctx := context.Background()
	huge := strings.Repeat("x", 4<<10)
	for name, h := range map[string]http.HandlerFunc{
		"declared": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(huge)) },
		"streamed": func(w http.ResponseWriter, r *http.Request) {
			for range 4 {
				w.Write([]byte(huge[:1<<10]))
				w.(http.Flusher).Flush() // chunked: no length declared
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := rpc.Dial(ctx, fakeValidator(t, h).URL)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			rpc.SetMaxAnswer(c, 2<<10)
			if _, err := c.Blob(ctx, blob.ID{}); !errors.Is(err, rpc.ErrAnswerTooLarge) {
				t.Fatalf("got %v, want ErrAnswerTooLarge", err)
			}
		})
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	elsewhere := fakeValidator(t, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	if _, err := rpc.Dial(context.Background(), srv.URL); !errors.Is(err, rpc.ErrRedirect) {
		t.Fatalf("got %v, want ErrRedirect", err)
	}
}

func TestServerErrors(t *testing.T) {
	ctx := context.Background()
	c, err := rpc.Dial(ctx, fakeValidator(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"jsonrpc":"2.0","id":2,"error":{"code":-32603,"message":"Internal error","data":"tx not found"}}`))
	}).URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var rerr *rpc.Error
	if _, err := c.Blob(ctx, blob.ID{}); !errors.As(err, &rerr) || rerr.Code != -32603 || rerr.Data != "tx not found" {
		t.Fatalf("got %v, want the server's error", err)
	}
	if _, err := rpc.Dial(ctx, "ftp://127.0.0.1:1"); err == nil {
		t.Fatal("an ftp URL was accepted")
	}
}
