package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/devnet"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/recovery"
)

// AbuseConfig says which attacks weft bench abuse replays.
type AbuseConfig struct {
	// Only, if set, names the attacks to run (see Attacks).
	Only []string
	// GatewayBlob is the size of the blob the gateway attacks use;
	// default 200 MiB, the size they were first seen with.
	GatewayBlob int64
}

// attack is one replayed attack: what it got before the security work
// (observed from outside against a devnet of the build before it) and a
// run that measures what it gets now.
type attack struct {
	name   string
	before string
	run    func(a *abuseRun) (string, error)
}

// Attacks lists the attacks weft bench abuse replays, in order.
func Attacks() []string {
	var names []string
	for _, a := range attacks {
		names = append(names, a.name)
	}
	return names
}

var attacks = []attack{
	{"sybil-nodes", "7 keys took 14 of 28 shards, invalidated an honest blob, stopped writes", (*abuseRun).sybil},
	{"squat-blob-id", "victim's blob certified under the attacker's registration, then deleted by it", (*abuseRun).squat},
	{"forged-length", "registration with a wrong length: every node refused the victim's slivers (422)", (*abuseRun).forgedLength},
	{"stranger-extend", "a stranger pinned someone's blob to epoch 1001", (*abuseRun).strangerExtend},
	{"tx-flood", "honest store 0.7 s -> 11.7 s, chain +276 MB", (*abuseRun).flood},
	{"parallel-submits", "5 of 12 parallel gateway PUTs failed (nonce already used)", (*abuseRun).parallelSubmits},
	{"declared-lengths", "4 idle PUTs declaring 1 GiB: node RSS 227 MB -> 2.3 GB", (*abuseRun).declaredLengths},
	{"slow-body", "1 byte per 5 s kept a connection open forever", (*abuseRun).slowBody},
	{"idle-connections", "5000 of 5000 idle keep-alive connections kept", (*abuseRun).idleConns},
	{"symbol-duplicates", "264-byte request: 2.2 node CPU-s, 59 MB answer", (*abuseRun).symbolDuplicates},
	{"re-uploads", "300 re-PUTs of a held sliver: +290 MB on disk", (*abuseRun).reUploads},
	{"gateway-heads", "6 HEADs of a 200 MB blob: 3.7 GB", (*abuseRun).gatewayHeads},
	{"gateway-range", "a 1-byte Range read the whole 200 MB blob (1.8 s)", (*abuseRun).gatewayRange},
	{"gateway-oversize", "a declared 10 GB body was read until the limit", (*abuseRun).gatewayOversize},
	{"gateway-puts", "4 parallel 200 MB PUTs: devnet process 5.8 GB", (*abuseRun).gatewayPuts},
}

// abuseRun is the devnet the attacks run against.
type abuseRun struct {
	ctx    context.Context
	cfg    AbuseConfig
	layout *devnet.Layout
	dir    string
	c      *client.Client
	ctl    *rpc.Client
	admin  *rpc.Signer
	params control.Params
	http   *http.Client
	gwBlob blob.ID // stored once for the gateway attacks
}

// Abuse starts the default devnet and replays attacks first seen against
// it, printing for each what the attacker got before and what it gets now.
func Abuse(w io.Writer, cfg AbuseConfig) error {
	if cfg.GatewayBlob == 0 {
		cfg.GatewayBlob = 200 << 20
	}
	ctx := context.Background()
	layout, c, ctl, stop, err := startDevnetClients(ctx, devnet.Config{})
	if err != nil {
		return err
	}
	defer stop()
	dir := filepath.Dir(layout.ClientConfig)
	adminKey, err := keyfile.Load(filepath.Join(dir, "keys", "admin.key"))
	if err != nil {
		return err
	}
	st, err := ctl.Status(ctx)
	if err != nil {
		return err
	}
	a := &abuseRun{ctx: ctx, cfg: cfg, layout: layout, dir: dir, c: c, ctl: ctl, admin: rpc.NewSigner(adminKey),
		params: *st.Params, http: &http.Client{Timeout: time.Minute}}
	fmt.Fprintf(w, "weft bench abuse: the default devnet (%d storage node processes, %d shards); \"before\" is what each attack got on the build before the security work, observed from outside; \"now\" is measured in this run\n\n",
		len(layout.Nodes), a.params.Shards)
	fmt.Fprintf(w, "%-18s | %-82s | %s\n", "attack", "before", "now")
	for _, at := range attacks {
		if len(cfg.Only) > 0 && !slices.Contains(cfg.Only, at.name) {
			continue
		}
		t0 := time.Now()
		got, err := at.run(a)
		if err != nil {
			got = "bench error: " + err.Error()
		}
		fmt.Fprintf(w, "%-18s | %-82s | %s (%.1fs)\n", at.name, at.before, got, time.Since(t0).Seconds())
	}
	return nil
}

