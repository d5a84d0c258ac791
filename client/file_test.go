package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/files"
	"github.com/weftnet/weft/internal/testseed"
)

const testSegment = 64 << 10

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// TestStoreFileSegments stores files around the segment size and reads
// them back whole, by ranges, and segment by segment.
func TestStoreFileSegments(t *testing.T) {
	c, _ := network(t)
	ctx := context.Background()
	rng := testseed.Rand(t)
	cases := []struct {
		name     string
		size     int
		segments int // 0: one plain blob
	}{
		{"empty", 0, 0},
		{"one byte", 1, 0},
		{"exactly one segment", testSegment, 0},
		{"one byte more", testSegment + 1, 2},
		{"tiny last segment", 3*testSegment + 5, 4},
	}
	for _, tc := range cases {
		data := randomBytes(rng, tc.size)
		// Unknown size (-1) for one of them: the reader decides.
		size := int64(tc.size)
		if tc.name == "one byte more" {
			size = -1
		}
		attrs := &chain.Attributes{ContentType: "application/x-test", Name: "f.bin"}
		r, err := c.StoreFile(ctx, bytes.NewReader(data), size, client.FileOptions{SegmentSize: testSegment, StoreOptions: client.StoreOptions{Attributes: attrs}})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.Size != int64(tc.size) || r.Manifest != (tc.segments > 0) || len(r.Segments) != tc.segments {
			t.Fatalf("%s: result %+v", tc.name, r)
		}
		fi, err := c.StatFile(ctx, r.BlobID)
		if err != nil || fi.Length != uint64(tc.size) || (fi.Manifest != nil) != r.Manifest {
			t.Fatalf("%s: stat %+v %v", tc.name, fi, err)
		}
		if fi.Manifest != nil && fi.Manifest.SHA256 != sha256.Sum256(data) {
			t.Fatalf("%s: manifest hash", tc.name)
		}
		// The file's attributes are registered with the blob naming it.
		kind := chain.KindBlob
		if r.Manifest {
			kind = chain.KindManifest
		}
		if a := fi.Blob.Attributes; a == nil || a.ContentType != attrs.ContentType || a.Name != attrs.Name || a.Kind != kind {
			t.Fatalf("%s: attributes %+v", tc.name, a)
		}
		var out bytes.Buffer
		n, err := c.ReadFile(ctx, r.BlobID, &out)
		if err != nil || n != int64(tc.size) || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("%s: read %d bytes: %v", tc.name, n, err)
		}
		// A segment's own ID reads that segment.
		off := 0
		for i, s := range r.Segments {
			got, err := c.Read(ctx, s.ID)
			if err != nil || !bytes.Equal(got, data[off:off+int(s.Length)]) {
				t.Fatalf("%s: segment %d: %v", tc.name, i, err)
			}
			off += int(s.Length)
		}
		// Ranges, including ones across segment boundaries.
		for k := 0; k < 6 && tc.size > 0; k++ {
			o := rng.IntN(tc.size)
			l := rng.IntN(2*testSegment + 2)
			if k == 0 && tc.segments > 1 {
				o, l = testSegment-3, 6
			}
			var out bytes.Buffer
			n, err := c.ReadFileRange(ctx, r.BlobID, int64(o), int64(l), &out)
			want := data[o:min(o+l, tc.size)]
			if err != nil || n != int64(len(want)) || !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("%s: range %d+%d: %d bytes, %v", tc.name, o, l, n, err)
			}
		}
	}
}

// TestStoreFileResume interrupts a segmented store and runs it again: the
// segments stored the first time are neither uploaded again nor encoded.
func TestStoreFileResume(t *testing.T) {
	c, _ := network(t)
	rng := testseed.Rand(t)
	data := randomBytes(rng, 5*testSegment+100)
	ctx, cancel := context.WithCancel(context.Background())
	var o client.FileOptions
	o.SegmentSize = testSegment
	var first []int
	client.SetSegmentStored(&o, func(i int, uploaded bool) {
		first = append(first, i)
		if i == 2 {
			cancel() // interrupted after three segments
		}
	})
	if _, err := c.StoreFile(ctx, bytes.NewReader(data), int64(len(data)), o); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted store: %v", err)
	}
	if len(first) != 3 {
		t.Fatalf("first run stored segments %v", first)
	}
	uploaded := map[int]bool{}
	client.SetSegmentStored(&o, func(i int, up bool) { uploaded[i] = up })
	r, err := c.StoreFile(context.Background(), bytes.NewReader(data), int64(len(data)), o)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		if uploaded[i] != (i >= 3) {
			t.Fatalf("resumed store uploaded %v; want segments 3..5 only", uploaded)
		}
	}
	if r.Uploaded != 4 { // three segments and the manifest
		t.Fatalf("resumed store uploaded %d blobs, want 4", r.Uploaded)
	}
	var out bytes.Buffer
	if _, err := c.ReadFile(context.Background(), r.BlobID, &out); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("read after resume: %v", err)
	}
	// The same file again stores nothing.
	r2, err := c.StoreFile(context.Background(), bytes.NewReader(data), int64(len(data)), o)
	if err != nil || r2.BlobID != r.BlobID || r2.Uploaded != 0 {
		t.Fatalf("third store: %+v %v", r2, err)
	}
}

