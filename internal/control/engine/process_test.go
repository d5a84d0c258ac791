package engine_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/engine"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/keyfile"
)

var weftBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "weft-bin")
	if err != nil {
		panic(err)
	}
	weftBin = filepath.Join(dir, "weft")
	out, err := exec.Command("go", "build", "-o", weftBin, "github.com/weftnet/weft/cmd/weft").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building weft: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func weft(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(weftBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("weft %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// validator is a running `weft validator start` process.
type validator struct {
	home string
	cmd  *exec.Cmd
	rpc  string
}

func startValidator(t *testing.T, home string) *validator {
	t.Helper()
	cmd := exec.Command(weftBin, "validator", "start", "--home", home, "--log", filepath.Join(home, "validator.log"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	v := &validator{home: home, cmd: cmd}
	t.Cleanup(func() { v.stop() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "rpc ") {
		t.Fatalf("validator %s did not start: %q %v", home, line, err)
	}
	v.rpc = strings.TrimSpace(line[strings.Index(line, "rpc ")+4:])
	return v
}

func (v *validator) kill9() {
	if v.cmd.Process != nil {
		v.cmd.Process.Signal(syscall.SIGKILL)
		v.cmd.Wait()
		v.cmd.Process = nil
	}
}

func (v *validator) stop() {
	if v.cmd.Process != nil {
		v.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { v.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			v.kill9()
		}
		v.cmd.Process = nil
	}
}

// dial polls until the validator answers, with a deadline.
func dial(t *testing.T, ctx context.Context, url string) *rpc.Client {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := rpc.Dial(ctx, url)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("control plane at %s not ready: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func storageKeys(t *testing.T, dir string, n int) []ed25519.PrivateKey {
	var keys []ed25519.PrivateKey
	for i := 0; i < n; i++ {
		k, err := keyfile.Load(filepath.Join(dir, "storage-keys", fmt.Sprintf("node-%d.key", i)))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

func certificate(networkID string, epoch uint64, id blob.ID, keys []ed25519.PrivateKey) *control.Certificate {
	c := &control.Certificate{ID: id, Epoch: epoch}
	for _, k := range keys {
		c.Signatures = append(c.Signatures, control.Signature{Node: control.KeyOf(k), Sig: ed25519.Sign(k, control.ConfirmationMessage(networkID, epoch, id))})
	}
	return c
}

// storeBlob registers and certifies a blob, returning the events of both
// transactions once committed.
func storeBlob(ctx context.Context, c *rpc.Client, s *rpc.Signer, keys []ed25519.PrivateKey, i int) ([]control.Event, error) {
	root := blob.Hash(sha256.Sum256([]byte(fmt.Sprint("process blob ", i))))
	id := blob.ComputeID(blob.RS2D16, uint64(i), root)
	r1, err := c.Submit(ctx, s, control.Payload{RegisterBlob: &control.RegisterBlob{ID: id, Length: uint64(i), Encoding: blob.RS2D16, Root: root, EndEpoch: 50}})
	if err != nil {
		return nil, err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	r2, err := c.Submit(ctx, s, control.Payload{CertifyBlob: certificate(c.NetworkID(), st.Epoch, id, keys)})
	if err != nil {
		return nil, err
	}
	return append(r1.Events, r2.Events...), nil
}

func TestValidatorSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	weft(t, "validator", "init", "--dir", dir, "--gen-nodes", "4", "--shards", "8", "--block-interval", "20ms")
	keys := storageKeys(t, dir, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	v := startValidator(t, dir)
	c := dial(t, ctx, v.rpc)
	user := rpc.NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)))

	// A follower with its own connection keeps reading events through the
	// crash and the restart, from its cursor.
	follower := dial(t, ctx, v.rpc)
	defer follower.Close()
	var followed []control.Event
	var fmu sync.Mutex
	fctx, stopFollower := context.WithCancel(ctx)
	followDone := make(chan error, 1)
	go func() {
		followDone <- follower.Follow(fctx, 0, func(ev control.Event) error {
			fmu.Lock()
			followed = append(followed, ev)
			fmu.Unlock()
			return nil
		})
	}()

	// Store blobs from several goroutines and kill -9 the validator while
	// they are at it. Every event a client saw committed must survive.
	var mu sync.Mutex
	committed := map[uint64]control.Event{}
	certified := 0
	var wg sync.WaitGroup
	wctx, stopWriters := context.WithCancel(ctx)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := rpc.NewSigner(ed25519.NewKeyFromSeed(append(make([]byte, 31), byte(w+1))))
			for i := w * 1000; wctx.Err() == nil; i++ {
				evs, err := storeBlob(wctx, c, s, keys, i)
				if err != nil {
					return
				}
				mu.Lock()
				for _, ev := range evs {
					committed[ev.Seq] = ev
				}
				certified++
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := certified
		mu.Unlock()
		if n >= 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d blobs certified before the deadline", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	v.kill9()
	stopWriters()
	wg.Wait()
	c.Close()
	t.Logf("killed the validator after %d certified blobs, %d committed events seen", certified, len(committed))

	v = startValidator(t, dir)
	c = dial(t, ctx, v.rpc)
	defer c.Close()
	evs, err := c.Events(ctx, 0, engine.MaxQueryLimit)
	if err != nil {
		t.Fatal(err)
	}
	bySeq := map[uint64]control.Event{}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("after restart event %d has seq %d", i, ev.Seq)
		}
		bySeq[ev.Seq] = ev
	}
	for seq, want := range committed {
		got, ok := bySeq[seq]
		if !ok || got.Type != want.Type || (want.BlobID != nil && (got.BlobID == nil || *got.BlobID != *want.BlobID)) {
			t.Fatalf("committed event %d (%s) lost or changed after kill -9: got %+v", seq, want.Type, got)
		}
		if want.Type == control.EventBlobCertified {
			if info, err := c.Blob(ctx, *want.BlobID); err != nil || info.Status != control.StatusCertified {
				t.Fatalf("certified blob %v is %s after restart (%v)", want.BlobID, info.Status, err)
			}
		}
	}
	// And it goes on certifying.
	if _, err := storeBlob(ctx, c, user, keys, 99999); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	final, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The follower, which never restarted, caught up through the crash
	// with every event exactly once and in order.
	deadline = time.Now().Add(30 * time.Second)
	for {
		fmu.Lock()
		n := len(followed)
		fmu.Unlock()
		if uint64(n) >= final.NextSeq-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower saw %d events, want %d", n, final.NextSeq-1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopFollower()
	<-followDone
	for i, ev := range followed {
		if ev.Seq != uint64(i+1) || ev.Type != bySeqAfter(t, ctx, c, ev.Seq).Type {
			t.Fatalf("follower event %d: %+v", i, ev)
		}
	}
}

func bySeqAfter(t *testing.T, ctx context.Context, c *rpc.Client, seq uint64) control.Event {
	evs, err := c.Events(ctx, seq-1, 1)
	if err != nil || len(evs) != 1 {
		t.Fatalf("event %d: %v", seq, err)
	}
	return evs[0]
}

// TestReplayChecksAppHash: a validator whose application state no longer
// matches the chain refuses to start instead of serving wrong state.
func TestReplayChecksAppHash(t *testing.T) {
	dir := t.TempDir()
	weft(t, "validator", "init", "--dir", dir, "--gen-nodes", "4", "--shards", "8", "--block-interval", "20ms")
	keys := storageKeys(t, dir, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v := startValidator(t, dir)
	c := dial(t, ctx, v.rpc)
	if _, err := storeBlob(ctx, c, rpc.NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32))), keys, 1); err != nil {
		t.Fatal(err)
	}
	c.Close()
	v.stop()

	// Corrupt the application's record of its last app hash.
	app, err := engine.OpenApp(filepath.Join(dir, "data", "weft-app"))
	if err != nil {
		t.Fatal(err)
	}
	if err := app.CorruptLastAppHashForTest(); err != nil {
		t.Fatal(err)
	}
	app.Close()

	cmd := exec.Command(weftBin, "validator", "start", "--home", dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("validator started over a corrupted state:\n%s", out)
	}
	t.Logf("start refused: %s", lastLine(out))
	if !strings.Contains(string(out), "AppHash does not match") {
		t.Fatalf("start failed, but not for the app hash: %v\n%s", err, out)
	}
}

func TestFourValidatorsTolerateOneKilled(t *testing.T) {
	dir := t.TempDir()
	weft(t, "validator", "init", "--dir", dir, "--validators", "4", "--gen-nodes", "4", "--shards", "8", "--block-interval", "20ms")
	keys := storageKeys(t, dir, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var vs []*validator
	for i := 0; i < 4; i++ {
		vs = append(vs, startValidator(t, filepath.Join(dir, fmt.Sprintf("validator-%d", i))))
	}
	c := dial(t, ctx, vs[0].rpc)
	defer c.Close()
	user := rpc.NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)))
	for i := 0; i < 3; i++ {
		if _, err := storeBlob(ctx, c, user, keys, i); err != nil {
			t.Fatalf("with 4 validators: %v", err)
		}
	}
	vs[3].kill9()
	before, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 3; i < 13; i++ {
		if _, err := storeBlob(ctx, c, user, keys, i); err != nil {
			t.Fatalf("with one validator killed: %v", err)
		}
	}
	after, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Height <= before.Height {
		t.Fatalf("height did not advance: %d → %d", before.Height, after.Height)
	}
	// Every live validator agrees on the state.
	for _, v := range vs[1:3] {
		c2 := dial(t, ctx, v.rpc)
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, err := c2.Status(ctx)
			if err == nil && st.NextSeq >= after.NextSeq {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("validator %s lags: %+v %v", v.home, st, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		c2.Close()
	}
	t.Logf("heights %d → %d with validator-3 killed", before.Height, after.Height)
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
