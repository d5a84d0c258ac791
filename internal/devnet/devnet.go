// Package devnet runs a local Weft network on loopback: the embedded
// control plane (one CometBFT validator in this process) and storage nodes
// as separate `weft node` processes, created on the first run in a
// directory and resumed from it on later runs.
package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
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
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return err
	}
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
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			if p.Process != nil {
				p.Process.Signal(syscall.SIGTERM)
			}
		}
		for _, p := range procs {
			waitOrKill(p, 20*time.Second)
		}
	}()
	for i := 0; i < cfg.Nodes; i++ {
		name := fmt.Sprintf("node-%d", i)
		cpath := filepath.Join(cfg.Dir, name, "config.json")
		nc, err := node.LoadConfig(cpath)
		if err != nil {
			return err
		}
		lf, err := os.OpenFile(filepath.Join(cfg.Dir, name, "node.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		cmd := exec.Command(cfg.Exe, "node", "--config", cpath)
		cmd.Stdout, cmd.Stderr = lf, lf
		if err := cmd.Start(); err != nil {
			lf.Close()
			return err
		}
		lf.Close()
		procs = append(procs, cmd)
		layout.Nodes = append(layout.Nodes, NodeInfo{Name: name, API: "http://" + nc.Listen, PID: cmd.Process.Pid, Config: cpath, DataDir: nc.DataDir})
	}
	for i := range layout.Nodes {
		h, err := waitHealthy(ctx, layout.Nodes[i].API, procs[i])
		if err != nil {
			return fmt.Errorf("devnet: %s: %w (see %s)", layout.Nodes[i].Name, err, filepath.Join(cfg.Dir, layout.Nodes[i].Name, "node.log"))
		}
		layout.Nodes[i].Shards = h.Shards
	}
	// The gateway, in this process.
	sdkCfg, err := client.LoadConfig(clientCfg)
	if err != nil {
		return err
	}
	sdk, err := client.New(ctx, sdkCfg)
	if err != nil {
		return err
	}
	defer sdk.Close()
	gl, err := net.Listen("tcp", s.Gateway)
	if err != nil {
		return fmt.Errorf("devnet: gateway: %w", err)
	}
	gsrv := &http.Server{Handler: gateway.New(sdk, gateway.Config{}).Handler(), ReadHeaderTimeout: 10 * time.Second}
	go gsrv.Serve(gl)
	defer gsrv.Close()
	layout.Gateway = "http://" + s.Gateway
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
	return nil
}

func waitOrKill(p *exec.Cmd, d time.Duration) {
	done := make(chan struct{})
	go func() { p.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		p.Process.Kill()
		<-done
	}
}

// waitHealthy polls a node's health endpoint until it answers, the
// process exits, or a deadline passes.
func waitHealthy(ctx context.Context, api string, p *exec.Cmd) (*node.Health, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(api + "/v1/health")
		if err == nil {
			var h node.Health
			err = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				return &h, nil
			}
		}
		if p.ProcessState != nil {
			return nil, errors.New("node exited")
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("not healthy after 2 minutes: %v", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
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
