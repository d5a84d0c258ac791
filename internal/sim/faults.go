package sim

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/recovery"
)

// kind is how a node behaves.
type kind int

const (
	honest kind = iota
	// liar answers recovery requests with false symbols and sync
	// requests with false slivers; it stores and answers challenges
	// honestly.
	liar
	// dropper confirms uploads, then drops what it confirmed; it never
	// rebuilds, attests its syncs without fetching and cannot answer
	// challenges.
	dropper
)

func (k kind) String() string { return [...]string{"honest", "liar", "dropper"}[k] }

var (
	errLost = errors.New("sim: message lost")
	errSlow = errors.New("sim: no answer before the deadline")
)

// writerEnd is the writer's end of a link.
const writerEnd = -1

// link is one message from a to b (node indices, or writerEnd): whether it
// arrives, and whether it is slow. A node cut off by a partition neither
// sends nor receives; then each message is lost, or slow, at the run's
// rates. The control plane is not on these links: a partitioned node
// still follows events and submits transactions through its validator.
func (s *Sim) link(a, b int) (ok, slow bool) {
	if s.cut(a) || s.cut(b) {
		s.epochStat.Dropped++
		return false, false
	}
	if s.cfg.Loss > 0 && s.rng.Float64() < s.cfg.Loss {
		s.epochStat.Dropped++
		return false, false
	}
	return true, s.cfg.Slow > 0 && s.rng.Float64() < s.cfg.Slow
}

func (s *Sim) cut(i int) bool { return i >= 0 && s.nodes[i].cutUntil > s.now }

// call is a synchronous request from node a to node b within one instant
// (a recovery round, a sync batch): it fails if either message is lost,
// or if one is slow (the asker's deadline passes).
func (s *Sim) call(a, b int) error {
	for _, dir := range [2][2]int{{a, b}, {b, a}} {
		ok, slow := s.link(dir[0], dir[1])
		if !ok {
			return errLost
		}
		if slow {
			return errSlow
		}
	}
	return nil
}

// delay is a message's one-way delay on a link that delivered it.
func (s *Sim) delay(slow bool) time.Duration {
	d := time.Duration(1+s.rng.IntN(50)) * time.Millisecond
	if slow {
		d += time.Duration(1000+s.rng.IntN(2000)) * time.Millisecond
	}
	return d
}

// partition cuts off a few up, honest nodes for 5-15 s, within the fault
// budget.
func (s *Sim) partition() {
	var group []*node
	k := 1 + s.rng.IntN(3)
	for _, i := range s.rng.Perm(len(s.nodes)) {
		nd := s.nodes[i]
		if len(group) == k {
			break
		}
		if !nd.up || nd.cutUntil > s.now || nd.kind != honest || nd.weight() == 0 {
			continue
		}
		if s.degradedShards(nil)+nd.weight() > s.f {
			break
		}
		nd.cutUntil = s.now + time.Duration(5+s.rng.IntN(11))*time.Second
		nd.lastFault = s.now
		group = append(group, nd)
	}
	if len(group) > 0 {
		s.epochStat.Partitions++
	}
}

// setByzantine picks the run's Byzantine nodes among the genesis ones,
// liars and droppers in turn.
func (s *Sim) setByzantine() {
	for j, i := range s.rng.Perm(len(s.nodes))[:s.cfg.Byzantine] {
		s.nodes[i].kind = liar + kind(j%2)
	}
}

// lie corrupts one byte of an answer a liar sends.
func (s *Sim) lie(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	b = slices.Clone(b)
	b[s.rng.IntN(len(b))] ^= 0x5a
	return b
}

