// Package gateway is Weft's HTTP publisher and aggregator: it stores
// request bodies as blobs and serves blobs by ID, with the paths Walrus
// users know.
//
//	PUT  /v1/blobs?epochs=E&deletable=true|false&name=N   body: the file → JSON FileResult
//	GET  /v1/blobs/{id}                            the file (Range, ETag, Content-Length, Content-Type)
//	HEAD /v1/blobs/{id}                            its headers
//	GET  /v1/blobs/{id}/files/{name}               one file of a batch (weft store --batch)
//	GET  /v1/health                                {"status":"ok","pid":…,"bytesInFlight":…}
//
// A body larger than Config.SegmentSize is streamed into a file of
// segments with a manifest (client.StoreFile), whose blob ID the answer
// gives; GET of a manifest streams its file, and a Range fetches only the
// segments and rows it needs. The request's Content-Type and the name
// parameter are registered as the blob's attributes, and sent back as
// Content-Type and Content-Disposition.
//
// The gateway bounds the memory requests hold by a budget of bytes in
// flight (Config.MaxBytesInFlight): a PUT takes its body plus its encoding
// (at most two segments and their encodings),
// a GET of a whole blob twice the blob (it is decoded and checked against
// its ID before the first byte goes out), a Range only the rows that hold
// it, streamed Config.ReadChunkBytes at a time (a file of segments is
// streamed whole a segment at a time), and a HEAD nothing. A request
// that cannot get its bytes within Config.BudgetWait is answered 503 with
// Retry-After.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/files"
	"github.com/weftnet/weft/internal/httpapi"
)

// Defaults of Config.
const (
	MaxBlobBytes     = 64 << 30
	MaxBytesInFlight = 1 << 30
	BudgetWait       = 2 * time.Second
	ReadChunkBytes   = 8 << 20
)

// Config tunes a gateway. The zero value uses the defaults.
type Config struct {
	// MaxBlobBytes bounds an uploaded body (a file of several segments
	// when larger than SegmentSize). Default 64 GiB.
	MaxBlobBytes int64
	// SegmentSize is the largest body stored as one blob, and the size of
	// the segments of larger ones. Default client.DefaultSegmentSize.
	SegmentSize int64
	// MaxBytesInFlight bounds the bytes all requests hold at once (bodies,
	// their encodings, blob data being served). Default 1 GiB. A single
	// request larger than the budget takes all of it and runs alone.
	MaxBytesInFlight int64
	// BudgetWait is how long a request waits for its bytes before it is
	// refused with 503 and Retry-After. Default 2s.
	BudgetWait time.Duration
	// ReadChunkBytes is how much of a range a GET fetches and holds at
	// once, rounded up to whole rows. Default 8 MiB.
	ReadChunkBytes int64
}

// withDefaults returns cfg with zero fields set to their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.MaxBlobBytes <= 0 {
		cfg.MaxBlobBytes = MaxBlobBytes
	}
	if cfg.MaxBytesInFlight <= 0 {
		cfg.MaxBytesInFlight = MaxBytesInFlight
	}
	if cfg.BudgetWait <= 0 {
		cfg.BudgetWait = BudgetWait
	}
	if cfg.ReadChunkBytes <= 0 {
		cfg.ReadChunkBytes = ReadChunkBytes
	}
	if cfg.SegmentSize <= 0 {
		cfg.SegmentSize = client.DefaultSegmentSize
	}
	return cfg
}

// Gateway serves the publisher and aggregator API over one SDK client.
type Gateway struct {
	c      *client.Client
	cfg    Config
	budget *budget

	srv  *http.Server // set by Start
	addr string
	done chan error
}

