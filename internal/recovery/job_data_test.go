package recovery

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/forge"
	"github.com/weftnet/weft/redstuff"
)

// TestJobData runs the scripts in testdata/job: a recovery job driven by
// hand over a simulated committee, printing each round's calls, what each
// answer did to the job, and the results. Answers go through the wire
// formats, as a node's would. Rewrite the expected output with -rewrite.
//
//	network shards=N nodes=M [self=I]   node i holds shards i, i+M, ...
//	blob name=a size=N [tampered]       stored on every node; tampered: the
//	                                    self node's primary sliver disagrees
//	                                    with its columns
//	lose blob=a [pair=P] primary|secondary|all
//	                                    self loses slivers (all: the pair's
//	                                    commitment too); without pair=, of
//	                                    every pair it holds
//	wipe                                self loses everything
//	new-job [margin=F] [max-rounds=N] [max-symbols=N]
//	round                               the next round's calls
//	answer [peer=(I, ...)] ok|lie|timeout|malformed|empty [at=(P, ...)]
//	                                    answers the pending calls (of those
//	                                    peers, else all): honestly, from
//	                                    corrupted slivers (at=: with only
//	                                    the symbols at those positions
//	                                    wrong), not at all, with a byte too
//	                                    many, or with nothing
//	results
func TestJobData(t *testing.T) {
	datadriven.Walk(t, "testdata/job", func(t *testing.T, path string) {
		d := &jobDriver{}
		datadriven.RunTest(t, path, d.run)
	})
}

type jobDriver struct {
	c       *redstuff.Codec
	peers   []Peer
	holders []*memHolder
	self    int
	blobs   []*redstuff.Encoded
	names   map[blob.ID]string
	// what the self node still has, by blob and pair
	have     map[blob.ID]map[int][2]bool
	noCommit map[blob.ID]map[int]bool

	job     *Job
	wants   []Want
	pending []Call
	rounds  int
}

func (x *jobDriver) run(t *testing.T, d *datadriven.TestData) string {
	if x.c == nil && d.Cmd != "network" {
		d.Fatalf(t, "%s before network", d.Cmd)
	}
	switch d.Cmd {
	case "network":
		return x.network(t, d)
	case "blob":
		return x.blob(t, d)
	case "lose":
		return x.lose(t, d)
	case "wipe":
		for _, e := range x.blobs {
			for pair := range x.have[e.ID] {
				x.have[e.ID][pair] = [2]bool{}
				x.noCommit[e.ID][pair] = true
			}
		}
		return x.state()
	case "new-job":
		return x.newJob(t, d)
	case "round":
		return x.round(t, d)
	case "answer":
		return x.answer(t, d)
	case "results":
		return x.results()
	}
	d.Fatalf(t, "unknown command %s", d.Cmd)
	return ""
}

func (x *jobDriver) network(t *testing.T, d *datadriven.TestData) string {
	*x = jobDriver{}
	var n, nodes int
	d.ScanArgs(t, "shards", &n)
	d.ScanArgs(t, "nodes", &nodes)
	d.MaybeScanArgs(t, "self", &x.self)
	c, err := redstuff.New(n)
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	x.c, x.names = c, map[blob.ID]string{}
	x.have, x.noCommit = map[blob.ID]map[int][2]bool{}, map[blob.ID]map[int]bool{}
	p := c.Params()
	var out strings.Builder
	fmt.Fprintf(&out, "%d shards, f=%d: a primary sliver is rebuilt from %d symbols, a secondary from %d\n",
		n, p.F, p.SliverLen(blob.Primary), p.SliverLen(blob.Secondary))
	for i := 0; i < nodes; i++ {
		h := &memHolder{c: c, shards: map[int]bool{}, blobs: map[blob.ID]*redstuff.Encoded{}, lost: map[blob.ID]map[int]bool{}}
		var shards []int
		for s := i; s < n; s += nodes {
			shards = append(shards, s)
			h.shards[s] = true
		}
		x.peers = append(x.peers, Peer{Shards: shards, Self: i == x.self})
		x.holders = append(x.holders, h)
		who := ""
		if i == x.self {
			who = " (self)"
		}
		fmt.Fprintf(&out, "node %d%s: shards %s\n", i, who, ints(shards))
	}
	return out.String()
}