// challengeOpened notes what a node did with a window it was handed
// (Node.Apply): the storage node blacks out the sampled blobs, builds
// its answer with control.BuildAnswer over the slivers it holds and
// submits it. One that answered must pass; one that could not (it lacks
// a challenged sliver) fails at the deadline, and owed an answer if it
// lacked a pair it acknowledged and did not lose to a fault.
func (nd *node) challengeOpened(w uint64) {
	s := nd.s
	nd.owed, nd.unanswered = false, ""
	// Bit rot the node's scrub has not found yet fails an answer; it
	// excuses the node, as any fault does.
	nd.rotWindow = len(nd.rotted) > 0
	if nd.answered == w {
		nd.owed = true // it answered: the answer must pass
		nd.unanswered = fmt.Sprintf("window %d: its answer was submitted", w)
		return
	}
	ch := nd.core.Challenge()
	if ch == nil || ch.Window != w || ch.Answered == "nothing to answer" {
		return
	}
	win, err := s.m.ChallengeWindow(w)
	if err != nil || win == nil {
		s.fail(fmt.Errorf("challenge window %d: %v", w, err))
		return
	}
	me := win.Member(nd.pub)
	if me == nil {
		return
	}
	nd.unanswered = fmt.Sprintf("window %d: %s", w, ch.Answered)
	for _, b := range win.Blobs {
		for _, sh := range me.Shards {
			k := pairKey{b.ID, s.p.PairAt(b.ID, sh)}
			if nd.acked[k] && !nd.lost[k] && !nd.pairs[k.id][k.pair].complete() {
				nd.owed = true
			}
		}
	}
}

// challengeClosed counts a window's results. A dropper that fails is
// caught. An honest node must pass if it answered, or if it lacked a pair
// it had acknowledged, unless a fault hit it from 15 s before the window
// opened to its deadline (it was down, cut off or rebuilding what it
// lost). One that lacked only pairs it never had (it missed the upload
// and is still rebuilding) fails, as it should, without a violation.
func (s *Sim) challengeClosed(w uint64) {
	win, err := s.m.ChallengeWindow(w)
	if err != nil || win == nil {
		s.fail(fmt.Errorf("challenge window %d: %v", w, err))
		return
	}
	if win.Void {
		s.epochStat.ChallengesVoid++
		return
	}
	opened, deadline := time.Duration(win.OpenedAt-t0.UnixNano()), time.Duration(win.Deadline-t0.UnixNano())
	// A window that samples an inconsistent blob not yet marked invalid
	// may fail honest nodes: the pairs of it they lack cannot be rebuilt.
	bad := slices.ContainsFunc(win.Blobs, func(b control.ChallengedBlob) bool { return s.w.byID[b.ID] != nil && s.w.byID[b.ID].bad })
	for _, m := range win.Nodes {
		if m.AnswerBytes == 0 {
			continue // nothing to answer
		}
		nd := s.nodes[s.byKey[m.Key]]
		if m.Result == control.ChallengePassed {
			s.epochStat.ChallengesPassed++
			continue
		}
		s.epochStat.ChallengesFailed++
		switch {
		case nd.kind == dropper:
			s.epochStat.DroppersCaught++
		case nd.kind == honest && !bad && nd.owed && !nd.rotWindow && len(nd.rotted) == 0 && !(nd.faulted && nd.lastFault >= opened-15*time.Second && nd.lastFault <= deadline):
			s.violation(fmt.Sprintf("challenge %d %d", w, nd.i), "honest %s failed challenge window %d (%s)", nd.name, w, nd.unanswered)
		}
	}
}

// proved has a blob the node's recovery proved inconsistent marked
// invalid, the way a storage node does (internal/node/invalid.go): the
// proof, in its wire form, goes to committee members in a seeded order;
// each checks it against the blob ID alone and signs
// control.InvalidMessage; with attestations worth f + 1 shards the node
// submits InvalidateBlob. Too few attestations (members down or out of
// reach): it tries again 5 s later.
//
// As a storage node, it keeps the proof on disk (store.PutInconsistency)
// and takes up the proofs on its disk again when it restarts.
func (nd *node) proved(r recovery.Result) {
	s := nd.s
	var raw []byte
	var err error
	if r.Proof != nil {
		raw, err = r.Proof.MarshalBinary()
	} else {
		raw, err = r.PairsProof.MarshalBinary()
	}
	if err != nil {
		s.fail(err)
		return
	}
	if nd.storeErr(nd.st.PutInconsistency(r.ID, raw)) {
		return
	}
	nd.invalidate(r.ID, raw)
}

