package cli

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/keyfile"
	"github.com/weftnet/weft/internal/node"
)

func newNodeCmd(s Streams) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "node --config FILE",
		Short: "Run a storage node until SIGINT or SIGTERM",
		Long: `Run a storage node: follow the control plane, store and verify the slivers
of the shards this node holds, sign storage confirmations, serve slivers
and recovery symbols, and rebuild from its peers, in the background, the
slivers it lacks (missed uploads, an empty disk, rot found by the scrub).
The config file is JSON:

  {"name": "node-0", "listen": "127.0.0.1:9100", "dataDir": "data/node-0",
   "keyFile": "keys/node-0.key", "controlPlane": "http://127.0.0.1:26657"}

optionally with "maxBodyBytes", "maxSymbolsPerRequest", "diskReserveBytes",
"recoveryConcurrency", "recoveryBatchBlobs", "recoveryBatchBytes",
"recoveryDelay", "recoveryTimeout", "scrubInterval" ("24h", or "off"),
"scrubBytesPerSecond", "symbolConcurrency", "symbolCacheBytes", and the
request limits: "maxInflightBytes" (request bodies held in memory, 256 MiB),
"maxConnections" (1024), "maxHeaderBytes" (64 KiB), "requestTimeout" ("10s",
beyond what a body or answer needs at "minBytesPerSecond", 64 KiB/s) and
"idleTimeout" ("60s"). Half of diskReserveBytes is kept as a ballast file
(dataDir/BALLAST), given up when the disk fills so the node can restart.
The key file (created if missing) must be outside dataDir: a node started
with an empty dataDir and the same key rebuilds its data from its peers.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if configPath == "" {
				return usagef("node needs --config FILE")
			}
			cfg, err := node.LoadConfig(configPath)
			if err != nil {
				return err
			}
			ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer cancel()
			startCtx, startCancel := context.WithTimeout(ctx, 2*time.Minute)
			defer startCancel()
			n, err := node.Start(startCtx, cfg, log.New(s.Err, "", log.LstdFlags))
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "node %s listening on http://%s (id %s)\n", cfg.Name, n.Addr(), n.ID())
			<-ctx.Done()
			sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer scancel()
			return n.Shutdown(sctx)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", os.Getenv("WEFT_NODE_CONFIG"), "node config file (or WEFT_NODE_CONFIG)")
	cmd.AddCommand(newNodeRegisterCmd(s), newNodeLeaveCmd(s))
	return cmd
}

func newNodeRegisterCmd(s Streams) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "register --config FILE",
		Short: "Register this node's key on the control plane as a candidate",
		Long: `Register the node's key (created if missing), name and address on the
control plane, as weft node does when it first starts. A new key is a
candidate with weight 0: it joins a committee at an epoch boundary once
governance gives it weight (weft admin set-weight NODE_KEY W).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if configPath == "" {
				return usagef("node register needs --config FILE")
			}
			cfg, err := node.LoadConfig(configPath)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			rec, err := node.Register(ctx, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "node %s registered as %s at %s with weight %d\n", rec.Key, rec.Name, rec.Address, rec.Weight)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", os.Getenv("WEFT_NODE_CONFIG"), "node config file (or WEFT_NODE_CONFIG)")
	return cmd
}

func newNodeLeaveCmd(s Streams) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "leave --config FILE",
		Short: "Ask, with this node's key, to leave the committee from the next epoch",
		Long: `Submit LeaveCommittee signed by the node's key: the node is in no
committee from the next epoch on, whatever weight governance gives it, until
it registers again (a RegisterNode signed by its key). It keeps serving its
old shards, read-only, until the next epoch's change is done; then it may
delete them and stop. Refused if it is the last node with weight.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if configPath == "" {
				return usagef("node leave needs --config FILE")
			}
			cfg, err := node.LoadConfig(configPath)
			if err != nil {
				return err
			}
			// The key must exist: a node that never ran has nothing to leave.
			key, err := keyfile.Load(cfg.KeyFile)
			if err != nil {
				return fmt.Errorf("node leave: identity key: %w", err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			c, err := rpc.Dial(ctx, cfg.ControlPlane)
			if err != nil {
				return err
			}
			defer c.Close()
			signer := rpc.NewSigner(key)
			if _, err := c.LeaveCommittee(ctx, signer); err != nil {
				return fmt.Errorf("node leave: %w", err)
			}
			rec, err := c.Node(ctx, signer.Key())
			if err != nil {
				return err
			}
			if rec == nil {
				return fmt.Errorf("node leave: %s not found after its leave was committed", signer.Key())
			}
			fmt.Fprintf(s.Out, "node %s leaves the committee from epoch %d\n", rec.Key, rec.LeaveEpoch)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", os.Getenv("WEFT_NODE_CONFIG"), "node config file (or WEFT_NODE_CONFIG)")
	return cmd
}
