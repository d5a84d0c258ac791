package migration

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/redstuff"
)

// The sync exchange: POST /v1/shards/{shard}/sync. The new owner of a
// shard asks its previous owner, in one request, for the shard's pair of
// each of a page of blobs; the answer carries, per blob in request order,
// the pair's commitment and both slivers, or why it has none.
//
// Request (version 1, tag 'R'):
//
//	u8 version, u8 'R', u64 epoch, u32 shard, uvarint count,
//	count blob IDs (32 bytes each, strictly increasing),
//	Ed25519 signature (64 bytes) by the shard's owner in epoch over
//	SignedMessage(networkID, epoch, shard, IDs)
//
// Response (version 1, tag 'P'):
//
//	u8 version, u8 'P', uvarint count (the request's)
//	per blob: u8 status (0 pair follows, 1 not held, 2 blob not live);
//	  with status 0: uvarint length + pair commitment (blob wire form),
//	  uvarint length + primary sliver, uvarint length + secondary sliver
const (
	wireVersion = 1
	tagRequest  = 'R'
	tagResponse = 'P'
)

// MaxBatchBlobs bounds the blobs one request may name.
const MaxBatchBlobs = 4096

// ErrWire is wrapped by every decoding error.
var ErrWire = errors.New("migration: malformed sync message")

func wireErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrWire, fmt.Sprintf(format, args...))
}

// Request asks the previous owner of a shard for its pairs of some blobs.
type Request struct {
	Epoch     uint64
	Shard     uint32
	IDs       []blob.ID // strictly increasing
	Signature [ed25519.SignatureSize]byte
}

// SignedMessage is what the requester signs: domain-separated, bound to
// the network, the epoch, the shard and the exact list of blobs.
func SignedMessage(networkID string, epoch uint64, shard uint32, ids []blob.ID) []byte {
	h := sha256.New()
	for _, id := range ids {
		h.Write(id[:])
	}
	m := []byte("weft/sync/v1\x00")
	m = append(m, networkID...)
	m = append(m, 0)
	m = binary.BigEndian.AppendUint64(m, epoch)
	m = binary.BigEndian.AppendUint32(m, shard)
	return h.Sum(m)
}

// Sign signs the request with the requester's key.
func (r *Request) Sign(networkID string, key ed25519.PrivateKey) {
	copy(r.Signature[:], ed25519.Sign(key, SignedMessage(networkID, r.Epoch, r.Shard, r.IDs)))
}

// Verify checks the request's signature against the requester's key.
func (r *Request) Verify(networkID string, pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, SignedMessage(networkID, r.Epoch, r.Shard, r.IDs), r.Signature[:])
}

func checkIDs(ids []blob.ID) error {
	if len(ids) > MaxBatchBlobs {
		return wireErr("%d blobs, at most %d", len(ids), MaxBatchBlobs)
	}
	for i := 1; i < len(ids); i++ {
		if bytes.Compare(ids[i-1][:], ids[i][:]) >= 0 {
			return wireErr("blob IDs not strictly increasing at %d", i)
		}
	}
	return nil
}

// MarshalBinary encodes the request.
func (r *Request) MarshalBinary() ([]byte, error) {
	if err := checkIDs(r.IDs); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 2+8+4+binary.MaxVarintLen64+len(r.IDs)*blob.HashSize+len(r.Signature))
	b = append(b, wireVersion, tagRequest)
	b = binary.BigEndian.AppendUint64(b, r.Epoch)
	b = binary.BigEndian.AppendUint32(b, r.Shard)
	b = binary.AppendUvarint(b, uint64(len(r.IDs)))
	for _, id := range r.IDs {
		b = append(b, id[:]...)
	}
	return append(b, r.Signature[:]...), nil
}

// DecodeRequest decodes a request.
func DecodeRequest(b []byte) (*Request, error) {
	if len(b) < 2+8+4 {
		return nil, wireErr("request of %d bytes", len(b))
	}
	if b[0] != wireVersion || b[1] != tagRequest {
		return nil, wireErr("request header %x (want version %d, %q)", b[:2], wireVersion, tagRequest)
	}
	r := &Request{Epoch: binary.BigEndian.Uint64(b[2:]), Shard: binary.BigEndian.Uint32(b[10:])}
	b = b[14:]
	count, k := binary.Uvarint(b)
	if k <= 0 || count > MaxBatchBlobs {
		return nil, wireErr("bad blob count")
	}
	b = b[k:]
	if uint64(len(b)) != count*blob.HashSize+ed25519.SignatureSize {
		return nil, wireErr("%d bytes for %d blob IDs and a signature", len(b), count)
	}
	r.IDs = make([]blob.ID, count)
	for i := range r.IDs {
		copy(r.IDs[i][:], b[i*blob.HashSize:])
	}
	copy(r.Signature[:], b[count*blob.HashSize:])
	if err := checkIDs(r.IDs); err != nil {
		return nil, err
	}
	return r, nil
}