// TestReadFileBadManifest reads manifests that lie about their segments:
// the read fails with ErrBadManifest before writing a byte.
func TestReadFileBadManifest(t *testing.T) {
	c, _ := network(t)
	ctx := context.Background()
	rng := testseed.Rand(t)
	data := randomBytes(rng, 2*testSegment+10)
	r, err := c.StoreFile(ctx, bytes.NewReader(data), int64(len(data)), client.FileOptions{SegmentSize: testSegment})
	if err != nil {
		t.Fatal(err)
	}
	good := files.Manifest{Length: uint64(len(data)), SHA256: sha256.Sum256(data), Segments: r.Segments}
	missing := good
	missing.Segments = append([]files.Segment{}, good.Segments...)
	missing.Segments[1].ID = blob.ID{1, 2, 3}
	wrongLen := good
	wrongLen.Segments = []files.Segment{good.Segments[0], {ID: good.Segments[1].ID, Length: good.Segments[1].Length - 1}, {ID: good.Segments[2].ID, Length: good.Segments[2].Length + 1}}
	wrongHash := good
	wrongHash.SHA256[0] ^= 1
	for name, tc := range map[string]struct {
		m           files.Manifest
		wantWritten int64
	}{
		"missing segment":    {missing, 0},
		"wrong length":       {wrongLen, 0},
		"wrong content hash": {wrongHash, int64(len(data))}, // found at the end
	} {
		raw, err := tc.m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		mr, err := c.Store(ctx, raw, client.StoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		n, err := c.ReadFile(ctx, mr.BlobID, &out)
		if !errors.Is(err, client.ErrBadManifest) || n != tc.wantWritten || int64(out.Len()) != n {
			t.Fatalf("%s: wrote %d bytes, err %v", name, n, err)
		}
		if !strings.Contains(err.Error(), "segment") && name != "wrong content hash" {
			t.Fatalf("%s: error does not name the segment: %v", name, err)
		}
	}
}

// TestReadFileLyingNode puts one node behind a proxy that corrupts every
// sliver it serves of one segment: reads verify each sliver, go elsewhere,
// and return the file exactly.
func TestReadFileLyingNode(t *testing.T) {
	var target atomic.Value // the segment ID (string) to lie about
	target.Store("")
	var lies atomic.Int64
	tn := startNetworkWith(t, func(i int, addr string) string {
		if i != 0 {
			return "http://" + addr
		}
		u, _ := url.Parse("http://" + addr)
		p := httputil.NewSingleHostReverseProxy(u)
		p.ModifyResponse = func(resp *http.Response) error {
			id := target.Load().(string)
			if id == "" || resp.Request.Method != http.MethodGet || !strings.Contains(resp.Request.URL.Path, "/"+id+"/slivers/") || resp.StatusCode != http.StatusOK {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			body[len(body)-1] ^= 0xff // a byte of the sliver's data
			lies.Add(1)
			resp.Body = io.NopCloser(bytes.NewReader(body))
			return nil
		}
		srv := httptest.NewServer(p)
		t.Cleanup(srv.Close)
		return srv.URL
	})
	c := tn.c
	ctx := context.Background()
	rng := testseed.Rand(t)
	data := randomBytes(rng, 3*testSegment)
	r, err := c.StoreFile(ctx, bytes.NewReader(data), int64(len(data)), client.FileOptions{SegmentSize: testSegment})
	if err != nil {
		t.Fatal(err)
	}
	target.Store(r.Segments[1].ID.String())
	var out bytes.Buffer
	if _, err := c.ReadFile(ctx, r.BlobID, &out); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("read with a lying node: %v", err)
	}
	out.Reset()
	if _, err := c.ReadFileRange(ctx, r.BlobID, testSegment, testSegment, &out); err != nil || !bytes.Equal(out.Bytes(), data[testSegment:2*testSegment]) {
		t.Fatalf("range with a lying node: %v", err)
	}
	if lies.Load() == 0 {
		t.Fatal("the proxy never lied: the test tests nothing")
	}
}