func (a *abuseRun) signer(name string) *rpc.Signer { return rpc.NewSigner(key(name)) }

// register submits s's registration of a blob ID with the given length
// and root, whether they agree or not.
func (a *abuseRun) register(s *rpc.Signer, id blob.ID, length uint64, root blob.Hash, end uint64, deletable bool) error {
	_, err := a.ctl.Submit(a.ctx, s, control.Payload{RegisterBlob: &control.RegisterBlob{ID: id, Length: length,
		Encoding: blob.RS2D16, Root: root, EndEpoch: end, Deletable: deletable}})
	return err
}

// store stores a fresh blob of size bytes through the SDK.
func (a *abuseRun) store(size int, tag string) (*client.StoreResult, []byte, error) {
	data := randomBlob(int64(size))
	copy(data, tag)
	r, err := a.c.Store(a.ctx, data, client.StoreOptions{Epochs: 50, Deletable: true})
	return r, data, err
}

func (a *abuseRun) sybil() (string, error) {
	r, _, err := a.store(10_000, "sybil victim")
	if err != nil {
		return "", err
	}
	var keys []ed25519.PrivateKey
	var wg sync.WaitGroup
	errs := make([]error, 21)
	for i := range errs {
		keys = append(keys, key(fmt.Sprint("sybil ", i)))
		k := rpc.NewSigner(keys[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = a.ctl.Submit(a.ctx, k, control.Payload{RegisterNode: &control.RegisterNode{Name: fmt.Sprint("sybil-", i), Address: fmt.Sprintf("http://127.0.0.1:%d", 1+i)}})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	st, err := a.ctl.Status(a.ctx)
	if err != nil {
		return "", err
	}
	if _, err := a.ctl.Submit(a.ctx, a.admin, control.Payload{AdvanceEpoch: &control.AdvanceEpoch{Epoch: st.Epoch + 1}}); err != nil {
		return "", err
	}
	com, err := a.ctl.Committee(a.ctx, 0)
	if err != nil {
		return "", err
	}
	taken := 0
	cert := &control.Certificate{ID: r.BlobID, Epoch: com.Epoch}
	for _, k := range keys {
		taken += com.Weight(control.KeyOf(k))
		raw := ed25519.Sign(k, control.InvalidMessage(a.params.NetworkID, com.Epoch, r.BlobID))
		cert.Signatures = append(cert.Signatures, control.Signature{Node: control.KeyOf(k), Sig: raw})
	}
	_, invErr := a.ctl.Submit(a.ctx, rpc.NewSigner(keys[0]), control.Payload{InvalidateBlob: cert})
	info, err := a.c.Status(a.ctx, r.BlobID)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("21 keys took %d of %d shards; their InvalidateBlob: %s; honest blob %s", taken, a.params.Shards, refusal(invErr), info.Status), nil
}

func refusal(err error) string {
	if err == nil {
		return "ACCEPTED"
	}
	msg := err.Error()
	if i := strings.Index(msg, ":"); i > 0 && len(msg) > 60 {
		msg = msg[:min(len(msg), 60)] + "…"
	}
	return "refused (" + msg + ")"
}

func (a *abuseRun) squat() (string, error) {
	data := randomBlob(300_000)
	copy(data, "squatted")
	e, err := a.c.Codec().Encode(data)
	if err != nil {
		return "", err
	}
	defer e.Release()
	st, err := a.ctl.Status(a.ctx)
	if err != nil {
		return "", err
	}
	attacker := a.signer("squatter")
	if err := a.register(attacker, e.ID, e.Length, e.Root, st.Epoch+2, true); err != nil {
		return "", err
	}
	r, err := a.c.Store(a.ctx, data, client.StoreOptions{Epochs: 50})
	if err != nil {
		return "", fmt.Errorf("victim's store: %w", err)
	}
	_, delErr := a.ctl.Submit(a.ctx, attacker, control.Payload{DeleteBlob: &control.BlobRef{ID: e.ID}})
	got, err := a.c.Read(a.ctx, r.BlobID)
	readOK := err == nil && bytes.Equal(got, data)
	info, _ := a.c.Status(a.ctx, r.BlobID)
	return fmt.Sprintf("victim stored under its own registration; attacker's delete %s removed only its own; blob %s, read back exact: %v",
		map[bool]string{true: "went through and", false: "failed and"}[delErr == nil], info.Status, readOK), nil
}

func (a *abuseRun) forgedLength() (string, error) {
	data := randomBlob(100_000)
	copy(data, "forged length")
	e, err := a.c.Codec().Encode(data)
	if err != nil {
		return "", err
	}
	defer e.Release()
	st, err := a.ctl.Status(a.ctx)
	if err != nil {
		return "", err
	}
	regErr := a.register(a.signer("forger"), e.ID, e.Length*2, e.Root, st.Epoch+2, false)
	r, err := a.c.Store(a.ctx, data, client.StoreOptions{Epochs: 5})
	if err != nil {
		return "", fmt.Errorf("victim's store: %w", err)
	}
	return fmt.Sprintf("forged registration %s; victim's store certified in epoch %d", refusal(regErr), r.CertifiedEpoch), nil
}

func (a *abuseRun) strangerExtend() (string, error) {
	r, _, err := a.store(5_000, "extend victim")
	if err != nil {
		return "", err
	}
	_, extErr := a.ctl.Submit(a.ctx, a.signer("stranger"), control.Payload{ExtendBlob: &control.ExtendBlob{ID: r.BlobID, EndEpoch: r.EndEpoch + 500}})
	info, err := a.c.Status(a.ctx, r.BlobID)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("stranger's extend %s; end epoch still %d", refusal(extErr), info.EndEpoch), nil
}

// honestStores is the median time of k honest 64 KiB stores.
func (a *abuseRun) honestStores(k int, tag string) (time.Duration, error) {
	var ds []time.Duration
	for i := 0; i < k; i++ {
		t0 := time.Now()
		if _, _, err := a.store(64<<10, fmt.Sprint(tag, i)); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func (a *abuseRun) flood() (string, error) {
	idle, err := a.honestStores(5, "idle ")
	if err != nil {
		return "", err
	}
	chain := filepath.Join(a.dir, "control")
	before := dirBytes(chain)
	st, err := a.ctl.Status(a.ctx)
	if err != nil {
		return "", err
	}
	var admitted, refused atomic.Int64
	send := func(raw []byte) {
		if a.ctl.Broadcast(a.ctx, raw) == nil {
			admitted.Add(1)
		} else {
			refused.Add(1)
		}
	}
	sign := func(k ed25519.PrivateKey, p control.Payload, pad int) []byte {
		p.Nonce, p.Expires = uint64(time.Now().UnixNano()), time.Now().Add(time.Minute).UnixMilli()
		raw, _ := control.SignTx(st.Params.NetworkID, k, p)
		if pad == 0 {
			return raw
		}
		payload := append(raw[97:len(raw):len(raw)], bytes.Repeat([]byte(" "), pad)...)
		msg := append([]byte("weft/tx/v1\x00"+st.Params.NetworkID+"\x00"), payload...)
		out := append([]byte{control.TxVersion}, raw[1:33]...)
		out = append(out, ed25519.Sign(k, msg)...)
		return append(out, payload...)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		k := key("flooder")
		for i := 0; i < 1500; i++ {
			var id blob.ID
			id[0], id[1] = byte(i), byte(i>>8)
			send(sign(k, control.Payload{DeleteBlob: &control.BlobRef{ID: id}}, 100<<10))
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 500; i++ {
			k := key(fmt.Sprint("fresh flooder ", i))
			var id blob.ID
			id[0], id[1] = byte(i), byte(i>>8)
			send(sign(k, control.Payload{DeleteBlob: &control.BlobRef{ID: id}}, 0))
			send(sign(k, control.Payload{CertifyBlob: &control.Certificate{ID: id, Epoch: st.Epoch}}, 0))
		}
	}()
	go func() { wg.Wait(); close(done) }()
	flooded, err := a.honestStores(5, "flooded ")
	<-done
	if err != nil {
		return "", err
	}
	grew := dirBytes(chain) - before
	return fmt.Sprintf("%d of %d flood txs admitted; honest store %s idle -> %s under flood (%.2fx); chain +%s",
		admitted.Load(), admitted.Load()+refused.Load(), formatDuration(idle), formatDuration(flooded),
		float64(flooded)/float64(idle), FormatSize(max(grew, 0))), nil
}

func (a *abuseRun) parallelSubmits() (string, error) {
	s := a.signer("parallel")
	errs := make([]error, 64)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			root := blob.Hash(sha256.Sum256([]byte(fmt.Sprint("parallel ", i, time.Now().UnixNano()))))
			st, err := a.ctl.Status(a.ctx)
			if err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = a.ctl.Submit(a.ctx, s, control.Payload{RegisterBlob: &control.RegisterBlob{ID: blob.ComputeID(blob.RS2D16, 10, root),
				Length: 10, Encoding: blob.RS2D16, Root: root, EndEpoch: st.Epoch + 2}})
		}()
	}
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	return fmt.Sprintf("%d of 64 parallel submits from one key failed", failed), nil
}

// procStat reads a process's resident set (bytes) and CPU time.
func procStat(pid int) (rss int64, cpu time.Duration) {
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				rss = kb << 10
			}
		}
	}
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(raw)
		if i := strings.LastIndexByte(s, ')'); i > 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 13 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				cpu = time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
			}
		}
	}
	return rss, cpu
}

