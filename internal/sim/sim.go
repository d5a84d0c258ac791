package sim

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	storage "github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/redstuff"
)

// Config is one simulation. Every field is part of its replay command.
type Config struct {
	Seed          uint64
	Nodes         int           // storage nodes, every one in the committee
	Shards        int           // n
	Blobs         int           // blobs the writer stores, at seeded times
	Epochs        int           // how long the run is, in epochs
	EpochDuration time.Duration // simulated
	MaxBlobSize   int           // bytes; each blob is 1..MaxBlobSize
	CrashRate     float64       // expected crashes per node per epoch
	WipeRate      float64       // expected disk wipes per node per epoch
	RotRate       float64       // expected bit rot per node per epoch: a byte flips in one stored sliver
	Churn         float64       // shards that change hands each epoch through leaves and joins, as a fraction of f
	Loss          float64       // chance that a message between nodes, or between the writer and a node, is lost
	Slow          float64       // chance that such a message is slow: it misses a call's deadline, or arrives 1-3 s late
	Partitions    float64       // partitions per epoch: a few nodes cut off from every peer and the writer for 5-15 s
	Byzantine     int           // Byzantine nodes from genesis, alternately liars (false recovery and sync answers) and droppers (drop what they acknowledge)
	Inconsistent  int           // blobs a malicious writer stores with an inconsistent encoding
	Bug           string        // a bug to inject, to show the simulator catches it (see bugs)
}

// The bugs Config.Bug injects, each of which some invariant must catch.
const (
	// BugAckBeforeSync makes nodes confirm uploads before they store them
	// (the writes wait for a tick a second later): a crash then loses
	// acknowledged slivers.
	BugAckBeforeSync = "ack-before-sync"
	// BugAttestUnsynced is a bug in the storage node's shard sync
	// (node.BugAttestUnsynced): nodes attest EpochSyncDone without
	// fetching the shards they gained.
	BugAttestUnsynced = storage.BugAttestUnsynced
	// BugNeverAttest is a bug in the storage node's shard sync
	// (node.BugNeverAttest): nodes sync without attesting it, so no epoch
	// change is ever done.
	BugNeverAttest = storage.BugNeverAttest
	// BugIgnoreProofs makes nodes drop the inconsistency proofs their
	// recovery finds: invalid blobs stay certified.
	BugIgnoreProofs = "ignore-proofs"
	// BugCorruptAnswer is a bug in the storage node's own code
	// (node.BugCorruptAnswer), injected into the first node only: it
	// corrupts its challenge answers and fails windows it answered.
	BugCorruptAnswer = storage.BugCorruptAnswer
	// BugBlindScrub is a bug in the storage node's scrub
	// (node.BugBlindScrub): every node's scrub takes rotted slivers for
	// good.
	BugBlindScrub = storage.BugBlindScrub
	// BugClassicRepair is a bug in the storage node's recovery
	// (node.BugClassicRepair): every node fetches its sources' whole
	// slivers, as a classic erasure code's repair does, so repair moves
	// many times the bytes that were lost.
	BugClassicRepair = storage.BugClassicRepair
)

var bugs = []string{BugAckBeforeSync, BugAttestUnsynced, BugNeverAttest, BugIgnoreProofs, BugCorruptAnswer, BugBlindScrub, BugClassicRepair}

// DefaultConfig is a small, fast run.
func DefaultConfig() Config {
	return Config{Nodes: 7, Shards: 10, Blobs: 20, Epochs: 5, EpochDuration: 30 * time.Second,
		MaxBlobSize: 64 << 10, CrashRate: 0.5, WipeRate: 0.1}
}

// Command is the weft sim command line that replays c.
func (c Config) Command() string {
	churn := ""
	if c.Churn > 0 {
		churn = " --churn " + strconv.FormatFloat(c.Churn, 'g', -1, 64)
	}
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	opt := ""
	for _, o := range []struct {
		name string
		v    float64
	}{{"rot-rate", c.RotRate}, {"loss", c.Loss}, {"slow", c.Slow}, {"partitions", c.Partitions}, {"byzantine", float64(c.Byzantine)}, {"inconsistent", float64(c.Inconsistent)}} {
		if o.v != 0 {
			opt += " --" + o.name + " " + g(o.v)
		}
	}
	if c.Bug != "" {
		opt += " --bug " + c.Bug
	}
	return fmt.Sprintf("weft sim --seed %d --nodes %d --shards %d --blobs %d --epochs %d --epoch-duration %s --max-blob-size %d --crash-rate %s --wipe-rate %s%s%s",
		c.Seed, c.Nodes, c.Shards, c.Blobs, c.Epochs, c.EpochDuration, c.MaxBlobSize, g(c.CrashRate), g(c.WipeRate), churn, opt)
}

