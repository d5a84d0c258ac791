package sim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/download"
)

// errNoAnswer is a request to a node that is down.
var errNoAnswer = errors.New("sim: no answer (node down)")

// errTooFewSlivers is a read that could not get kp slivers.
var errTooFewSlivers = errors.New("sim: too few slivers answered")

// errTooLarge is an answer larger than the reader takes.
var errTooLarge = errors.New("sim: answer larger than a sliver can be")

// exchange sends one request to node i's API and hands done the answer
// (its status, body and Retry-After) or why none came: a lost message is
// an error after its delay. lose decides whether a message the link
// drops is lost (the writer loses uploads only within the fault budget).
func (s *Sim) exchange(i int, c *writerCall, lose func() bool, done func(code int, msg []byte, retryAfter time.Duration, err error)) {
	ok, slow := s.link(writerEnd, i)
	if !ok && lose() {
		s.after(s.delay(false), func() { done(0, nil, 0, errLost) })
		return
	}
	s.after(s.delay(slow), func() {
		code, msg, retry := s.nodes[i].serveClient(c)
		ok, slow := s.link(i, writerEnd)
		switch {
		case !ok:
			s.after(s.delay(false), func() { done(0, nil, 0, errLost) })
		case code == 0:
			s.after(s.delay(slow), func() { done(0, nil, 0, errNoAnswer) })
		default:
			s.after(s.delay(slow), func() { done(code, msg, retry, nil) })
		}
	})
}

// sdkRead reads a certified blob with the SDK's read path
// (download.Read): the holders of each shard as the control plane says
// now (while a change syncs, the previous owner first), waves of rows,
// systematic first, each asked of its holders in order through their
// own HTTP API, every answer checked against the blob ID, Retry-After
// waited out under a storage challenge, then the codec's decode. A read
// that fails, or returns other bytes than were written, is a violation:
// with at most f shards faulty, n − f rows answer and a read needs
// n − 2f.
func (s *Sim) sdkRead(b *wblob) {
	holders, err := download.LookupHolders(context.Background(), machineControl{s}, s.p.N)
	if err != nil {
		s.fail(err)
		return
	}
	r := download.NewRead(s.codec, b.id, b.enc.Length, s.p.Kp, nil, holders)
	r.Verify = s.verifySliver
	s.readWave(b, r)
}

func (s *Sim) readWave(b *wblob, r *download.Read) {
	wave := r.Wave()
	if len(wave) == 0 {
		s.readDone(b, r)
		return
	}
	left := len(wave)
	for _, row := range wave {
		pair, nodes := r.Sources(row)
		var errs []error
		var ask func(k int, waited time.Duration)
		ask = func(k int, waited time.Duration) {
			if k == len(nodes) {
				r.Failed(row, errs...)
				if left--; left == 0 {
					s.readWave(b, r)
				}
				return
			}
			c := &writerCall{method: http.MethodGet, path: r.SliverPath(pair), id: b.id}
			s.exchange(s.byKey[nodes[k].Key], c, func() bool { return true }, func(code int, msg []byte, wait time.Duration, err error) {
				if err == nil && download.WaitAgain(waited, wait, client.MaxChallengeWait) {
					s.after(wait, func() { ask(k, waited+wait) })
					return
				}
				if err == nil && int64(len(msg)) > r.MaxAnswer() {
					err = errTooLarge
				}
				if err == nil {
					sl, cerr := r.Check(pair, code, msg)
					if cerr == nil {
						r.Got(sl)
						if left--; left == 0 {
							s.readWave(b, r)
						}
						return
					}
					err = cerr
				}
				errs = append(errs, fmt.Errorf("from %s: %w", nodes[k].Name, err))
				ask(k+1, 0)
			})
		}
		ask(0, 0)
	}
}

func (s *Sim) readDone(b *wblob, r *download.Read) {
	s.epochStat.Reads++
	key := "read " + b.id.String()
	slivers, err := r.Result(errTooFewSlivers)
	if err == nil {
		var data []byte
		if data, err = s.decode(b.id, b.enc.Length, slivers); err == nil && string(data) != string(b.data) {
			err = errors.New("other bytes than were written")
		}
	}
	if err != nil && !b.invalid {
		s.epochStat.FailedReads++
		s.violation(key, "reading certified blob %d (%s) with the SDK's read path: %v", b.n, short(b.id), err)
	}
}