// blobData is a blob's deterministic content.
func blobData(name string, size int) []byte {
	var out []byte
	for i := 0; len(out) < size; i++ {
		h := sha256.Sum256([]byte(name + "/" + strconv.Itoa(i)))
		out = append(out, h[:]...)
	}
	return out[:size]
}

func (x *jobDriver) blob(t *testing.T, d *datadriven.TestData) string {
	var name string
	var size int
	d.ScanArgs(t, "name", &name)
	d.ScanArgs(t, "size", &size)
	e, err := x.c.Encode(blobData(name, size))
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	p := x.c.Params()
	var out strings.Builder
	if d.HasArg("tampered") {
		e, _, err = forge.TamperForShard(x.c, e, x.peers[x.self].Shards[0], 0)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
	}
	x.blobs = append(x.blobs, e)
	x.names[e.ID] = name
	for _, h := range x.holders {
		h.blobs[e.ID] = e
		h.lost[e.ID] = map[int]bool{}
	}
	x.have[e.ID], x.noCommit[e.ID] = map[int][2]bool{}, map[int]bool{}
	fmt.Fprintf(&out, "%s: %d bytes, %d-byte symbols\n", name, size, p.SymbolSize(e.Length))
	for _, s := range x.peers[x.self].Shards {
		pair := p.PairAt(e.ID, s)
		x.have[e.ID][pair] = [2]bool{true, true}
		fmt.Fprintf(&out, "self holds pair %d on shard %d: primary %d, secondary %d\n", pair, s, p.PrimaryOf(pair), p.SecondaryOf(pair))
	}
	if d.HasArg("tampered") {
		fmt.Fprintf(&out, "tampered: primary sliver %d disagrees with its columns\n", p.PrimaryOf(p.PairAt(e.ID, x.peers[x.self].Shards[0])))
	}
	return out.String()
}

func (x *jobDriver) byName(t *testing.T, d *datadriven.TestData, name string) *redstuff.Encoded {
	for _, e := range x.blobs {
		if x.names[e.ID] == name {
			return e
		}
	}
	d.Fatalf(t, "no blob %s", name)
	return nil
}

func (x *jobDriver) lose(t *testing.T, d *datadriven.TestData) string {
	var name string
	d.ScanArgs(t, "blob", &name)
	e := x.byName(t, d, name)
	pairs := slices.Sorted(maps.Keys(x.have[e.ID]))
	if d.HasArg("pair") {
		var pair int
		d.ScanArgs(t, "pair", &pair)
		if _, ok := x.have[e.ID][pair]; !ok {
			d.Fatalf(t, "self holds no pair %d of %s", pair, name)
		}
		pairs = []int{pair}
	}
	for _, pair := range pairs {
		h := x.have[e.ID][pair]
		switch {
		case d.HasArg("primary"):
			h[blob.Primary] = false
		case d.HasArg("secondary"):
			h[blob.Secondary] = false
		case d.HasArg("all"):
			h = [2]bool{}
			x.noCommit[e.ID][pair] = true
		default:
			d.Fatalf(t, "lose: say primary, secondary or all")
		}
		x.have[e.ID][pair] = h
	}
	return x.state()
}

// state prints what the self node holds.
func (x *jobDriver) state() string {
	var out strings.Builder
	for _, e := range x.blobs {
		for _, pair := range slices.Sorted(maps.Keys(x.have[e.ID])) {
			h := x.have[e.ID][pair]
			fmt.Fprintf(&out, "%s pair %d: primary %s, secondary %s, commitment %s\n", x.names[e.ID], pair,
				held(h[blob.Primary]), held(h[blob.Secondary]), held(!x.noCommit[e.ID][pair]))
		}
	}
	return out.String()
}