// Validate checks c.
func (c Config) Validate() error {
	switch {
	case c.Shards < 4 || c.Shards > 1024:
		return errors.New("sim: shards must be 4..1024")
	case c.Nodes < 1 || c.Nodes > c.Shards:
		return errors.New("sim: nodes must be 1..shards")
	case c.Blobs < 0 || c.Epochs < 1 || c.EpochDuration < 5*time.Second:
		return errors.New("sim: need blobs ≥ 0, epochs ≥ 1 and an epoch of at least 5s")
	case c.MaxBlobSize < 1 || c.MaxBlobSize > 1<<20:
		return errors.New("sim: max blob size must be 1 byte..1 MiB")
	case c.CrashRate < 0 || c.WipeRate < 0 || c.RotRate < 0:
		return errors.New("sim: fault rates must be ≥ 0")
	case c.Churn < 0 || c.Churn > 1:
		return errors.New("sim: churn must be 0..1")
	case c.Churn > 0 && c.EpochDuration < 20*time.Second:
		return errors.New("sim: churn needs an epoch of at least 20s")
	case c.Loss < 0 || c.Loss > 0.5 || c.Slow < 0 || c.Slow > 0.5:
		return errors.New("sim: loss and slow must be 0..0.5")
	case c.Partitions < 0:
		return errors.New("sim: partitions must be ≥ 0")
	case c.Byzantine < 0 || c.Byzantine*((c.Shards+c.Nodes-1)/c.Nodes) > blob.MaxFaulty(c.Shards):
		return fmt.Errorf("sim: the Byzantine nodes would hold more than f = %d shards", blob.MaxFaulty(c.Shards))
	case c.Inconsistent < 0 || c.Inconsistent > c.Blobs:
		return errors.New("sim: inconsistent blobs must be 0..blobs")
	case c.Bug != "" && !slices.Contains(bugs, c.Bug):
		return fmt.Errorf("sim: unknown bug %q (one of %s)", c.Bug, strings.Join(bugs, ", "))
	}
	return nil
}

// Stats are what a run counts, per epoch and in total.
type Stats struct {
	Registered, Certified int
	Crashes, Wipes        int
	Rots                  int   // slivers bit rot corrupted on disk
	ScrubFound            int   // slivers the nodes' scrubs found missing or wrong
	Partitions            int   // partitions begun
	Dropped               int   // messages lost to partitions and lossy links
	RecoveredSlivers      int   // slivers rebuilt by recovery jobs, repair and sync
	RecoveryBytes         int64 // bytes repair moved (requests and answers)
	RepairSymbolBytes     int64 // of those, the symbols' own bytes, asked without proofs, of blobs whose repair met no mismatch
	LostBytes             int64 // the bytes of the slivers repair rebuilt
	LostCleanBytes        int64 // of those, of blobs whose repair met no mismatch
	CheckBytes            int64 // and of their neighbours' slivers rebuilt only to check them with
	QueuePeak             int   // the most pairs one node had to rebuild at once
	ChallengesPassed      int   // members that passed a window (with something to answer)
	ChallengesFailed      int
	ChallengesVoid        int // windows in which no answer landed
	DroppersCaught        int // failed windows of nodes that drop data
	DroppersEvicted       int // evicted nodes that drop data
	Evicted               int // nodes the challenges took the weight of
	LiesCaught            int // peers recovery jobs caught serving false symbols
	Invalidated           int // blobs marked invalid
	Reads, FailedReads    int // reads of certified blobs with the SDK's read path, done
	WriteRetries          int // upload rounds that ended without a certificate
	Violations            int

	// Churn: members that joined and left, shards that changed hands,
	// the bytes nodes fetched to sync the shards they gained against the
	// bytes of the pairs they lacked, epoch changes that had shards to
	// sync and how long the change took to be done (-1: no change to
	// sync).
	Joined, Left, ShardsMoved int
	SyncBytes, NeededBytes    int64
	SyncSliverBytes           int64 // of SyncBytes, the slivers' own bytes
	NeededPairs               int   // the pairs NeededBytes counts
	EpochChanges              int
	DoneIn                    time.Duration
}