// fakeBlob registers a blob nobody stores, of the given length.
func (a *abuseRun) fakeBlob(length uint64) (blob.ID, error) {
	root := blob.Hash(sha256.Sum256([]byte(fmt.Sprint("fake ", length, time.Now().UnixNano()))))
	id := blob.ComputeID(blob.RS2D16, length, root)
	st, err := a.ctl.Status(a.ctx)
	if err != nil {
		return id, err
	}
	return id, a.register(a.signer("faker"), id, length, root, st.Epoch+5, false)
}

func rawPut(addr, path string, length int64) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n\r\n", path, addr, length)
	return c, nil
}

func (a *abuseRun) declaredLengths() (string, error) {
	id, err := a.fakeBlob(1 << 30)
	if err != nil {
		return "", err
	}
	nd := a.layout.Nodes[0]
	addr := strings.TrimPrefix(nd.API, "http://")
	rss0, _ := procStat(nd.PID)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	peak := rss0
	for i := 0; i < 8; i++ {
		c, err := rawPut(addr, fmt.Sprintf("/v1/blobs/%s/slivers/%d/primary", id, i), 100<<20)
		if err != nil {
			return "", err
		}
		c.Write(make([]byte, 4096))
		conns = append(conns, c)
	}
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		rss, _ := procStat(nd.PID)
		peak = max(peak, rss)
		time.Sleep(200 * time.Millisecond) // sampling RSS, not waiting for a condition
	}
	return fmt.Sprintf("8 PUTs declaring 100 MiB each, 4 KiB sent: node RSS %s -> peak %s", FormatSize(rss0), FormatSize(peak)), nil
}

