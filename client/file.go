package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/chain"
	"github.com/weftnet/weft/files"
	"github.com/weftnet/weft/internal/control"
)

// DefaultSegmentSize is the largest file StoreFile stores as one blob, and
// the size of the segments of larger files. See ARCHITECTURE.md ("Files")
// for why 64 MiB.
const DefaultSegmentSize = 64 << 20

// MemoryLimit is a soft memory limit (runtime/debug.SetMemoryLimit) that
// lets a process storing and reading files of segSize segments keep its
// pipeline (two segments, their encodings or decodings) while the
// collector returns the rest before the heap doubles: the CLI and the
// benchmarks set it unless GOMEMLIMIT is set.
func MemoryLimit(segSize int64) int64 {
	if segSize <= 0 {
		segSize = DefaultSegmentSize
	}
	return 12*segSize + 256<<20
}

// Errors of files.
var (
	// ErrBadManifest means a manifest names a segment that is not
	// available, or whose length or content does not match it.
	ErrBadManifest = errors.New("client: manifest does not match its segments")
)

// FileOptions tune StoreFile.
type FileOptions struct {
	StoreOptions
	// SegmentSize is the largest file stored as one blob and the size of
	// every segment but the last of larger files. Default
	// DefaultSegmentSize.
	SegmentSize int64
	// segmentStored, if set (tests), is called after each segment is
	// stored, with its index and whether it was uploaded.
	segmentStored func(i int, uploaded bool)
}

// FileResult describes a stored file.
type FileResult struct {
	// BlobID names the file: its manifest's blob ID, or the blob's own
	// for a file of at most one segment.
	BlobID blob.ID `json:"blobId"`
	Size   int64   `json:"size"`
	// Manifest is set when the file was stored as segments.
	Manifest bool `json:"manifest"`
	// Segments are the segments' blob IDs and lengths, in order.
	Segments []files.Segment `json:"segments,omitempty"`
	// EncodedSize sums the encoded sizes of every blob stored.
	EncodedSize int64 `json:"encodedSize"`
	// Uploaded counts the blobs whose slivers were uploaded; the others
	// were certified already (a resumed store, or content stored before).
	Uploaded int `json:"uploaded"`
	// CertifiedEpoch is when the naming blob (the manifest, or the blob
	// itself) was certified.
	CertifiedEpoch uint64 `json:"certifiedEpoch"`
	EndEpoch       uint64 `json:"endEpoch"`
}

// segmentJob is a segment read (and encoded, unless found stored) by the
// producer, handed to the uploader.
type segmentJob struct {
	index  int
	buf    []byte // the segment's bytes (backing the encoding)
	stored *StoreResult
	enc    interface{ Release() }
	store  func() (*StoreResult, error)
}

