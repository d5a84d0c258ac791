package sim

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
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
	Churn         float64       // chance, each epoch, that a node joins, and that a member leaves

	// ackBeforeSync makes nodes confirm uploads before syncing them: a
	// crash then loses acknowledged slivers (a test-only bug).
	ackBeforeSync bool
	// attestUnsynced makes nodes attest EpochSyncDone without fetching
	// the shards they gained (a test-only bug).
	attestUnsynced bool
	// neverAttest makes nodes sync without attesting it: no epoch change
	// is ever done (a test-only bug).
	neverAttest bool
}

// DefaultConfig is a small, fast run.
func DefaultConfig() Config {
	return Config{Nodes: 7, Shards: 10, Blobs: 20, Epochs: 5, EpochDuration: 30 * time.Second,
		MaxBlobSize: 4 << 10, CrashRate: 0.5, WipeRate: 0.1}
}

// Command is the weft sim command line that replays c.
func (c Config) Command() string {
	churn := ""
	if c.Churn > 0 {
		churn = " --churn " + strconv.FormatFloat(c.Churn, 'g', -1, 64)
	}
	return fmt.Sprintf("weft sim --seed %d --nodes %d --shards %d --blobs %d --epochs %d --epoch-duration %s --max-blob-size %d --crash-rate %s --wipe-rate %s%s",
		c.Seed, c.Nodes, c.Shards, c.Blobs, c.Epochs, c.EpochDuration, c.MaxBlobSize,
		strconv.FormatFloat(c.CrashRate, 'g', -1, 64), strconv.FormatFloat(c.WipeRate, 'g', -1, 64), churn)
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
	case c.CrashRate < 0 || c.WipeRate < 0:
		return errors.New("sim: fault rates must be ≥ 0")
	case c.Churn < 0 || c.Churn > 1:
		return errors.New("sim: churn must be 0..1")
	case c.Churn > 0 && c.EpochDuration < 20*time.Second:
		return errors.New("sim: churn needs an epoch of at least 20s")
	}
	return nil
}

// Summary is what a run found.
type Summary struct {
	Registered, Certified int
	Crashes, Wipes        int
	RecoveredSlivers      int
	RecoveryBytes         int64
	Violations            int

	// Churn: members that joined and left, shards that changed hands,
	// the bytes nodes fetched to sync the shards they gained against the
	// bytes of the pairs they lacked, epoch changes that had shards to
	// sync and the longest time one took to be done.
	Joined, Left, ShardsMoved int
	SyncBytes, NeededBytes    int64
	EpochChanges              int
	MaxDoneIn                 time.Duration
}

// stats are counted per epoch and in total.
type stats struct {
	registered, certified, crashes, wipes, recovered int
	recoveryBytes                                    int64
	violations                                       int
	joined, left, moved, changes                     int
	syncBytes, neededBytes                           int64
	doneIn                                           time.Duration // -1: no change to sync; -2: not done
}

