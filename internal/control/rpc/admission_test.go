package rpc_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
)

func testBlob(tag string, i int) *control.RegisterBlob {
	root := blob.Hash(sha256.Sum256([]byte(fmt.Sprint(tag, i))))
	return &control.RegisterBlob{ID: blob.ComputeID(blob.RS2D16, 1000, root), Length: 1000, Encoding: blob.RS2D16, Root: root, EndEpoch: 50}
}

// TestConcurrentSubmitsFromOneSigner: one signer submitting 64
// transactions at once gets every one committed.
func TestConcurrentSubmitsFromOneSigner(t *testing.T) {
	n, _, _ := testNetwork(t, 4, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, n.RPC())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := rpc.NewSigner(key("busy user"))
	errs := make([]error, 64)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Submit(ctx, s, control.Payload{RegisterBlob: testBlob("concurrent", i)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("submit %d: %v", i, err)
		}
	}
	for i := range errs {
		if info, err := c.Blob(ctx, testBlob("concurrent", i).ID); err != nil || info.Status != control.StatusRegistered {
			t.Fatalf("blob %d: %+v %v", i, info, err)
		}
	}
}

func dirSize(t *testing.T, dir string) int64 {
	var size int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			size += fi.Size()
		}
		return nil
	})
	return size
}

// TestFloodIsRefusedAtAdmission: one key sending 1 500 transactions of
// 100 KB that would fail, one key sending valid ones as fast as it can,
// and 300 fresh keys sending transactions that would fail. Nothing that
// would fail is admitted, one key never has more than the pending bound
// in the mempool, the chain does not grow with the flood, and honest
// transactions keep committing (their latency is logged here and measured
// by weft bench abuse).
func TestFloodIsRefusedAtAdmission(t *testing.T) {
	n, nodes, _ := testNetwork(t, 4, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := rpc.Dial(ctx, n.RPC())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	honest := rpc.NewSigner(key("honest"))
	latency := func(tag string, k int) time.Duration {
		var ds []time.Duration
		for i := 0; i < k; i++ {
			t0 := time.Now()
			if _, err := c.Submit(ctx, honest, control.Payload{RegisterBlob: testBlob(tag, i)}); err != nil {
				t.Fatalf("honest submit: %v", err)
			}
			ds = append(ds, time.Since(t0))
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	idle := latency("idle", 7)
	home := n.Home()
	sizeBefore := dirSize(t, home)

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(k ed25519.PrivateKey, p control.Payload) []byte {
		p.Nonce, p.Expires = uint64(time.Now().UnixNano()), time.Now().Add(time.Minute).UnixMilli()
		raw, err := control.SignTx(st.Params.NetworkID, k, p)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	var admitted, refused atomic.Int64
	var unexpected atomic.Value
	broadcast := func(raw []byte, allowed ...error) {
		err := c.Broadcast(ctx, raw)
		if err == nil {
			admitted.Add(1)
			return
		}
		refused.Add(1)
		for _, a := range allowed {
			if errors.Is(err, a) {
				return
			}
		}
		unexpected.Store(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// One key: 1 500 registrations padded to 100 KB.
	wg.Add(1)
	go func() {
		defer wg.Done()
		k := key("flooder")
		for i := 0; i < 1500; i++ {
			// A validly signed payload padded with JSON white space; it
			// deletes a blob that does not exist.
			p := control.Payload{Nonce: uint64(i), Expires: time.Now().Add(time.Minute).UnixMilli(), DeleteBlob: &control.BlobRef{ID: testBlob("flood", i).ID}}
			broadcast(signPadded(t, st.Params.NetworkID, k, p, 100<<10), control.ErrMalformedTx)
		}
	}()
	// One key: valid registrations as fast as the mempool takes them.
	var validAdmitted atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		k := key("eager")
		for i := 0; i < 400; i++ {
			if c.Broadcast(ctx, sign(k, control.Payload{RegisterBlob: testBlob("eager", i)})) == nil {
				validAdmitted.Add(1)
			}
		}
	}()
	// 300 fresh keys: deletes of nothing, and certificates signed by
	// nobody in the committee, and by a member for an unknown blob.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 300; i++ {
			k := key(fmt.Sprint("fresh", i))
			broadcast(sign(k, control.Payload{DeleteBlob: &control.BlobRef{ID: testBlob("nothing", i).ID}}), control.ErrUnknownBlob)
			id := testBlob("nothing", i).ID
			cert := &control.Certificate{ID: id, Epoch: st.Epoch, Signatures: []control.Signature{{Node: control.KeyOf(k), Sig: ed25519.Sign(k, control.ConfirmationMessage(st.Params.NetworkID, st.Epoch, id))}}}
			broadcast(sign(k, control.Payload{CertifyBlob: cert}), control.ErrUnknownBlob, control.ErrCertificate)
			cert.Signatures[0] = control.Signature{Node: control.KeyOf(nodes[0]), Sig: ed25519.Sign(nodes[0], control.ConfirmationMessage(st.Params.NetworkID, st.Epoch, id))}
			broadcast(sign(k, control.Payload{InvalidateBlob: cert}), control.ErrUnknownBlob, control.ErrCertificate)
		}
	}()
	go func() { wg.Wait(); close(stop) }()
	flooded := latency("flooded", 7)
	<-stop
	if err, _ := unexpected.Load().(error); err != nil {
		t.Fatalf("a flood transaction was refused for an unexpected reason: %v", err)
	}
	if admitted.Load() != 0 {
		t.Fatalf("%d transactions that would fail were admitted", admitted.Load())
	}
	if got := validAdmitted.Load(); got > 400 || got < int64(control.DefaultMaxPending) {
		t.Fatalf("the eager key got %d of 400 admitted", got)
	}
	grew := dirSize(t, home) - sizeBefore
	t.Logf("refused %d flood transactions; eager key admitted %d of 400; honest commit latency %v idle, %v under flood (%.2fx); state grew %d KB",
		refused.Load(), validAdmitted.Load(), idle, flooded, float64(flooded)/float64(idle), grew>>10)
	if grew > 20<<20 {
		t.Fatalf("the chain grew by %d MB under a refused flood", grew>>20)
	}
}

// signPadded signs p's JSON padded with size bytes of white space, as
// control.SignTx would sign it (domain, network ID, payload).
func signPadded(t *testing.T, networkID string, k ed25519.PrivateKey, p control.Payload, size int) []byte {
	raw, err := control.SignTx(networkID, k, p)
	if err != nil {
		t.Fatal(err)
	}
	payload := append(raw[97:len(raw):len(raw)], bytes.Repeat([]byte(" "), size)...)
	msg := append([]byte("weft/tx/v1\x00"+networkID+"\x00"), payload...)
	out := append([]byte{control.TxVersion}, raw[1:33]...)
	out = append(out, ed25519.Sign(k, msg)...)
	if _, err := control.DecodeTx(networkID, append(out[:len(out):len(out)], payload...)); !errors.Is(err, control.ErrMalformedTx) {
		t.Fatalf("padded transaction: %v", err) // refused for its size, before anything else
	}
	return append(out, payload...)
}
