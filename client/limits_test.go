package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/download"
	"github.com/weftnet/weft/redstuff"
	"github.com/weftnet/weft/units"
)

// fakeNodeClient returns a client with no control plane, enough to fetch
// slivers from fake nodes, and an honest answer for pair 0 of a blob.
func fakeNodeClient(t *testing.T) (*Client, *redstuff.Encoded, []byte) {
	t.Helper()
	codec, err := redstuff.New(12)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	e, err := codec.Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := (&blob.SliverMessage{Commitment: e.Pairs[0], Sliver: e.Sliver(blob.Primary, 0)}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{cfg: Config{NodeTimeout: units.Duration(10 * time.Second), Parallelism: 4}, codec: codec, http: newHTTPClient(4)}
	return c, e, msg
}

func TestSliverAnswerBounded(t *testing.T) {
	c, e, honest := fakeNodeClient(t)
	ctx := context.Background()
	var served atomic.Int64
	cases := []struct {
		name    string
		handler http.HandlerFunc
		wantErr error
	}{
		{"honest", func(w http.ResponseWriter, r *http.Request) { w.Write(honest) }, nil},
		{"endless", func(w http.ResponseWriter, r *http.Request) {
			// The honest message, then zeros until the reader hangs up.
			w.Write(honest)
			junk := make([]byte, 64<<10)
			for r.Context().Err() == nil {
				if _, err := w.Write(junk); err != nil {
					return
				}
				served.Add(int64(len(junk)))
			}
		}, ErrAnswerTooLarge},
		{"declared oversize", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(1<<30))
			w.Write(honest)
		}, ErrAnswerTooLarge},
		{"endless error", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			junk := make([]byte, 64<<10)
			for r.Context().Err() == nil {
				if _, err := w.Write(junk); err != nil {
					return
				}
			}
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := c.fetchSliver(ctx, download.NewRead(c.codec, e.ID, e.Length, 1, nil, nil), srv.URL, 0)
			runtime.ReadMemStats(&after)
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("fetch took %v", elapsed)
			}
			switch {
			case tc.name == "endless error":
				var se *statusError
				if !errors.As(err, &se) || se.Code != http.StatusInternalServerError || len(se.Msg) > maxErrorText {
					t.Fatalf("error answer: %v", err)
				}
			case tc.wantErr == nil && err != nil:
				t.Fatalf("honest node: %v", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			// A sliver here is ~10 kB; reading must not allocate more
			// than a few of its bound.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
				t.Errorf("fetching allocated %d bytes", alloc)
			}
			if err != nil && tc.wantErr != nil {
				t.Logf("%s: %v", tc.name, err)
			}
		})
	}
}

func TestRedirectToOtherHostNotFollowed(t *testing.T) {
	c, e, honest := fakeNodeClient(t)
	var hits atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(honest)
	}))
	defer elsewhere.Close()
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusFound)
	}))
	defer node.Close()
	_, err := c.fetchSliver(context.Background(), download.NewRead(c.codec, e.ID, e.Length, 1, nil, nil), node.URL, 0)
	if !errors.Is(err, ErrRedirect) {
		t.Fatalf("redirected fetch: %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the client followed the redirect (%d requests elsewhere)", n)
	}
}
