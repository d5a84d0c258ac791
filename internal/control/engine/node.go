package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/types"

	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/loopback"
	"github.com/weftnet/weft/units"
)

// ValidatorConfig is a validator home's validator.json: everything that
// differs between validators of one network besides their keys. Adding a
// validator to a network is a matter of these files and the genesis, not
// of code.
type ValidatorConfig struct {
	Moniker string `json:"moniker"`
	// RPC is the host:port of the CometBFT RPC that clients and storage
	// nodes use; P2P the host:port validators gossip on.
	RPC   string   `json:"rpc"`
	P2P   string   `json:"p2p"`
	Peers []string `json:"peers"` // node-id@host:port of the other validators
	// BlockInterval is the pause after each block (CometBFT's
	// timeout_commit); EmptyBlockInterval how often a block is made when
	// there are no transactions (it carries time for epochs).
	BlockInterval      units.Duration `json:"blockInterval"`
	EmptyBlockInterval units.Duration `json:"emptyBlockInterval"`
	// LogLevel is CometBFT's: "error" (default), "info" or "debug".
	LogLevel string `json:"logLevel,omitempty"`
}

const validatorFile = "validator.json"

// InitConfig describes a new control plane network.
type InitConfig struct {
	// Dir holds the validators' homes: Dir itself for one validator,
	// Dir/validator-0 … for several.
	Dir        string
	Validators int
	Genesis    control.Genesis
	// BasePort: validator i listens for RPC on BasePort+2i and P2P on
	// BasePort+2i+1, on 127.0.0.1. Zero picks free ports.
	BasePort      int
	BlockInterval time.Duration // default 50ms
}

// Init creates the validators' homes (keys, genesis, validator.json) and
// returns their paths. It refuses to overwrite an existing network.
func Init(c InitConfig) ([]string, error) {
	if c.Validators < 1 {
		return nil, errors.New("engine: need at least one validator")
	}
	if err := c.Genesis.Params.Validate(); err != nil {
		return nil, err
	}
	if c.BlockInterval == 0 {
		c.BlockInterval = 50 * time.Millisecond
	}
	homes := []string{c.Dir}
	if c.Validators > 1 {
		homes = homes[:0]
		for i := 0; i < c.Validators; i++ {
			homes = append(homes, filepath.Join(c.Dir, fmt.Sprintf("validator-%d", i)))
		}
	}
	appState, err := json.Marshal(c.Genesis)
	if err != nil {
		return nil, err
	}
	doc := types.GenesisDoc{
		ChainID:         c.Genesis.Params.NetworkID,
		GenesisTime:     time.Now().UTC(),
		ConsensusParams: types.DefaultConsensusParams(),
		AppState:        appState,
	}
	vcs := make([]ValidatorConfig, len(homes))
	ids := make([]string, len(homes))
	for i, home := range homes {
		if _, err := os.Stat(filepath.Join(home, validatorFile)); err == nil {
			return nil, fmt.Errorf("engine: %s already holds a validator", home)
		}
		for _, d := range []string{"config", "data"} {
			if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
				return nil, err
			}
		}
		cc := cometConfig(home, ValidatorConfig{})
		pv := privval.GenFilePV(cc.PrivValidatorKeyFile(), cc.PrivValidatorStateFile())
		pv.Save()
		pub, err := pv.GetPubKey()
		if err != nil {
			return nil, err
		}
		nk, err := p2p.LoadOrGenNodeKey(cc.NodeKeyFile())
		if err != nil {
			return nil, err
		}
		ids[i] = string(nk.ID())
		doc.Validators = append(doc.Validators, types.GenesisValidator{Address: pub.Address(), PubKey: pub, Power: 10, Name: fmt.Sprintf("validator-%d", i)})
		rpc, p2pAddr, err := ports(c.BasePort, i)
		if err != nil {
			return nil, err
		}
		vcs[i] = ValidatorConfig{Moniker: fmt.Sprintf("validator-%d", i), RPC: rpc, P2P: p2pAddr,
			BlockInterval: units.Duration(c.BlockInterval), EmptyBlockInterval: units.Duration(time.Second)}
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("engine: genesis: %w", err)
	}
	for i, home := range homes {
		for j := range homes {
			if j != i {
				vcs[i].Peers = append(vcs[i].Peers, ids[j]+"@"+vcs[j].P2P)
			}
		}
		if err := doc.SaveAs(cometConfig(home, vcs[i]).GenesisFile()); err != nil {
			return nil, err
		}
		raw, _ := json.MarshalIndent(vcs[i], "", "  ")
		if err := os.WriteFile(filepath.Join(home, validatorFile), append(raw, '\n'), 0o600); err != nil {
			return nil, err
		}
	}
	return homes, nil
}

func ports(base, i int) (rpc, p2pAddr string, err error) {
	if base != 0 {
		return fmt.Sprintf("127.0.0.1:%d", base+2*i), fmt.Sprintf("127.0.0.1:%d", base+2*i+1), nil
	}
	if rpc, err = loopback.FreeAddr(); err != nil {
		return "", "", err
	}
	p2pAddr, err = loopback.FreeAddr()
	return rpc, p2pAddr, err
}