func held(ok bool) string {
	if ok {
		return "held"
	}
	return "lost"
}

func (x *jobDriver) newJob(t *testing.T, d *datadriven.TestData) string {
	var o Options
	d.MaybeScanArgs(t, "margin", &o.Margin)
	d.MaybeScanArgs(t, "max-rounds", &o.MaxRounds)
	d.MaybeScanArgs(t, "max-symbols", &o.MaxRequestSymbols)
	x.wants = nil
	var out strings.Builder
	for _, e := range x.blobs {
		w := Want{ID: e.ID, Length: e.Length}
		var todo []string
		for _, pair := range slices.Sorted(maps.Keys(x.have[e.ID])) {
			wp := WantPair{Pair: pair, Have: x.have[e.ID][pair]}
			if !x.noCommit[e.ID][pair] {
				wp.Commitment = &e.Pairs[pair]
			}
			w.Pairs = append(w.Pairs, wp)
			for k, ok := range wp.Have {
				if !ok {
					todo = append(todo, fmt.Sprintf("%s %d", blob.SliverKind(k), x.sliverIndex(blob.SliverKind(k), pair)))
				}
			}
		}
		x.wants = append(x.wants, w)
		if len(todo) == 0 {
			todo = []string{"nothing"}
		}
		fmt.Fprintf(&out, "%s: rebuild %s\n", x.names[e.ID], strings.Join(todo, ", "))
	}
	x.job = NewJob(x.c, x.peers, x.wants, o)
	x.pending, x.rounds = nil, 0
	return out.String()
}

func (x *jobDriver) sliverIndex(k blob.SliverKind, pair int) int {
	if k == blob.Primary {
		return x.c.Params().PrimaryOf(pair)
	}
	return x.c.Params().SecondaryOf(pair)
}

func (x *jobDriver) round(t *testing.T, d *datadriven.TestData) string {
	if x.job == nil {
		d.Fatalf(t, "round before new-job")
	}
	if len(x.pending) > 0 {
		d.Fatalf(t, "%d calls of the last round are unanswered", len(x.pending))
	}
	calls := x.job.Round()
	if len(calls) == 0 {
		return "no calls: the job is over\n"
	}
	x.rounds++
	x.pending = calls
	var out strings.Builder
	fmt.Fprintf(&out, "round %d: %s\n", x.rounds, plural(len(calls), "call"))
	for _, c := range calls {
		fmt.Fprintf(&out, "  peer %d: %s\n", c.Peer, x.describe(c.Req))
	}
	return out.String()
}

// describe prints a request: per blob, the commitments it asks for and
// its items as "<source kind> <index> @<positions>".
func (x *jobDriver) describe(r *Request) string {
	var parts []string
	for _, b := range r.Blobs {
		var asks []string
		for _, q := range b.Commitments {
			asks = append(asks, fmt.Sprintf("commitment of pair %d", q))
		}
		for _, it := range b.Items {
			s := fmt.Sprintf("%s %d @%s", it.Source, it.Index, ints(it.Positions))
			if it.Proofs {
				s += " with proofs"
			}
			asks = append(asks, s)
		}
		if len(asks) == 0 {
			asks = []string{"nothing"}
		}
		parts = append(parts, x.names[b.ID]+": "+strings.Join(asks, "; "))
	}
	return strings.Join(parts, " | ")
}

var errTimeout = errors.New("timed out")

