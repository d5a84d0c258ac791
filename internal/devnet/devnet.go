// Package devnet runs a local Weft network on loopback: the embedded
// control plane (one CometBFT validator in this process), storage nodes
// as separate `weft node` processes and the gateway as a `weft gateway`
// process, created on the first run in a directory and resumed from it on
// later runs.
//
// Supervision: on Linux the children die with the devnet, even on kill -9
// (Pdeathsig, see spawner); a run first stops nodes and gateways an
// earlier run of the same directory left running (found by the config
// path on their command line); and a child counts as ready only while it
// still runs, answers /v1/health on its address, and is the process this
// run started (a node's key and name, the gateway's PID).
package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/engine"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/gateway"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/loopback"
	"github.com/weftnet/weft/internal/node"
)

// Config describes a devnet.
type Config struct {
	Dir    string
	Nodes  int    // default 7
	Shards int    // default 28: losing any two nodes loses nothing
	Exe    string // the weft binary to run nodes with; default this one
	Out    io.Writer
	// ChallengeInterval is how often storage challenges open (genesis, so
	// on the first run only): zero means DefaultChallengeInterval, a
	// negative value none.
	ChallengeInterval time.Duration
	// TestHooks turns on the nodes' test hooks (node.Config.TestHooks),
	// for tests that break a node on purpose. Set when Dir is created;
	// nodes added later get it too.
	TestHooks bool
}

// DefaultChallengeInterval is short, so that challenges are seen working.
const DefaultChallengeInterval = 30 * time.Second

// Layout is what the devnet writes as DIR/devnet.json once it is ready.
type Layout struct {
	ControlPlane string     `json:"controlPlane"`
	Gateway      string     `json:"gateway"`
	GatewayPID   int        `json:"gatewayPid"`
	ClientConfig string     `json:"clientConfig"`
	Nodes        []NodeInfo `json:"nodes"`
	// Control is the devnet process's own endpoint on loopback (see
	// control.go), which weft devnet add-node and remove-node call with
	// ControlToken; devnet.json is readable by its owner only.
	Control      string `json:"control"`
	ControlToken string `json:"controlToken"`
}

// NodeInfo describes one storage node of the devnet.
type NodeInfo struct {
	Name    string `json:"name"`
	API     string `json:"api"`
	PID     int    `json:"pid"`
	Config  string `json:"config"`
	DataDir string `json:"dataDir"`
	Shards  []int  `json:"shards"`
	// Leaving: the node asked to leave and stops once the change that
	// removed it is done; Left: it did and was stopped (PID 0), and is not
	// started again on resume.
	Leaving bool `json:"leaving,omitempty"`
	Left    bool `json:"left,omitempty"`
}

// settings is DIR/devnet-settings.json: what was created, and the nodes
// added and removed since (weft devnet add-node, remove-node). It is what
// a run resumes from.
type settings struct {
	Nodes   int    `json:"nodes"` // created: node-0 … node-(Nodes−1)
	Shards  int    `json:"shards"`
	Gateway string `json:"gateway"` // host:port
	// Added lists the nodes added later, in order (node-Nodes, …).
	Added []string `json:"added,omitempty"`
	// Leaving maps a node that asked to leave to its leave epoch: it runs
	// (serving its old shards read-only) until that epoch's change is done.
	Leaving map[string]uint64 `json:"leaving,omitempty"`
	// Left lists the nodes that left and were stopped: never started again.
	Left []string `json:"left,omitempty"`
	// TestHooks: the nodes' configs turn test hooks on (tests only).
	TestHooks bool `json:"testHooks,omitempty"`
}

// names lists every node of the devnet, left ones included.
func (s *settings) names() []string {
	var out []string
	for i := 0; i < s.Nodes; i++ {
		out = append(out, fmt.Sprintf("node-%d", i))
	}
	return append(out, s.Added...)
}

