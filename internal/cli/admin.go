package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/client"
	"github.com/weftnet/weft/internal/control"
	"github.com/weftnet/weft/internal/control/rpc"
	"github.com/weftnet/weft/internal/keyfile"
)

func newAdminCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Governance transactions, signed with the network's governance (admin) key",
		Long: `Governance transactions, signed with the network's governance key (the
admin key of a devnet: DIR/keys/admin.key). The control plane's URL comes
from --control-plane, or else from the client config (--config or
WEFT_CONFIG).`,
	}
	cmd.PersistentFlags().String("admin-key", "", "the governance key file (required)")
	cmd.PersistentFlags().String("control-plane", "", "control plane RPC URL (default: the client config's controlPlane)")
	cmd.AddCommand(newSetWeightCmd(s), newAdvanceEpochCmd(s))
	return cmd
}

// adminConnect dials the control plane and loads the governance key.
func adminConnect(ctx context.Context, cmd *cobra.Command) (*rpc.Client, *rpc.Signer, error) {
	keyPath, _ := cmd.Flags().GetString("admin-key")
	if keyPath == "" {
		return nil, nil, usagef("%s needs --admin-key FILE", cmd.Name())
	}
	key, err := keyfile.Load(keyPath)
	if err != nil {
		return nil, nil, err
	}
	url, _ := cmd.Flags().GetString("control-plane")
	if url == "" {
		path, _ := cmd.Flags().GetString("config")
		if path == "" {
			path = os.Getenv("WEFT_CONFIG")
		}
		if path == "" {
			return nil, nil, usagef("no control plane: pass --control-plane URL, --config FILE or set WEFT_CONFIG")
		}
		cfg, err := client.LoadConfig(path)
		if err != nil {
			return nil, nil, err
		}
		url = cfg.ControlPlane
	}
	c, err := rpc.Dial(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	return c, rpc.NewSigner(key), nil
}

func newSetWeightCmd(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "set-weight NODE_KEY WEIGHT --admin-key FILE",
		Short: "Set a registered node's weight; it takes effect at the next epoch",
		Long: `Set a registered node's weight (a stand-in for stake). Shards are
apportioned by weight at each epoch boundary; weight 0 takes the node out
of the next committee. NODE_KEY is the node's public key as weft node
prints it.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var k control.PublicKey
			if err := k.UnmarshalText([]byte(args[0])); err != nil {
				return usageError{err}
			}
			w, err := strconv.ParseUint(args[1], 10, 64)
			if err != nil {
				return usagef("weight %q is not a whole number", args[1])
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			c, signer, err := adminConnect(ctx, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			if _, err := c.Submit(ctx, signer, control.Payload{SetWeight: &control.SetWeight{Node: k, Weight: w}}); err != nil {
				return err
			}
			st, err := c.Status(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "node %s has weight %d from epoch %d\n", k, w, st.Epoch+1)
			return nil
		},
	}
}

func newAdvanceEpochCmd(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "advance-epoch --admin-key FILE",
		Short: "Start the next epoch now (networks whose epochs the admin advances)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			c, signer, err := adminConnect(ctx, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.Status(ctx)
			if err != nil {
				return err
			}
			if _, err := c.Submit(ctx, signer, control.Payload{AdvanceEpoch: &control.AdvanceEpoch{Epoch: st.Epoch + 1}}); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "epoch %d started\n", st.Epoch+1)
			return nil
		},
	}
}
