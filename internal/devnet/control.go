package devnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/loopback"
	"github.com/weftnet/weft/internal/node"
)

// Churn: nodes join and leave a running devnet.
//
// Decision: the devnet process owns its children (Pdeathsig ties them to
// its spawner thread), so it is the devnet that starts and stops nodes
// when asked. It serves a small control endpoint on a loopback port
// chosen at each run and written, with a random bearer token, in
// devnet.json (mode 0600: whoever can read it may change the devnet, as
// whoever can read DIR/keys can anyway). weft devnet add-node and
// remove-node are clients of it (AddNode, RemoveNode); advance-epoch
// needs no devnet process and submits AdvanceEpoch with DIR/keys/admin.key
// itself.
//
//	POST /v1/devnet/nodes             {"weight": W}  → AddedNode
//	POST /v1/devnet/nodes/{name}/leave               → RemovedNode
//
// Everything an operation changes is written to devnet-settings.json
// before it takes effect, so a devnet stopped at any moment resumes with
// the added node, a leaver still waiting, or a node that left.

// runner is a running devnet: its children and what devnet.json says.
type runner struct {
	cfg   Config
	sp    *spawner
	ctl   *rpc.Client
	admin *rpc.Signer

	op sync.Mutex // one add or remove at a time

	mu      sync.Mutex // guards what follows
	s       settings
	procs   map[string]*child // by node name, and "gateway"
	layout  Layout
	leaving map[string]uint64 // node name → leave epoch
}

func (r *runner) nodeConfig(name string) string {
	return filepath.Join(r.cfg.Dir, name, "config.json")
}

// startNode starts a node process and waits until it answers as itself.
func (r *runner) startNode(ctx context.Context, name string) (*NodeInfo, error) {
	cpath := r.nodeConfig(name)
	nc, err := node.LoadConfig(cpath)
	if err != nil {
		return nil, err
	}
	k, err := keyfile.LoadOrCreate(nc.KeyFile)
	if err != nil {
		return nil, err
	}
	if err := checkPortFree(name, nc.Listen); err != nil {
		return nil, err
	}
	c, err := startChild(r.sp, name, filepath.Join(r.cfg.Dir, name, "node.log"), r.cfg.Exe, "node", "--config", cpath)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.procs[name] = c
	r.mu.Unlock()
	info := NodeInfo{Name: name, API: "http://" + nc.Listen, PID: c.cmd.Process.Pid, Config: cpath, DataDir: nc.DataDir}
	var h node.Health
	if err := waitHealthy(ctx, info.API, c, &h); err != nil {
		return nil, err
	}
	// Whatever answers must be the node this devnet started.
	if h.Node != control.KeyOf(k) || h.Name != name {
		return nil, fmt.Errorf("devnet: %s: another process answers on %s (node %q, key %s)", name, info.API, h.Name, h.Node.Short())
	}
	info.Shards = h.Shards
	r.mu.Lock()
	defer r.mu.Unlock()
	_, info.Leaving = r.leaving[name]
	if i := slices.IndexFunc(r.layout.Nodes, func(n NodeInfo) bool { return n.Name == name }); i >= 0 {
		r.layout.Nodes[i] = info
	} else {
		r.layout.Nodes = append(r.layout.Nodes, info)
	}
	return &info, nil
}

// stopAll stops the children (SIGTERM, then SIGKILL after 20 s) and the
// spawner.
func (r *runner) stopAll() {
	// No add-node may start a child from here on (the control endpoint
	// is closed first, which cancels one under way).
	r.op.Lock()
	r.mu.Lock()
	procs := make([]*child, 0, len(r.procs))
	for _, p := range r.procs {
		procs = append(procs, p)
	}
	r.mu.Unlock()
	for _, p := range procs {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		p.stop(20 * time.Second)
	}
	r.sp.close()
}

// writeLayout writes devnet.json.
func (r *runner) writeLayout() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return writeJSON(filepath.Join(r.cfg.Dir, "devnet.json"), r.layout)
}

// saveSettings writes devnet-settings.json; call with r.mu held.
func (r *runner) saveSettings() error {
	return writeJSON(filepath.Join(r.cfg.Dir, "devnet-settings.json"), r.s)
}