func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// create lays out a new devnet in cfg.Dir.
func create(cfg *Config) error {
	keys := filepath.Join(cfg.Dir, "keys")
	admin, err := keyfile.LoadOrCreate(filepath.Join(keys, "admin.key"))
	if err != nil {
		return err
	}
	g := control.Genesis{Params: control.Params{NetworkID: "weft-devnet", Shards: cfg.Shards, Admin: control.KeyOf(admin), MaxEpochsAhead: 1000}}
	switch {
	case cfg.ChallengeInterval == 0:
		g.Params.ChallengeInterval = DefaultChallengeInterval
	case cfg.ChallengeInterval > 0:
		g.Params.ChallengeInterval = cfg.ChallengeInterval
	}
	var ncs []node.Config
	for i := 0; i < cfg.Nodes; i++ {
		name := fmt.Sprintf("node-%d", i)
		k, err := keyfile.LoadOrCreate(filepath.Join(keys, name+".key"))
		if err != nil {
			return err
		}
		addr, err := loopback.FreeAddr()
		if err != nil {
			return err
		}
		g.Nodes = append(g.Nodes, control.NodeRecord{Key: control.KeyOf(k), Name: name, Address: "http://" + addr})
		ncs = append(ncs, node.Config{Name: name, Listen: addr, DataDir: filepath.Join(cfg.Dir, name, "data"),
			KeyFile: filepath.Join(keys, name+".key"), TestHooks: cfg.TestHooks})
	}
	homes, err := engine.Init(engine.InitConfig{Dir: filepath.Join(cfg.Dir, "control"), Validators: 1, Genesis: g})
	if err != nil {
		return err
	}
	vc, err := engine.LoadValidatorConfig(homes[0])
	if err != nil {
		return err
	}
	for _, nc := range ncs {
		nc.ControlPlane = "http://" + vc.RPC
		if err := os.MkdirAll(filepath.Join(cfg.Dir, nc.Name), 0o700); err != nil {
			return err
		}
		if err := writeJSON(filepath.Join(cfg.Dir, nc.Name, "config.json"), nc); err != nil {
			return err
		}
	}
	gw, err := loopback.FreeAddr()
	if err != nil {
		return err
	}
	return writeJSON(filepath.Join(cfg.Dir, "devnet-settings.json"), settings{Nodes: cfg.Nodes, Shards: cfg.Shards, Gateway: gw, TestHooks: cfg.TestHooks})
}