// Summary is what a run found.
type Summary struct {
	Stats
	MaxDoneIn    time.Duration // the longest epoch change
	Inconsistent int           // inconsistent blobs that were certified
}

func (s *Stats) add(o Stats) {
	s.Registered += o.Registered
	s.Certified += o.Certified
	s.Crashes += o.Crashes
	s.Wipes += o.Wipes
	s.Rots += o.Rots
	s.ScrubFound += o.ScrubFound
	s.Partitions += o.Partitions
	s.Dropped += o.Dropped
	s.RecoveredSlivers += o.RecoveredSlivers
	s.RecoveryBytes += o.RecoveryBytes
	s.RepairSymbolBytes += o.RepairSymbolBytes
	s.LostBytes += o.LostBytes
	s.LostCleanBytes += o.LostCleanBytes
	s.CheckBytes += o.CheckBytes
	s.QueuePeak = max(s.QueuePeak, o.QueuePeak)
	s.ChallengesPassed += o.ChallengesPassed
	s.ChallengesFailed += o.ChallengesFailed
	s.ChallengesVoid += o.ChallengesVoid
	s.DroppersCaught += o.DroppersCaught
	s.Evicted += o.Evicted
	s.DroppersEvicted += o.DroppersEvicted
	s.LiesCaught += o.LiesCaught
	s.Invalidated += o.Invalidated
	s.Reads += o.Reads
	s.FailedReads += o.FailedReads
	s.WriteRetries += o.WriteRetries
	s.Violations += o.Violations
	s.Joined += o.Joined
	s.Left += o.Left
	s.ShardsMoved += o.ShardsMoved
	s.EpochChanges += o.EpochChanges
	s.SyncBytes += o.SyncBytes
	s.SyncSliverBytes += o.SyncSliverBytes
	s.NeededPairs += o.NeededPairs
	s.NeededBytes += o.NeededBytes
	s.DoneIn = max(s.DoneIn, o.DoneIn)
}

const (
	networkID     = "weft-sim"
	blockInterval = time.Second
	syncInterval  = time.Second
	faultInterval = 250 * time.Millisecond
)

// t0 is the simulated wall time of genesis.
var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

type pendingTx struct {
	raw  []byte
	done func(error)
}

// Sim is one run.
type Sim struct {
	loop
	cfg     Config
	out     io.Writer
	rng     *rand.Rand
	codec   *redstuff.Codec
	p       redstuff.Params
	f       int
	m       *control.Machine
	height  int64
	qc      *queryCache     // the machine's answers since the last block, for the nodes (control.go)
	cursor  uint64          // the simulator's own event cursor (for the table)
	evlog   []control.Event // the machine's events, decoded once for every reader (events)
	epoch   uint64
	admin   ed25519.PrivateKey
	nodes   []*node
	owner   []int // shard → node index
	com     *control.Committee
	prevCom *control.Committee // the committee before the last epoch change
	byKey   map[control.PublicKey]int
	mem     []pendingTx
	w       *writer

	certified []*wblob              // valid ones, in certification order
	exts      map[extKey]*extension // extended slivers, shared by the nodes (extend.go)
	extOrder  []extKey              // kept extensions, oldest first
	extBytes  int64
	verified  map[extKey]blob.PairCommitment // slivers that passed VerifySliver, with their commitment
	decoded   map[decodeKey][]byte           // Decode's answers, by the rows it decoded from
	dirty     map[blob.ID]bool
	seen      map[string]bool
	epochStat Stats
	total     Stats
	err       error

	// The current epoch change, while it has shards to sync.
	changePending bool
	changeStart   time.Duration
	changeBlobs   []blob.ID // certified when it began, sorted
}