func (a *abuseRun) slowBody() (string, error) {
	r, _, err := a.store(10_000, "slow body")
	if err != nil {
		return "", err
	}
	nd := a.layout.Nodes[0]
	addr := strings.TrimPrefix(nd.API, "http://")
	c, err := rawPut(addr, fmt.Sprintf("/v1/blobs/%s/slivers/0/primary", r.BlobID), 2000)
	if err != nil {
		return "", err
	}
	defer c.Close()
	t0 := time.Now()
	for time.Since(t0) < 90*time.Second {
		c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte{0}); err != nil {
			break
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second)) // one byte every 5 s
		buf := make([]byte, 512)
		if n, err := c.Read(buf); n > 0 || (err != nil && !isTimeout(err)) {
			break
		}
	}
	if d := time.Since(t0); d < 90*time.Second {
		return fmt.Sprintf("connection answered and closed by the node after %.0f s", d.Seconds()), nil
	}
	return "connection still open after 90 s", nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (a *abuseRun) idleConns() (string, error) {
	nd := a.layout.Nodes[1]
	addr := strings.TrimPrefix(nd.API, "http://")
	const total = 2000
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < total; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		fmt.Fprintf(c, "GET /v1/health HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		conns = append(conns, c)
	}
	// Read each answer; a connection is kept if it is still open after.
	kept := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		if n == 0 {
			continue
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := c.Read(buf); err != nil && isTimeout(err) {
			kept++
		}
	}
	return fmt.Sprintf("%d idle keep-alive connections opened, %d kept by the node", len(conns), kept), nil
}

