package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/engine"
	"github.com/weftnet/weft/internal/keyfile"
)

func newValidatorCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validator",
		Short: "Set up and run control plane validators (CometBFT)",
	}
	cmd.AddCommand(newValidatorInitCmd(s), newValidatorStartCmd(s))
	return cmd
}

func newValidatorInitCmd(s Streams) *cobra.Command {
	var (
		dir, networkID, nodesFile, adminKey string
		validators, shards, basePort        int
		genNodes                            int
		maxAhead                            uint64
		epoch, block                        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "init --dir DIR [--validators N] [--nodes FILE | --gen-nodes K]",
		Short: "Create a control plane network: validator homes, keys and genesis",
		Long: `Create the homes of N validators under DIR (DIR itself when N = 1): CometBFT
keys, a shared genesis carrying Weft's genesis (parameters and the first
committee of storage nodes) and each validator's validator.json (ports and
peers on 127.0.0.1). Storage nodes come from --nodes, a JSON list of
{"key": "<base64url Ed25519 public key>", "name": "...", "address": "http://..."},
or are generated with --gen-nodes (keys in DIR/storage-keys/).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("validator init needs --dir")
			}
			g := control.Genesis{Params: control.Params{NetworkID: networkID, Shards: shards, EpochDuration: epoch, MaxEpochsAhead: maxAhead}}
			if adminKey != "" {
				k, err := keyfile.LoadOrCreate(adminKey)
				if err != nil {
					return err
				}
				g.Params.Admin = control.KeyOf(k)
			}
			switch {
			case nodesFile != "" && genNodes > 0:
				return usagef("use --nodes or --gen-nodes, not both")
			case nodesFile != "":
				raw, err := os.ReadFile(nodesFile)
				if err != nil {
					return err
				}
				if err := json.Unmarshal(raw, &g.Nodes); err != nil {
					return fmt.Errorf("%s: %w", nodesFile, err)
				}
			case genNodes > 0:
				for i := 0; i < genNodes; i++ {
					k, err := keyfile.LoadOrCreate(filepath.Join(dir, "storage-keys", fmt.Sprintf("node-%d.key", i)))
					if err != nil {
						return err
					}
					g.Nodes = append(g.Nodes, control.NodeRecord{Key: control.KeyOf(k), Name: fmt.Sprintf("node-%d", i), Address: fmt.Sprintf("http://127.0.0.1:%d", 9100+i)})
				}
			default:
				return usagef("validator init needs the storage nodes: --nodes FILE or --gen-nodes K")
			}
			homes, err := engine.Init(engine.InitConfig{Dir: dir, Validators: validators, Genesis: g, BasePort: basePort, BlockInterval: block})
			if err != nil {
				return err
			}
			for _, h := range homes {
				vc, err := engine.LoadValidatorConfig(h)
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "%s\trpc http://%s\n", h, vc.RPC)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "directory for the validator homes")
	f.IntVar(&validators, "validators", 1, "number of validators")
	f.StringVar(&networkID, "network-id", "weft-local", "network ID (also the chain ID)")
	f.IntVar(&shards, "shards", 10, "number of shards")
	f.StringVar(&nodesFile, "nodes", "", "JSON file listing the genesis storage nodes")
	f.IntVar(&genNodes, "gen-nodes", 0, "generate this many storage node keys for the genesis committee")
	f.StringVar(&adminKey, "admin-key", "", "key file of the admin allowed to advance epochs (created if missing)")
	f.IntVar(&basePort, "base-port", 0, "validator i listens on base+2i (RPC) and base+2i+1 (P2P); 0 picks free ports")
	f.DurationVar(&epoch, "epoch-duration", 0, "advance the epoch by block time (0: only by the admin)")
	f.Uint64Var(&maxAhead, "max-epochs-ahead", 100, "how many epochs ahead a blob may be stored")
	f.DurationVar(&block, "block-interval", 50*time.Millisecond, "pause after each block")
	return cmd
}

func newValidatorStartCmd(s Streams) *cobra.Command {
	var home, logFile string
	cmd := &cobra.Command{
		Use:   "start --home DIR",
		Short: "Run one validator until SIGINT or SIGTERM",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if home == "" {
				return usagef("validator start needs --home")
			}
			logw := s.Err
			if logFile != "" {
				f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
				if err != nil {
					return err
				}
				defer f.Close()
				logw = f
			}
			n, err := engine.Start(cmd.Context(), home, logw)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "validator running: rpc %s\n", n.RPC())
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
			<-sig
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return n.Shutdown(ctx)
		},
	}
	cmd.Flags().StringVar(&home, "home", "", "validator home created by weft validator init")
	cmd.Flags().StringVar(&logFile, "log", "", "append CometBFT logs to this file instead of standard error")
	return cmd
}