// LoadValidatorConfig reads a home's validator.json.
func LoadValidatorConfig(home string) (ValidatorConfig, error) {
	var vc ValidatorConfig
	raw, err := os.ReadFile(filepath.Join(home, validatorFile))
	if err != nil {
		return vc, fmt.Errorf("engine: %w (create the network with weft validator init)", err)
	}
	if err := json.Unmarshal(raw, &vc); err != nil {
		return vc, fmt.Errorf("engine: %s: %w", filepath.Join(home, validatorFile), err)
	}
	return vc, nil
}

func cometConfig(home string, vc ValidatorConfig) *cfg.Config {
	c := cfg.DefaultConfig()
	c.SetRoot(home)
	c.Moniker = vc.Moniker
	c.RPC.ListenAddress = "tcp://" + vc.RPC
	c.P2P.ListenAddress = "tcp://" + vc.P2P
	c.P2P.PersistentPeers = strings.Join(vc.Peers, ",")
	c.P2P.AddrBookStrict = false
	c.P2P.AllowDuplicateIP = true
	c.P2P.PexReactor = false
	c.Consensus.TimeoutCommit = time.Duration(vc.BlockInterval)
	// Loopback networks: give up on a silent proposer quickly, so that a
	// dead validator costs a fraction of a second per round it proposes.
	c.Consensus.TimeoutPropose = 500 * time.Millisecond
	c.Consensus.TimeoutProposeDelta = 100 * time.Millisecond
	c.Consensus.TimeoutPrevote = 200 * time.Millisecond
	c.Consensus.TimeoutPrevoteDelta = 100 * time.Millisecond
	c.Consensus.TimeoutPrecommit = 200 * time.Millisecond
	c.Consensus.TimeoutPrecommitDelta = 100 * time.Millisecond
	c.Consensus.CreateEmptyBlocks = true
	c.Consensus.CreateEmptyBlocksInterval = time.Duration(vc.EmptyBlockInterval)
	c.Consensus.PeerGossipSleepDuration = 10 * time.Millisecond
	// Admission (App.CheckTx) applies each transaction to a scratch state;
	// after each block what still waits is re-checked against the new
	// state, so nothing that would fail stays queued.
	c.Mempool.Size = 10000
	c.Mempool.Recheck = true
	c.Mempool.MaxTxBytes = control.MaxTxSize
	c.Mempool.MaxTxsBytes = 256 << 20
	// A challenge answer travels as base64 in the transaction's JSON and
	// again in the RPC's.
	c.RPC.MaxBodyBytes = 2 * control.MaxTxSize
	c.RPC.MaxSubscriptionClients = 1000
	c.RPC.MaxOpenConnections = 2000
	c.RPC.TimeoutBroadcastTxCommit = 30 * time.Second
	c.TxIndex.Indexer = "kv"
	c.Instrumentation.Prometheus = false
	return c
}

// Validator is a running validator with its application.
type Validator struct {
	cmt  *node.Node
	app  *App
	rpc  string
	home string
}

// Start runs the validator in home until Shutdown. CometBFT logs go to
// logw. A ctx already done stops it from starting.
// If the application's state does not match the chain (CometBFT checks
// the app hash while replaying), Start fails rather than serve it.
func Start(ctx context.Context, home string, logw io.Writer) (n *Validator, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	vc, err := LoadValidatorConfig(home)
	if err != nil {
		return nil, err
	}
	c := cometConfig(home, vc)
	pv := privval.LoadFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile())
	nk, err := p2p.LoadNodeKey(c.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("engine: node key: %w", err)
	}
	app, err := OpenApp(filepath.Join(home, "data", "weft-app"))
	if err != nil {
		return nil, err
	}
	level := vc.LogLevel
	if level == "" {
		level = "error"
	}
	logger := cmtlog.NewTMLogger(cmtlog.NewSyncWriter(logw))
	opt, err := cmtlog.AllowLevel(level)
	if err != nil {
		app.Close()
		return nil, fmt.Errorf("engine: log level: %w", err)
	}
	logger = cmtlog.NewFilter(logger, opt)
	defer func() {
		// CometBFT panics when replay finds a diverged application.
		if r := recover(); r != nil {
			app.Close()
			msg := fmt.Sprint(r)
			if i := strings.Index(msg, "\n"); i > 0 {
				msg = msg[:i]
			}
			n, err = nil, fmt.Errorf("engine: CometBFT refused the application state: %s", msg)
		}
	}()
	cn, err := node.NewNode(c, pv, nk, proxy.NewLocalClientCreator(app),
		node.DefaultGenesisDocProviderFunc(c), cfg.DefaultDBProvider,
		node.DefaultMetricsProvider(c.Instrumentation), logger)
	if err != nil {
		app.Close()
		return nil, fmt.Errorf("engine: %w", err)
	}
	if err := cn.Start(); err != nil {
		app.Close()
		return nil, fmt.Errorf("engine: starting CometBFT: %w", err)
	}
	return &Validator{cmt: cn, app: app, rpc: "http://" + vc.RPC, home: home}, nil
}

// RPC returns the URL of the validator's CometBFT RPC.
func (n *Validator) RPC() string { return n.rpc }

// Home returns the validator's home directory.
func (n *Validator) Home() string { return n.home }

// App returns the node's application, for in-process queries.
func (n *Validator) App() *App { return n.app }

// Shutdown stops consensus and closes the state, waiting for both at
// most until ctx is done.
func (n *Validator) Shutdown(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		err := n.cmt.Stop()
		n.cmt.Wait()
		done <- errors.Join(err, n.app.Close())
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("engine: shutdown: %w", ctx.Err())
	}
}
