package control

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/weftnet/weft/blob"
)

// TestMachineData runs the scripts in testdata/machine: a Machine over a
// MemStore driven block by block, printing each transaction's result and
// every event the machine emits, so that a change of behaviour shows as
// a diff of readable text. Keys and blob IDs print as the names the
// script gives them. Rewrite the expected output with -rewrite.
//
// Each transaction command is one block, one second after the previous
// one (after=D for another gap); `block` takes several, a line each.
//
//	genesis shards=N nodes=(a, b, ...) [weights=(1, 2, ...)] [epoch-duration=D]
//	register-node node=x
//	set-weight node=x weight=N [by=admin]
//	leave node=x
//	sync-done node=x [epoch=N]
//	advance-epoch [epoch=N] [by=admin]
//	register-blob blob=a owner=o end=N [deletable] [size=N]
//	certify blob=a [signers=(x, ...)] [epoch=N]     default: every member
//	invalidate blob=a [signers=(x, ...)] [epoch=N]  default: every member
//	delete-blob blob=a owner=o
//	extend-blob blob=a owner=o end=N
//	tick [after=D]                                  an empty block
//	block [after=D]                                 transactions, a line each
//	committee [epoch=N]                             members, shards, moves
//	blob a                                          the blob's record
//	events [after=N] [limit=N]                      stored events
func TestMachineData(t *testing.T) {
	datadriven.Walk(t, "testdata/machine", func(t *testing.T, path string) {
		x := &machineDriver{}
		datadriven.RunTest(t, path, x.run)
	})
}

type machineDriver struct {
	m      *Machine
	store  *MemStore
	height int64
	now    time.Time
	nonce  uint64
	keys   map[string]ed25519.PrivateKey
	names  map[PublicKey]string
	blobs  map[string]blob.ID
	roots  map[blob.ID]blob.Hash
	bnames map[blob.ID]string
}

const dataNetwork = "weft-data"

func (x *machineDriver) key(name string) ed25519.PrivateKey {
	if k, ok := x.keys[name]; ok {
		return k
	}
	k := testKey(name)
	x.keys[name], x.names[KeyOf(k)] = k, name
	return k
}

func (x *machineDriver) name(k PublicKey) string {
	if n, ok := x.names[k]; ok {
		return n
	}
	return k.Short()
}

// blob names a test blob: its root is H(name), its length size.
func (x *machineDriver) blob(name string, size uint64) blob.ID {
	if id, ok := x.blobs[name]; ok {
		return id
	}
	root := blob.Hash(sha256.Sum256([]byte("blob " + name)))
	id := blob.ComputeID(blob.RS2D16, size, root)
	x.blobs[name], x.roots[id], x.bnames[id] = id, root, name
	return id
}

// rename replaces keys and blob IDs in text with their names.
func (x *machineDriver) rename(s string) string {
	for k, n := range x.names {
		s = strings.ReplaceAll(strings.ReplaceAll(s, k.String(), n), k.Short(), n)
	}
	for id, n := range x.bnames {
		s = strings.ReplaceAll(s, id.String(), n)
	}
	return s
}

func (x *machineDriver) run(t *testing.T, d *datadriven.TestData) string {
	if x.m == nil && d.Cmd != "genesis" {
		d.Fatalf(t, "%s before genesis", d.Cmd)
	}
	switch d.Cmd {
	case "genesis":
		return x.genesis(t, d)
	case "tick":
		return x.block(t, x.after(t, d), nil)
	case "block":
		var txs []*datadriven.TestData
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			txs = append(txs, parseLine(t, d, line))
		}
		return x.block(t, x.after(t, d), txs)
	case "committee":
		return x.committee(t, d)
	case "blob":
		if len(d.CmdArgs) != 1 {
			d.Fatalf(t, "blob NAME")
		}
		return x.blobInfo(d.CmdArgs[0].Key)
	case "events":
		var after uint64
		limit := 1000
		d.MaybeScanArgs(t, "after", &after)
		d.MaybeScanArgs(t, "limit", &limit)
		evs, err := x.m.Events(after, limit)
		if err != nil {
			return "error: " + x.rename(err.Error()) + "\n"
		}
		var out strings.Builder
		for _, ev := range evs {
			out.WriteString(x.event(ev) + "\n")
		}
		fmt.Fprintf(&out, "next seq %d\n", x.m.NextSeq())
		return out.String()
	}
	return x.block(t, x.after(t, d), []*datadriven.TestData{d})
}