// Status says what an answer holds for one blob.
type Status uint8

const (
	// Present: the pair follows.
	Present Status = 0
	// NotHeld: the previous owner does not hold the pair.
	NotHeld Status = 1
	// NotLive: the blob is expired, deleted or unknown to the previous
	// owner.
	NotLive Status = 2
)

// Item is the answer for one blob.
type Item struct {
	Status     Status
	Commitment blob.PairCommitment
	Primary    blob.Sliver
	Secondary  blob.Sliver
}

// Response is the answer to a Request, one item per blob in its order.
type Response struct {
	Items []Item
}

// commitmentMax bounds a pair commitment's encoding.
const commitmentMax = 2 + 4 + 2*blob.HashSize + 1 + blob.MaxPathLen*blob.HashSize

// ItemSize bounds the bytes of one present item of a blob of that
// length in an answer: what a page is cut by, on both sides.
func ItemSize(p redstuff.Params, length uint64) int64 {
	s := int64(p.SymbolSize(length))
	return 1 + 3*binary.MaxVarintLen32 + commitmentMax + 2*15 +
		s*int64(p.SliverLen(blob.Primary)+p.SliverLen(blob.Secondary))
}

// HeaderSize bounds the bytes of an answer's header.
const HeaderSize = 2 + binary.MaxVarintLen64

// AppendResponseHeader starts an answer of count items.
func AppendResponseHeader(b []byte, count int) []byte {
	b = append(b, wireVersion, tagResponse)
	return binary.AppendUvarint(b, uint64(count))
}

// AppendItem appends one item of an answer.
func AppendItem(b []byte, it *Item) ([]byte, error) {
	b = append(b, byte(it.Status))
	if it.Status != Present {
		return b, nil
	}
	pc, err := it.Commitment.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b = binary.AppendUvarint(b, uint64(len(pc)))
	b = append(b, pc...)
	for _, sl := range []*blob.Sliver{&it.Primary, &it.Secondary} {
		b = binary.AppendUvarint(b, uint64(sl.BinarySize()))
		if b, err = sl.AppendBinary(b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// MarshalBinary encodes the response.
func (r *Response) MarshalBinary() ([]byte, error) {
	b := AppendResponseHeader(nil, len(r.Items))
	var err error
	for i := range r.Items {
		if b, err = AppendItem(b, &r.Items[i]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// DecodeResponse decodes the answer to a request for want blobs. Slivers
// alias b.
func DecodeResponse(b []byte, want int) (*Response, error) {
	if len(b) < 3 || b[0] != wireVersion || b[1] != tagResponse {
		return nil, wireErr("bad response header")
	}
	b = b[2:]
	count, k := binary.Uvarint(b)
	if k <= 0 || count != uint64(want) {
		return nil, wireErr("answer for %d blobs, %d asked", count, want)
	}
	b = b[k:]
	// Each item takes at least its status byte: the count is bounded by
	// the bytes that are there before anything is allocated.
	if uint64(len(b)) < count {
		return nil, wireErr("%d bytes for %d items", len(b), count)
	}
	r := &Response{Items: make([]Item, count)}
	field := func(what string) ([]byte, error) {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, wireErr("%s: bad length", what)
		}
		v := b[k : k+int(l)]
		b = b[k+int(l):]
		return v, nil
	}
	for i := range r.Items {
		if len(b) == 0 {
			return nil, wireErr("item %d: truncated", i)
		}
		it := &r.Items[i]
		it.Status = Status(b[0])
		b = b[1:]
		switch it.Status {
		case NotHeld, NotLive:
			continue
		case Present:
		default:
			return nil, wireErr("item %d: status %d", i, it.Status)
		}
		raw, err := field("commitment")
		if err != nil {
			return nil, err
		}
		if err := it.Commitment.UnmarshalBinary(raw); err != nil {
			return nil, fmt.Errorf("%w: item %d: %v", ErrWire, i, err)
		}
		for _, sl := range []*blob.Sliver{&it.Primary, &it.Secondary} {
			raw, err := field("sliver")
			if err != nil {
				return nil, err
			}
			if err := sl.UnmarshalBinary(raw); err != nil {
				return nil, fmt.Errorf("%w: item %d: %v", ErrWire, i, err)
			}
		}
		if it.Primary.Kind != blob.Primary || it.Secondary.Kind != blob.Secondary {
			return nil, wireErr("item %d: slivers of the wrong kinds", i)
		}
	}
	if len(b) != 0 {
		return nil, wireErr("%d bytes after the last item", len(b))
	}
	return r, nil
}