// serveControl starts the control endpoint and records it in the layout.
func (r *runner) serveControl() (stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	rand.Read(tok)
	token := hex.EncodeToString(tok)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/devnet/nodes", r.handleAdd)
	mux.HandleFunc("POST /v1/devnet/nodes/{name}/leave", r.handleRemove)
	auth := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), []byte("Bearer "+token)) != 1 {
			http.Error(w, "devnet: bad or missing control token (see devnet.json)", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, req)
	})
	srv := &http.Server{Handler: auth, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	r.mu.Lock()
	r.layout.Control, r.layout.ControlToken = "http://"+l.Addr().String(), token
	r.mu.Unlock()
	return func() { srv.Close() }, nil
}

// AddedNode is the answer to add-node.
type AddedNode struct {
	NodeInfo
	Key       control.PublicKey `json:"key"`
	Weight    uint64            `json:"weight"`
	FromEpoch uint64            `json:"fromEpoch"` // the first epoch the weight counts in
}

// RemovedNode is the answer to remove-node.
type RemovedNode struct {
	Name       string `json:"name"`
	LeaveEpoch uint64 `json:"leaveEpoch"` // the first epoch it is in no committee
}

type addRequest struct {
	Weight uint64 `json:"weight"` // 0: the other nodes' weight
}

func httpError(w http.ResponseWriter, code int, err error) {
	http.Error(w, err.Error(), code)
}

func (r *runner) handleAdd(w http.ResponseWriter, req *http.Request) {
	var ar addRequest
	if err := json.NewDecoder(io.LimitReader(req.Body, 4096)).Decode(&ar); err != nil && !errors.Is(err, io.EOF) {
		httpError(w, http.StatusBadRequest, fmt.Errorf("devnet: %w", err))
		return
	}
	r.op.Lock()
	defer r.op.Unlock()
	ctx, cancel := context.WithTimeout(req.Context(), 3*time.Minute)
	defer cancel()
	added, err := r.addNode(ctx, ar.Weight)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSONResponse(w, added)
}

