package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/cpuid/v2"
	"github.com/klauspost/reedsolomon"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/recovery"
	"github.com/weftnet/weft/redstuff"
)

// RepairConfig says what the repair benchmark measures.
type RepairConfig struct {
	Shards []int   // shard counts; default 10, 100, 1000
	Sizes  []int64 // blob sizes; default 1 MiB, 16 MiB, 64 MiB, 256 MiB
	// MinTime is spent at least on each measurement, of at least three
	// timed runs; the median is kept. Default 1s.
	MinTime time.Duration

	minRuns int // timed runs at least; default 3 (tests, which check bytes, not time, take 1)
}

func (c *RepairConfig) defaults() {
	if len(c.Shards) == 0 {
		c.Shards = []int{10, 100, 1000}
	}
	if len(c.Sizes) == 0 {
		c.Sizes = []int64{1 << 20, 16 << 20, 64 << 20, 256 << 20}
	}
	if c.MinTime <= 0 {
		c.MinTime = time.Second
	}
	if c.minRuns <= 0 {
		c.minRuns = 3
	}
}

// Validate reports shard counts the codec refuses and sizes below one
// byte.
func (c *RepairConfig) Validate() error {
	for _, n := range c.Shards {
		if _, err := redstuff.NewParams(n); err != nil {
			return fmt.Errorf("bench: %d shards: %w", n, err)
		}
	}
	for _, size := range c.Sizes {
		if size < 1 {
			return fmt.Errorf("bench: blob size %d: at least 1 byte", size)
		}
	}
	return nil
}

// A node recovering after a disk loss rebuilds many blobs in one job, one
// call per peer for the whole batch: the bench rebuilds about this many
// bytes of blobs per job, in at most maxBatch blobs.
const (
	batchBytes = 64 << 20
	maxBatch   = 64
)

// repairBatch is the number of blobs of the given size rebuilt in one job.
func repairBatch(size int64) int {
	if size <= 0 {
		return maxBatch
	}
	return int(min(max(1, batchBytes/size), maxBatch))
}

// RepairResult is one row of the repair table. The Weft figures are over
// a batch of Batch blobs, one pair each; the classic ones over one blob.
type RepairResult struct {
	Shards    int
	Size      int64
	Batch     int   // blobs rebuilt in one Weft job
	PairBytes int64 // one sliver pair: (ks + kp) symbols

	WeftRecv        int64         // response bytes from peers, head and body
	WeftSymbols     int64         // of which recovery symbols
	WeftCommitments int64         // of which commitments (and proofs, had any been asked)
	WeftSent        int64         // request bytes to peers
	WeftCalls       int           // calls to peers
	WeftRounds      int           // rounds of the job
	WeftTime        time.Duration // one job over the whole batch, serving included

	ClassicK     int           // data shards, n − 2f
	ClassicShard int64         // bytes of one shard
	ClassicRecv  int64         // k shards downloaded
	ClassicTime  time.Duration // reconstruction of one lost shard
}

// WeftHeads returns the response bytes that are neither symbols nor
// commitments: the per-call headers.
func (r RepairResult) WeftHeads() int64 { return r.WeftRecv - r.WeftSymbols - r.WeftCommitments }

// WeftRatio is bytes received over bytes rebuilt, for the whole batch.
func (r RepairResult) WeftRatio() float64 {
	return float64(r.WeftRecv) / float64(int64(r.Batch)*r.PairBytes)
}

// WeftRecvPerPair is the bytes received per pair rebuilt.
func (r RepairResult) WeftRecvPerPair() int64 { return r.WeftRecv / int64(r.Batch) }

// WeftTimePerPair is the job's time per pair rebuilt.
func (r RepairResult) WeftTimePerPair() time.Duration { return r.WeftTime / time.Duration(r.Batch) }

// ClassicRatio is bytes downloaded over bytes rebuilt: k.
func (r RepairResult) ClassicRatio() float64 { return float64(r.ClassicRecv) / float64(r.ClassicShard) }

// Factor is how many times more bytes a node downloads to rebuild its
// lost shard with classic Reed–Solomon than its lost pair with Weft.
func (r RepairResult) Factor() float64 {
	return float64(r.ClassicRecv) * float64(r.Batch) / float64(r.WeftRecv)
}

