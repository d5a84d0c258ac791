package chain

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/weftnet/weft/blob"
)

// BlobStatus is where a blob is in its lifecycle.
type BlobStatus string

// Blob statuses.
const (
	StatusUnknown    BlobStatus = "unknown"
	StatusRegistered BlobStatus = "registered"
	StatusCertified  BlobStatus = "certified"
	StatusInvalid    BlobStatus = "invalid"
	StatusDeleted    BlobStatus = "deleted"
	StatusExpired    BlobStatus = "expired"
)

// Blob is the control plane's record of a blob ID: what every
// registration of the ID shares. Its data is kept while any live
// registration refers to it; EndEpoch is the latest end epoch among
// those registrations.
type Blob struct {
	ID       blob.ID           `json:"blobId"`
	Length   uint64            `json:"length"`
	Encoding blob.EncodingType `json:"encoding"`
	Root     blob.Hash         `json:"root"` // ID = H(encoding ‖ length ‖ root)
	// RegisteredEpoch is when the ID's current life began (its first
	// registration, or the first after it was deleted or expired).
	RegisteredEpoch uint64 `json:"registeredEpoch"`
	EndEpoch        uint64 `json:"endEpoch"` // expires when the epoch reaches it
	// Registrations counts the live registrations of the ID.
	Registrations  int    `json:"registrations"`
	Certified      bool   `json:"certified"`
	CertifiedEpoch uint64 `json:"certifiedEpoch"`
	// CertifiedAt is the block time of the certification, Unix ns.
	CertifiedAt int64 `json:"certifiedAt,omitempty"`
	Invalid     bool  `json:"invalid,omitempty"`
	Deleted     bool  `json:"deleted,omitempty"` // its last registration was deleted
	// Attributes are those of the registration that began the ID's
	// current life (a hint for gateways: anyone may register an ID first).
	Attributes *Attributes `json:"attributes,omitempty"`
}

// Status returns the blob's status in the given current epoch.
func (b *Blob) Status(epoch uint64) BlobStatus {
	switch {
	case b == nil:
		return StatusUnknown
	case b.Invalid:
		return StatusInvalid
	case b.Registrations == 0 && b.Deleted:
		return StatusDeleted
	case b.Registrations == 0 || epoch >= b.EndEpoch:
		return StatusExpired
	case b.Certified:
		return StatusCertified
	}
	return StatusRegistered
}

// BlobInfo is a blob's record and its status now: the answer to "what
// does the control plane know of this blob ID". For an ID never
// registered, Status is StatusUnknown and the record is empty but for
// its ID.
type BlobInfo struct {
	Blob
	Status BlobStatus `json:"status"`
}

// MaxAttributesSize bounds a registration's attributes: the bytes of the
// content type, name and kind together.
const MaxAttributesSize = 512

// Kinds of content (Attributes.Kind).
const (
	KindBlob     = "blob"
	KindManifest = "manifest"
	KindBatch    = "batch"
)

// Attributes are small facts about a blob's content an owner registers
// with it: its content type, a file name and what kind of content it is.
type Attributes struct {
	ContentType string `json:"contentType,omitempty"`
	Name        string `json:"name,omitempty"`
	Kind        string `json:"kind,omitempty"` // "", KindBlob, KindManifest or KindBatch
}

// Validate checks the attributes' size, kind and characters: UTF-8
// without control characters, so a gateway can put them in headers.
func (a *Attributes) Validate() error {
	if a == nil {
		return nil
	}
	if n := len(a.ContentType) + len(a.Name) + len(a.Kind); n > MaxAttributesSize {
		return fmt.Errorf("%w: attributes of %d bytes, at most %d", ErrBadRequest, n, MaxAttributesSize)
	}
	switch a.Kind {
	case "", KindBlob, KindManifest, KindBatch:
	default:
		return fmt.Errorf("%w: unknown kind %q", ErrBadRequest, a.Kind)
	}
	for _, v := range []string{a.ContentType, a.Name} {
		if !utf8.ValidString(v) {
			return fmt.Errorf("%w: attribute %q is not UTF-8", ErrBadRequest, v)
		}
		for _, r := range v {
			if unicode.IsControl(r) {
				return fmt.Errorf("%w: attribute %q has a control character", ErrBadRequest, v)
			}
		}
	}
	return nil
}