func writeJSONResponse(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// defaultWeight is the weight most members of the current committee
// have (the lowest of the most common), 1 if none.
func defaultWeight(com *control.Committee) uint64 {
	count := map[uint64]int{}
	for _, m := range com.Members {
		count[m.Weight]++
	}
	best, n := uint64(1), 0
	for w, c := range count {
		if w > 0 && (c > n || (c == n && w < best)) {
			best, n = w, c
		}
	}
	return best
}

// addNode creates node-K, starts it, waits until it is healthy and
// registered (a node registers itself as a candidate when it starts)
// and gives it weight.
func (r *runner) addNode(ctx context.Context, weight uint64) (*AddedNode, error) {
	if weight == 0 {
		com, err := r.ctl.Committee(ctx, 0)
		if err != nil {
			return nil, err
		}
		weight = defaultWeight(com)
	}
	r.mu.Lock()
	name := fmt.Sprintf("node-%d", len(r.s.names()))
	r.mu.Unlock()
	keyPath := filepath.Join(r.cfg.Dir, "keys", name+".key")
	k, err := keyfile.LoadOrCreate(keyPath)
	if err != nil {
		return nil, err
	}
	addr, err := loopback.FreeAddr()
	if err != nil {
		return nil, err
	}
	nc := node.Config{Name: name, Listen: addr, DataDir: filepath.Join(r.cfg.Dir, name, "data"), KeyFile: keyPath, ControlPlane: r.ctl.URL(), TestHooks: r.s.TestHooks}
	if err := os.MkdirAll(filepath.Join(r.cfg.Dir, name), 0o700); err != nil {
		return nil, err
	}
	if err := writeJSON(r.nodeConfig(name), nc); err != nil {
		return nil, err
	}
	// Recorded before it starts: a devnet stopped from here on resumes it.
	r.mu.Lock()
	r.s.Added = append(r.s.Added, name)
	err = r.saveSettings()
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	info, err := r.startNode(ctx, name)
	if err != nil {
		return nil, err
	}
	key := control.KeyOf(k)
	rec, err := r.ctl.Node(ctx, key)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("devnet: %s (%s) is healthy but not registered", name, key.Short())
	}
	if _, err := r.ctl.Submit(ctx, r.admin, control.Payload{SetWeight: &control.SetWeight{Node: key, Weight: weight}}); err != nil {
		return nil, fmt.Errorf("devnet: setting %s's weight: %w", name, err)
	}
	st, err := r.ctl.Status(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.writeLayout(); err != nil {
		return nil, err
	}
	return &AddedNode{NodeInfo: *info, Key: key, Weight: weight, FromEpoch: st.Epoch + 1}, nil
}

func (r *runner) handleRemove(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("name")
	r.op.Lock()
	defer r.op.Unlock()
	r.mu.Lock()
	known := slices.Contains(r.s.names(), name)
	left := slices.Contains(r.s.Left, name)
	_, leaving := r.leaving[name]
	r.mu.Unlock()
	switch {
	case !known:
		httpError(w, http.StatusNotFound, fmt.Errorf("devnet: no node %q", name))
		return
	case left:
		httpError(w, http.StatusConflict, fmt.Errorf("devnet: %s left already", name))
		return
	case leaving:
		httpError(w, http.StatusConflict, fmt.Errorf("devnet: %s is leaving already", name))
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), time.Minute)
	defer cancel()
	key, err := keyfile.Load(filepath.Join(r.cfg.Dir, "keys", name+".key"))
	if err != nil {
		httpError(w, http.StatusInternalServerError, err)
		return
	}
	signer := rpc.NewSigner(key)
	if _, err := r.ctl.LeaveCommittee(ctx, signer); err != nil {
		httpError(w, http.StatusConflict, fmt.Errorf("devnet: %s cannot leave: %w", name, err))
		return
	}
	rec, err := r.ctl.Node(ctx, signer.Key())
	if err != nil || rec == nil || !rec.Leaving {
		httpError(w, http.StatusInternalServerError, fmt.Errorf("devnet: %s's leave not found after commit (%v)", name, err))
		return
	}
	r.mu.Lock()
	r.leaving[name] = rec.LeaveEpoch
	if r.s.Leaving == nil {
		r.s.Leaving = map[string]uint64{}
	}
	r.s.Leaving[name] = rec.LeaveEpoch
	err = r.saveSettings()
	if i := slices.IndexFunc(r.layout.Nodes, func(n NodeInfo) bool { return n.Name == name }); i >= 0 {
		r.layout.Nodes[i].Leaving = true
	}
	r.mu.Unlock()
	if err == nil {
		err = r.writeLayout()
	}
	if err != nil {
		httpError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSONResponse(w, RemovedNode{Name: name, LeaveEpoch: rec.LeaveEpoch})
}

// leaverGrace bounds how long a leaver whose change is done waits to drop
// its given-up shards (it keeps them until their new owners attest; one
// that is down would keep it forever).
const leaverGrace = time.Minute

// watchLeaving stops each leaving node once no one needs it: the epoch it
// leaves at (or a later one) began, and either that epoch's change is
// done or the current epoch syncs from an epoch it is not in; and the
// node dropped the shards it gave up (its health lists none), is down, or
// leaverGrace passed since. Then it is marked left.
func (r *runner) watchLeaving(ctx context.Context) {
	doneAt := map[string]time.Time{}
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		r.mu.Lock()
		leaving := maps.Clone(r.leaving)
		r.mu.Unlock()
		if len(leaving) == 0 {
			continue
		}
		st, err := r.ctl.Status(ctx)
		if err != nil {
			continue
		}
		for name, e := range leaving {
			if st.Epoch < e || (st.EpochState != control.EpochDone && st.PreviousEpoch < e) {
				continue
			}
			if _, ok := doneAt[name]; !ok {
				doneAt[name] = time.Now()
			}
			r.mu.Lock()
			c := r.procs[name]
			var api string
			if i := slices.IndexFunc(r.layout.Nodes, func(n NodeInfo) bool { return n.Name == name }); i >= 0 {
				api = r.layout.Nodes[i].API
			}
			r.mu.Unlock()
			if c != nil && time.Since(doneAt[name]) < leaverGrace && holdsShards(ctx, hc, api) {
				continue
			}
			r.retire(name, c)
			delete(doneAt, name)
		}
	}
}