// Run simulates cfg, printing the seed first, a row per epoch and a
// summary line to out; a run with violations ends with the command that
// replays it.
func Run(cfg Config, out io.Writer) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	fmt.Fprintf(out, "seed %d\n", cfg.Seed)
	s := &Sim{cfg: cfg, out: out, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		byKey: map[control.PublicKey]int{}, dirty: map[blob.ID]bool{}, exts: map[extKey]*extension{}, verified: map[extKey]blob.PairCommitment{}, decoded: map[decodeKey][]byte{}, seen: map[string]bool{},
		epochStat: Stats{DoneIn: -1}}
	var err error
	if s.codec, err = redstuff.New(cfg.Shards, redstuff.WithLazyTables(), redstuff.WithWorkers(1)); err != nil {
		return Summary{}, err
	}
	s.p = s.codec.Params()
	s.f = blob.MaxFaulty(cfg.Shards)
	if err := s.genesis(); err != nil {
		return Summary{}, err
	}
	churn := ""
	if cfg.Churn > 0 {
		churn = fmt.Sprintf(", churn %g", cfg.Churn)
	}
	fmt.Fprintf(out, "%d nodes, %d shards (f=%d), %d blobs of up to %d bytes, %d epochs of %s, crash-rate %g, wipe-rate %g%s\n",
		cfg.Nodes, cfg.Shards, s.f, cfg.Blobs, cfg.MaxBlobSize, cfg.Epochs, cfg.EpochDuration, cfg.CrashRate, cfg.WipeRate, churn)
	if cfg.Loss+cfg.Slow+cfg.Partitions > 0 || cfg.Byzantine+cfg.Inconsistent > 0 {
		fmt.Fprintf(out, "links: loss %g, slow %g, partitions %g per epoch; %d Byzantine nodes, %d inconsistent blobs\n",
			cfg.Loss, cfg.Slow, cfg.Partitions, cfg.Byzantine, cfg.Inconsistent)
	}
	s.header()
	s.setByzantine()
	end := time.Duration(cfg.Epochs) * cfg.EpochDuration
	s.w = newWriter(s)
	bad := map[int]bool{}
	if cfg.Inconsistent > 0 {
		for _, i := range s.rng.Perm(cfg.Blobs)[:cfg.Inconsistent] {
			bad[i] = true
		}
	}
	for i := 0; i < cfg.Blobs; i++ {
		s.at(time.Duration(s.rng.Int64N(int64(end*8/10))), func() { s.w.start(bad[i]) })
	}
	for _, nd := range s.nodes {
		phase := time.Duration(s.rng.Int64N(int64(syncInterval)))
		s.at(phase, nd.syncTick)
		s.at(time.Duration(s.rng.Int64N(int64(cfg.EpochDuration))), nd.scrubTick)
	}
	s.at(blockInterval, s.block)
	s.at(faultInterval/2, s.faults)
	if cfg.Churn > 0 {
		for e := range cfg.Epochs {
			s.at(time.Duration(e)*cfg.EpochDuration+cfg.EpochDuration/4, s.churn)
		}
	}
	s.run(end, s.check, func() bool { return s.err != nil })
	if s.err != nil {
		return Summary{}, s.err
	}
	for _, b := range s.certified {
		s.checkDecode(b, false)
	}
	s.row()
	t := s.total
	sum := Summary{Stats: t, MaxDoneIn: max(t.DoneIn, 0), Inconsistent: s.w.badCertified()}
	lost := 0
	for _, b := range s.certified {
		if s.seen["decode "+b.id.String()] {
			lost++
		}
	}
	fmt.Fprintf(out, "summary: seed %d: %d blobs registered, %d certified, %d lost; %d crashes, %d wipes, %d partitions; %d slivers rebuilt, repair moved %d bytes for %d lost (%s; symbols %s); challenges %d passed, %d failed (%d of droppers), %d nodes evicted (%d droppers); %d lies caught; %d of %d inconsistent blobs invalidated; %d of %d reads failed; %d violations\n",
		cfg.Seed, sum.Registered, sum.Certified, lost, sum.Crashes, sum.Wipes, sum.Partitions, sum.RecoveredSlivers, sum.RecoveryBytes, sum.LostBytes,
		ratio(sum.RecoveryBytes, sum.LostBytes), ratio(sum.RepairSymbolBytes, sum.LostCleanBytes+sum.CheckBytes), sum.ChallengesPassed, sum.ChallengesFailed, sum.DroppersCaught, sum.Evicted, sum.DroppersEvicted, sum.LiesCaught,
		sum.Invalidated, sum.Inconsistent, sum.FailedReads, sum.Reads, sum.Violations)
	if cfg.RotRate > 0 {
		fmt.Fprintf(out, "rot: %d slivers rotted on disk, %d bad slivers found by the nodes' scrubs\n", sum.Rots, sum.ScrubFound)
	}
	if cfg.Churn > 0 {
		fmt.Fprintf(out, "churn: %d joined, %d left, %d shards moved in %d epoch changes, synced %d of %d bytes needed (%s; slivers %s), longest change %s\n",
			sum.Joined, sum.Left, sum.ShardsMoved, sum.EpochChanges, sum.SyncBytes, sum.NeededBytes, ratio(sum.SyncBytes, sum.NeededBytes), ratio(sum.SyncSliverBytes, sum.NeededBytes), sum.MaxDoneIn)
	}
	if sum.Violations > 0 {
		fmt.Fprintf(out, "FAILED: replay with: %s\n", cfg.Command())
	}
	return sum, nil
}

