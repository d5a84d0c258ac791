package control

import (
	"errors"
	"fmt"
)

// Result codes of rejected transactions and failed queries, so that a
// client far from the state machine can still test errors with errors.Is.
var codes = []error{
	1:  ErrMalformedTx,
	2:  ErrBadSig,
	3:  ErrReplay,
	4:  ErrUnknownBlob,
	5:  ErrBlobExists,
	6:  ErrBlobState,
	7:  ErrEpoch,
	8:  ErrCertificate,
	9:  ErrNotAllowed,
	10: ErrBadRequest,
	11: ErrNotInitialized,
	12: ErrTxExpired,
	13: ErrBusy,
	14: ErrEpochState,
	15: ErrAttested,
	16: ErrWindow,
	17: ErrAnswered,
	18: ErrAnswer,
}

// CodeInternal is the code of an error with no sentinel.
const CodeInternal = 100

// Code returns the result code of err (0 for nil).
func Code(err error) uint32 {
	if err == nil {
		return 0
	}
	for i, e := range codes {
		if e != nil && errors.Is(err, e) {
			return uint32(i)
		}
	}
	return CodeInternal
}

// CodeError turns a result code and its log back into an error that
// wraps the matching sentinel.
func CodeError(code uint32, log string) error {
	if code == 0 {
		return nil
	}
	if int(code) < len(codes) && codes[code] != nil {
		return &remoteError{sentinel: codes[code], msg: log}
	}
	return fmt.Errorf("control: %s (code %d)", log, code)
}

type remoteError struct {
	sentinel error
	msg      string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }
