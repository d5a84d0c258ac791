// The reasons a transaction is rejected.

package control

import (
	"errors"
)

// Rejection reasons. A rejected transaction changes nothing but the
// state's memory of it (so it can never be replayed); the error says why.
var (
	ErrNotInitialized = errors.New("control: state has no genesis")
	ErrReplay         = errors.New("control: transaction already submitted")
	ErrUnknownBlob    = errors.New("control: unknown blob")
	ErrBlobExists     = errors.New("control: blob already registered")
	ErrBlobState      = errors.New("control: blob is not in a state that allows this")
	ErrEpoch          = errors.New("control: wrong epoch")
	ErrCertificate    = errors.New("control: invalid certificate")
	ErrNotAllowed     = errors.New("control: sender not allowed")
	ErrBadRequest     = errors.New("control: bad request")
	ErrTxExpired      = errors.New("control: transaction expired or expires too late")
	ErrBusy           = errors.New("control: too many pending transactions from this sender")
	// ErrEpochState: an EpochSyncDone for an epoch that is not syncing
	// (already done). A node that finds its attestation not needed has
	// nothing more to do.
	ErrEpochState = errors.New("control: the epoch is not syncing")
	// ErrAttested: the member already attested EpochSyncDone this epoch.
	ErrAttested = errors.New("control: already attested")
)