func (s *Sim) fail(err error) {
	if s.err == nil {
		s.err = fmt.Errorf("sim: at %s: %w", s.now, err)
	}
}

// newKey draws an identity key from the run's generator.
func (s *Sim) newKey() ed25519.PrivateKey {
	seed := make([]byte, 0, ed25519.SeedSize)
	for range 4 {
		v := s.rng.Uint64()
		for b := range 8 {
			seed = append(seed, byte(v>>(8*b)))
		}
	}
	return ed25519.NewKeyFromSeed(seed)
}

func (s *Sim) genesis() error {
	s.admin = s.newKey()
	g := control.Genesis{Params: control.Params{NetworkID: networkID, Shards: s.cfg.Shards, EpochDuration: s.cfg.EpochDuration,
		Admin: control.KeyOf(s.admin), MaxEpochsAhead: uint64(s.cfg.Epochs + 2), ChallengeInterval: s.cfg.EpochDuration}}
	for i := range s.cfg.Nodes {
		nd := newNode(s, i, s.newKey())
		s.nodes = append(s.nodes, nd)
		s.byKey[nd.pub] = i
		g.Nodes = append(g.Nodes, control.NodeRecord{Key: nd.pub, Name: nd.name, Address: fmt.Sprintf("http://%s.sim:7000", nd.name), Weight: 1})
	}
	var err error
	if s.m, err = control.NewMachine(control.NewMemStore()); err != nil {
		return err
	}
	if _, err := s.m.InitGenesis(g, t0); err != nil {
		return err
	}
	if _, err := s.m.Commit(); err != nil {
		return err
	}
	s.epoch = 1
	return s.committee()
}

// submit hands a signed transaction to the sequencer; done learns its
// result when the block that carries it is committed.
func (s *Sim) submit(key ed25519.PrivateKey, p control.Payload, done func(error)) {
	p.Nonce = s.rng.Uint64()
	p.Expires = t0.Add(s.now + time.Minute).UnixMilli()
	raw, err := control.SignTx(networkID, key, p)
	if err != nil {
		s.fail(err)
		return
	}
	s.mem = append(s.mem, pendingTx{raw: raw, done: done})
}

// block is the sequencer: a block of the transactions submitted since the
// last one, in a seeded order, every blockInterval; then faults are drawn
// and every running node follows the new events.
func (s *Sim) block() {
	s.height++
	txs := s.mem
	s.mem = nil
	s.rng.Shuffle(len(txs), func(i, j int) { txs[i], txs[j] = txs[j], txs[i] })
	s.m.Begin(s.height, t0.Add(s.now))
	errs := make([]error, len(txs))
	for i, tx := range txs {
		_, errs[i] = s.m.Deliver(tx.raw)
	}
	if _, err := s.m.End(); err != nil {
		s.fail(err)
		return
	}
	if _, err := s.m.Commit(); err != nil {
		s.fail(err)
		return
	}
	s.follow()
	for i, tx := range txs {
		if tx.done != nil {
			tx.done(errs[i])
		}
	}
	for _, nd := range s.nodes {
		if nd.up {
			nd.follow()
		}
	}
	s.after(blockInterval, s.block)
}