// parseLine reads one line of a block as a command.
func parseLine(t *testing.T, d *datadriven.TestData, line string) *datadriven.TestData {
	f := strings.Fields(line)
	if len(f) == 0 {
		d.Fatalf(t, "empty transaction line")
	}
	td := &datadriven.TestData{Pos: d.Pos, Cmd: f[0]}
	for _, a := range f[1:] {
		k, v, ok := strings.Cut(a, "=")
		arg := datadriven.CmdArg{Key: k}
		if ok {
			v = strings.TrimSuffix(strings.TrimPrefix(v, "("), ")")
			for _, s := range strings.Split(v, ",") {
				arg.Vals = append(arg.Vals, strings.TrimSpace(s))
			}
		}
		td.CmdArgs = append(td.CmdArgs, arg)
	}
	return td
}

func (x *machineDriver) after(t *testing.T, d *datadriven.TestData) time.Duration {
	var s string
	if !d.MaybeScanArgs(t, "after", &s) {
		return time.Second
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.Fatalf(t, "after=%s: %v", s, err)
	}
	return v
}

func (x *machineDriver) genesis(t *testing.T, d *datadriven.TestData) string {
	*x = machineDriver{store: NewMemStore(), now: t0, keys: map[string]ed25519.PrivateKey{}, names: map[PublicKey]string{},
		blobs: map[string]blob.ID{}, roots: map[blob.ID]blob.Hash{}, bnames: map[blob.ID]string{}}
	g := Genesis{Params: Params{NetworkID: dataNetwork, Admin: KeyOf(x.key("admin")), MaxEpochsAhead: 10}}
	d.ScanArgs(t, "shards", &g.Params.Shards)
	var dur string
	if d.MaybeScanArgs(t, "epoch-duration", &dur) {
		v, err := time.ParseDuration(dur)
		if err != nil {
			d.Fatalf(t, "epoch-duration=%s: %v", dur, err)
		}
		g.Params.EpochDuration = v
	}
	nodes, _ := d.Arg("nodes")
	weights, _ := d.Arg("weights")
	for i, name := range nodes.Vals {
		nd := NodeRecord{Key: KeyOf(x.key(name)), Name: name, Address: fmt.Sprintf("http://127.0.0.1:%d", 7000+i)}
		if i < len(weights.Vals) {
			w, err := strconv.ParseUint(weights.Vals[i], 10, 64)
			if err != nil {
				d.Fatalf(t, "weight %s: %v", weights.Vals[i], err)
			}
			nd.Weight = w
		}
		g.Nodes = append(g.Nodes, nd)
	}
	var err error
	if x.m, err = NewMachine(x.store); err != nil {
		d.Fatalf(t, "%v", err)
	}
	evs, err := x.m.InitGenesis(g, x.now)
	var out strings.Builder
	if err != nil {
		fmt.Fprintf(&out, "error: %s\n", x.rename(err.Error()))
		return out.String()
	}
	if _, err := x.m.Commit(); err != nil {
		d.Fatalf(t, "commit: %v", err)
	}
	for _, ev := range evs {
		out.WriteString(x.event(ev) + "\n")
	}
	out.WriteString(x.committee(t, &datadriven.TestData{}))
	return out.String()
}

