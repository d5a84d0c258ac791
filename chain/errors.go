package chain

import "errors"

// Rejections. A transaction the control plane rejects changes nothing
// but its memory of the transaction (so it can never be replayed); the
// error says why. Queries fail with the same errors.
var (
	// ErrMalformedTx: the transaction is too large, does not decode, or
	// carries other than exactly one body.
	ErrMalformedTx = errors.New("chain: malformed transaction")
	// ErrBadSig: the transaction's signature does not verify.
	ErrBadSig = errors.New("chain: bad signature")
	// ErrReplay: the same transaction was submitted already.
	ErrReplay = errors.New("chain: transaction already submitted")
	// ErrUnknownBlob: no live registration of the blob (by this owner,
	// for owner operations).
	ErrUnknownBlob = errors.New("chain: unknown blob")
	// ErrBlobExists: the owner holds a registration of the blob already.
	ErrBlobExists = errors.New("chain: blob already registered")
	// ErrBlobState: the blob's status does not allow the operation (a
	// certificate for a blob that is not registered, an operation on an
	// invalid blob or an expired registration).
	ErrBlobState = errors.New("chain: blob is not in a state that allows this")
	// ErrEpoch: the transaction names an epoch other than the current
	// one (a certificate signed by a committee that has changed since).
	ErrEpoch = errors.New("chain: wrong epoch")
	// ErrCertificate: a certificate (of storage, or of invalidity) whose
	// signatures do not verify, come from outside the committee or are
	// not worth the weight it needs.
	ErrCertificate = errors.New("chain: invalid certificate")
	// ErrNotAllowed: the sender may not do this (not the governance key,
	// not a member of the committee, a deletion of a registration not
	// made deletable, a change that would leave the committee empty).
	ErrNotAllowed = errors.New("chain: sender not allowed")
	// ErrBadRequest: the request is malformed or out of bounds (a blob
	// ID that does not match its length and root, an end epoch too far
	// ahead, oversized attributes, malformed query data).
	ErrBadRequest = errors.New("chain: bad request")
	// ErrNotInitialized: the control plane has no genesis yet.
	ErrNotInitialized = errors.New("chain: state has no genesis")
	// ErrTxExpired: the transaction's expiry has passed, or lies too far
	// ahead of the block time.
	ErrTxExpired = errors.New("chain: transaction expired or expires too late")
	// ErrBusy: the sender has too many transactions pending; retry after
	// some have been committed.
	ErrBusy = errors.New("chain: too many pending transactions from this sender")
	// ErrEpochState: an EpochSyncDone for an epoch that is not syncing
	// (already done). A node that finds its attestation not needed has
	// nothing more to do.
	ErrEpochState = errors.New("chain: the epoch is not syncing")
	// ErrAttested: the member already attested EpochSyncDone this epoch.
	ErrAttested = errors.New("chain: already attested")
	// ErrWindow: no such challenge window open (closed, never opened, or
	// not the one open now), or the answer came at or after its deadline.
	ErrWindow = errors.New("chain: no such challenge window open")
	// ErrAnswered: the member answered this challenge window already.
	ErrAnswered = errors.New("chain: challenge already answered")
	// ErrAnswer: the challenge answer does not prove what was asked.
	ErrAnswer = errors.New("chain: challenge answer does not verify")
)