// Repair measures self-healing against classic Reed–Solomon repair. Weft:
// a committee of n nodes holding one shard each; node 0 lost everything
// (slivers and commitments) and rebuilds its pair of every blob of a batch
// in one recovery.Job, its calls served by in-memory peers through the
// wire formats. Classic: one-dimensional Reed–Solomon with the same
// reconstruction threshold k = n − 2f, one lost shard rebuilt from k
// others. The table is written to w a row at a time.
func Repair(w io.Writer, cfg RepairConfig) ([]RepairResult, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "weft bench repair: %s, GOMAXPROCS=%d, %s\n", cpuid.CPU.BrandName, runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Fprintf(w, "weft: node 0 of n (one shard each) lost its slivers and commitments; one job rebuilds its pair of each blob of a batch, peers serving in parallel in this process\n")
	fmt.Fprintf(w, "classic: 1-D Reed–Solomon (Leopard GF(2^16)) with k = n−2f rebuilds one lost shard from k shards; ratio = bytes received / bytes rebuilt\n\n")
	const header = "%6s %8s %5s %9s | %10s %10s %6s %9s | %12s %6s %9s | %12s\n"
	fmt.Fprintf(w, header, "shards", "size", "batch", "pair", "weft recv", "weft sent", "ratio", "time", "classic recv", "ratio", "time", "classic/weft")
	fmt.Fprintf(w, header, "", "", "blobs", "", "per pair", "per pair", "", "per pair", "per shard", "", "per shard", "recv")
	var results []RepairResult
	for _, n := range cfg.Shards {
		for _, size := range cfg.Sizes {
			r, err := repairOne(n, size, &cfg)
			if err != nil {
				return results, fmt.Errorf("bench: repair n=%d size=%d: %w", n, size, err)
			}
			results = append(results, r)
			fmt.Fprintf(w, "%6d %8s %5d %9s | %10s %10s %6.3f %9s | %12s %6.0f %9s | %11.1fx\n",
				n, FormatSize(size), r.Batch, FormatSize(r.PairBytes),
				FormatSize(r.WeftRecvPerPair()), FormatSize(r.WeftSent/int64(r.Batch)), r.WeftRatio(), formatDuration(r.WeftTimePerPair()),
				FormatSize(r.ClassicRecv), r.ClassicRatio(), formatDuration(r.ClassicTime), r.Factor())
		}
	}
	return results, nil
}