// follow reads the machine's new events for the table.
func (s *Sim) follow() {
	s.events(s.cursor, func(ev control.Event) bool {
		s.cursor = ev.Seq
		switch ev.Type {
		case control.EventBlobRegistered:
			s.epochStat.Registered++
		case control.EventBlobCertified:
			s.epochStat.Certified++
		case control.EventEpochChanged:
			if ev.Epoch <= s.epoch {
				return true // genesis
			}
			s.row()
			s.epoch = ev.Epoch
			if err := s.committee(); err != nil {
				s.fail(err)
			}
			s.epochChanged(ev)
		case control.EventEpochDone:
			s.epochDone(ev.Epoch)
		case control.EventChallengeClosed:
			s.challengeClosed(ev.Window)
		case control.EventNodeEvicted:
			s.epochStat.Evicted++
			if i, ok := s.byKey[*ev.Node]; ok && s.nodes[i].kind == dropper {
				s.epochStat.DroppersEvicted++
			}
		case control.EventBlobInvalid:
			s.invalidated(*ev.BlobID)
			s.dropExtensions(*ev.BlobID)
		case control.EventBlobDeleted, control.EventBlobExpired:
			s.dropExtensions(*ev.BlobID)
		case control.EventEpochSyncDone:
			if i, ok := s.byKey[*ev.Node]; ok && ev.Epoch == s.epoch {
				s.nodes[i].attestedSync()
			}
		}
		return true
	})
}

// events hands fn the machine's events after cursor until fn returns
// false or there are no more. The machine's log is read and decoded once
// for every reader: a hundred nodes decoding each event for themselves
// was a twentieth of a run. Sequence numbers run from 1 without gaps, and
// the log never shrinks, so an event's place in it is its number less 1.
func (s *Sim) events(cursor uint64, fn func(control.Event) bool) {
	for {
		evs, err := s.m.Events(uint64(len(s.evlog)), 1000)
		if err != nil {
			s.fail(err)
			return
		}
		for _, ev := range evs {
			if ev.Seq != uint64(len(s.evlog))+1 {
				s.fail(fmt.Errorf("sim: event %d follows event %d", ev.Seq, len(s.evlog)))
				return
			}
			s.evlog = append(s.evlog, ev)
		}
		if len(evs) < 1000 {
			break
		}
	}
	for _, ev := range s.evlog[min(cursor, uint64(len(s.evlog))):] {
		if !fn(ev) {
			return
		}
	}
}

// row prints the current epoch's row and starts the next.
func (s *Sim) row() {
	if len(s.certified) > 0 {
		b := s.certified[s.rng.IntN(len(s.certified))]
		s.checkDecode(b, true)
		s.sdkRead(b)
	}
	s.checkBandwidth()
	e := s.epochStat
	for i, c := range s.columns() {
		if i > 0 {
			fmt.Fprint(s.out, " ")
		}
		fmt.Fprintf(s.out, "%*s", len(c.name), c.value(&e))
	}
	fmt.Fprintln(s.out)
	s.total.add(e)
	s.epochStat = Stats{DoneIn: -1}
}

// Repair and sync move about the bytes that were lost or moved: over the
// run so far, the symbols repair fetched without proofs for the blobs
// whose repair met no mismatch are at most maxMoved times the bytes of
// the slivers it rebuilt for them (kept, or a neighbour's rebuilt only
// to check with), and the slivers sync fetched at most maxMoved times the
// bytes of the pairs nodes lacked, once minSample slivers were rebuilt
// or pairs lacked (so that a few spares, or a blob certified while a
// change was under way, early on do not count). A sliver's repair takes
// as many symbols as the sliver has; spares, a job cut short by a peer
// that fails, and a neighbour asked for then not needed add to that, up
// to about 1.6× in a network of nine nodes with two Byzantine ones and
// heavy churn; a classic repair, fetching whole slivers, is many times
// over. Left out: what blobs whose repair met a lie, or an inconsistent
// encoding, cost to find out (spares from every peer, checks and proofs:
// the price of the attack), and framing, proofs and commitments, paid
// per symbol, peer and pair, which weigh what they weigh against the
// simulator's small blobs (rep/lost and sync/need show them all).
const (
	maxMoved  = 2.0
	minSample = 100
)

// checkBandwidth checks, at each epoch's end, that repair and sync move
// about what was lost or moved.
func (s *Sim) checkBandwidth() {
	t := s.total
	t.add(s.epochStat)
	lost := t.LostCleanBytes + t.CheckBytes
	if t.RecoveredSlivers >= minSample && float64(t.RepairSymbolBytes) > maxMoved*float64(lost) {
		s.violation("bandwidth repair", "repair fetched %d bytes of symbols to rebuild %d bytes of slivers (%s): more than %.1f× what was lost",
			t.RepairSymbolBytes, lost, ratio(t.RepairSymbolBytes, lost), maxMoved)
	}
	if t.NeededPairs >= minSample && float64(t.SyncSliverBytes) > maxMoved*float64(t.NeededBytes) {
		s.violation("bandwidth sync", "shard sync fetched %d bytes of slivers for %d bytes of pairs the nodes lacked (%s): more than %.1f× what moved",
			t.SyncSliverBytes, t.NeededBytes, ratio(t.SyncSliverBytes, t.NeededBytes), maxMoved)
	}
}

