// Package httpapi is how the storage node's and the gateway's HTTP APIs
// answer: JSON bodies, and errors as {"error": "..."} with the status
// that one table gives each kind of error, so that the same failure gets
// the same answer from either server.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/files"
	"github.com/weftnet/weft/internal/store"
)

// Error is an error that carries its HTTP status.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Errorf returns an *Error with the status code.
func Errorf(code int, format string, args ...any) error {
	return &Error{code, fmt.Sprintf(format, args...)}
}

// statuses maps the errors the servers meet to their answers: what the
// caller asked wrong, what is not there, and what the server cannot do
// now. Errors.Is decides, in this order.
var statuses = []struct {
	err  error
	code int
}{
	{store.ErrDiskFull, http.StatusInsufficientStorage},
	{store.ErrFailed, http.StatusServiceUnavailable},
	{chain.ErrBadRequest, http.StatusBadRequest},
	{chain.ErrEpoch, http.StatusBadRequest},
	{files.ErrBatchTooLarge, http.StatusBadRequest},
	{files.ErrDuplicateName, http.StatusBadRequest},
	{files.ErrBatch, http.StatusBadRequest},
	{files.ErrNoSuchFile, http.StatusNotFound},
	{client.ErrNotAvailable, http.StatusNotFound},
	{io.ErrUnexpectedEOF, http.StatusBadRequest}, // a body cut short
}

// Status is the HTTP status err answers with: an *Error's own, else the
// table's, else fallback (500 for a server's own failure, 502 for one of
// the network behind a gateway).
func Status(err error, fallback int) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	for _, s := range statuses {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	return fallback
}

// WriteError answers err with its status (see Status) and returns it.
func WriteError(w http.ResponseWriter, err error, fallback int) int {
	code := Status(err, fallback)
	Fail(w, code, err.Error())
	return code
}

// Fail answers code with msg as the error.
func Fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// JSON answers 200 with v.
func JSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