// Start listens on listen and serves the API over c until Shutdown, as
// the storage node (node.Start) and the validator (engine.Start) do. A
// request may take at most 15 minutes (a maximum-size blob at a few
// MB/s), idle connections close after a minute.
func Start(ctx context.Context, c *client.Client, listen string, cfg Config) (*Gateway, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g := New(c, cfg)
	g.addr, g.done = l.Addr().String(), make(chan error, 1)
	g.srv = &http.Server{Handler: g.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 15 * time.Minute, WriteTimeout: 15 * time.Minute, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	go func() {
		err := g.srv.Serve(l)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		g.done <- err
	}()
	return g, nil
}

// Addr is the address a started gateway listens on.
func (g *Gateway) Addr() string { return g.addr }

// Shutdown stops a started gateway: no new requests, and those under way
// finish until ctx is done, when their connections are closed.
func (g *Gateway) Shutdown(ctx context.Context) error {
	err := g.srv.Shutdown(ctx)
	if err != nil {
		g.srv.Close()
	}
	return errors.Join(err, <-g.done)
}

// MemoryLimit is the soft memory limit a gateway process sets for cfg
// (unless GOMEMLIMIT says otherwise): a little above the byte budget, so
// that the collector returns garbage before the process grows past it.
func MemoryLimit(cfg Config) int64 {
	budget := cfg.withDefaults().MaxBytesInFlight
	return budget + budget/4 + 256<<20
}

// New returns a gateway using c.
func New(c *client.Client, cfg Config) *Gateway {
	cfg = cfg.withDefaults()
	return &Gateway{c: c, cfg: cfg, budget: newBudget(cfg.MaxBytesInFlight)}
}

// BytesInFlight returns the bytes requests hold now.
func (g *Gateway) BytesInFlight() int64 { return g.budget.inUse() }

// Health is the answer of GET /v1/health.
type Health struct {
	Status string `json:"status"`
	// PID is the gateway's process, for a supervisor to check that the
	// process it started is the one answering.
	PID           int   `json:"pid"`
	BytesInFlight int64 `json:"bytesInFlight"`
}

// Handler returns the HTTP API.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/blobs", g.put)
	mux.HandleFunc("GET /v1/blobs/{id}", g.get)
	mux.HandleFunc("HEAD /v1/blobs/{id}", g.get)
	mux.HandleFunc("GET /v1/blobs/{id}/files/{name...}", g.getBatchFile)
	mux.HandleFunc("PUT /v1/batches", g.putBatch)
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(Health{Status: "ok", PID: os.Getpid(), BytesInFlight: g.BytesInFlight()})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpapi.Fail(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// take takes n bytes of the budget, waiting at most BudgetWait; when it
// cannot, it answers 503 with Retry-After and returns false.
func (g *Gateway) take(w http.ResponseWriter, r *http.Request, n int64) (int64, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.BudgetWait)
	defer cancel()
	got, err := g.budget.acquire(ctx, n)
	if err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(g.cfg.BudgetWait/time.Second))))
		httpapi.Fail(w, http.StatusServiceUnavailable, "gateway busy: too many bytes in flight, retry later")
		return 0, false
	}
	return got, true
}

// epochsParam reads the epochs query parameter of a store: 0 when it is
// absent (the SDK's default), an error when it is not a positive integer.
func epochsParam(r *http.Request) (uint64, error) {
	v := r.URL.Query().Get("epochs")
	if v == "" {
		return 0, nil
	}
	e, err := strconv.ParseUint(v, 10, 64)
	if err != nil || e == 0 {
		return 0, errors.New("epochs must be a positive integer")
	}
	return e, nil
}