func (x *jobDriver) answer(t *testing.T, d *datadriven.TestData) string {
	var peers []int
	if arg, ok := d.Arg("peer"); ok {
		for _, v := range arg.Vals {
			p, err := strconv.Atoi(v)
			if err != nil {
				d.Fatalf(t, "peer=%s: %v", v, err)
			}
			peers = append(peers, p)
		}
	}
	var at map[int]bool
	if arg, ok := d.Arg("at"); ok {
		at = map[int]bool{}
		for _, v := range arg.Vals {
			p, err := strconv.Atoi(v)
			if err != nil {
				d.Fatalf(t, "at=%s: %v", v, err)
			}
			at[p] = true
		}
	}
	mode := ""
	for _, a := range d.CmdArgs {
		if len(a.Vals) == 0 {
			mode = a.Key
		}
	}
	var out strings.Builder
	var rest []Call
	for _, c := range x.pending {
		if peers != nil && !slices.Contains(peers, c.Peer) {
			rest = append(rest, c)
			continue
		}
		before := x.job.Liars()[c.Peer]
		var resp *Response
		var err error
		switch mode {
		case "ok", "lie", "malformed", "empty":
			m := x.holders[c.Peer]
			var h Holder = m
			switch {
			case mode == "lie":
				h = &memHolder{c: m.c, shards: m.shards, blobs: m.blobs, lost: m.lost, corrupt: at == nil}
			case mode == "empty":
				h = &memHolder{c: m.c, shards: m.shards, blobs: m.blobs, lost: allLost(m)}
			case c.Peer == x.self:
				h = selfHolder{m, x}
			}
			head, body, _, serr := Serve(x.c, h, c.Req, Limits{MaxBytes: 1 << 30})
			if serr != nil {
				d.Fatalf(t, "serve: %v", serr)
			}
			raw := append(head, body...)
			if mode == "malformed" {
				raw = append(raw, 0)
			}
			resp, err = DecodeResponse(c.Req, raw)
			if mode == "lie" && at != nil && err == nil {
				corruptAt(c.Req, resp, at)
			}
		case "timeout":
			err = errTimeout
		default:
			d.Fatalf(t, "answer: say ok, lie, timeout, malformed or empty")
		}
		x.job.Deliver(c, resp, err)
		fmt.Fprintf(&out, "peer %d: %s", c.Peer, mode)
		if resp != nil {
			fmt.Fprintf(&out, " (%s)", summary(resp))
		}
		if why := x.job.Liars()[c.Peer]; why != "" && before == "" {
			fmt.Fprintf(&out, " -> banned: %s", x.rename(why))
		}
		out.WriteString("\n")
	}
	x.pending = rest
	if out.Len() == 0 {
		d.Fatalf(t, "no pending call to answer")
	}
	return out.String()
}

// corruptAt flips a byte of every symbol of resp at one of the positions
// in at.
func corruptAt(req *Request, resp *Response, at map[int]bool) {
	for i := range resp.Blobs {
		for k := range resp.Blobs[i].Items {
			a := &resp.Blobs[i].Items[k]
			for m, pos := range req.Blobs[i].Items[k].Positions {
				if a.Missing == Present && at[int(pos)] {
					a.Symbols[m][0] ^= 0x5a
				}
			}
		}
	}
}

// allLost marks every pair of every blob lost.
func allLost(h *memHolder) map[blob.ID]map[int]bool {
	lost := map[blob.ID]map[int]bool{}
	for id := range h.blobs {
		lost[id] = map[int]bool{}
		for p := 0; p < h.c.Params().N; p++ {
			lost[id][p] = true
		}
	}
	return lost
}

// summary counts what an answer carries and what it lacks.
func summary(r *Response) string {
	var present, missing int
	var reasons []string
	note := func(m Reason) {
		if m == Present {
			present++
			return
		}
		missing++
		if !slices.Contains(reasons, m.String()) {
			reasons = append(reasons, m.String())
		}
	}
	for _, b := range r.Blobs {
		for _, c := range b.Commitments {
			note(c.Missing)
		}
		for _, it := range b.Items {
			note(it.Missing)
		}
	}
	s := fmt.Sprintf("%d present", present)
	if missing > 0 {
		s += fmt.Sprintf(", %d missing: %s", missing, strings.Join(reasons, ", "))
	}
	return s
}