// repeatN runs fn until minTime has passed and at least runs times, and
// returns the median duration.
func repeatN(minTime time.Duration, runs int, fn func() error) (time.Duration, error) {
	var ds []time.Duration
	start := time.Now()
	for len(ds) < runs || time.Since(start) < minTime {
		t0 := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}

// repairBlob returns the i-th random blob of a row: distinct per shard
// count, size and i, the same from run to run.
func repairBlob(n int, size int64, i int) []byte {
	var seed [32]byte
	copy(seed[:], "weft repair")
	binary.BigEndian.PutUint64(seed[12:], uint64(n))
	binary.BigEndian.PutUint64(seed[20:], uint64(size))
	binary.BigEndian.PutUint32(seed[28:], uint32(i))
	data := make([]byte, size)
	_, _ = rand.NewChaCha8(seed).Read(data)
	return data
}

func repairOne(n int, size int64, cfg *RepairConfig) (RepairResult, error) {
	r := RepairResult{Shards: n, Size: size, Batch: repairBatch(size)}
	codec, err := redstuff.New(n)
	if err != nil {
		return r, err
	}
	p := codec.Params()
	r.PairBytes = int64(p.Ks+p.Kp) * int64(p.SymbolSize(uint64(size)))

	data := make([][]byte, r.Batch)
	for i := range data {
		data[i] = repairBlob(n, size, i)
	}
	if err := classicRepair(&r, p, data[0], cfg); err != nil {
		return r, fmt.Errorf("classic: %w", err)
	}
	runtime.GC() // hand back the classic shards before the batch is encoded

	net := newRepairNet(codec, n)
	defer net.release()
	for _, d := range data {
		e, err := codec.Encode(d)
		if err != nil {
			return r, err
		}
		net.add(e)
	}
	if err := net.measure(&r, cfg); err != nil {
		return r, fmt.Errorf("weft: %w", err)
	}
	return r, nil
}

// classicRepair measures one-dimensional Reed–Solomon repair of one blob:
// shard 0 is lost and rebuilt from shards 1..k.
func classicRepair(r *RepairResult, p redstuff.Params, data []byte, cfg *RepairConfig) error {
	k := p.Kp
	enc, err := reedsolomon.New(k, p.N-k, reedsolomon.WithLeopardGF16(true))
	if err != nil {
		return err
	}
	shards, err := enc.Split(data)
	if err != nil {
		return err
	}
	if err := enc.Encode(shards); err != nil {
		return err
	}
	lost := bytes.Clone(shards[0])
	r.ClassicK, r.ClassicShard = k, int64(len(lost))
	r.ClassicRecv = int64(k) * r.ClassicShard
	// What the node downloaded: k shards other than the lost one.
	have := make([][]byte, len(shards))
	copy(have[1:k+1], shards[1:k+1])
	buf := make([]byte, len(lost))
	in := make([][]byte, len(shards))
	var rebuilt []byte
	r.ClassicTime, err = repeatN(cfg.MinTime, cfg.minRuns, func() error {
		copy(in, have)
		in[0] = buf[:0] // reused by the reconstruction
		if err := enc.ReconstructData(in); err != nil {
			return err
		}
		rebuilt = in[0]
		return nil
	})
	if err != nil {
		return err
	}
	if !bytes.Equal(rebuilt, lost) {
		return fmt.Errorf("the rebuilt shard differs from the lost one")
	}
	return nil
}

// repairNet is a committee of n in-memory nodes holding one shard each;
// node 0 lost everything. Every node serves from the same encoded blobs.
type repairNet struct {
	c       *redstuff.Codec
	peers   []recovery.Peer
	holders []*memHolder
	blobs   map[blob.ID]*redstuff.Encoded
	order   []*redstuff.Encoded
}

func newRepairNet(c *redstuff.Codec, n int) *repairNet {
	net := &repairNet{c: c, blobs: map[blob.ID]*redstuff.Encoded{}}
	for i := 0; i < n; i++ {
		net.peers = append(net.peers, recovery.Peer{Shards: []int{i}, Self: i == 0})
		net.holders = append(net.holders, &memHolder{p: c.Params(), shard: i, blobs: net.blobs, lost: i == 0})
	}
	return net
}

func (net *repairNet) add(e *redstuff.Encoded) {
	net.blobs[e.ID] = e
	net.order = append(net.order, e)
}

func (net *repairNet) release() {
	for _, e := range net.order {
		e.Release()
	}
	net.order, net.blobs = nil, nil
}

// wants lists node 0's pair of every blob, with nothing stored.
func (net *repairNet) wants() []recovery.Want {
	p := net.c.Params()
	out := make([]recovery.Want, 0, len(net.order))
	for _, e := range net.order {
		out = append(out, recovery.Want{ID: e.ID, Length: e.Length, Pairs: []recovery.WantPair{{Pair: p.PairAt(e.ID, 0)}}})
	}
	return out
}

// measure runs the job once, checked and its bytes counted, which also
// warms the heap and the codec's buffers (a cold run of a big batch is
// several times slower, faulting in fresh memory); then it times the job.
func (net *repairNet) measure(r *RepairResult, cfg *RepairConfig) error {
	wants := net.wants()
	var traffic repairTraffic
	res, err := net.run(recovery.NewJob(net.c, net.peers, wants, recovery.Options{}), &traffic)
	if err != nil {
		return err
	}
	if err := net.check(wants, res); err != nil {
		return err
	}
	r.WeftRecv, r.WeftSymbols, r.WeftCommitments = traffic.recv, traffic.symbols, traffic.recv-traffic.symbols-traffic.heads
	r.WeftSent, r.WeftCalls, r.WeftRounds = traffic.sent, traffic.calls, traffic.rounds
	r.WeftTime, err = repeatN(cfg.MinTime, cfg.minRuns, func() error {
		_, err := net.run(recovery.NewJob(net.c, net.peers, wants, recovery.Options{}), &repairTraffic{})
		return err
	})
	return err
}

// repairTraffic counts what crossed the network: calls to node 0 itself
// do not count.
type repairTraffic struct {
	rounds, calls              int
	sent, recv, symbols, heads int64
}

// answer is a peer's answer to one call, and its size on the wire.
type answer struct {
	sent, recv, head int
	resp             *recovery.Response
	err              error
}

// run drives a job to its end. The calls of a round are served in
// parallel, as peers on their own machines would, and their answers
// delivered in order.
func (net *repairNet) run(job *recovery.Job, t *repairTraffic) ([]recovery.Result, error) {
	workers := runtime.GOMAXPROCS(0)
	for calls := job.Round(); len(calls) > 0; calls = job.Round() {
		t.rounds++
		answers := make([]answer, len(calls))
		var next atomic.Int64
		var wg sync.WaitGroup
		for range min(workers, len(calls)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1) - 1); i < len(calls); i = int(next.Add(1) - 1) {
					answers[i] = net.serve(calls[i])
				}
			}()
		}
		wg.Wait()
		for i, call := range calls {
			a := &answers[i]
			if a.err != nil {
				return nil, fmt.Errorf("call to peer %d: %w", call.Peer, a.err)
			}
			if !net.peers[call.Peer].Self {
				t.calls++
				t.sent += int64(a.sent)
				t.recv += int64(a.recv)
				t.heads += int64(a.head)
				for _, b := range a.resp.Blobs {
					for _, it := range b.Items {
						for _, s := range it.Symbols {
							t.symbols += int64(len(s))
						}
					}
				}
			}
			job.Deliver(call, a.resp, nil)
		}
	}
	return job.Results(), nil
}