func (a *abuseRun) symbolDuplicates() (string, error) {
	r, _, err := a.store(4<<20, "symbols")
	if err != nil {
		return "", err
	}
	com, err := a.ctl.Committee(a.ctx, 0)
	if err != nil {
		return "", err
	}
	nd := a.layout.Nodes[2]
	var shard int = -1
	for _, m := range com.Members {
		if m.Name == nd.Name && len(m.Shards) > 0 {
			shard = m.Shards[0]
		}
	}
	if shard < 0 {
		return "", fmt.Errorf("node %s holds no shard", nd.Name)
	}
	p := a.c.Codec().Params()
	pair := 0
	for ; pair < p.N; pair++ {
		if p.ShardOf(r.BlobID, pair) == shard {
			break
		}
	}
	req := &recovery.Request{Blobs: []recovery.BlobRequest{{ID: r.BlobID, SymbolSize: p.SymbolSize(uint64(4 << 20))}}}
	for i := 0; i < 30; i++ {
		req.Blobs[0].Items = append(req.Blobs[0].Items, recovery.Item{Source: blob.Primary, Index: uint32(pair), Proofs: true, Positions: []uint32{uint32(p.N - 1)}})
	}
	body, err := req.MarshalBinary()
	if err != nil {
		return "", err
	}
	_, cpu0 := procStat(nd.PID)
	resp, err := a.http.Post(nd.API+"/v1/symbols", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, cpu1 := procStat(nd.PID)
	return fmt.Sprintf("%d-byte request with 30 duplicate items: HTTP %d, %s answer, node CPU %.2f s", len(body), resp.StatusCode, FormatSize(n), (cpu1 - cpu0).Seconds()), nil
}

func (a *abuseRun) reUploads() (string, error) {
	r, _, err := a.store(4<<20, "re-uploads")
	if err != nil {
		return "", err
	}
	com, err := a.ctl.Committee(a.ctx, 0)
	if err != nil {
		return "", err
	}
	nd := a.layout.Nodes[3]
	p := a.c.Codec().Params()
	pair := -1
	for _, m := range com.Members {
		if m.Name != nd.Name {
			continue
		}
		for q := 0; q < p.N && pair < 0; q++ {
			if slices.Contains(m.Shards, p.ShardOf(r.BlobID, q)) {
				pair = q
			}
		}
	}
	if pair < 0 {
		return "", fmt.Errorf("node %s holds no pair", nd.Name)
	}
	url := fmt.Sprintf("%s/v1/blobs/%s/slivers/%d/primary", nd.API, r.BlobID, pair)
	resp, err := a.http.Get(url)
	if err != nil {
		return "", err
	}
	sliver, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetching a held sliver: HTTP %d %v", resp.StatusCode, err)
	}
	before := dirBytes(nd.DataDir)
	codes := map[int]int{}
	for i := 0; i < 300; i++ {
		req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(sliver))
		resp, err := a.http.Do(req)
		if err != nil {
			return "", err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	grew := dirBytes(nd.DataDir) - before
	return fmt.Sprintf("300 re-PUTs of a held %s sliver (answers %v): disk %+d KiB", FormatSize(int64(len(sliver))), codes, grew>>10), nil
}

// peakRSS samples a process's resident set while fn runs.
func peakRSS(pid int, fn func() error) (before, peak int64, err error) {
	before, _ = procStat(pid)
	peak = before
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if rss, _ := procStat(pid); rss > peak {
					peak = rss
				}
			}
		}
	}()
	err = fn()
	close(stop)
	<-done
	return before, peak, err
}

