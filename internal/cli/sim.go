package cli

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/weftnet/weft/internal/sim"
)

// errViolations makes weft sim exit non-zero; the run printed them.
var errViolations = errors.New("sim: invariants violated (the replay command is above)")

func newSimCmd(s Streams) *cobra.Command {
	cfg := sim.DefaultConfig()
	var seed uint64
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate a network deterministically, with faults, and check its invariants",
		Long: `Simulate a Weft network in one process on simulated time: the control plane
state machine fed by a simulated sequencer, the codec, and storage nodes that
run the node's own code (its HTTP API for uploads, confirmations and shard
sync requests, its event handling, recovery queue, shard sync and challenge
answers, scrub) over its own Pebble store on a crashable in-memory filesystem;
a writer and readers run the SDK's own store and read paths against the nodes'
APIs; peers' recovery serving is modelled. Nodes crash (keeping what
their store synced), lose their disks and suffer bit rot (a byte flips in a
stored sliver, for the node's scrub to find) at the given rates (per node per
epoch); after every simulated instant every certified blob must decode
byte-exact from honest nodes' slivers, reads through the SDK's read path must
return it (rd-fail), and no node may have lost a sliver it acknowledged.

Storage challenges run as on the network. --loss and --slow make messages
between nodes (and the writer) lost or slow, --partitions cuts a few nodes
off for a while, --byzantine makes nodes that lie in recovery and sync
answers or drop what they confirm (never more than f shards of faults at
once), and --inconsistent has a writer encode blobs inconsistently: they
must be proved and marked invalid, and honest nodes must pass challenges.

With --churn C, each epoch members worth C·f shards leave and as many nodes
join (they register and governance gives them weight); shards move at the epoch boundary, the
members that gained shards fetch them and attest, and every epoch change
must be done within half an epoch. The table then also shows members joined
and left, shards moved, bytes synced over bytes needed and how long the
change took to be done.

One seed fixes the whole run: it is printed first, and the same seed and
flags print the same output. A run that breaks an invariant exits non-zero
and prints the command that replays it.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Seed = seed
			if !cmd.Flags().Changed("seed") {
				cfg.Seed = uint64(time.Now().UnixNano())
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			sum, err := sim.Run(cfg, s.Out)
			if err != nil {
				return err
			}
			if sum.Violations > 0 {
				return errViolations
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&seed, "seed", 0, "the run's seed (default: from the clock, printed first)")
	f.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "storage nodes, all in the committee")
	f.IntVar(&cfg.Shards, "shards", cfg.Shards, "shards n")
	f.IntVar(&cfg.Blobs, "blobs", cfg.Blobs, "blobs to store")
	f.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "how long to run, in epochs")
	f.DurationVar(&cfg.EpochDuration, "epoch-duration", cfg.EpochDuration, "simulated length of an epoch")
	f.IntVar(&cfg.MaxBlobSize, "max-blob-size", cfg.MaxBlobSize, "largest blob, bytes")
	f.Float64Var(&cfg.CrashRate, "crash-rate", cfg.CrashRate, "crashes per node per epoch")
	f.Float64Var(&cfg.WipeRate, "wipe-rate", cfg.WipeRate, "disk wipes per node per epoch")
	f.Float64Var(&cfg.RotRate, "rot-rate", cfg.RotRate, "bit rot per node per epoch: a byte flips in one stored sliver, for the node's scrub to find")
	f.Float64Var(&cfg.Churn, "churn", cfg.Churn, "members worth this fraction of f shards leave each epoch and as many nodes join (0: a fixed committee)")
	f.Float64Var(&cfg.Loss, "loss", cfg.Loss, "chance that a message between nodes, or between the writer and a node, is lost")
	f.Float64Var(&cfg.Slow, "slow", cfg.Slow, "chance that such a message is slow (a call misses its deadline; an upload arrives 1-3 s late)")
	f.Float64Var(&cfg.Partitions, "partitions", cfg.Partitions, "partitions per epoch: 1-3 nodes cut off from peers and the writer for 5-15 s")
	f.IntVar(&cfg.Byzantine, "byzantine", cfg.Byzantine, "Byzantine nodes, alternately liars (false recovery and sync answers) and droppers (drop what they confirm)")
	f.IntVar(&cfg.Inconsistent, "inconsistent", cfg.Inconsistent, "blobs a malicious writer encodes inconsistently")
	f.StringVar(&cfg.Bug, "bug", "", "inject a bug the invariants must catch (to test the simulator)")
	_ = f.MarkHidden("bug")
	return cmd
}
