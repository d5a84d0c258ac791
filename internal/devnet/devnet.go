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
	"syscall"
	"time"

	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/engine"
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
}

// Layout is what the devnet writes as DIR/devnet.json once it is ready.
type Layout struct {
	ControlPlane string     `json:"controlPlane"`
	Gateway      string     `json:"gateway"`
	GatewayPID   int        `json:"gatewayPid"`
	ClientConfig string     `json:"clientConfig"`
	Nodes        []NodeInfo `json:"nodes"`
}

// NodeInfo describes one storage node of the devnet.
type NodeInfo struct {
	Name    string `json:"name"`
	API     string `json:"api"`
	PID     int    `json:"pid"`
	Config  string `json:"config"`
	DataDir string `json:"dataDir"`
	Shards  []int  `json:"shards"`
}

// settings is DIR/devnet-settings.json: what was created.
type settings struct {
	Nodes   int    `json:"nodes"`
	Shards  int    `json:"shards"`
	Gateway string `json:"gateway"` // host:port
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
		g.Nodes = append(g.Nodes, control.Node{Key: control.KeyOf(k), Name: name, Address: "http://" + addr})
		ncs = append(ncs, node.Config{Name: name, Listen: addr, DataDir: filepath.Join(cfg.Dir, name, "data"),
			KeyFile: filepath.Join(keys, name+".key")})
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
	return writeJSON(filepath.Join(cfg.Dir, "devnet-settings.json"), settings{Nodes: cfg.Nodes, Shards: cfg.Shards, Gateway: gw})
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
	cp, err := engine.Start(filepath.Join(cfg.Dir, "control"), logf)
	if err != nil {
		return err
	}
	defer cp.Stop()

	clientCfg := filepath.Join(cfg.Dir, "client.json")
	if err := writeJSON(clientCfg, client.Config{ControlPlane: cp.RPC(), KeyFile: filepath.Join(cfg.Dir, "keys", "client.key")}); err != nil {
		return err
	}
	layout := Layout{ControlPlane: cp.RPC(), ClientConfig: clientCfg}

	// Processes an earlier devnet of this directory left running (killed
	// with kill -9 before children died with it, or off Linux) hold the
	// nodes' databases and ports: stop them first.
	configs := map[string]string{clientCfg: "gateway"}
	for i := 0; i < cfg.Nodes; i++ {
		name := fmt.Sprintf("node-%d", i)
		configs[filepath.Join(cfg.Dir, name, "config.json")] = name
	}
	for _, p := range findStale(configs) {
		fmt.Fprintf(cfg.Out, "stopping %s (PID %d), left running by an earlier devnet in %s\n", p.name, p.pid, cfg.Dir)
		if err := stopStale(p, 10*time.Second); err != nil {
			return err
		}
	}

	sp := newSpawner()
	var procs []*child
	defer func() {
		for _, p := range procs {
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			p.stop(20 * time.Second)
		}
		sp.close()
	}()
	var keys []control.PublicKey
	for i := 0; i < cfg.Nodes; i++ {
		name := fmt.Sprintf("node-%d", i)
		cpath := filepath.Join(cfg.Dir, name, "config.json")
		nc, err := node.LoadConfig(cpath)
		if err != nil {
			return err
		}
		k, err := keyfile.LoadOrCreate(nc.KeyFile)
		if err != nil {
			return err
		}
		keys = append(keys, control.KeyOf(k))
		if err := checkPortFree(name, nc.Listen); err != nil {
			return err
		}
		c, err := startChild(sp, name, filepath.Join(cfg.Dir, name, "node.log"), cfg.Exe, "node", "--config", cpath)
		if err != nil {
			return err
		}
		procs = append(procs, c)
		layout.Nodes = append(layout.Nodes, NodeInfo{Name: name, API: "http://" + nc.Listen, PID: c.cmd.Process.Pid, Config: cpath, DataDir: nc.DataDir})
	}
	for i := range layout.Nodes {
		var h node.Health
		if err := waitHealthy(ctx, layout.Nodes[i].API, procs[i], &h); err != nil {
			return err
		}
		// Whatever answers must be the node this devnet started.
		if h.Node != keys[i] || h.Name != layout.Nodes[i].Name {
			return fmt.Errorf("devnet: %s: another process answers on %s (node %q, key %s)", layout.Nodes[i].Name, layout.Nodes[i].API, h.Name, h.Node.Short())
		}
		layout.Nodes[i].Shards = h.Shards
	}

	// The gateway, as its own process: running out of memory there must
	// not take the control plane down with it.
	if err := checkPortFree("gateway", s.Gateway); err != nil {
		return err
	}
	gw, err := startChild(sp, "gateway", filepath.Join(cfg.Dir, "gateway.log"), cfg.Exe, "gateway", "--config", clientCfg, "--listen", s.Gateway)
	if err != nil {
		return err
	}
	procs = append(procs, gw)
	layout.Gateway = "http://" + s.Gateway
	layout.GatewayPID = gw.cmd.Process.Pid
	var gh gateway.Health
	if err := waitHealthy(ctx, layout.Gateway, gw, &gh); err != nil {
		return err
	}
	if gh.PID != gw.cmd.Process.Pid {
		return fmt.Errorf("devnet: gateway: another process (PID %d) answers on %s", gh.PID, layout.Gateway)
	}
	if err := writeJSON(filepath.Join(cfg.Dir, "devnet.json"), layout); err != nil {
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
layout: %s
stop with Ctrl-C; run again with the same --dir to resume.
`, cp.RPC(), layout.Gateway, cfg.Nodes, layout.Gateway, layout.Gateway, clientCfg, filepath.Join(cfg.Dir, "devnet.json"))
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