// rename replaces blob IDs in text with the blobs' names.
func (x *jobDriver) rename(s string) string {
	for id, name := range x.names {
		s = strings.ReplaceAll(s, id.String(), name)
	}
	return s
}

func (x *jobDriver) results() string {
	var out strings.Builder
	p := x.c.Params()
	for _, r := range x.job.Results() {
		name := x.names[r.ID]
		e := x.byID(r.ID)
		var got []string
		for _, s := range r.Slivers {
			want := e.Sliver(s.Sliver.Kind, int(s.Sliver.Index))
			c1, _ := s.Commitment.MarshalBinary()
			c2, _ := e.Pairs[s.Pair].MarshalBinary()
			verdict := "as encoded"
			if p.PairOf(s.Sliver.Kind, int(s.Sliver.Index)) != s.Pair || !bytes.Equal(want.Data, s.Sliver.Data) || !bytes.Equal(c1, c2) {
				verdict = "NOT AS ENCODED"
			}
			got = append(got, fmt.Sprintf("%s %d (%s)", s.Sliver.Kind, s.Sliver.Index, verdict))
		}
		if len(got) == 0 {
			got = []string{"nothing"}
		}
		fmt.Fprintf(&out, "%s: rebuilt %s\n", name, strings.Join(got, ", "))
		switch {
		case r.Err == nil:
			fmt.Fprintf(&out, "%s: complete\n", name)
		default:
			fmt.Fprintf(&out, "%s: %s\n", name, x.rename(r.Err.Error()))
		}
		if r.Proof != nil {
			fmt.Fprintf(&out, "%s: inconsistency proof (%d symbols): %s\n", name, len(r.Proof.Symbols), verdict(x.c.VerifyInconsistencyProof(r.ID, e.Length, r.Proof)))
		}
		if r.PairsProof != nil {
			fmt.Fprintf(&out, "%s: pairs inconsistency proof (pairs %s): %s\n", name, ints(r.PairsProof.Pairs), verdict(x.c.VerifyPairsInconsistencyProof(r.ID, e.Length, r.PairsProof)))
		}
	}
	liars := x.job.Liars()
	for _, p := range slices.Sorted(maps.Keys(liars)) {
		fmt.Fprintf(&out, "liar: peer %d %s\n", p, x.rename(liars[p]))
	}
	if f := x.job.Failed(); len(f) > 0 {
		fmt.Fprintf(&out, "failed: peers %s\n", ints(f))
	}
	for _, id := range x.job.CorruptLocal() {
		fmt.Fprintf(&out, "own slivers rotted: %s\n", x.names[id])
	}
	return out.String()
}

func verdict(err error) string {
	if err != nil {
		return "does not verify: " + err.Error()
	}
	return "verifies against the blob ID"
}

func (x *jobDriver) byID(id blob.ID) *redstuff.Encoded {
	for _, e := range x.blobs {
		if e.ID == id {
			return e
		}
	}
	return nil
}

func ints[T int | uint32](v []T) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(int(x))
	}
	return "(" + strings.Join(s, ", ") + ")"
}

// selfHolder serves the self node's own calls from what it still has.
type selfHolder struct {
	*memHolder
	x *jobDriver
}

func (h selfHolder) Sliver(id blob.ID, pair int, k blob.SliverKind) (*blob.Sliver, *blob.PairCommitment, error) {
	if !h.x.have[id][pair][k] || h.x.noCommit[id][pair] {
		return nil, nil, ErrNotStored
	}
	return h.memHolder.Sliver(id, pair, k)
}

func (h selfHolder) Commitment(id blob.ID, pair int) (*blob.PairCommitment, error) {
	if h.x.noCommit[id][pair] {
		return nil, ErrNotStored
	}
	return h.memHolder.Commitment(id, pair)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