// payload builds the transaction a command line stands for, and its
// sender.
func (x *machineDriver) payload(t *testing.T, d *datadriven.TestData) (ed25519.PrivateKey, Payload) {
	str := func(key string) string {
		var v string
		d.ScanArgs(t, key, &v)
		return v
	}
	num := func(key string, def uint64) uint64 {
		v := def
		d.MaybeScanArgs(t, key, &v)
		return v
	}
	by := func(def string) ed25519.PrivateKey {
		if d.HasArg("by") {
			return x.key(str("by"))
		}
		return x.key(def)
	}
	epoch, _ := x.m.Epoch()
	switch d.Cmd {
	case "register-node":
		name := str("node")
		return x.key(name), Payload{RegisterNode: &RegisterNode{Name: name, Address: "http://" + name + ".test:7000"}}
	case "set-weight":
		return by("admin"), Payload{SetWeight: &SetWeight{Node: KeyOf(x.key(str("node"))), Weight: num("weight", 0)}}
	case "leave":
		return x.key(str("node")), Payload{LeaveCommittee: &LeaveCommittee{}}
	case "sync-done":
		return x.key(str("node")), Payload{EpochSyncDone: &EpochSyncDone{Epoch: num("epoch", epoch)}}
	case "advance-epoch":
		return by("admin"), Payload{AdvanceEpoch: &AdvanceEpoch{Epoch: num("epoch", epoch+1)}}
	case "register-blob":
		id := x.blob(str("blob"), num("size", 1000))
		return x.key(str("owner")), Payload{RegisterBlob: &RegisterBlob{ID: id, Length: num("size", 1000), Encoding: blob.RS2D16,
			Root: x.roots[id], EndEpoch: num("end", 0), Deletable: d.HasArg("deletable")}}
	case "certify", "invalidate":
		id := x.blob(str("blob"), num("size", 1000))
		msg := ConfirmationMessage
		if d.Cmd == "invalidate" {
			msg = InvalidMessage
		}
		c := &Certificate{ID: id, Epoch: num("epoch", epoch)}
		var signers []string
		if arg, ok := d.Arg("signers"); ok {
			signers = arg.Vals
		} else {
			com, err := x.m.Committee(0)
			if err != nil {
				d.Fatalf(t, "%v", err)
			}
			for _, mem := range com.Members {
				signers = append(signers, x.name(mem.Key))
			}
		}
		for _, s := range signers {
			k := x.key(s)
			c.Signatures = append(c.Signatures, Signature{Node: KeyOf(k), Sig: ed25519.Sign(k, msg(dataNetwork, c.Epoch, id))})
		}
		if d.Cmd == "invalidate" {
			return by(signers[0]), Payload{InvalidateBlob: c}
		}
		return by(signers[0]), Payload{CertifyBlob: c}
	case "delete-blob":
		return x.key(str("owner")), Payload{DeleteBlob: &BlobRef{ID: x.blob(str("blob"), 1000)}}
	case "extend-blob":
		return x.key(str("owner")), Payload{ExtendBlob: &ExtendBlob{ID: x.blob(str("blob"), 1000), EndEpoch: num("end", 0)}}
	}
	d.Fatalf(t, "unknown command %s", d.Cmd)
	return nil, Payload{}
}

// block applies the transactions of cmds as one block, gap after the
// previous one, and prints what each did and what the block's end did.
func (x *machineDriver) block(t *testing.T, gap time.Duration, cmds []*datadriven.TestData) string {
	x.height++
	x.now = x.now.Add(gap)
	x.m.Begin(x.height, x.now)
	var out strings.Builder
	for _, d := range cmds {
		key, p := x.payload(t, d)
		x.nonce++
		p.Nonce, p.Expires = x.nonce, x.now.Add(time.Minute).UnixMilli()
		raw, err := SignTx(dataNetwork, key, p)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := x.m.Deliver(raw)
		if len(cmds) > 1 {
			fmt.Fprintf(&out, "%s: ", d.Cmd)
		}
		if err != nil {
			fmt.Fprintf(&out, "error: %s\n", x.rename(err.Error()))
		} else {
			out.WriteString("ok\n")
		}
		for _, ev := range evs {
			out.WriteString(x.event(ev) + "\n")
		}
	}
	evs, err := x.m.End()
	if err != nil {
		t.Fatalf("end of block %d: %v", x.height, err)
	}
	if len(evs) > 0 {
		fmt.Fprintf(&out, "end of block %d:\n", x.height)
		for _, ev := range evs {
			out.WriteString(x.event(ev) + "\n")
		}
	}
	if _, err := x.m.Commit(); err != nil {
		t.Fatalf("commit of block %d: %v", x.height, err)
	}
	if out.Len() == 0 {
		fmt.Fprintf(&out, "block %d: nothing happened\n", x.height)
	}
	return out.String()
}

