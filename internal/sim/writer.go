package sim

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/forge"
	"github.com/weftnet/weft/internal/upload"
	"github.com/weftnet/weft/redstuff"
)

// wblob is a blob the writer stores.
type wblob struct {
	n         int // in order of start
	id        blob.ID
	data      []byte
	enc       *redstuff.Encoded
	uploading bool // upload begun: its pairs are owed to every shard from now on
	attempt   int  // rounds begun, over all stores of it
	round     int  // the current store's round (upload.Again)
	certPend  bool
	certified bool

	// bad: the malicious writer encoded it inconsistently (one row at
	// odds with its columns) and withholds every pair from the node that
	// holds that row's shard, the victim (and, after an epoch change, from
	// the shard's new owner), which finds out when it rebuilds.
	bad         bool
	victimShard int
	invalid     bool // marked invalid
	certifiedAt time.Duration
}

// writer stores blobs with the SDK's store path (upload.Round), driven
// from the event loop (see the package doc).
type writer struct {
	s     *Sim
	key   ed25519.PrivateKey
	blobs []*wblob
	byID  map[blob.ID]*wblob
	// waited counts the times the malicious writer put off a blob for
	// want of a victim within the fault budget.
	waited int
}

// maxBadWaits bounds how often the malicious writer puts off a blob.
const maxBadWaits = 12

func newWriter(s *Sim) *writer {
	return &writer{s: s, key: s.newKey(), byID: map[blob.ID]*wblob{}}
}

// start encodes a new random blob and registers it; a bad one is
// encoded inconsistently.
func (w *writer) start(bad bool) {
	s := w.s
	data := make([]byte, 1+s.rng.IntN(s.cfg.MaxBlobSize))
	for i := range data {
		data[i] = byte(s.rng.Uint32())
	}
	enc, err := s.codec.Encode(data)
	if err != nil {
		s.fail(err)
		return
	}
	victim, victimShard := -1, -1
	if bad {
		// Tamper with a row whose shard an honest member owns.
		for try := 0; bad && victim < 0; try++ {
			if try == 4 && w.waited < maxBadWaits {
				// No victim to be had within the fault budget now: the
				// writer waits for its moment.
				w.waited++
				s.after(5*time.Second, func() { w.start(true) })
				return
			}
			if try == 4 {
				bad = false // still none: the writer stays honest
				break
			}
			row := s.rng.IntN(s.p.N)
			t, err := forge.TamperRow(s.codec, enc, row, s.rng.IntN(s.p.Ks))
			if err != nil {
				s.fail(err)
				return
			}
			// The victim, deprived of the blob, is a fault: within the
			// budget, or the writer stays honest this time.
			if o := s.nodes[s.owner[s.p.ShardOf(t.ID, row)]]; o.kind == honest && s.degradedShards(o)+o.weight() <= s.f {
				enc, victim, victimShard = t, o.i, s.p.ShardOf(t.ID, row)
			}
		}
	}
	if w.byID[enc.ID] != nil {
		return // the same bytes again
	}
	b := &wblob{n: len(w.blobs), id: enc.ID, data: data, enc: enc, bad: bad, victimShard: victimShard}
	w.blobs = append(w.blobs, b)
	w.byID[b.id] = b
	p := control.Payload{RegisterBlob: &control.RegisterBlob{ID: b.id, Length: enc.Length, Encoding: blob.RS2D16, Root: enc.Root,
		EndEpoch: s.epoch + uint64(s.cfg.Epochs) + 1}}
	s.submit(w.key, p, func(err error) {
		if err != nil {
			s.fail(err) // a registration of a fresh blob never fails
			return
		}
		w.upload(b)
	})
}

// upload begins a store's first round.
func (w *writer) upload(b *wblob) {
	b.uploading = true
	b.round = 0
	w.uploadRound(b, false)
}