// Run creates the devnet if cfg.Dir holds none, starts it, writes
// devnet.json and a short guide, and runs until ctx ends; then it stops
// the nodes (SIGTERM) and the control plane.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		cfg.Exe = exe
	}
	// Absolute, so the children's command lines name their configs the
	// same way whatever the working directory (see findStale).
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return err
	}
	cfg.Dir = dir
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return err
	}
	// A devnet.json left by an earlier run describes processes that are
	// gone: WaitReady must wait for this run's.
	os.Remove(filepath.Join(cfg.Dir, "devnet.json"))
	var s settings
	raw, err := os.ReadFile(filepath.Join(cfg.Dir, "devnet-settings.json"))
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("devnet: %w", err)
		}
		if (cfg.Nodes != 0 && cfg.Nodes != s.Nodes) || (cfg.Shards != 0 && cfg.Shards != s.Shards) {
			return fmt.Errorf("devnet: %s holds a devnet of %d nodes and %d shards; use another --dir for a different one", cfg.Dir, s.Nodes, s.Shards)
		}
		cfg.Nodes, cfg.Shards = s.Nodes, s.Shards
		fmt.Fprintf(cfg.Out, "resuming the devnet in %s\n", cfg.Dir)
	case errors.Is(err, os.ErrNotExist):
		if cfg.Nodes == 0 {
			cfg.Nodes = 7
		}
		if cfg.Shards == 0 {
			cfg.Shards = 28
		}
		if cfg.Shards < cfg.Nodes {
			return fmt.Errorf("devnet: %d shards cannot cover %d nodes", cfg.Shards, cfg.Nodes)
		}
		if err := create(&cfg); err != nil {
			return err
		}
		raw, err := os.ReadFile(filepath.Join(cfg.Dir, "devnet-settings.json"))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		fmt.Fprintf(cfg.Out, "created a devnet of %d nodes and %d shards in %s\n", cfg.Nodes, cfg.Shards, cfg.Dir)
	default:
		return err
	}

	logf, err := os.OpenFile(filepath.Join(cfg.Dir, "control.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cp, err := engine.Start(ctx, filepath.Join(cfg.Dir, "control"), logf)
	if err != nil {
		return err
	}
	defer cp.Shutdown(context.Background())

	clientCfg := filepath.Join(cfg.Dir, "client.json")
	if err := writeJSON(clientCfg, client.Config{ControlPlane: cp.RPC(), KeyFile: filepath.Join(cfg.Dir, "keys", "client.key")}); err != nil {
		return err
	}
	layout := Layout{ControlPlane: cp.RPC(), ClientConfig: clientCfg}

	// Processes an earlier devnet of this directory left running (killed
	// with kill -9 before children died with it, or off Linux) hold the
	// nodes' databases and ports: stop them first.
	configs := map[string]string{clientCfg: "gateway"}
	for _, name := range s.names() {
		configs[filepath.Join(cfg.Dir, name, "config.json")] = name
	}
	for _, p := range findStale(configs) {
		fmt.Fprintf(cfg.Out, "stopping %s (PID %d), left running by an earlier devnet in %s\n", p.name, p.pid, cfg.Dir)
		if err := stopStale(p, 10*time.Second); err != nil {
			return err
		}
	}

	admin, err := keyfile.Load(filepath.Join(cfg.Dir, "keys", "admin.key"))
	if err != nil {
		return err
	}
	ctl, err := rpc.Dial(ctx, cp.RPC())
	if err != nil {
		return err
	}
	defer ctl.Close()
	r := &runner{cfg: cfg, s: s, sp: newSpawner(), procs: map[string]*child{}, layout: layout,
		ctl: ctl, admin: rpc.NewSigner(admin), leaving: map[string]uint64{}}
	defer r.stopAll()
	for name, e := range s.Leaving {
		r.leaving[name] = e
	}
	// Every node in order (tests and tools index them), left ones too;
	// the others start together and fill their entries in.
	var start []string
	for _, name := range s.names() {
		r.layout.Nodes = append(r.layout.Nodes, NodeInfo{Name: name, Config: filepath.Join(cfg.Dir, name, "config.json"), Left: slices.Contains(s.Left, name)})
		if !slices.Contains(s.Left, name) {
			start = append(start, name)
		}
	}
	errs := make(chan error, len(start))
	for _, name := range start {
		go func() {
			_, err := r.startNode(ctx, name)
			errs <- err
		}()
	}
	var startErr error
	for range start {
		if err := <-errs; err != nil && startErr == nil {
			startErr = err
		}
	}
	if startErr != nil {
		return startErr
	}

	// The gateway, as its own process: running out of memory there must
	// not take the control plane down with it.
	if err := checkPortFree("gateway", s.Gateway); err != nil {
		return err
	}
	gw, err := startChild(r.sp, "gateway", filepath.Join(cfg.Dir, "gateway.log"), cfg.Exe, "gateway", "--config", clientCfg, "--listen", s.Gateway)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.procs["gateway"] = gw
	r.layout.Gateway = "http://" + s.Gateway
	r.layout.GatewayPID = gw.cmd.Process.Pid
	r.mu.Unlock()
	var gh gateway.Health
	if err := waitHealthy(ctx, r.layout.Gateway, gw, &gh); err != nil {
		return err
	}
	if gh.PID != gw.cmd.Process.Pid {
		return fmt.Errorf("devnet: gateway: another process (PID %d) answers on %s", gh.PID, r.layout.Gateway)
	}
	stopCtl, err := r.serveControl()
	if err != nil {
		return err
	}
	defer stopCtl()
	wctx, wcancel := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); r.watchLeaving(wctx) }()
	defer func() { wcancel(); <-watched }()
	if err := r.writeLayout(); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Out, `devnet ready: control plane %s, gateway %s, %d storage nodes
  curl -X PUT --data-binary @FILE %s/v1/blobs      # store through the gateway
  curl %s/v1/blobs/BLOB_ID                         # read it back
  export WEFT_CONFIG=%s
  weft store FILE          # prints the blob ID
  weft read BLOB_ID -o OUT
  weft status BLOB_ID
  weft info
  weft devnet add-node --dir %s      # one more node, with weight
  weft devnet remove-node --dir %s NAME
  weft devnet advance-epoch --dir %s
layout: %s
stop with Ctrl-C; run again with the same --dir to resume.
`, cp.RPC(), r.layout.Gateway, len(s.names())-len(s.Left), r.layout.Gateway, r.layout.Gateway, clientCfg, cfg.Dir, cfg.Dir, cfg.Dir, filepath.Join(cfg.Dir, "devnet.json"))
	<-ctx.Done()
	fmt.Fprintln(cfg.Out, "stopping the devnet")
	// It describes processes about to stop.
	os.Remove(filepath.Join(cfg.Dir, "devnet.json"))
	return nil
}

// waitHealthy polls a child's health endpoint into h until it answers
// 200, the child exits, or a deadline passes.
func waitHealthy(ctx context.Context, api string, c *child, h any) error {
	deadline := time.Now().Add(2 * time.Minute)
	hc := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := hc.Get(api + "/v1/health")
		if err == nil {
			err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(h)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("health: %s", resp.Status)
			}
			if err == nil {
				// The child may have failed while another process
				// answered: only a running child counts.
				select {
				case <-c.exited:
					return c.exitError()
				default:
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("devnet: %s not healthy after 2 minutes: %v (see %s)", c.name, err, c.log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.exited:
			return c.exitError()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitReady polls for DIR/devnet.json, which Run writes once the devnet
// is ready, until ctx ends.
func WaitReady(ctx context.Context, dir string) (*Layout, error) {
	for {
		var l Layout
		raw, err := os.ReadFile(filepath.Join(dir, "devnet.json"))
		if err == nil && json.Unmarshal(raw, &l) == nil {
			return &l, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("devnet: not ready in %s: %w", dir, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
