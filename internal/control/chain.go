package control

import "github.com/weftnet/weft/chain"

// The blob records and errors clients see are defined in the public
// package chain; the machine uses them under these names.

// Blob records.
type (
	BlobStatus = chain.BlobStatus
	Blob       = chain.Blob
	BlobInfo   = chain.BlobInfo
	Attributes = chain.Attributes
)

// Blob statuses.
const (
	StatusUnknown    = chain.StatusUnknown
	StatusRegistered = chain.StatusRegistered
	StatusCertified  = chain.StatusCertified
	StatusInvalid    = chain.StatusInvalid
	StatusDeleted    = chain.StatusDeleted
	StatusExpired    = chain.StatusExpired
)

// MaxAttributesSize bounds a registration's attributes.
const MaxAttributesSize = chain.MaxAttributesSize

// Kinds of content (Attributes.Kind).
const (
	KindBlob     = chain.KindBlob
	KindManifest = chain.KindManifest
	KindBatch    = chain.KindBatch
)

// Rejection reasons (see package chain). A rejected transaction changes
// nothing but the state's memory of it (so it can never be replayed).
var (
	ErrMalformedTx    = chain.ErrMalformedTx
	ErrBadSig         = chain.ErrBadSig
	ErrReplay         = chain.ErrReplay
	ErrUnknownBlob    = chain.ErrUnknownBlob
	ErrBlobExists     = chain.ErrBlobExists
	ErrBlobState      = chain.ErrBlobState
	ErrEpoch          = chain.ErrEpoch
	ErrCertificate    = chain.ErrCertificate
	ErrNotAllowed     = chain.ErrNotAllowed
	ErrBadRequest     = chain.ErrBadRequest
	ErrNotInitialized = chain.ErrNotInitialized
	ErrTxExpired      = chain.ErrTxExpired
	ErrBusy           = chain.ErrBusy
	ErrEpochState     = chain.ErrEpochState
	ErrAttested       = chain.ErrAttested
	ErrWindow         = chain.ErrWindow
	ErrAnswered       = chain.ErrAnswered
	ErrAnswer         = chain.ErrAnswer
)