// uploadRound runs one round of the SDK's store path (upload.Round) to
// the committee of the moment: each member is sent its slivers, a few at
// a time, then asked for its confirmation, each request tried as the SDK
// tries it (upload.Tries, upload.Backoff). The round ends when every
// member is done, or upload.Grace after the confirmations are worth a
// quorum. With skipHeld (a round after the first), each member is first
// asked which slivers it holds. The malicious writer sends nothing to
// the member that holds the tampered row's shard.
func (w *writer) uploadRound(b *wblob, skipHeld bool) {
	s := w.s
	if b.certified {
		return
	}
	com, err := s.m.Committee(0)
	if err != nil {
		s.fail(err)
		return
	}
	b.attempt++
	r := upload.NewRound(b.enc, com, networkID, s.p.Quorum())
	up := &roundState{b: b, attempt: b.attempt, r: r, left: len(r.Members)}
	for m := range r.Members {
		i := s.byKey[r.Members[m].Key]
		if b.bad && s.owner[b.victimShard] == i {
			up.memberDone(w, m, errWithheld)
			continue
		}
		if !skipHeld {
			w.sendSlivers(up, m, i, r.Slivers(m, nil))
			continue
		}
		// Asked once, as the SDK asks: without an answer, everything is sent.
		c := &writerCall{method: http.MethodGet, path: r.StatusPath(), id: b.id}
		s.exchange(i, c, func() bool { return true }, func(code int, msg []byte, _ time.Duration, err error) {
			if up.stale() {
				return
			}
			if err != nil || code != http.StatusOK {
				msg = nil
			}
			w.sendSlivers(up, m, i, r.Slivers(m, msg))
		})
	}
}

// errWithheld is the malicious writer's victim's lot.
var errWithheld = errors.New("sim: withheld by the malicious writer")

// roundState is one round of a blob's upload under way.
type roundState struct {
	b       *wblob
	attempt int
	r       *upload.Round
	left    int // members not done
	errs    []error
	ended   bool
}

// stale reports whether the round is over: a request of it is not sent
// again and its answer changes nothing.
func (up *roundState) stale() bool { return up.ended || up.b.attempt != up.attempt }

// sendSlivers sends member m (node i) its slivers, upload.PerNode in
// flight, then asks for its confirmation.
func (w *writer) sendSlivers(up *roundState, m, i int, slivers []upload.Sliver) {
	s := w.s
	next, inflight := 0, 0
	var errs []error
	var lane func()
	lane = func() {
		if up.stale() {
			return
		}
		if next == len(slivers) {
			if inflight == 0 {
				w.confirmation(up, m, i, errors.Join(errs...))
			}
			return
		}
		sl := slivers[next]
		next++
		inflight++
		path, body, data, err := up.r.Put(sl)
		if err != nil {
			s.fail(err)
			return
		}
		c := &writerCall{method: http.MethodPut, path: path, body: body, id: up.b.id, pair: sl.Pair, sl: &data, pc: &up.b.enc.Pairs[sl.Pair]}
		w.request(up, i, c, upload.PutAnswer, func(_ []byte, err error) {
			inflight--
			if err != nil {
				errs = append(errs, err)
			}
			lane()
		})
	}
	for range upload.PerNode {
		lane()
	}
}

// confirmation asks member m (node i) for its confirmation once its
// slivers are sent, unless one failed.
func (w *writer) confirmation(up *roundState, m, i int, failed error) {
	if failed != nil {
		up.memberDone(w, m, failed)
		return
	}
	c := &writerCall{method: http.MethodGet, path: up.r.ConfirmationPath(), id: up.b.id, confirm: true}
	var conf *upload.Confirmation
	w.request(up, i, c, func(code int, msg []byte) (err error) {
		conf, err = upload.ReadConfirmation(code, msg)
		return err
	}, func(_ []byte, err error) {
		if err == nil {
			var quorum bool
			if quorum, err = up.r.Confirm(m, conf); quorum {
				w.s.after(upload.Grace, func() { w.endRound(up) })
			}
			if err != nil && !errors.Is(err, upload.ErrEpochLag) {
				// Honest or not, every node signs its confirmations.
				w.s.fail(fmt.Errorf("%s: %w: %w", up.r.Members[m].Name, errBadConfirmation, err))
				return
			}
		}
		up.memberDone(w, m, err)
	})
}

