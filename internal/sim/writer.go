package sim

import (
	"crypto/ed25519"
	"slices"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/forge"
	"github.com/weftnet/weft/redstuff"
)

// wblob is a blob the writer stores.
type wblob struct {
	n         int // in order of start
	id        blob.ID
	data      []byte
	enc       *redstuff.Encoded
	uploading bool // upload begun: its pairs are owed to every shard from now on
	attempt   int
	confirms  map[uint64]map[int]*confirmation // epoch → node → confirmation
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

// writer is a model of the SDK's store path (see the package doc).
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

// latency is a message's one-way delay.
func (w *writer) latency() time.Duration {
	return time.Duration(1+w.s.rng.IntN(50)) * time.Millisecond
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

// upload sends every node its pairs and collects confirmations; a round
// that does not end in a certificate within 10 s is tried again.
func (w *writer) upload(b *wblob) {
	s := w.s
	if b.certified {
		return
	}
	b.uploading = true
	b.attempt++
	b.confirms = map[uint64]map[int]*confirmation{}
	attempt := b.attempt
	byNode := map[int][]int{}
	for pair := range s.p.N {
		o := s.owner[s.p.ShardOf(b.id, pair)]
		byNode[o] = append(byNode[o], pair)
	}
	for i := range s.nodes {
		pairs := byNode[i]
		if len(pairs) == 0 || b.bad && s.owner[b.victimShard] == i {
			continue
		}
		nd := s.nodes[i]
		slivers := make([][2]blob.Sliver, len(pairs))
		pcs := make([]blob.PairCommitment, len(pairs))
		for k, pair := range pairs {
			slivers[k] = [2]blob.Sliver{b.enc.Sliver(blob.Primary, s.p.PrimaryOf(pair)), b.enc.Sliver(blob.Secondary, s.p.SecondaryOf(pair))}
			pcs[k] = b.enc.Pairs[pair]
		}
		// A lost upload leaves the node without the blob: a fault, so
		// only within the budget.
		ok, slow := s.link(writerEnd, i)
		if !ok && s.degradedShards(nd)+nd.weight() <= s.f {
			continue
		}
		s.after(s.delay(slow), func() {
			nd.upload(b.id, pairs, slivers, pcs, func(c *confirmation) {
				if ok, slow := s.link(i, writerEnd); ok {
					s.after(s.delay(slow), func() { w.confirmed(b, attempt, c) })
				}
			})
		})
	}
	s.after(10*time.Second, func() {
		if b.attempt == attempt && !b.certified && !b.certPend {
			s.epochStat.WriteRetries++
			w.upload(b)
		}
	})
}

// confirmed takes a node's answer; with confirmations worth n − f shards
// in one epoch it submits the certificate.
func (w *writer) confirmed(b *wblob, attempt int, c *confirmation) {
	s := w.s
	if c == nil || attempt != b.attempt || b.certified || b.certPend {
		return
	}
	nd := s.nodes[c.node]
	if !ed25519.Verify(nd.pub[:], control.ConfirmationMessage(networkID, c.epoch, b.id), c.sig) {
		s.fail(errBadConfirmation)
		return
	}
	if b.confirms[c.epoch] == nil {
		b.confirms[c.epoch] = map[int]*confirmation{}
	}
	b.confirms[c.epoch][c.node] = c
	weight := 0
	var signers []int
	for i := range s.nodes {
		if b.confirms[c.epoch][i] != nil {
			weight += len(s.nodes[i].shards)
			signers = append(signers, i)
		}
	}
	if weight < s.p.Quorum() {
		return
	}
	cert := &control.Certificate{ID: b.id, Epoch: c.epoch}
	for _, i := range slices.Sorted(slices.Values(signers)) {
		cert.Signatures = append(cert.Signatures, control.Signature{Node: s.nodes[i].pub, Sig: b.confirms[c.epoch][i].sig})
	}
	b.certPend = true
	s.submit(w.key, control.Payload{CertifyBlob: cert}, func(err error) {
		b.certPend = false
		if err != nil {
			// An epoch changed under the confirmations: try again.
			s.after(2*time.Second, func() { w.upload(b) })
			return
		}
		b.certified, b.certifiedAt = true, s.now
		if b.bad {
			return // not a valid blob: it must be marked invalid (checkInvalid)
		}
		s.certified = append(s.certified, b)
		s.dirty[b.id] = true
		s.after(0, func() { s.checkDecode(b) })
	})
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