func (g *Gateway) put(w http.ResponseWriter, r *http.Request) {
	epochs, err := epochsParam(r)
	if err != nil {
		httpapi.Fail(w, http.StatusBadRequest, err.Error())
		return
	}
	o := client.StoreOptions{Epochs: epochs}
	if v := r.URL.Query().Get("deletable"); v != "" {
		d, err := strconv.ParseBool(v)
		if err != nil {
			httpapi.Fail(w, http.StatusBadRequest, "deletable must be true or false")
			return
		}
		o.Deletable = d
	}
	o.Attributes = &chain.Attributes{Name: r.URL.Query().Get("name")}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if _, _, err := mime.ParseMediaType(ct); err == nil {
			o.Attributes.ContentType = ct
		}
	}
	if err := o.Attributes.Validate(); err != nil {
		httpapi.Fail(w, http.StatusBadRequest, err.Error())
		return
	}
	tooLarge := func() {
		// Do not let the server drain the rest of the body for keep-alive.
		w.Header().Set("Connection", "close")
		httpapi.Fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds %d bytes", g.cfg.MaxBlobBytes))
	}
	if r.ContentLength > g.cfg.MaxBlobBytes {
		tooLarge() // before reading a byte of it
		return
	}
	// The body streams into StoreFile, which holds at most two segments
	// and their encodings whatever the body's size: that is the charge
	// (less for a smaller declared body).
	seg := g.cfg.SegmentSize
	p := g.c.Codec().Params()
	charge := 2 * (seg + p.EncodedSize(uint64(seg)))
	if r.ContentLength >= 0 && r.ContentLength <= seg {
		charge = r.ContentLength + p.EncodedSize(uint64(r.ContentLength))
	}
	taken, ok := g.take(w, r, charge)
	if !ok {
		return
	}
	defer g.budget.release(taken)
	body := http.MaxBytesReader(w, r.Body, g.cfg.MaxBlobBytes)
	res, err := g.c.StoreFile(r.Context(), body, r.ContentLength, client.FileOptions{StoreOptions: o, SegmentSize: seg})
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			tooLarge()
			return
		}
		httpapi.WriteError(w, err, http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

// putBatch stores the parts of a multipart/form-data body as one batch:
// each part with a file name is a file (its name, its Content-Type). The
// whole body is bounded by the batch limit and read part by part.
func (g *Gateway) putBatch(w http.ResponseWriter, r *http.Request) {
	limit := int64(files.MaxBatchBytes) + 1<<20 // room for multipart framing
	if r.ContentLength > limit {
		w.Header().Set("Connection", "close")
		httpapi.Fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a batch is at most %d bytes", files.MaxBatchBytes))
		return
	}
	epochs, err := epochsParam(r)
	if err != nil {
		httpapi.Fail(w, http.StatusBadRequest, err.Error())
		return
	}
	o := client.StoreOptions{Epochs: epochs}
	mr, err := r.MultipartReader()
	if err != nil {
		httpapi.Fail(w, http.StatusBadRequest, "a batch is a multipart/form-data body: "+err.Error())
		return
	}
	// The parts, the packed batch and its encoding are held at once.
	p := g.c.Codec().Params()
	want := limit
	if r.ContentLength >= 0 {
		want = r.ContentLength
	}
	taken, ok := g.take(w, r, 2*want+p.EncodedSize(uint64(want)))
	if !ok {
		return
	}
	defer g.budget.release(taken)
	body := http.MaxBytesReader(w, r.Body, limit)
	r.Body = body
	var fs []files.BatchFile
	var total int64
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				httpapi.Fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a batch is at most %d bytes", files.MaxBatchBytes))
				return
			}
			httpapi.Fail(w, http.StatusBadRequest, "malformed multipart body: "+err.Error())
			return
		}
		// The name as sent, path included (FileName keeps only its base).
		name := ""
		if _, params, err := mime.ParseMediaType(part.Header.Get("Content-Disposition")); err == nil {
			name = params["filename"]
		}
		if name == "" {
			part.Close()
			continue // a form field, not a file
		}
		data, err := io.ReadAll(io.LimitReader(part, files.MaxBatchBytes-total+1))
		part.Close()
		if err != nil {
			httpapi.Fail(w, http.StatusBadRequest, "reading part "+name+": "+err.Error())
			return
		}
		total += int64(len(data))
		if total > files.MaxBatchBytes {
			httpapi.Fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a batch is at most %d bytes", files.MaxBatchBytes))
			return
		}
		fs = append(fs, files.BatchFile{Name: name, ContentType: part.Header.Get("Content-Type"), Data: data})
	}
	if len(fs) == 0 {
		httpapi.Fail(w, http.StatusBadRequest, "no files in the batch (parts need a filename)")
		return
	}
	res, err := g.c.StoreBatch(r.Context(), fs, o)
	if err != nil {
		httpapi.WriteError(w, err, http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

func (g *Gateway) get(w http.ResponseWriter, r *http.Request) {
	id, err := blob.ParseID(r.PathValue("id"))
	if err != nil {
		httpapi.Fail(w, http.StatusBadRequest, err.Error())
		return
	}
	fi, err := g.c.StatFile(r.Context(), id)
	if errors.Is(err, client.ErrNotAvailable) && fi == nil {
		info, serr := g.c.Status(r.Context(), id)
		if serr != nil {
			httpapi.Fail(w, http.StatusBadGateway, serr.Error())
			return
		}
		switch info.Status {
		case chain.StatusUnknown, chain.StatusRegistered:
			httpapi.Fail(w, http.StatusNotFound, fmt.Sprintf("blob %v is %s", id, info.Status))
		case chain.StatusInvalid:
			httpapi.Fail(w, http.StatusUnprocessableEntity, fmt.Sprintf("blob %v is invalid (inconsistently encoded)", id))
		default:
			httpapi.Fail(w, http.StatusGone, fmt.Sprintf("blob %v is %s", id, info.Status))
		}
		return
	}
	if err != nil {
		httpapi.Fail(w, http.StatusBadGateway, err.Error())
		return
	}
	etag := `"` + id.String() + `"`
	size := int64(fi.Length)
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	start, end, code := int64(0), size, http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" && (r.Header.Get("If-Range") == "" || r.Header.Get("If-Range") == etag) {
		s, e, ok, satisfiable := parseRange(rh, size)
		switch {
		case ok && !satisfiable:
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			httpapi.Fail(w, http.StatusRequestedRangeNotSatisfiable, fmt.Sprintf("range %q outside a %d-byte blob", rh, size))
			return
		case ok:
			start, end, code = s, e, http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, size))
		}
		// A range we do not serve (several, or malformed) is ignored:
		// the whole blob follows, as RFC 9110 allows.
	}
	setContentHeaders(h, fi.Blob.Attributes)
	h.Set("Content-Length", strconv.FormatInt(end-start, 10))
	if r.Method == http.MethodHead {
		w.WriteHeader(code)
		return
	}
	if fi.Manifest != nil {
		g.streamFile(w, r, fi, start, end, code)
		return
	}
	g.stream(w, r, id, size, start, end, code)
}