func (up *roundState) memberDone(w *writer, m int, err error) {
	if up.stale() {
		return
	}
	if err != nil {
		up.errs = append(up.errs, err)
	}
	up.left--
	if up.left == 0 {
		w.endRound(up)
	}
}

// endRound ends a round as the SDK does: with confirmations worth a
// quorum it submits the certificate; otherwise, or if the certificate is
// refused, it uploads again when an epoch change explains the failure
// (upload.Again). A store that fails is run again by its user 10 s later.
func (w *writer) endRound(up *roundState) {
	s := w.s
	if up.stale() {
		return
	}
	up.ended = true
	b := up.b
	if !up.r.Quorate() {
		err := fmt.Errorf("%w: %w", errTooFew, errors.Join(up.errs...))
		if s.epoch != up.r.Epoch() {
			err = errors.Join(err, upload.ErrEpochLag)
		}
		w.roundFailed(b, err)
		return
	}
	b.certPend = true
	s.submit(w.key, control.Payload{CertifyBlob: up.r.Certificate()}, func(err error) {
		b.certPend = false
		if err != nil {
			w.roundFailed(b, err)
			return
		}
		b.certified, b.certifiedAt = true, s.now
		if b.bad {
			return // not a valid blob: it must be marked invalid (checkInvalid)
		}
		s.certified = append(s.certified, b)
		s.dirty[b.id] = true
		s.after(0, func() {
			s.checkDecode(b, false)
			s.sdkRead(b)
		})
	})
}

var errTooFew = errors.New("sim: confirmations short of a quorum")

// roundFailed decides, as the SDK does, whether a store whose round
// failed goes on.
func (w *writer) roundFailed(b *wblob, err error) {
	s := w.s
	if wait, again := upload.Again(b.round, err); again {
		b.round++
		s.after(wait, func() { w.uploadRound(b, true) })
		return
	}
	// The store failed; its user runs it again.
	s.epochStat.WriteRetries++
	s.after(10*time.Second, func() { w.upload(b) })
}

// writerCall is one request of the writer to a node's API.
type writerCall struct {
	method, path string
	body         []byte
	id           blob.ID
	// A PUT carries one sliver of a pair, remembered once stored.
	pair int
	sl   *blob.Sliver
	pc   *blob.PairCommitment
	// confirm marks the GET of the confirmation.
	confirm bool
}

// request sends one request of a round to node i over the simulated
// link, tried as the SDK tries it: judge turns the node's answer into
// nil or the request's error; done gets the answer's body, or the error
// after the last try. A lost request leaves the node without its
// slivers, a fault, so it is lost only within the budget.
func (w *writer) request(up *roundState, i int, c *writerCall, judge func(int, []byte) error, done func([]byte, error)) {
	s := w.s
	nd := s.nodes[i]
	lose := func() bool { return s.degradedShards(nd)+nd.weight() <= s.f }
	try := 0
	var send func()
	send = func() {
		if up.stale() {
			return
		}
		s.exchange(i, c, lose, func(code int, msg []byte, _ time.Duration, err error) {
			if up.stale() {
				return
			}
			if err == nil {
				err = judge(code, msg)
			}
			if err == nil || upload.Final(err) || try+1 == upload.Tries {
				done(msg, err)
				return
			}
			s.after(upload.Backoff(try), func() {
				try++
				send()
			})
		})
	}
	send()
}

// badCertified counts the inconsistent blobs that were certified.
func (w *writer) badCertified() int {
	k := 0
	for _, b := range w.blobs {
		if b.bad && b.certified {
			k++
		}
	}
	return k
}