// column is one of the table's.
type column struct {
	name  string
	value func(e *Stats) string
}

// columns are the table's: each epoch's row counts what happened in it.
func (s *Sim) columns() []column {
	d := func(v int) string { return strconv.Itoa(v) }
	cols := []column{
		{"epoch", func(*Stats) string { return d(int(s.epoch)) }},
		{"  time", func(*Stats) string { return s.now.String() }},
		{"blobs", func(e *Stats) string { return d(e.Registered) }},
		{"cert", func(e *Stats) string { return d(e.Certified) }},
		{"crash", func(e *Stats) string { return d(e.Crashes) }},
		{"wipe", func(e *Stats) string { return d(e.Wipes) }},
		{"part", func(e *Stats) string { return d(e.Partitions) }},
	}
	if s.cfg.RotRate > 0 {
		cols = append(cols, column{"rot", func(e *Stats) string { return d(e.Rots) }}, column{"scrub-bad", func(e *Stats) string { return d(e.ScrubFound) }})
	}
	cols = append(cols, []column{
		{"msg-lost", func(e *Stats) string { return d(e.Dropped) }},
		{"rebuilt", func(e *Stats) string { return d(e.RecoveredSlivers) }},
		{"rep/lost", func(e *Stats) string { return ratio(e.RecoveryBytes, e.LostBytes) }},
		{"sym/lost", func(e *Stats) string { return ratio(e.RepairSymbolBytes, e.LostCleanBytes+e.CheckBytes) }},
		{"q-peak", func(e *Stats) string { return d(e.QueuePeak) }},
		{"chal-ok", func(e *Stats) string { return d(e.ChallengesPassed) }},
		{"chal-fail", func(e *Stats) string { return d(e.ChallengesFailed) }},
		{"caught", func(e *Stats) string { return d(e.DroppersCaught) }},
		{"evicted", func(e *Stats) string { return d(e.Evicted) }},
		{"lies", func(e *Stats) string { return d(e.LiesCaught) }},
		{"invalid", func(e *Stats) string { return d(e.Invalidated) }},
		{"rd-fail", func(e *Stats) string { return fmt.Sprintf("%d/%d", e.FailedReads, e.Reads) }},
		{"wr-retry", func(e *Stats) string { return d(e.WriteRetries) }},
		{"violations", func(e *Stats) string { return d(e.Violations) }},
	}...)
	if s.cfg.Churn > 0 {
		cols = append(cols,
			column{"joined", func(e *Stats) string { return d(e.Joined) }},
			column{"left", func(e *Stats) string { return d(e.Left) }},
			column{"moved", func(e *Stats) string { return d(e.ShardsMoved) }},
			column{"sync/need", func(e *Stats) string { return ratio(e.SyncBytes, e.NeededBytes) }},
			column{"sl/need", func(e *Stats) string { return ratio(e.SyncSliverBytes, e.NeededBytes) }},
			column{" done-in", func(e *Stats) string {
				switch {
				case s.changePending:
					return "not done"
				case e.DoneIn >= 0:
					return e.DoneIn.String()
				}
				return "-"
			}})
	}
	return cols
}

// header prints the table's header.
func (s *Sim) header() {
	for i, c := range s.columns() {
		if i > 0 {
			fmt.Fprint(s.out, " ")
		}
		fmt.Fprintf(s.out, "%*s", len(c.name), strings.TrimSpace(c.name))
	}
	fmt.Fprintln(s.out)
}

