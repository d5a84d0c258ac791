package cli

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/internal/devnet"
)

// newDevnetCmd is weft devnet and its subcommands: a local network of
// real processes, and nodes added to and removed from it.
func newDevnetCmd(s Streams) *cobra.Command {
	var cfg devnet.Config
	cmd := &cobra.Command{
		Use:   "devnet --dir DIR [--nodes N] [--shards S]",
		Short: "Run a local network: control plane and storage nodes on loopback",
		Long: `Run a local Weft network until SIGINT or SIGTERM: the embedded control plane
(one CometBFT validator in this process), N storage nodes as separate
weft node processes and a weft gateway process, all on 127.0.0.1. The
children die with the devnet (on Linux, even on kill -9); nodes or a gateway
an earlier run of DIR left running are stopped first. The first run creates the network in
DIR (keys, configs, genesis); later runs resume it. When ready, DIR/devnet.json
describes it and DIR/client.json is a client config for weft store/read.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfg.Dir == "" {
				return usagef("devnet needs --dir")
			}
			cfg.Out = s.Out
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return devnet.Run(ctx, cfg)
		},
	}
	cmd.Flags().StringVar(&cfg.Dir, "dir", "", "directory of the devnet (created on first run)")
	cmd.Flags().IntVar(&cfg.Nodes, "nodes", 0, "storage nodes (default 7)")
	cmd.Flags().IntVar(&cfg.Shards, "shards", 0, "shards (default 28)")
	cmd.Flags().Var(&challengeFlag{&cfg.ChallengeInterval}, "challenge-interval", `how often storage challenges open, e.g. 30s, or "off" (default 30s; set when DIR is created)`)
	// For tests that break nodes on purpose (node config testHooks).
	cmd.Flags().BoolVar(&cfg.TestHooks, "test-hooks", false, "turn on the nodes' test hooks (tests only; set when DIR is created)")
	cmd.Flags().MarkHidden("test-hooks")
	cmd.AddCommand(newDevnetAddNodeCmd(s), newDevnetRemoveNodeCmd(s), newDevnetAdvanceEpochCmd(s))
	return cmd
}

func newDevnetAddNodeCmd(s Streams) *cobra.Command {
	var (
		dir    string
		weight uint64
	)
	cmd := &cobra.Command{
		Use:   "add-node --dir DIR [--weight W]",
		Short: "Add a storage node to the running devnet in DIR",
		Long: `Ask the devnet running in DIR (through its control endpoint, named in
DIR/devnet.json) to create one more node (its key in DIR/keys, its config in
DIR/node-K/config.json on a free loopback port), start it as one of its
children, wait until it is healthy and registered, and give it weight with the
admin key: by default the weight most members have. It joins the committee at
the next epoch boundary (weft devnet advance-epoch). The devnet resumes it
with the others.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("devnet add-node needs --dir")
			}
			n, err := devnet.AddNode(cmd.Context(), dir, weight)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s added at %s (key %s) with weight %d; it joins the committee at epoch %d\n", n.Name, n.API, n.Key, n.Weight, n.FromEpoch)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the running devnet")
	cmd.Flags().Uint64Var(&weight, "weight", 0, "the node's weight (default: the weight of most members)")
	return cmd
}

func newDevnetRemoveNodeCmd(s Streams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "remove-node --dir DIR NAME",
		Short: "Make a node of the running devnet in DIR leave the committee",
		Long: `Submit LeaveCommittee from the node's key: it is in no committee from the next
epoch on. The command returns at once and does not advance the epoch; at the
next epoch boundary (weft devnet advance-epoch, or the epoch's end) the node's
shards move to the others, and the devnet stops the node once that change is
done and the node dropped the shards it served read-only meanwhile (or a
minute after the change is done). It stays in devnet.json with "left": true
and is not started again when the devnet resumes.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("devnet remove-node needs --dir")
			}
			r, err := devnet.RemoveNode(cmd.Context(), dir, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s leaves the committee from epoch %d; the devnet stops it once that epoch's change is done\n", r.Name, r.LeaveEpoch)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the running devnet")
	return cmd
}

func newDevnetAdvanceEpochCmd(s Streams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "advance-epoch --dir DIR",
		Short: "Start the next epoch of the devnet in DIR now (its admin key)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("devnet advance-epoch needs --dir")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			ch, err := devnet.AdvanceEpoch(ctx, dir)
			if err != nil {
				return err
			}
			if ch.State == "done" {
				fmt.Fprintf(s.Out, "epoch %d started (done: the committee is unchanged)\n", ch.Epoch)
			} else {
				fmt.Fprintf(s.Out, "epoch %d started (%s from epoch %d)\n", ch.Epoch, ch.State, ch.PreviousEpoch)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the running devnet")
	return cmd
}

// challengeFlag is a duration flag that also takes "off".
type challengeFlag struct{ d *time.Duration }

func (f *challengeFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return ""
	}
	if *f.d < 0 {
		return "off"
	}
	return f.d.String()
}

func (f *challengeFlag) Set(v string) error {
	if v == "off" || v == "0" {
		*f.d = -1
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("want a positive duration such as 30s, or off")
	}
	*f.d = d
	return nil
}

func (f *challengeFlag) Type() string { return "duration" }