// holdsShards reports whether a node answers and lists shards (held or
// read-only) in its health.
func holdsShards(ctx context.Context, hc *http.Client, api string) bool {
	req, err := http.NewRequestWithContext(ctx, "GET", api+"/v1/health", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var h node.Health
	if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&h) != nil {
		return false
	}
	return len(h.Shards) > 0 || len(h.ShardStates) > 0
}

// retire stops a node that left, and any process of its config started
// by hand, and records it as left.
func (r *runner) retire(name string, c *child) {
	if c != nil {
		c.stop(20 * time.Second)
	}
	for _, p := range findStale(map[string]string{r.nodeConfig(name): name}) {
		stopStale(p, 10*time.Second)
	}
	r.mu.Lock()
	delete(r.procs, name)
	delete(r.leaving, name)
	delete(r.s.Leaving, name)
	r.s.Left = append(r.s.Left, name)
	err := r.saveSettings()
	if i := slices.IndexFunc(r.layout.Nodes, func(n NodeInfo) bool { return n.Name == name }); i >= 0 {
		r.layout.Nodes[i] = NodeInfo{Name: name, Config: r.layout.Nodes[i].Config, DataDir: r.layout.Nodes[i].DataDir, Left: true}
	}
	r.mu.Unlock()
	if err == nil {
		err = r.writeLayout()
	}
	if err != nil {
		fmt.Fprintf(r.cfg.Out, "devnet: recording that %s left: %v\n", name, err)
		return
	}
	fmt.Fprintf(r.cfg.Out, "%s left the committee and was stopped\n", name)
}

// runningLayout reads the devnet.json of the devnet running in dir.
func runningLayout(dir string) (*Layout, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "devnet.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("devnet: no devnet runs in %s (no devnet.json; start it with weft devnet --dir %s)", dir, dir)
	}
	if err != nil {
		return nil, err
	}
	var l Layout
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("devnet: %s: %w", filepath.Join(dir, "devnet.json"), err)
	}
	return &l, nil
}

// controlCall posts to the running devnet's control endpoint in dir.
func controlCall(ctx context.Context, dir, path string, body, out any) error {
	l, err := runningLayout(dir)
	if err != nil {
		return err
	}
	if l.Control == "" {
		return fmt.Errorf("devnet: the devnet in %s has no control endpoint (started by an older weft?)", dir)
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", l.Control+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+l.ControlToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("devnet: the devnet in %s does not answer (%v); is it running?", dir, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return errors.New(trimNL(string(msg)))
	}
	return json.Unmarshal(msg, out)
}

func trimNL(s string) string {
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	return s
}

// AddNode asks the devnet running in dir to add a node with weight (0:
// the weight of most current members), and returns it once it runs, is
// registered and has its weight; it joins the committee at the next
// epoch boundary.
func AddNode(ctx context.Context, dir string, weight uint64) (*AddedNode, error) {
	var out AddedNode
	if err := controlCall(ctx, dir, "/v1/devnet/nodes", addRequest{Weight: weight}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveNode asks the devnet running in dir to make a node leave
// (LeaveCommittee from its key). It returns at once; the devnet stops the
// node once the change of its leave epoch is done (see watchLeaving), and
// records it with "left": true.
func RemoveNode(ctx context.Context, dir, name string) (*RemovedNode, error) {
	var out RemovedNode
	if err := controlCall(ctx, dir, "/v1/devnet/nodes/"+name+"/leave", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AdvanceEpoch starts the next epoch of the devnet in dir now, with its
// admin key, and returns the new epoch's change.
func AdvanceEpoch(ctx context.Context, dir string) (*control.EpochChange, error) {
	l, err := runningLayout(dir)
	if err != nil {
		return nil, err
	}
	key, err := keyfile.Load(filepath.Join(dir, "keys", "admin.key"))
	if err != nil {
		return nil, err
	}
	c, err := rpc.Dial(ctx, l.ControlPlane)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.Submit(ctx, rpc.NewSigner(key), control.Payload{AdvanceEpoch: &control.AdvanceEpoch{Epoch: st.Epoch + 1}}); err != nil {
		return nil, err
	}
	return c.EpochChange(ctx, st.Epoch+1)
}