func (s *stats) add(o stats) {
	s.registered += o.registered
	s.certified += o.certified
	s.crashes += o.crashes
	s.wipes += o.wipes
	s.recovered += o.recovered
	s.recoveryBytes += o.recoveryBytes
	s.violations += o.violations
	s.joined += o.joined
	s.left += o.left
	s.moved += o.moved
	s.changes += o.changes
	s.syncBytes += o.syncBytes
	s.neededBytes += o.neededBytes
	s.doneIn = max(s.doneIn, o.doneIn)
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
	cfg    Config
	out    io.Writer
	rng    *rand.Rand
	codec  *redstuff.Codec
	p      redstuff.Params
	f      int
	m      *control.Machine
	height int64
	cursor uint64 // the simulator's own event cursor (for the table)
	epoch  uint64
	admin  ed25519.PrivateKey
	nodes  []*node
	owner  []int // shard → node index
	com    *control.Committee
	byKey  map[control.PublicKey]int
	mem    []pendingTx
	w      *writer

	certified []*wblob // in certification order
	dirty     map[blob.ID]bool
	seen      map[string]bool
	epochStat stats
	total     stats
	err       error

	// The current epoch change, while it has shards to sync.
	changePending bool
	changeStart   time.Duration
	attested      map[int]bool // members that attested EpochSyncDone this epoch
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
		byKey: map[control.PublicKey]int{}, dirty: map[blob.ID]bool{}, seen: map[string]bool{},
		attested: map[int]bool{}, epochStat: stats{doneIn: -1}}
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
	fmt.Fprintf(out, "%5s %6s %5s %9s %7s %5s %9s %10s %10s", "epoch", "time", "blobs", "certified", "crashes", "wipes",
		"recovered", "rec-bytes", "violations")
	if cfg.Churn > 0 {
		fmt.Fprintf(out, " %6s %4s %5s %10s %7s", "joined", "left", "moved", "sync/need", "done-in")
	}
	fmt.Fprintln(out)
	end := time.Duration(cfg.Epochs) * cfg.EpochDuration
	s.w = newWriter(s)
	for i := 0; i < cfg.Blobs; i++ {
		s.at(time.Duration(s.rng.Int64N(int64(end*8/10))), s.w.start)
	}
	for _, nd := range s.nodes {
		phase := time.Duration(s.rng.Int64N(int64(syncInterval)))
		s.at(phase, nd.syncTick)
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
	s.row()
	t := s.total
	sum := Summary{Registered: t.registered, Certified: t.certified, Crashes: t.crashes, Wipes: t.wipes,
		RecoveredSlivers: t.recovered, RecoveryBytes: t.recoveryBytes, Violations: t.violations,
		Joined: t.joined, Left: t.left, ShardsMoved: t.moved, SyncBytes: t.syncBytes, NeededBytes: t.neededBytes,
		EpochChanges: t.changes, MaxDoneIn: max(t.doneIn, 0)}
	fmt.Fprintf(out, "summary: seed %d: %d blobs registered, %d certified, %d crashes, %d wipes, %d slivers recovered (%d bytes), %d violations\n",
		cfg.Seed, sum.Registered, sum.Certified, sum.Crashes, sum.Wipes, sum.RecoveredSlivers, sum.RecoveryBytes, sum.Violations)
	if cfg.Churn > 0 {
		fmt.Fprintf(out, "churn: %d joined, %d left, %d shards moved in %d epoch changes, synced %d of %d bytes needed (%s), longest change %s\n",
			sum.Joined, sum.Left, sum.ShardsMoved, sum.EpochChanges, sum.SyncBytes, sum.NeededBytes, ratio(sum.SyncBytes, sum.NeededBytes), sum.MaxDoneIn)
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
		Admin: control.KeyOf(s.admin), MaxEpochsAhead: uint64(s.cfg.Epochs + 2)}}
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
	for {
		evs, err := s.m.Events(s.cursor, 1000)
		if err != nil {
			s.fail(err)
			return
		}
		for _, ev := range evs {
			s.cursor = ev.Seq
			switch ev.Type {
			case control.EventBlobRegistered:
				s.epochStat.registered++
			case control.EventBlobCertified:
				s.epochStat.certified++
			case control.EventEpochChanged:
				if ev.Epoch <= s.epoch {
					continue // genesis
				}
				s.row()
				s.epoch = ev.Epoch
				if err := s.committee(); err != nil {
					s.fail(err)
				}
				s.epochChanged(ev)
			case control.EventEpochDone:
				s.epochDone(ev.Epoch)
			case control.EventEpochSyncDone:
				if i, ok := s.byKey[*ev.Node]; ok && ev.Epoch == s.epoch {
					s.attested[i] = true
					s.dropOld()
				}
			}
		}
		if len(evs) < 1000 {
			return
		}
	}
}

// row prints the current epoch's row and starts the next.
func (s *Sim) row() {
	e := s.epochStat
	fmt.Fprintf(s.out, "%5d %6s %5d %9d %7d %5d %9d %10d %10d", s.epoch, s.now, e.registered, e.certified, e.crashes, e.wipes,
		e.recovered, e.recoveryBytes, e.violations)
	if s.cfg.Churn > 0 {
		done := "-"
		switch {
		case s.changePending:
			done = "not done"
		case e.doneIn >= 0:
			done = e.doneIn.String()
		}
		fmt.Fprintf(s.out, " %6d %4d %5d %10s %7s", e.joined, e.left, e.moved, ratio(e.syncBytes, e.neededBytes), done)
	}
	fmt.Fprintln(s.out)
	s.total.add(e)
	s.epochStat = stats{doneIn: -1}
}

// faults injects crashes and wipes at their rates, every faultInterval,
// never degrading more than f shards' worth of nodes at once.
func (s *Sim) faults() {
	s.after(faultInterval, s.faults)
	per := float64(faultInterval) / float64(s.cfg.EpochDuration)
	for _, nd := range s.nodes {
		crash := s.rng.Float64() < s.cfg.CrashRate*per
		wipe := s.rng.Float64() < s.cfg.WipeRate*per
		if !crash && !wipe || !nd.up {
			continue
		}
		if s.degradedShards(nd)+nd.weight() > s.f {
			continue
		}
		down := time.Duration(2+s.rng.IntN(9)) * time.Second
		if wipe {
			s.epochStat.wipes++
			nd.wipe()
		} else {
			s.epochStat.crashes++
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
	s.epochStat.violations++
	fmt.Fprintf(s.out, "VIOLATION at %s: %s\n", s.now, fmt.Sprintf(format, args...))
}

// check runs the invariants after each instant's events.
func (s *Sim) check() {
	for _, b := range s.certified {
		if !s.dirty[b.id] {
			continue
		}
		delete(s.dirty, b.id)
		s.checkDecode(b)
	}
	for _, nd := range s.nodes {
		nd.checkAcked()
	}
	s.checkChange()
}

// checkDecode reads a certified blob back from the primary slivers that
// honest nodes hold.
func (s *Sim) checkDecode(b *wblob) {
	kp := s.p.SliverLen(blob.Secondary)
	var slivers []blob.Sliver
	for pair := 0; pair < s.p.N && len(slivers) < kp; pair++ {
		if sl := s.readPrimary(b.id, pair); sl != nil {
			slivers = append(slivers, *sl)
		}
	}
	key := "decode " + b.id.String()
	if len(slivers) < kp {
		s.violation(key, "certified blob %d (%s) has %d primary slivers on honest nodes, needs %d", b.n, short(b.id), len(slivers), kp)
		return
	}
	data, err := s.codec.Decode(b.id, b.enc.Length, slivers)
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