// resumeInvalidations takes up the proofs on the node's disk.
func (nd *node) resumeInvalidations() {
	var ids []blob.ID
	if nd.storeErr(nd.st.Inconsistencies(func(id blob.ID) error {
		ids = append(ids, id)
		return nil
	})) {
		return
	}
	for _, id := range ids {
		raw, err := nd.st.Inconsistency(id)
		if nd.storeErr(err) {
			return
		}
		nd.invalidate(id, raw)
	}
}

// invalidate gathers attestations of a proof and submits InvalidateBlob.
func (nd *node) invalidate(id blob.ID, raw []byte) {
	s := nd.s
	k := nd.known[id]
	if s.cfg.Bug == BugIgnoreProofs || nd.invalidating[id] || k == nil {
		return
	}
	msg := control.InvalidMessage(networkID, s.epoch, id)
	var sigs []control.Signature
	weight := 0
	for _, i := range s.rng.Perm(len(s.nodes)) {
		m := s.nodes[i]
		if weight >= s.p.Validity() {
			break
		}
		if len(m.shards) == 0 || !m.up {
			continue
		}
		if m != nd {
			if s.call(nd.i, m.i) != nil {
				continue
			}
			p, err := blob.DecodeProof(raw)
			if err == nil {
				err = s.codec.VerifyProof(id, k.length, p)
			}
			if err != nil {
				s.fail(fmt.Errorf("%s: %s refuses the proof that blob %s is inconsistent: %w", nd.name, m.name, short(id), err))
				return
			}
		}
		sigs = append(sigs, control.Signature{Node: m.pub, Sig: ed25519.Sign(m.key, msg)})
		weight += len(m.shards)
	}
	again := func() {
		gen := nd.gen
		s.after(5*time.Second, func() {
			if nd.gen == gen && nd.known[id] != nil {
				nd.invalidate(id, raw)
			}
		})
	}
	if weight < s.p.Validity() {
		again()
		return
	}
	nd.invalidating[id] = true
	cert := &control.Certificate{ID: id, Epoch: s.epoch, Signatures: sigs}
	s.submit(nd.key, control.Payload{InvalidateBlob: cert}, func(err error) {
		delete(nd.invalidating, id)
		switch {
		case err == nil, errors.Is(err, control.ErrBlobState):
		case errors.Is(err, control.ErrEpoch):
			again()
		default:
			s.fail(fmt.Errorf("%s: InvalidateBlob %s: %w", nd.name, short(id), err))
		}
	})
}

// invalidated: a blob was marked invalid; it must be one the writer
// encoded inconsistently.
func (s *Sim) invalidated(id blob.ID) {
	b := s.w.byID[id]
	if b == nil || !b.bad {
		s.violation("invalid "+id.String(), "blob %s was marked invalid, but it is consistently encoded", short(id))
		return
	}
	b.invalid = true
	s.epochStat.Invalidated++
}

// checkInvalid: an inconsistent blob that was certified is marked invalid
// within invalidBound (its victim may need a few tries to rebuild enough
// to prove it, with up to f shards Byzantine and lossy links, and the
// node's recovery queue backs off 1 s, 2 s, 4 s … between tries).
func (s *Sim) checkInvalid() {
	for _, b := range s.w.blobs {
		if b.bad && b.certified && !b.invalid && s.now-b.certifiedAt > s.invalidBound() {
			s.violation("uninvalidated "+b.id.String(), "inconsistent blob %d (%s), certified at %s, is not marked invalid %s later",
				b.n, short(b.id), b.certifiedAt, s.invalidBound())
		}
	}
}

// invalidBound is how long after its certification an inconsistent blob
// may stay valid: two epochs.
func (s *Sim) invalidBound() time.Duration { return 2 * s.cfg.EpochDuration }
