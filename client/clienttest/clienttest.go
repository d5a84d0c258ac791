// Package clienttest starts a whole Weft network in one process — an
// embedded control plane validator and storage nodes, all on loopback —
// so that tests and examples of programs using the SDK need no devnet of
// processes:
//
//	net, err := clienttest.Start(ctx, clienttest.Options{Dir: t.TempDir()})
//	...
//	defer net.Close()
//	c, err := client.New(ctx, net.Config())
//
// Unlike package client, it links the servers (CometBFT, Pebble, the
// storage node): import it from tests only.
package clienttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"path/filepath"
	"time"

	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/engine"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/loopback"
	"github.com/weftnet/weft/internal/node"
	"github.com/weftnet/weft/units"
)

// Options shape the network. The zero value but for Dir is a network of
// 4 storage nodes holding 12 shards (3 each: f = 3, so one node may fail).
type Options struct {
	// Dir holds keys, the control plane's home and the nodes' data. It
	// must be empty or absent; the caller removes it.
	Dir string
	// Nodes is the number of storage nodes (default 4).
	Nodes int
	// Shards is the number of shards, at least 4 (default 3 per node).
	Shards int
}

// Network is a running in-process network.
type Network struct {
	dir       string
	rpc       string
	validator *engine.Validator
	nodes     []*node.Node
}

// Start starts a network: a control plane with one validator whose
// genesis committee is the storage nodes, then the nodes, each once it
// listens.
func Start(ctx context.Context, o Options) (_ *Network, err error) {
	if o.Dir == "" {
		return nil, errors.New("clienttest: no directory")
	}
	if o.Nodes == 0 {
		o.Nodes = 4
	}
	if o.Shards == 0 {
		o.Shards = max(3*o.Nodes, 4)
	}
	admin, err := keyfile.LoadOrCreate(filepath.Join(o.Dir, "keys", "admin.key"))
	if err != nil {
		return nil, fmt.Errorf("clienttest: %w", err)
	}
	g := control.Genesis{Params: control.Params{NetworkID: "weft-clienttest", Shards: o.Shards, MaxEpochsAhead: 100, Admin: control.KeyOf(admin)}}
	var cfgs []*node.Config
	for i := range o.Nodes {
		name := fmt.Sprint("node-", i)
		kf := filepath.Join(o.Dir, "keys", name+".key")
		k, err := keyfile.LoadOrCreate(kf)
		if err != nil {
			return nil, fmt.Errorf("clienttest: %w", err)
		}
		addr, err := loopback.FreeAddr()
		if err != nil {
			return nil, fmt.Errorf("clienttest: %w", err)
		}
		g.Nodes = append(g.Nodes, control.NodeRecord{Key: control.KeyOf(k), Name: name, Address: "http://" + addr})
		cfgs = append(cfgs, &node.Config{Name: name, Listen: addr, DataDir: filepath.Join(o.Dir, name), KeyFile: kf})
	}
	home := filepath.Join(o.Dir, "control")
	if _, err := engine.Init(engine.InitConfig{Dir: home, Validators: 1, Genesis: g, BlockInterval: 20 * time.Millisecond}); err != nil {
		return nil, fmt.Errorf("clienttest: %w", err)
	}
	v, err := engine.Start(ctx, home, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("clienttest: %w", err)
	}
	n := &Network{dir: o.Dir, rpc: v.RPC(), validator: v}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	for _, c := range cfgs {
		c.ControlPlane = v.RPC()
		sn, err := node.Start(ctx, c, log.New(io.Discard, "", 0))
		if err != nil {
			return nil, fmt.Errorf("clienttest: %w", err)
		}
		n.nodes = append(n.nodes, sn)
	}
	return n, nil
}

// ControlPlane returns the validator's RPC URL.
func (n *Network) ControlPlane() string { return n.rpc }

// Config returns a client config for the network, with an account key
// in the network's directory.
func (n *Network) Config() client.Config {
	return client.Config{ControlPlane: n.rpc, KeyFile: filepath.Join(n.dir, "keys", "client.key"), NodeTimeout: units.Duration(10 * time.Second)}
}

// Close stops the storage nodes, then the control plane.
func (n *Network) Close() error {
	var errs []error
	for _, sn := range n.nodes {
		errs = append(errs, sn.Shutdown(context.Background()))
	}
	n.nodes = nil
	if n.validator != nil {
		errs = append(errs, n.validator.Shutdown(context.Background()))
		n.validator = nil
	}
	return errors.Join(errs...)
}