// StoreFile stores the bytes of r (size bytes, or -1 when unknown). A file
// of at most SegmentSize bytes is one blob; a larger one is cut into
// segments of SegmentSize bytes, each stored as a blob, and a manifest
// (files.Manifest) naming them is stored last: its blob ID names the file.
//
// Segments go through a pipeline: the next is read and encoded while the
// previous is uploaded, so at most two segments and their encodings are in
// memory whatever the file's size. While every segment so far was stored
// already (a store resumed after an interruption), each encoded segment's
// blob ID is looked up first, and a segment this account holds a
// certified registration of is not uploaded again.
func (c *Client) StoreFile(ctx context.Context, r io.Reader, size int64, o FileOptions) (*FileResult, error) {
	if c.signer == nil {
		return nil, errors.New("client: storing needs a keyFile in the config")
	}
	if o.Epochs == 0 {
		o.Epochs = 5
	}
	seg := o.SegmentSize
	if seg <= 0 {
		seg = DefaultSegmentSize
	}
	if max := int64(c.codec.Params().MaxLength()); seg > max {
		seg = max
	}
	if size >= 0 {
		r = io.LimitReader(r, size)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	bufCap := seg
	if size >= 0 && size < seg {
		bufCap = size
	}
	// Progress counts encoded bytes sent over the whole file.
	var prog *progress
	if o.Progress != nil && size >= 0 {
		p := c.codec.Params()
		total := int64(0)
		for left := size; left > 0; left -= seg {
			total += p.EncodedSize(uint64(min(left, seg)))
		}
		prog = newProgress(o.Progress, total)
	}
	segOpts := o.StoreOptions
	segOpts.Progress = nil
	// Segments are plain blobs; the file's attributes go to the blob that
	// names it (the manifest, or the only blob).
	segOpts.Attributes = &chain.Attributes{Kind: chain.KindBlob}
	fileAttrs := func(kind string) *chain.Attributes {
		a := chain.Attributes{Kind: kind}
		if o.Attributes != nil {
			a.ContentType, a.Name = o.Attributes.ContentType, o.Attributes.Name
		}
		return &a
	}
	if err := fileAttrs(chain.KindManifest).Validate(); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sum := sha256.New()
	// Two buffers: one segment being read and encoded, one uploading.
	free := make(chan []byte, 2)
	free <- nil
	free <- nil
	jobs := make(chan *segmentJob)
	var (
		readErr error
		total   int64
		single  bool
	)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		precheck := true
		for i := 0; ; i++ {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			if buf == nil {
				buf = make([]byte, bufCap)
			}
			n, err := io.ReadFull(br, buf[:cap(buf)])
			last := false
			switch {
			case err == io.EOF || err == io.ErrUnexpectedEOF:
				last = true
			case err != nil:
				readErr = err
				return
			default:
				if _, err := br.Peek(1); err == io.EOF {
					last = true
				} else if err != nil {
					readErr = err
					return
				}
			}
			data := buf[:n]
			total += int64(n)
			if i == 0 && last {
				single = true
			} else {
				// Only a manifest carries the file's hash: a file of one
				// blob is not hashed once more before its encode.
				sum.Write(data)
			}
			j := &segmentJob{index: i, buf: buf}
			so := segOpts
			if single {
				so.Attributes = fileAttrs(chain.KindBlob)
			}
			e, err := c.codec.Encode(data)
			if err != nil {
				readErr = err
				return
			}
			if precheck && !single {
				res, err := c.storedAlready(ctx, e.ID, len(data), segOpts)
				if err != nil {
					e.Release()
					readErr = err
					return
				}
				j.stored = res
				precheck = res != nil
			}
			if j.stored == nil {
				// Registering now lets the registration's block go by
				// while the previous segment uploads; an error here is
				// met again, and reported, by the store itself.
				c.ensureRegistration(ctx, e, so, &StoreResult{})
				j.enc = e
				j.store = func() (*StoreResult, error) { return c.storeEncodedProgress(ctx, e, so, prog) }
			} else {
				e.Release()
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				if j.enc != nil {
					j.enc.Release()
				}
				return
			}
			if last {
				return
			}
		}
	}()

	res := &FileResult{}
	var storeErr error
	var lastRes *StoreResult
	for j := range jobs {
		if storeErr != nil {
			if j.enc != nil {
				j.enc.Release()
			}
			continue
		}
		sr := j.stored
		if sr == nil {
			sr, storeErr = j.store()
			j.enc.Release()
			if storeErr != nil {
				storeErr = fmt.Errorf("client: segment %d: %w", j.index, storeErr)
				cancel()
				continue
			}
		}
		if !sr.AlreadyCertified {
			res.Uploaded++
		}
		if o.segmentStored != nil {
			o.segmentStored(j.index, !sr.AlreadyCertified)
		}
		res.Segments = append(res.Segments, files.Segment{ID: sr.BlobID, Length: uint64(sr.Size)})
		res.EncodedSize += sr.EncodedSize
		lastRes = sr
		free <- j.buf
	}
	wg.Wait()
	if storeErr != nil {
		return nil, storeErr
	}
	if readErr != nil {
		return nil, fmt.Errorf("client: reading the file: %w", readErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size >= 0 && total != size {
		return nil, fmt.Errorf("client: file ended after %d of %d bytes: %w", total, size, io.ErrUnexpectedEOF)
	}
	res.Size = total
	if single {
		res.BlobID, res.EndEpoch, res.CertifiedEpoch = lastRes.BlobID, lastRes.EndEpoch, lastRes.CertifiedEpoch
		res.Segments = nil
		return res, nil
	}
	m := &files.Manifest{Length: uint64(total), Segments: res.Segments}
	copy(m.SHA256[:], sum.Sum(nil))
	raw, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	mo := o.StoreOptions
	mo.Progress, mo.Attributes = nil, fileAttrs(chain.KindManifest)
	mr, err := c.Store(ctx, raw, mo)
	if err != nil {
		return nil, fmt.Errorf("client: storing the manifest: %w", err)
	}
	if !mr.AlreadyCertified {
		res.Uploaded++
	}
	res.BlobID, res.Manifest, res.EndEpoch, res.CertifiedEpoch = mr.BlobID, true, mr.EndEpoch, mr.CertifiedEpoch
	res.EncodedSize += mr.EncodedSize
	return res, nil
}

// storedAlready reports whether this account holds a registration of
// the blob id (of length bytes) lasting long enough (extending it when it
// is shorter) and the blob is certified; if so nothing needs uploading.
func (c *Client) storedAlready(ctx context.Context, id blob.ID, length int, o StoreOptions) (*StoreResult, error) {
	mine, err := c.ctl.Registration(ctx, id, c.signer.Key())
	if err != nil || mine == nil {
		return nil, err
	}
	info, err := c.ctl.Blob(ctx, id)
	if err != nil || info.Status != chain.StatusCertified {
		return nil, err
	}
	st, err := c.ctl.Status(ctx)
	if err != nil {
		return nil, err
	}
	end := mine.EndEpoch
	if want := st.Epoch + o.Epochs; end < want {
		if _, err := c.ctl.Submit(ctx, c.signer, control.Payload{ExtendBlob: &control.ExtendBlob{ID: id, EndEpoch: want}}); err != nil {
			return nil, nil // let the full path sort it out
		}
		end = want
	}
	return &StoreResult{BlobID: id, Size: int64(length), EncodedSize: c.codec.Params().EncodedSize(uint64(length)),
		CertifiedEpoch: info.CertifiedEpoch, EndEpoch: end, AlreadyCertified: true}, nil
}

// FileInfo describes what a blob ID names as a file.
type FileInfo struct {
	ID blob.ID `json:"blobId"`
	// Length is the file's length: the manifest's file length, or the
	// blob's own.
	Length uint64 `json:"length"`
	// Manifest is the file's manifest, nil for a file that is one blob.
	Manifest *files.Manifest `json:"manifest,omitempty"`
	// Blob is the control plane's record of the blob ID itself.
	Blob *chain.BlobInfo `json:"blob"`
}

// maxProbe is the largest blob StatFile reads whole to see whether it is
// a manifest; of larger ones it reads the first rows (a manifest that
// large describes a file of terabytes).
const maxProbe = 4 << 20

// StatFile reads what id names: a manifest (a blob whose bytes parse as
// files.Manifest) or a plain blob. Only a blob of a manifest's length
// (files.CouldBeManifest) is fetched to find out.
func (c *Client) StatFile(ctx context.Context, id blob.ID) (*FileInfo, error) {
	info, err := c.available(ctx, id)
	if err != nil {
		return nil, err
	}
	fi := &FileInfo{ID: id, Length: info.Length, Blob: info}
	if !files.CouldBeManifest(info.Length) {
		return fi, nil
	}
	if info.Length > maxProbe {
		head, err := c.ReadRangeRows(ctx, id, 0, int64(len(files.ManifestMagic)))
		if err != nil || !files.IsManifest(head) {
			return fi, err
		}
	}
	raw, err := c.Read(ctx, id)
	if err != nil {
		return nil, err
	}
	var m files.Manifest
	if m.UnmarshalBinary(raw) == nil {
		fi.Manifest, fi.Length = &m, m.Length
	}
	return fi, nil
}

// checkSegments makes sure every segment of a manifest is certified with
// the length the manifest gives it, before a byte of the file is written.
func (c *Client) checkSegments(ctx context.Context, m *files.Manifest, which []int) error {
	for _, i := range which {
		s := m.Segments[i]
		info, err := c.ctl.Blob(ctx, s.ID)
		if err != nil {
			return err
		}
		if info.Status != chain.StatusCertified {
			return fmt.Errorf("%w: segment %d (%v) is %s", ErrBadManifest, i, s.ID, info.Status)
		}
		if info.Length != s.Length {
			return fmt.Errorf("%w: segment %d (%v) has %d bytes, the manifest says %d", ErrBadManifest, i, s.ID, info.Length, s.Length)
		}
	}
	return nil
}

// ReadFile writes the file id names to w and returns the bytes written.
// A manifest's segments are read in order (the next fetched while the
// previous is written), each checked against its blob ID before any of its
// bytes is written, so memory stays bounded by two segments whatever the
// file's size; at the end the content's SHA-256 is checked against the
// manifest. Every segment is checked to be available first, so a
// manifest naming a missing segment fails before anything is written.
// Any other blob is read whole and checked, as Read does.
func (c *Client) ReadFile(ctx context.Context, id blob.ID, w io.Writer) (int64, error) {
	fi, err := c.StatFile(ctx, id)
	if err != nil {
		return 0, err
	}
	return c.readFile(ctx, fi, w, nil)
}

// ReadFileProgress is ReadFile of a file described by StatFile, reporting
// bytes written and the file's length.
func (c *Client) ReadFileProgress(ctx context.Context, fi *FileInfo, w io.Writer, progress func(done, total int64)) (int64, error) {
	return c.readFile(ctx, fi, w, progress)
}

func (c *Client) readFile(ctx context.Context, fi *FileInfo, w io.Writer, progress func(done, total int64)) (int64, error) {
	prog := newProgress(progress, int64(fi.Length))
	if fi.Manifest == nil {
		data, err := c.Read(ctx, fi.ID)
		if err != nil {
			return 0, err
		}
		n, err := w.Write(data)
		prog.add(int64(n))
		return int64(n), err
	}
	m := fi.Manifest
	all := make([]int, len(m.Segments))
	for i := range all {
		all[i] = i
	}
	if err := c.checkSegments(ctx, m, all); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type fetched struct {
		data []byte
		err  error
	}
	// One segment fetched ahead of the one being written.
	ch := make(chan fetched, 1)
	go func() {
		defer close(ch)
		for i, s := range m.Segments {
			data, err := c.Read(ctx, s.ID)
			if err == nil && uint64(len(data)) != s.Length {
				err = fmt.Errorf("%w: segment %d has %d bytes, the manifest says %d", ErrBadManifest, i, len(data), s.Length)
			}
			if err != nil {
				err = fmt.Errorf("client: segment %d (%v): %w", i, s.ID, err)
			}
			select {
			case ch <- fetched{data, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	sum := sha256.New()
	var written int64
	for f := range ch {
		if f.err != nil {
			return written, f.err
		}
		sum.Write(f.data)
		n, err := w.Write(f.data)
		written += int64(n)
		prog.add(int64(n))
		if err != nil {
			return written, err
		}
	}
	if err := ctx.Err(); err != nil {
		return written, err
	}
	if !bytes.Equal(sum.Sum(nil), m.SHA256[:]) {
		return written, fmt.Errorf("%w: the content's SHA-256 differs from the manifest's", ErrBadManifest)
	}
	return written, nil
}

// ReadFileRange writes length bytes of the file id names from offset to
// w (cut at the file's end) and returns the bytes written. Of a manifest
// it reads only the segments holding the range, and of each only the rows
// holding its part (each verified against the segment's blob ID).
func (c *Client) ReadFileRange(ctx context.Context, id blob.ID, offset, length int64, w io.Writer) (int64, error) {
	fi, err := c.StatFile(ctx, id)
	if err != nil {
		return 0, err
	}
	return c.ReadFileInfoRange(ctx, fi, offset, length, w)
}

// ReadFileInfoRange is ReadFileRange of a file described by StatFile.
func (c *Client) ReadFileInfoRange(ctx context.Context, fi *FileInfo, offset, length int64, w io.Writer) (int64, error) {
	if offset < 0 || length < 0 || uint64(offset) > fi.Length {
		return 0, fmt.Errorf("client: range %d+%d outside a %d-byte file", offset, length, fi.Length)
	}
	if fi.Manifest == nil {
		data, err := c.ReadRange(ctx, fi.ID, offset, length)
		if err != nil {
			return 0, err
		}
		n, err := w.Write(data)
		return int64(n), err
	}
	m := fi.Manifest
	spans := m.Spans(uint64(offset), uint64(length))
	which := make([]int, len(spans))
	for i, sp := range spans {
		which[i] = sp.Segment
	}
	if err := c.checkSegments(ctx, m, which); err != nil {
		return 0, err
	}
	var written int64
	for _, sp := range spans {
		data, err := c.ReadRange(ctx, m.Segments[sp.Segment].ID, int64(sp.Offset), int64(sp.Length))
		if err == nil && uint64(len(data)) != sp.Length {
			err = fmt.Errorf("%w: segment %d is shorter than the manifest says", ErrBadManifest, sp.Segment)
		}
		if err != nil {
			return written, fmt.Errorf("client: segment %d: %w", sp.Segment, err)
		}
		n, err := w.Write(data)
		written += int64(n)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}
