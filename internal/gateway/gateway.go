// Package gateway is Weft's HTTP publisher and aggregator: it stores
// request bodies as blobs and serves blobs by ID, with the paths Walrus
// users know.
//
//	PUT /v1/blobs?epochs=E&deletable=true|false   body: the blob → JSON StoreResult
//	GET /v1/blobs/{id}                            the blob (Range, ETag, Content-Length)
package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control"
)

// MaxBlobBytes bounds an uploaded blob by default.
const MaxBlobBytes = 1 << 30

// Gateway serves the publisher and aggregator API over one SDK client.
type Gateway struct {
	c       *client.Client
	maxBlob int64
}

// New returns a gateway using c, refusing uploads over maxBlob bytes
// (0: MaxBlobBytes).
func New(c *client.Client, maxBlob int64) *Gateway {
	if maxBlob <= 0 {
		maxBlob = MaxBlobBytes
	}
	return &Gateway{c: c, maxBlob: maxBlob}
}

// Handler returns the HTTP API.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/blobs", g.put)
	mux.HandleFunc("GET /v1/blobs/{id}", g.get)
	mux.HandleFunc("HEAD /v1/blobs/{id}", g.get)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (g *Gateway) put(w http.ResponseWriter, r *http.Request) {
	var o client.StoreOptions
	if v := r.URL.Query().Get("epochs"); v != "" {
		e, err := strconv.ParseUint(v, 10, 64)
		if err != nil || e == 0 {
			fail(w, http.StatusBadRequest, "epochs must be a positive integer")
			return
		}
		o.Epochs = e
	}
	if v := r.URL.Query().Get("deletable"); v != "" {
		d, err := strconv.ParseBool(v)
		if err != nil {
			fail(w, http.StatusBadRequest, "deletable must be true or false")
			return
		}
		o.Deletable = d
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.maxBlob))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("blob exceeds %d bytes", g.maxBlob))
			return
		}
		fail(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	res, err := g.c.Store(r.Context(), data, o)
	if err != nil {
		code := http.StatusBadGateway
		if errors.Is(err, control.ErrEpoch) || errors.Is(err, control.ErrBadRequest) {
			code = http.StatusBadRequest
		}
		fail(w, code, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

func (g *Gateway) get(w http.ResponseWriter, r *http.Request) {
	id, err := blob.ParseID(r.PathValue("id"))
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	info, err := g.c.Status(r.Context(), id)
	if err != nil {
		fail(w, http.StatusBadGateway, err.Error())
		return
	}
	switch info.Status {
	case control.StatusCertified:
	case control.StatusUnknown, control.StatusRegistered:
		fail(w, http.StatusNotFound, fmt.Sprintf("blob %v is %s", id, info.Status))
		return
	case control.StatusInvalid:
		fail(w, http.StatusUnprocessableEntity, fmt.Sprintf("blob %v is invalid (inconsistently encoded)", id))
		return
	default:
		fail(w, http.StatusGone, fmt.Sprintf("blob %v is %s", id, info.Status))
		return
	}
	data, err := g.c.Read(r.Context(), id)
	if err != nil {
		fail(w, http.StatusBadGateway, err.Error())
		return
	}
	w.Header().Set("ETag", `"`+id.String()+`"`)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	// ServeContent answers Range (206, 416), If-None-Match and HEAD.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}