// getBatchFile serves one file of a batch, fetching only the rows that
// hold the batch's index and the file.
func (g *Gateway) getBatchFile(w http.ResponseWriter, r *http.Request) {
	id, err := blob.ParseID(r.PathValue("id"))
	if err != nil {
		httpapi.Fail(w, http.StatusBadRequest, err.Error())
		return
	}
	// A batch is at most files.MaxBatchBytes: a file of it is held whole,
	// with the rows it was cut from.
	taken, ok := g.take(w, r, 2*files.MaxBatchBytes)
	if !ok {
		return
	}
	defer g.budget.release(taken)
	data, e, err := g.c.ReadBatchFile(r.Context(), id, r.PathValue("name"))
	switch {
	case errors.Is(err, files.ErrBatch):
		// The stored batch itself does not parse: not the caller's fault.
		httpapi.Fail(w, http.StatusUnprocessableEntity, err.Error())
		return
	case err != nil:
		httpapi.WriteError(w, err, http.StatusBadGateway)
		return
	}
	name := e.Name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	setContentHeaders(w.Header(), &chain.Attributes{ContentType: e.ContentType, Name: name})
	w.Header().Set("ETag", `"`+id.String()+"/"+url.PathEscape(e.Name)+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

// setContentHeaders sets Content-Type and Content-Disposition from a
// blob's registered attributes. They are hints from whoever registered
// the blob first, so the browser is told not to sniff beyond them.
func setContentHeaders(h http.Header, a *chain.Attributes) {
	ctype := "application/octet-stream"
	if a != nil && a.ContentType != "" {
		if _, _, err := mime.ParseMediaType(a.ContentType); err == nil {
			ctype = a.ContentType
		}
	}
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	if a != nil && a.Name != "" {
		if v := mime.FormatMediaType("inline", map[string]string{"filename": a.Name}); v != "" {
			h.Set("Content-Disposition", v)
		}
	}
}

// streamFile writes bytes [start, end) of a file stored as segments: a
// whole file segment by segment (each checked against its blob ID before
// its bytes go out, one fetched ahead), a range from only the segments
// and rows that hold it, a chunk at a time. Either way the budget is
// charged a bounded amount, whatever the file's size.
func (g *Gateway) streamFile(w http.ResponseWriter, r *http.Request, fi *client.FileInfo, start, end int64, code int) {
	ctx := r.Context()
	var largest int64
	for _, s := range fi.Manifest.Segments {
		largest = max(largest, int64(s.Length))
	}
	// A whole read holds the segment being written and the next one, each
	// decoded from its slivers; a range chunk its rows and its bytes.
	need := 4 * largest
	if code != http.StatusOK {
		need = 2 * min(end-start+2*largest, g.cfg.ReadChunkBytes+2*largest)
	}
	taken, ok := g.take(w, r, need)
	if !ok {
		return
	}
	defer g.budget.release(taken)
	sw := &startedWriter{w: w, code: code}
	var err error
	if code == http.StatusOK {
		_, err = g.c.ReadFileProgress(ctx, fi, sw, nil)
	} else {
		for off := start; off < end && err == nil; {
			n := min(end-off, g.cfg.ReadChunkBytes)
			_, err = g.c.ReadFileInfoRange(ctx, fi, off, n, sw)
			off += n
		}
	}
	if err != nil {
		if !sw.started {
			httpapi.Fail(w, http.StatusBadGateway, err.Error())
			return
		}
		// The status line is out: cut the answer short.
		panic(http.ErrAbortHandler)
	}
	if !sw.started {
		w.WriteHeader(code)
	}
}

// startedWriter writes the status line before the first byte.
type startedWriter struct {
	w       http.ResponseWriter
	code    int
	started bool
}

func (s *startedWriter) Write(p []byte) (int, error) {
	if !s.started {
		s.w.WriteHeader(s.code)
		s.started = true
	}
	return s.w.Write(p)
}

// stream writes bytes [start, end) of a blob of size bytes. A range goes a
// chunk of whole rows at a time, each fetched only from the rows that hold
// it (each row verified against the blob ID, as ReadRange does).
// When rows cannot be had, it falls back to one full read (decoding from
// any slivers), charged to the budget as such.
func (g *Gateway) stream(w http.ResponseWriter, r *http.Request, id blob.ID, size, start, end int64, code int) {
	ctx := r.Context()
	if code == http.StatusOK {
		// A whole blob is decoded and checked against its ID before its
		// first byte goes out, as the SDK's Read does (no reader sees
		// bytes of an inconsistently encoded blob): it is held whole, and
		// charged as such (slivers and the decoded blob).
		taken, ok := g.take(w, r, 2*size)
		if !ok {
			return
		}
		defer g.budget.release(taken)
		data, err := g.c.Read(ctx, id)
		if err != nil {
			httpapi.Fail(w, http.StatusBadGateway, err.Error())
			return
		}
		w.WriteHeader(code)
		w.Write(data)
		return
	}
	p := g.c.Codec().Params()
	rowLen := int64(p.Ks * p.SymbolSize(uint64(size)))
	chunk := max(rowLen, (g.cfg.ReadChunkBytes+rowLen-1)/rowLen*rowLen)
	// A chunk is held twice: the rows fetched and the bytes cut from them.
	need := min(2*chunk, 2*((end-start)+2*rowLen))
	taken, ok := g.take(w, r, need)
	if !ok {
		return
	}
	defer func() { g.budget.release(taken) }()
	started := false
	var whole []byte
	for off := start; off < end; {
		// Chunks end on row boundaries, so each row is fetched once.
		n := min(end-off, (off/chunk+1)*chunk-off)
		var data []byte
		var err error
		if whole != nil {
			data = whole[off : off+n]
		} else {
			data, err = g.c.ReadRangeRows(ctx, id, off, n)
			if errors.Is(err, client.ErrTooFewNodes) {
				// Some rows are missing: decode the whole blob once.
				g.budget.release(taken)
				taken = 0
				if taken, err = g.budget.acquire(ctx, 2*size); err == nil {
					whole, err = g.c.Read(ctx, id)
				}
				if err == nil {
					data = whole[off : off+n]
				}
			}
		}
		if err != nil {
			if !started {
				httpapi.Fail(w, http.StatusBadGateway, err.Error())
				return
			}
			// The status line is out: all that is left is to cut the
			// answer short, so the reader sees a truncated body.
			panic(http.ErrAbortHandler)
		}
		if !started {
			w.WriteHeader(code)
			started = true
		}
		if _, err := w.Write(data); err != nil {
			return
		}
		off += n
	}
	if !started {
		w.WriteHeader(code)
	}
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// parseRange parses a Range header of one byte range against a blob of
// size bytes into [start, end). ok is false for what the gateway does not
// serve as a range (several ranges, other units, bad syntax);
// satisfiable is false for a range outside the blob.
func parseRange(h string, size int64) (start, end int64, ok, satisfiable bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, false
	}
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, false
		}
		if n == 0 || size == 0 {
			return 0, 0, true, false
		}
		return size - min(n, size), size, true, true
	}
	s, err := strconv.ParseInt(a, 10, 64)
	if err != nil || s < 0 {
		return 0, 0, false, false
	}
	e := size - 1
	if b != "" {
		if e, err = strconv.ParseInt(b, 10, 64); err != nil || e < s {
			return 0, 0, false, false
		}
	}
	if s >= size {
		return 0, 0, true, false
	}
	return s, min(e, size-1) + 1, true, true
}