// faults injects crashes and wipes at their rates, every faultInterval,
// never degrading more than f shards' worth of nodes at once.
func (s *Sim) faults() {
	s.after(faultInterval, s.faults)
	per := float64(faultInterval) / float64(s.cfg.EpochDuration)
	if s.cfg.Partitions > 0 && s.rng.Float64() < s.cfg.Partitions*per {
		s.partition()
	}
	for _, nd := range s.nodes {
		crash := s.rng.Float64() < s.cfg.CrashRate*per
		wipe := s.rng.Float64() < s.cfg.WipeRate*per
		rot := s.cfg.RotRate > 0 && s.rng.Float64() < s.cfg.RotRate*per
		if rot && nd.up && !nd.gone && nd.kind == honest && s.degradedShards(nd)+nd.weight() <= s.f && nd.rot() {
			s.epochStat.Rots++
		}
		if !crash && !wipe || !nd.up || nd.gone {
			continue
		}
		if s.degradedShards(nd)+nd.weight() > s.f {
			continue
		}
		nd.faulted, nd.lastFault = true, s.now
		down := time.Duration(2+s.rng.IntN(9)) * time.Second
		if wipe {
			s.epochStat.Wipes++
			nd.wipe()
		} else {
			s.epochStat.Crashes++
			nd.crash()
		}
		s.after(down, nd.restart)
	}
}

// degradedShards counts the shards of nodes other than except that are
// down, or miss pairs of a blob being stored or stored.
func (s *Sim) degradedShards(except *node) int {
	k := 0
	for _, nd := range s.nodes {
		if nd != except && nd.degraded() {
			k += nd.weight()
		}
	}
	return k
}

// violation records a broken invariant once per key.
func (s *Sim) violation(key, format string, args ...any) {
	if s.seen[key] {
		return
	}
	s.seen[key] = true
	s.epochStat.Violations++
	fmt.Fprintf(s.out, "VIOLATION at %s: %s\n", s.now, fmt.Sprintf(format, args...))
}

// check runs the invariants after each instant's events.
func (s *Sim) check() {
	for _, b := range s.certified {
		if !s.dirty[b.id] {
			continue
		}
		delete(s.dirty, b.id)
		s.checkAvailable(b)
	}
	for _, nd := range s.nodes {
		if nd.removed {
			nd.removed = false
			nd.checkAcked()
		}
	}
	s.checkChange()
	s.checkInvalid()
}

// checkAvailable: a certified blob whose slivers changed is still
// decodable from the primary slivers honest nodes hold. Every sliver a
// node stores was verified against the blob ID, and any kp correct
// primary slivers decode (the code is MDS), so counting the honest
// nodes' primary slivers that equal the writer's is exact; the read
// itself (checkDecode) runs at certification, on a seeded blob every
// epoch and on every blob at the end of the run.
func (s *Sim) checkAvailable(b *wblob) {
	kp := s.p.SliverLen(blob.Secondary)
	have := 0
	for pair := 0; pair < s.p.N && have < kp; pair++ {
		sl := s.readPrimary(b.id, pair)
		if sl != nil && bytes.Equal(sl.Data, b.enc.Sliver(blob.Primary, s.p.PrimaryOf(pair)).Data) {
			have++
		}
	}
	if have < kp {
		s.violation("decode "+b.id.String(), "certified blob %d (%s) has %d correct primary slivers on honest nodes, needs %d",
			b.n, short(b.id), have, kp)
	}
}

// checkDecode reads a certified blob back with the codec from primary
// slivers that honest nodes hold, and compares the bytes: kp of them
// chosen with the run's generator, or with systematic the lowest rows
// held (those an SDK read asks for first, so that both read from the
// same rows and the codec decodes them once).
func (s *Sim) checkDecode(b *wblob, systematic bool) {
	kp := s.p.SliverLen(blob.Secondary)
	var slivers []blob.Sliver
	var rows []int
	if systematic {
		for row := range s.p.N {
			rows = append(rows, row)
		}
	} else {
		rows = s.rng.Perm(s.p.N)
	}
	for _, row := range rows {
		if len(slivers) == kp {
			break
		}
		if sl := s.readPrimary(b.id, s.p.PairOf(blob.Primary, row)); sl != nil {
			slivers = append(slivers, *sl)
		}
	}
	key := "decode " + b.id.String()
	if len(slivers) < kp {
		s.violation(key, "certified blob %d (%s) has %d primary slivers on honest nodes, needs %d", b.n, short(b.id), len(slivers), kp)
		return
	}
	data, err := s.decode(b.id, b.enc.Length, slivers)
	if err != nil {
		s.violation(key, "certified blob %d (%s) does not decode: %v", b.n, short(b.id), err)
		return
	}
	if string(data) != string(b.data) {
		s.violation(key, "certified blob %d (%s) reads back different bytes", b.n, short(b.id))
	}
}

func short(id blob.ID) string { return strings.TrimSpace(id.String()[:10]) }

var errBadConfirmation = errors.New("a confirmation does not verify")