// gatewayBlob stores, once, the blob the gateway attacks read.
func (a *abuseRun) gatewayBlob() (blob.ID, error) {
	if a.gwBlob != (blob.ID{}) {
		return a.gwBlob, nil
	}
	data := randomBlob(a.cfg.GatewayBlob)
	copy(data, "gateway blob")
	r, err := a.c.Store(a.ctx, data, client.StoreOptions{Epochs: 50})
	if err != nil {
		return blob.ID{}, err
	}
	a.gwBlob = r.BlobID
	return r.BlobID, nil
}

func (a *abuseRun) gatewayPuts() (string, error) {
	codes := make([]int, 4)
	before, peak, err := peakRSS(a.layout.GatewayPID, func() error {
		var wg sync.WaitGroup
		errs := make([]error, len(codes))
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				data := randomBlob(a.cfg.GatewayBlob)
				copy(data, fmt.Sprint("gateway put ", i, time.Now().UnixNano()))
				req, _ := http.NewRequestWithContext(a.ctx, http.MethodPut, a.layout.Gateway+"/v1/blobs", bytes.NewReader(data))
				resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
				if err != nil {
					errs[i] = err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes[i] = resp.StatusCode
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("4 parallel %s PUTs (answers %v): gateway process RSS %s -> peak %s", FormatSize(a.cfg.GatewayBlob), codes, FormatSize(before), FormatSize(peak)), nil
}

func (a *abuseRun) gatewayHeads() (string, error) {
	id, err := a.gatewayBlob()
	if err != nil {
		return "", err
	}
	codes := make([]int, 6)
	before, peak, err := peakRSS(a.layout.GatewayPID, func() error {
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(a.ctx, http.MethodHead, a.layout.Gateway+"/v1/blobs/"+id.String(), nil)
				if resp, err := a.http.Do(req); err == nil {
					resp.Body.Close()
					codes[i] = resp.StatusCode
				}
			}()
		}
		wg.Wait()
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("6 HEADs of a %s blob (answers %v): gateway RSS %s -> peak %s", FormatSize(a.cfg.GatewayBlob), codes, FormatSize(before), FormatSize(peak)), nil
}

func (a *abuseRun) gatewayRange() (string, error) {
	id, err := a.gatewayBlob()
	if err != nil {
		return "", err
	}
	var got []byte
	var code int
	t0 := time.Now()
	before, peak, err := peakRSS(a.layout.GatewayPID, func() error {
		req, _ := http.NewRequestWithContext(a.ctx, http.MethodGet, a.layout.Gateway+"/v1/blobs/"+id.String(), nil)
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", a.cfg.GatewayBlob/2, a.cfg.GatewayBlob/2))
		resp, err := a.http.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		code = resp.StatusCode
		got, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return err
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("1-byte Range in the middle: HTTP %d, %d byte(s) in %s; gateway RSS %s -> peak %s", code, len(got), formatDuration(time.Since(t0)), FormatSize(before), FormatSize(peak)), nil
}

func (a *abuseRun) gatewayOversize() (string, error) {
	c, err := rawPut(strings.TrimPrefix(a.layout.Gateway, "http://"), "/v1/blobs", 10<<30)
	if err != nil {
		return "", err
	}
	defer c.Close()
	t0 := time.Now()
	c.Write(make([]byte, 64<<10))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if n == 0 {
		return "", fmt.Errorf("no answer to a 10 GB declared body: %v", err)
	}
	status := strings.SplitN(string(buf[:n]), "\r\n", 2)[0]
	return fmt.Sprintf("PUT declaring 10 GiB: %q after %s, body unread", status, formatDuration(time.Since(t0))), nil
}
