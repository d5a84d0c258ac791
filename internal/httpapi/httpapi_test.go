package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/files"
	"github.com/weftnet/weft/internal/httpapi"
	"github.com/weftnet/weft/internal/store"
)

func TestStatus(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("doing it: %w", err) }
	for _, c := range []struct {
		err      error
		fallback int
		want     int
	}{
		{httpapi.Errorf(http.StatusConflict, "no"), 500, http.StatusConflict},
		{wrap(httpapi.Errorf(http.StatusTeapot, "no")), 500, http.StatusTeapot},
		{wrap(store.ErrDiskFull), 500, http.StatusInsufficientStorage},
		{wrap(store.ErrFailed), 500, http.StatusServiceUnavailable},
		{wrap(chain.ErrBadRequest), http.StatusBadGateway, http.StatusBadRequest},
		{wrap(files.ErrNoSuchFile), http.StatusBadGateway, http.StatusNotFound},
		{wrap(client.ErrNotAvailable), http.StatusBadGateway, http.StatusNotFound},
		{errors.New("nodes unreachable"), http.StatusBadGateway, http.StatusBadGateway},
		{errors.New("bug"), http.StatusInternalServerError, http.StatusInternalServerError},
	} {
		if got := httpapi.Status(c.err, c.fallback); got != c.want {
			t.Errorf("Status(%v, %d) = %d, want %d", c.err, c.fallback, got, c.want)
		}
	}
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	if code := httpapi.WriteError(rec, fmt.Errorf("put: %w", store.ErrDiskFull), 500); code != http.StatusInsufficientStorage || rec.Code != code {
		t.Fatalf("WriteError returned %d, answered %d", code, rec.Code)
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] == "" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("answer %q (%s): %v", rec.Body, rec.Header().Get("Content-Type"), err)
	}
}