// serve answers one call through the wire formats, as a peer would.
func (net *repairNet) serve(call recovery.Call) answer {
	raw, err := call.Req.MarshalBinary()
	if err != nil {
		return answer{err: err}
	}
	req, err := recovery.DecodeRequest(raw, 1<<30)
	if err != nil {
		return answer{err: err}
	}
	head, body, _, err := recovery.Serve(net.c, net.holders[call.Peer], req, recovery.Limits{MaxBytes: 1 << 30})
	if err != nil {
		return answer{err: err}
	}
	resp, err := recovery.DecodeResponse(call.Req, append(head, body...))
	return answer{sent: len(raw), recv: len(head) + len(body), head: len(head), resp: resp, err: err}
}

// check verifies that every blob was rebuilt, its pair exactly as the
// encoder made it.
func (net *repairNet) check(wants []recovery.Want, results []recovery.Result) error {
	if len(results) != len(wants) {
		return fmt.Errorf("%d results for %d blobs", len(results), len(wants))
	}
	p := net.c.Params()
	for i, res := range results {
		if res.Err != nil {
			return res.Err
		}
		e := net.order[i]
		if len(res.Slivers) != 2 {
			return fmt.Errorf("blob %v: %d slivers rebuilt, want 2", e.ID, len(res.Slivers))
		}
		for _, s := range res.Slivers {
			want := e.Sliver(s.Sliver.Kind, int(s.Sliver.Index))
			if s.Pair != wants[i].Pairs[0].Pair || p.PairOf(s.Sliver.Kind, int(s.Sliver.Index)) != s.Pair ||
				want.SymbolSize != s.Sliver.SymbolSize || !bytes.Equal(want.Data, s.Sliver.Data) {
				return fmt.Errorf("blob %v: rebuilt %s sliver %d differs from the encoder's", e.ID, s.Sliver.Kind, s.Sliver.Index)
			}
			got, _ := s.Commitment.MarshalBinary()
			exp, _ := e.Pairs[s.Pair].MarshalBinary()
			if !bytes.Equal(got, exp) {
				return fmt.Errorf("blob %v: commitment of pair %d differs from the encoder's", e.ID, s.Pair)
			}
		}
	}
	return nil
}

// memHolder serves the slivers of one shard from the encoded blobs.
type memHolder struct {
	p     redstuff.Params
	shard int
	blobs map[blob.ID]*redstuff.Encoded // shared by every holder, read only
	lost  bool                          // lost everything
}

func (h *memHolder) Length(id blob.ID) (uint64, bool, error) {
	e, ok := h.blobs[id]
	if !ok {
		return 0, false, nil
	}
	return e.Length, true, nil
}

func (h *memHolder) Holds(id blob.ID, pair int) bool { return h.p.ShardOf(id, pair) == h.shard }

func (h *memHolder) Sliver(id blob.ID, pair int, k blob.SliverKind) (*blob.Sliver, *blob.PairCommitment, error) {
	e, ok := h.blobs[id]
	if !ok || h.lost {
		return nil, nil, recovery.ErrNotStored
	}
	idx := h.p.PrimaryOf(pair)
	if k == blob.Secondary {
		idx = h.p.SecondaryOf(pair)
	}
	sl := e.Sliver(k, idx)
	return &sl, &e.Pairs[pair], nil
}

func (h *memHolder) Commitment(id blob.ID, pair int) (*blob.PairCommitment, error) {
	e, ok := h.blobs[id]
	if !ok || h.lost {
		return nil, recovery.ErrNotStored
	}
	return &e.Pairs[pair], nil
}