// event prints an event: its sequence number, type, epoch and what it
// names.
func (x *machineDriver) event(ev Event) string {
	s := fmt.Sprintf("#%d %s epoch=%d", ev.Seq, ev.Type, ev.Epoch)
	if ev.Node != nil {
		s += " node=" + x.name(*ev.Node)
	}
	if ev.BlobID != nil {
		s += " blob=" + x.bnames[*ev.BlobID]
	}
	if ev.Owner != nil {
		s += " owner=" + x.name(*ev.Owner)
	}
	if ev.EndEpoch != 0 {
		s += fmt.Sprintf(" end=%d", ev.EndEpoch)
	}
	if ev.EpochState != "" {
		s += fmt.Sprintf(" state=%s previous=%d", ev.EpochState, ev.PreviousEpoch)
	}
	if ev.Window != 0 {
		s += fmt.Sprintf(" window=%d", ev.Window)
	}
	return s
}

// committee prints an epoch's members with their shards, the state of
// its change, and the shards that moved from the previous epoch.
func (x *machineDriver) committee(t *testing.T, d *datadriven.TestData) string {
	var epoch uint64
	d.MaybeScanArgs(t, "epoch", &epoch)
	com, err := x.m.Committee(epoch)
	if err != nil {
		return "error: " + x.rename(err.Error()) + "\n"
	}
	ch, err := x.m.EpochChange(com.Epoch)
	if err != nil {
		return "error: " + x.rename(err.Error()) + "\n"
	}
	var out strings.Builder
	fmt.Fprintf(&out, "epoch %d: %s (from epoch %d, synced weight %d of %d)\n", com.Epoch, ch.State, ch.PreviousEpoch,
		ch.SyncedWeight, x.m.Params().Quorum())
	for _, mem := range com.Members {
		fmt.Fprintf(&out, "  %s weight=%d shards %s\n", x.name(mem.Key), mem.Weight, intList(mem.Shards))
	}
	if com.Epoch > 1 {
		prev, err := x.m.Committee(com.Epoch - 1)
		if err != nil {
			return out.String() + "error: " + x.rename(err.Error()) + "\n"
		}
		n := x.m.Params().Shards
		before, after := prev.ShardMap(n), com.ShardMap(n)
		var moves []string
		for s := 0; s < n; s++ {
			from, to := "nobody", "nobody"
			if before[s] >= 0 {
				from = x.name(prev.Members[before[s]].Key)
			}
			if after[s] >= 0 {
				to = x.name(com.Members[after[s]].Key)
			}
			if from != to {
				moves = append(moves, fmt.Sprintf("%d %s->%s", s, from, to))
			}
		}
		if len(moves) == 0 {
			moves = []string{"none"}
		}
		fmt.Fprintf(&out, "  moved since epoch %d: %s\n", prev.Epoch, strings.Join(moves, ", "))
	}
	return out.String()
}

func (x *machineDriver) blobInfo(name string) string {
	id, ok := x.blobs[name]
	if !ok {
		return "no blob " + name + "\n"
	}
	info, err := x.m.Blob(id)
	if err != nil {
		return "error: " + x.rename(err.Error()) + "\n"
	}
	b := info.Blob
	s := fmt.Sprintf("%s: %s, %d registrations, registered in epoch %d, ends at epoch %d", name, info.Status,
		b.Registrations, b.RegisteredEpoch, b.EndEpoch)
	if b.Certified {
		s += fmt.Sprintf(", certified in epoch %d", b.CertifiedEpoch)
	}
	var owners []string
	for _, k := range slices.SortedFunc(maps.Keys(x.names), func(a, b PublicKey) int { return strings.Compare(x.names[a], x.names[b]) }) {
		if r, err := x.m.Registration(id, k); err == nil && r != nil {
			reg := fmt.Sprintf("%s until %d", x.names[k], r.EndEpoch)
			if r.Deletable {
				reg += " (deletable)"
			}
			owners = append(owners, reg)
		}
	}
	if len(owners) > 0 {
		s += "\n  registrations: " + strings.Join(owners, ", ")
	}
	return s + "\n"
}

func intList(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return "(" + strings.Join(s, ", ") + ")"
}
